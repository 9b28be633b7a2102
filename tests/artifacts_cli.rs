//! `kdc dump64`, `kdc split-dump`, `kdc split-dump64` end to end, against the fixture logs in
//! `fixtures/logs/` (made by `make-fixtures.sh` with the original's `lzma | base64 -w 100`).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs")
}

fn kdc() -> Command {
    Command::cargo_bin("kdc").unwrap()
}

/// Relative path → content of every file under `root`.
fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn split64(log: &str) -> (tempfile::TempDir, assert_cmd::assert::Assert) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dump");
    let assert = kdc()
        .args(["split-dump64", "-o"])
        .arg(&out)
        .arg(fixtures().join(log))
        .assert();
    (tmp, assert)
}

/// `split-dump64 -o DIR -` with `log` on stdin; DIR is `d` in the returned temporary directory.
fn split64_stdin(log: String) -> (tempfile::TempDir, assert_cmd::assert::Assert) {
    let tmp = tempfile::tempdir().unwrap();
    let assert = kdc()
        .args(["split-dump64", "-o"])
        .arg(tmp.path().join("d"))
        .arg("-")
        .write_stdin(log)
        .assert();
    (tmp, assert)
}

#[test]
fn every_ci_flavour_gives_back_the_files() {
    let want = files(&fixtures().join("expected/a"));
    assert_eq!(want.len(), 6);
    for log in [
        "original.log",
        "github-actions.log",
        "gh-run-view.log",
        "jenkins.log",
        "travis.log",
        "circleci.log",
        "tput.log",
        "xtrace.log",
    ] {
        let (tmp, assert) = split64(log);
        assert
            .success()
            .stdout(predicate::str::contains("6 file(s), 973 byte(s)"));
        assert_eq!(files(&tmp.path().join("dump")), want, "{log}");
    }
}

#[test]
fn one_line_blob() {
    let (tmp, assert) = split64("one-line.log");
    assert.success();
    assert_eq!(
        files(&tmp.path().join("dump")),
        files(&fixtures().join("expected/b"))
    );
}

#[test]
fn two_blobs_go_to_numbered_dirs() {
    let (tmp, assert) = split64("two-blobs.log");
    assert
        .success()
        .stdout(predicate::str::contains("from 2 blob(s)"));
    let out = tmp.path().join("dump");
    assert_eq!(files(&out.join("1")), files(&fixtures().join("expected/a")));
    assert_eq!(files(&out.join("2")), files(&fixtures().join("expected/b")));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
}

#[test]
fn truncated_blob_keeps_what_decoded() {
    let (tmp, assert) = split64("truncated.log");
    assert
        .failure()
        .stderr(predicate::str::contains("blob 1 truncated at line 6"));
    let want = files(&fixtures().join("expected/a"));
    let got = files(&tmp.path().join("dump"));
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "kdc-dump.json",
            "service-kdc-control-plane-kubelet.service.log"
        ],
        "the sections before the cut"
    );
    // The first is whole, the one being decoded at the cut is a true prefix.
    assert_eq!(
        got[0].1,
        want.iter().find(|(n, _)| n == "kdc-dump.json").unwrap().1
    );
    for (name, content) in got {
        let full = &want.iter().find(|(n, _)| *n == name).unwrap().1;
        assert!(full.starts_with(&content), "{name}");
    }
}

#[test]
fn corrupted_data_names_blob_and_line() {
    split64("corrupted-base64.log")
        .1
        .failure()
        .stderr(predicate::str::contains("blob 1: invalid base64 at line 6"));
    split64("corrupted-lzma.log")
        .1
        .failure()
        .stderr(predicate::str::contains(
            "blob 1: corrupted compressed data at line 4: lzma data error",
        ));
}

#[test]
fn an_injected_line_is_named_at_its_own_line() {
    split64("injected.log")
        .1
        .failure()
        .stderr(predicate::str::contains(
            "blob 1: line 7 holds 7 base64 characters where the blob's lines hold 100",
        ));
}

#[test]
fn no_blob_is_a_clear_error() {
    split64("none.log")
        .1
        .failure()
        .stderr(predicate::str::contains("no blob found"));
}

/// Text without a single `@@@ name @@@` line is not an empty dump: nothing was found, and the
/// error names the input.
#[test]
fn no_dump_is_a_clear_error_naming_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "hello\n@@@ not a marker\n").unwrap();
    kdc()
        .args(["split-dump", "-o"])
        .arg(tmp.path().join("d"))
        .arg(&text)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "no dump found in {}: no `@@@ <name> @@@` line",
            text.display()
        )));
    kdc()
        .args(["split-dump", "-o"])
        .arg(tmp.path().join("d"))
        .write_stdin("just a log\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no dump found in stdin"));
    split64_stdin("just a log\n".into())
        .1
        .code(1)
        .stderr(predicate::str::contains(
            "no blob found in stdin: no `%%% start-base64 %%%` line",
        ));
}

/// Name → (is a directory, content, modification time) of every entry of `dir`, and `dir`'s own
/// modification time: creating and removing a stage inside it would change that.
fn snapshot(dir: &Path) -> (std::time::SystemTime, Vec<(String, bool, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let content = if p.is_dir() {
                Vec::new()
            } else {
                std::fs::read(&p).unwrap()
            };
            (name, p.is_dir(), content)
        })
        .collect();
    entries.sort();
    (std::fs::metadata(dir).unwrap().modified().unwrap(), entries)
}

/// Input holding nothing to split creates no DIR (nor its parents), and leaves an existing one
/// exactly as it was.
#[test]
fn nothing_found_leaves_no_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let fresh = tmp.path().join("new/dump");
    for (cmd, input) in [
        ("split-dump64", fixtures().join("none.log")),
        ("split-dump", text.clone()),
    ] {
        kdc()
            .args([cmd, "-o"])
            .arg(&fresh)
            .arg(&input)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(" found in "));
        assert!(!tmp.path().join("new").exists(), "{cmd} made DIR's parent");
    }
    let existing = tmp.path().join("d");
    std::fs::create_dir(&existing).unwrap();
    std::fs::write(existing.join("keep.txt"), "mine\n").unwrap();
    let before = snapshot(&existing);
    std::thread::sleep(std::time::Duration::from_millis(20));
    for (cmd, input) in [
        ("split-dump64", fixtures().join("none.log")),
        ("split-dump", text),
    ] {
        kdc()
            .args([cmd, "-o"])
            .arg(&existing)
            .arg(&input)
            .assert()
            .code(1);
        assert_eq!(snapshot(&existing), before, "{cmd} touched DIR");
    }
}

/// `-o` naming a file says so and how to fix it, and leaves the file alone.
#[test]
fn dir_that_is_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("afile");
    std::fs::write(&file, "precious\n").unwrap();
    for cmd in ["split-dump64", "split-dump"] {
        let input = match cmd {
            "split-dump64" => fixtures().join("original.log"),
            _ => fixtures().join("dump-a.txt"),
        };
        kdc()
            .args([cmd, "-o"])
            .arg(&file)
            .arg(input)
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains(format!(
                "error: {} exists and is not a directory; choose another -o\n",
                file.display()
            )));
        assert_eq!(std::fs::read(&file).unwrap(), b"precious\n");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

/// A directory given as the input is named with the cause, before anything is written.
#[test]
fn a_directory_as_input_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in ["split-dump64", "split-dump"] {
        kdc()
            .current_dir(tmp.path())
            .arg(cmd)
            .arg(tmp.path())
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "cannot read {}: Is a directory (os error 21)",
                tmp.path().display()
            )));
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "no cluster-dump made"
    );
}

#[test]
fn json_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kdc()
        .current_dir(tmp.path())
        .args(["--json", "split-dump64"])
        .pipe_stdin(fixtures().join("two-blobs.log"))
        .unwrap()
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["files"], 8);
    assert_eq!(v["blobs"].as_array().unwrap().len(), 2);
    assert_eq!(v["blobs"][1]["start_line"], 16);
    // The default directory, as the original.
    assert!(tmp.path().join("cluster-dump/2/describe-all.txt").is_file());
}

#[test]
fn split_dump_text() {
    let tmp = tempfile::tempdir().unwrap();
    kdc()
        .args(["split-dump", "-o"])
        .arg(tmp.path().join("d"))
        .arg(fixtures().join("dump-a.txt"))
        .assert()
        .success()
        .stdout(predicate::str::contains("6 file(s)"));
    assert_eq!(
        files(&tmp.path().join("d")),
        files(&fixtures().join("expected/a"))
    );
}

#[test]
fn split_dump_refuses_escapes() {
    let tmp = tempfile::tempdir().unwrap();
    kdc()
        .current_dir(tmp.path())
        .arg("split-dump")
        .write_stdin("@@@ ../evil @@@\nx\n@@@ /etc/evil @@@\ny\n@@@ ok @@@\nz\n")
        .assert()
        .failure()
        .stderr(predicate::str::contains("`..` component"))
        .stderr(predicate::str::contains("absolute path"));
    assert!(!tmp.path().join("evil").exists());
    assert_eq!(
        std::fs::read(tmp.path().join("cluster-dump/ok")).unwrap(),
        b"z\n"
    );
}

/// A refused name says where it is: the line of a text dump; the blob and the log line it
/// decoded at in a log.
#[test]
fn a_refused_name_says_where_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = "*** Dumping cluster state ***\n@@@ ok @@@\nfine\n@@@ ../x @@@\nowned\n";
    kdc()
        .current_dir(tmp.path())
        .arg("split-dump")
        .write_stdin(dump)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: line 4: refusing file name \"../x\": `..` component\n",
        ));
    let blob = kdc()
        .args(["dump64", "--from", "-"])
        .write_stdin(dump)
        .output()
        .unwrap();
    assert!(blob.status.success());
    let blob = String::from_utf8(blob.stdout).unwrap();
    // Two data lines; the name decodes from the first (log lines 3 and 8).
    assert_eq!(blob.lines().count(), 4, "{blob}");
    let log = format!("Run make test\n{blob}retrying\n{blob}");
    split64_stdin(log)
        .1
        .code(1)
        .stderr(predicate::str::contains(
            "  - blob 1, line 3: refusing file name \"../x\": `..` component\n  - blob 2, line 8: refusing file name \"../x\": `..` component\n",
        ));
}

#[test]
fn dump64_round_trips_through_split_dump64() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = kdc()
        .args(["dump64", "--level", "9", "--from"])
        .arg(fixtures().join("dump-a.txt"))
        .output()
        .unwrap();
    assert!(blob.status.success());
    let text = String::from_utf8(blob.stdout).unwrap();
    assert!(text.starts_with("%%% start-base64 %%%\n"));
    assert!(text.ends_with("\n%%% end-base64 %%%\n"));
    let log: String = text
        .lines()
        .map(|l| format!("[2024-05-01T10:00:00.123Z] {l}\r\n"))
        .collect();
    kdc()
        .args(["split-dump64", "-o"])
        .arg(tmp.path().join("d"))
        .write_stdin(log)
        .assert()
        .success();
    assert_eq!(
        files(&tmp.path().join("d")),
        files(&fixtures().join("expected/a"))
    );
}

#[test]
fn dump64_rejects_bad_level() {
    kdc()
        .args(["dump64", "--level", "10", "--from", "-"])
        .assert()
        .code(2);
}

#[test]
fn max_bytes_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    kdc()
        .args(["split-dump64", "--max-bytes", "100", "-o"])
        .arg(tmp.path().join("d"))
        .arg(fixtures().join("original.log"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "decompressed output reached the limit of 100 bytes",
        ));
}

/// The cap hit in a blob still counts that blob: where the files go depends on how many
/// blobs were begun, as without the cap.
#[test]
fn the_cap_keeps_the_blob_count() {
    let top = |max: &str, blobs: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("d");
        kdc()
            .args(["split-dump64", "--max-bytes", max, "-o"])
            .arg(&out)
            .arg(fixtures().join("two-blobs.log"))
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!(
                "decompressed output reached the limit of {max} bytes"
            )))
            .stdout(predicate::str::contains(format!("from {blobs} blob(s)")));
        let mut names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    // Stopped inside blob 1: one blob, so its files are in DIR.
    assert!(top("500", "1").contains(&"kdc-dump.json".to_string()));
    // Stopped inside blob 2: blob 1 whole in DIR/1, what blob 2 decoded in DIR/2.
    assert_eq!(top("1400", "2"), ["1", "2"]);
}

#[test]
fn gh_run_view_with_shell_traces_and_blank_lines() {
    let xtrace = std::fs::read_to_string(fixtures().join("xtrace.log")).unwrap();
    let mut log = String::new();
    for (i, l) in xtrace.lines().enumerate() {
        log += &format!(
            "e2e\tRun make e2e\t2024-05-01T10:00:{:02}.{i:07}Z {l}\n",
            i % 60
        );
        if i == 6 {
            log += "e2e\tRun make e2e\t2024-05-01T10:00:59.0000000Z\n";
        }
    }
    let (tmp, assert) = split64_stdin(log);
    assert.success();
    assert_eq!(
        files(&tmp.path().join("d")),
        files(&fixtures().join("expected/a"))
    );
}

#[test]
fn a_line_after_the_last_line_is_named_and_nothing_is_lost() {
    let log = std::fs::read_to_string(fixtures().join("original.log")).unwrap();
    let log = log.replace("%%% end-base64 %%%", "Done\n%%% end-base64 %%%");
    let (tmp, assert) = split64_stdin(log);
    assert.failure().stderr(predicate::str::contains(
        "blob 1: line 14 holds 4 base64 characters",
    ));
    assert_eq!(
        files(&tmp.path().join("d")),
        files(&fixtures().join("expected/a"))
    );
}

#[test]
fn errors_carry_their_cause() {
    let tmp = tempfile::tempdir().unwrap();
    kdc()
        .args(["split-dump64", "-o"])
        .arg(tmp.path().join("d"))
        .arg(tmp.path().join("missing.log"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "missing.log: No such file or directory",
        ));
    let file = tmp.path().join("file");
    std::fs::write(&file, "").unwrap();
    kdc()
        .args(["split-dump64", "-o"])
        .arg(file.join("d"))
        .arg(fixtures().join("original.log"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("Not a directory"));
}

/// A log is untrusted: a section named like a directory of DIR must not replace it.
#[test]
fn a_directory_in_dir_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("d");
    std::fs::create_dir_all(out.join(".git/objects")).unwrap();
    std::fs::write(out.join(".git/HEAD"), "ref: main\n").unwrap();
    kdc()
        .args(["split-dump", "-o"])
        .arg(&out)
        .write_stdin("@@@ .git @@@\nowned\n@@@ ok.txt @@@\nfine\n")
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "a directory of that name is in the way",
        ));
    assert_eq!(
        std::fs::read(out.join(".git/HEAD")).unwrap(),
        b"ref: main\n"
    );
    assert_eq!(std::fs::read(out.join("ok.txt")).unwrap(), b"fine\n");
}

#[test]
fn concurrent_splits_into_one_directory_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("d");
    let children: Vec<_> = (0..6)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_kdc"))
                .args(["split-dump64", "-o"])
                .arg(&out)
                .arg(fixtures().join("two-blobs.log"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(files(&out.join("1")), files(&fixtures().join("expected/a")));
    assert_eq!(files(&out.join("2")), files(&fixtures().join("expected/b")));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2, "no stage left");
}

#[test]
fn planted_symlink_is_replaced_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("d");
    std::fs::create_dir(&out).unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("nodes.txt")).unwrap();
    kdc()
        .args(["split-dump64", "-o"])
        .arg(&out)
        .arg(fixtures().join("original.log"))
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(!out.join("nodes.txt").is_symlink());
}

#[test]
fn planted_symlink_for_a_blob_dir_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("d");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("1")).unwrap();
    kdc()
        .args(["split-dump64", "-o"])
        .arg(&out)
        .arg(fixtures().join("two-blobs.log"))
        .assert()
        .success();
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!out.join("1").is_symlink());
    assert_eq!(files(&out.join("1")), files(&fixtures().join("expected/a")));
}

#[test]
fn dump64_reads_stdin() {
    let out = kdc()
        .args(["dump64", "--from", "-"])
        .pipe_stdin(fixtures().join("dump-b.txt"))
        .unwrap()
        .output()
        .unwrap();
    assert!(out.status.success());
    let tmp = tempfile::tempdir().unwrap();
    kdc()
        .args(["split-dump64", "-o"])
        .arg(tmp.path().join("d"))
        .write_stdin(out.stdout)
        .assert()
        .success();
    assert_eq!(
        files(&tmp.path().join("d")),
        files(&fixtures().join("expected/b"))
    );
}

/// Starts `split-dump64 -o out -` on one whole blob and the start of a second, waits until it
/// has staged the first, sends it `signal`. (Nothing is staged before there is a file to write.)
fn interrupt_split(out: &Path, signal: libc::c_int) -> std::process::ExitStatus {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kdc"))
        .args(["split-dump64", "-o"])
        .arg(out)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A blob and a half, and the pipe stays open: kdc waits for the rest, as behind
    // `travis logs |`.
    let log = std::fs::read_to_string(fixtures().join("two-blobs.log")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in log.lines().take(18) {
        writeln!(stdin, "{line}").unwrap();
    }
    stdin.flush().unwrap();
    let staged = || {
        std::fs::read_dir(out).is_ok_and(|mut d| {
            d.any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".kdc-split-")
            })
        })
    };
    let since = std::time::Instant::now();
    while !staged() {
        assert!(
            since.elapsed().as_secs() < 10,
            "kdc never staged its output"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let status = child.wait().unwrap();
    drop(stdin);
    status
}

/// Ctrl-C, SIGTERM and a closed terminal or SSH session (SIGHUP) all remove the stage.
#[test]
fn interrupted_split_leaves_the_directory_as_it_was() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("dump");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("keep.txt"), "mine\n").unwrap();
        assert_eq!(
            interrupt_split(&out, signal).code(),
            Some(130),
            "signal {signal}"
        );
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["keep.txt"], "signal {signal}");
        assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"mine\n");
        // Directories the split made are gone again.
        let new = tmp.path().join("new");
        assert_eq!(interrupt_split(&new.join("a/b"), signal).code(), Some(130));
        assert!(!new.exists(), "signal {signal}");
    }
}
