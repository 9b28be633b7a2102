//! Records the commit kdc is built from as `KDC_GIT_COMMIT`, for `kdc version` and bug reports.
//!
//! In order: `KDC_GIT_COMMIT` from the environment (packagers building from a tarball who know
//! the commit), `git rev-parse --short HEAD` when this crate is the top of a git checkout, the
//! `.cargo_vcs_info.json` that `cargo package` writes, else `unknown`. A missing git or `.git`
//! is never an error: kdc must build from a source tarball.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=KDC_GIT_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let commit = std::env::var("KDC_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| from_git(&dir))
        .or_else(|| from_vcs_info(&dir))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=KDC_GIT_COMMIT={}", commit.trim());
}

/// Runs git in `dir` and returns its trimmed stdout, or None if git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// The short commit of the checkout `dir` is the top of; None when `dir` is no checkout or only
/// sits inside another project's repository (a vendored copy must not report that commit).
fn from_git(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--short", "HEAD"])?;
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it points to (a commit), and
    // packed-refs (a gc). `--git-path` resolves each for worktrees too.
    for path in ["HEAD", "packed-refs"] {
        rerun_if_changed(dir, path);
    }
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        rerun_if_changed(dir, &branch);
    }
    Some(commit)
}

fn rerun_if_changed(dir: &Path, git_path: &str) {
    if let Some(p) = git(dir, &["rev-parse", "--git-path", git_path]) {
        let p = dir.join(p);
        // Cargo reruns a script on every build while a watched path is missing.
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}

/// The commit `cargo package` recorded: `{"git": {"sha1": "<40 hex>"}, …}`, shortened like git.
fn from_vcs_info(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let start = text.find("\"sha1\"")?;
    let rest = &text[start + "\"sha1\"".len()..];
    let hex: String = rest
        .trim_start_matches(|c: char| c == ':' || c == '"' || c.is_whitespace())
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hex.len() >= 7).then(|| hex[..7].to_string())
}
