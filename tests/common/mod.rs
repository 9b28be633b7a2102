//! Helpers of the live tests: the daemon check, running kdc and docker, what a cluster left.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Returns false (test skipped) only when the caller opted out; panics when Docker is missing.
pub fn docker_ready() -> bool {
    if std::env::var("KDC_SKIP_LIVE").is_ok_and(|v| v == "1") {
        eprintln!("KDC_SKIP_LIVE=1: live Docker test skipped on request");
        return false;
    }
    let ok = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "live tests need a running Docker daemon: run `bash ci/setup-host.sh` (or set KDC_SKIP_LIVE=1 to opt out)"
    );
    let image = Command::new("docker")
        .args(["image", "inspect", BARE_IMAGE])
        .output()
        .unwrap();
    assert!(
        image.status.success(),
        "live tests need the node image: run `bash ci/setup-host.sh`"
    );
    true
}

/// The machines-only node image: the live tests of machines, networks and suites use it unless
/// they name another DIND_IMAGE (the Kubernetes tests do).
pub const BARE_IMAGE: &str = "kdc/node:bookworm";

/// `kdc` with a clean environment (PATH, CI=true, DOCKER_HOST if set, KDC_CACHE,
/// DIND_IMAGE=kdc/node:bookworm unless given, and the given variables), in the temp dir.
/// KDC_CACHE is this user's cache of the image recipes (`kdc e2e` runs the e2e bundle's recipe,
/// which finds it up to date there); HOME is not passed, so no test writes ~/.kube/config.
pub fn kdc_command(vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kdc"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CI", "true");
    let cache = std::env::var("KDC_CACHE").ok().or_else(|| {
        std::env::var("HOME")
            .ok()
            .map(|h| format!("{h}/.cache/kdc"))
    });
    if let Some(cache) = cache {
        c.env("KDC_CACHE", cache);
    }
    if !vars.iter().any(|(k, _)| *k == "DIND_IMAGE") {
        c.env("DIND_IMAGE", BARE_IMAGE);
    }
    // The engine the docker CLI of these tests talks to.
    if let Ok(h) = std::env::var("DOCKER_HOST") {
        c.env("DOCKER_HOST", h);
    }
    c.envs(vars.iter().copied())
        .args(args)
        .current_dir(std::env::temp_dir());
    c
}

pub fn kdc(vars: &[(&str, &str)], args: &[&str]) -> Output {
    kdc_command(vars, args).output().expect("run kdc")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// stdout of a kdc run that must succeed.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "kdc failed: {}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// stderr of a kdc run that must fail with exit code 1.
pub fn fails(o: Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1\nstdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stderr)
}

pub fn docker(args: &[&str]) -> String {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(o.status.success(), "docker {args:?}: {}", text(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Names of containers, volumes and networks carrying the cluster's kdc label.
pub fn labelled(label: &str) -> Vec<String> {
    let f = format!("label=io.kdc.cluster={label}");
    let mut all = Vec::new();
    for args in [
        vec!["ps", "-a", "--filter", &f, "--format", "{{.Names}}"],
        vec!["volume", "ls", "-q", "--filter", &f],
        vec!["network", "ls", "--filter", &f, "--format", "{{.Name}}"],
    ] {
        all.extend(docker(&args).lines().map(String::from));
    }
    all.sort();
    all
}

/// Reads lines of `r` into `seen` until one satisfies `stop` (a progress line a test waits for
/// before it signals kdc); panics when the output ends first.
pub fn read_until(r: &mut impl std::io::BufRead, seen: &mut String, stop: impl Fn(&str) -> bool) {
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "output ended before the awaited line: {seen}"
        );
        seen.push_str(&line);
        if stop(&line) {
            return;
        }
    }
}
