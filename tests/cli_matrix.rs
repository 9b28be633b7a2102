//! The CI matrix from the command line, without Docker: `kdc ci list|generate|check`, errors
//! and exit codes, `dump64 --max-bytes` read back by `split-dump64`, `kdc report` of a record,
//! and signals delivered to the process and its group at once.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn kdc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kdc"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

const MATRIX: &str = r#"
[[dimension]]
name = "cni"
setting = "CNI_PLUGIN"
values = ["bridge", "ptp"]

[[cell]]
name = "v4"
suites = ["ipv4"]

[[cell]]
name = "v6"
suites = ["ipv6"]
dimensions = []

[generated]
github = "gh.yml"
"#;

#[test]
fn a_new_users_matrix_lists_generates_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ci/matrix.toml", MATRIX);
    let o = kdc(dir.path(), &["ci", "list"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let names: Vec<String> = text(&o.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(names, ["v4_bridge", "v4_ptp", "v6"]);
    let o = kdc(dir.path(), &["ci", "list", "--shard", "2/2", "--json"]);
    let cells: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cells.as_array().unwrap().len(), 1);
    assert_eq!(cells[0]["name"], "v4_ptp");
    assert_eq!(cells[0]["settings"]["CNI_PLUGIN"], "ptp");
    assert_eq!(cells[0]["reproduce"], "kdc ci run v4_ptp");

    // Not generated yet: check names the file and fails.
    let o = kdc(dir.path(), &["ci", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr)
            .contains("ci/gh.yml:1: differs from what the matrix makes: has end of file"),
        "{}",
        text(&o.stderr)
    );
    let o = kdc(dir.path(), &["ci", "generate", "github", "-o", "ci/gh.yml"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = kdc(dir.path(), &["ci", "check"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{}: current\n", "ci/gh.yml"));
    // A hand edit is caught, at its line.
    let gh = dir.path().join("ci/gh.yml");
    let edited = std::fs::read_to_string(&gh)
        .unwrap()
        .replace("          - \"v6\"\n", "");
    std::fs::write(&gh, edited).unwrap();
    let o = kdc(dir.path(), &["ci", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("ci/gh.yml:18: differs from what the matrix makes: has \"    env:\", expected \"          - \\\"v6\\\"\"; run `kdc ci generate github -o "),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn bad_input_names_the_file_line_and_key_and_exits_1_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mine.toml",
        "[[cell]]\nname = \"x\"\nsuites = [\"smoke\"]\nset = { NUM_NODES = \"many\" }\n",
    );
    let o = kdc(dir.path(), &["ci", "list", "--matrix", "mine.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: mine.toml:4:21: cell x: set: NUM_NODES=many: must be a whole number of worker nodes (0 or more)\n"
    );
    assert!(o.stdout.is_empty());
    let o = kdc(dir.path(), &["ci", "list", "--matrix", "missing.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).starts_with("error: cannot read the matrix missing.toml ("),
        "{}",
        text(&o.stderr)
    );
    let o = kdc(dir.path(), &["ci", "run", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("has no cell \"nosuch\""),
        "{}",
        text(&o.stderr)
    );
    let o = kdc(dir.path(), &["ci", "list", "--shard", "3/2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("--shard 3/2: expected I/N"),
        "{}",
        text(&o.stderr)
    );
    let o = kdc(dir.path(), &["ci", "run", "--jobs", "0"]);
    assert_eq!(o.status.code(), Some(2), "a command line clap refuses");
    let o = kdc(dir.path(), &["ci", "generate", "jenkins"]);
    assert_eq!(o.status.code(), Some(2));
    // -o a directory: refused, nothing written.
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let o = kdc(dir.path(), &["ci", "generate", "travis", "-o", "out"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("-o out: is a directory"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        0
    );
}

/// The plan refuses, before anything exists, cells that cannot get their own cluster.
#[test]
fn cells_that_cannot_get_their_own_subnets_are_refused_at_plan_time() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m.toml",
        "[[cell]]\nname = \"a\"\nsuites = [\"ipv4\"]\nset = { CLUSTER_ID = \"7\" }\n[[cell]]\nname = \"b\"\nsuites = [\"ipv4\"]\nset = { CLUSTER_ID = \"7\", DIND_LABEL = \"other\" }\n",
    );
    let o = kdc(
        dir.path(),
        &["ci", "run", "--matrix", "m.toml", "--artifacts", "out"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: cells collide: cell b's subnet 10.192.7.0/24 overlaps cell a's 10.192.7.0/24 (cluster cluster-7); give them different CLUSTER_ID or MGMT_CIDRS\n"
    );
    assert!(!dir.path().join("out").exists(), "nothing made");
    // An ipv6 cell with the 172.18 NAT64 prefix cannot take ID 14 or more.
    write(
        dir.path(),
        "v6.toml",
        "[[cell]]\nname = \"v6\"\nsuites = [\"ipv6\"]\n",
    );
    let o = kdc(
        dir.path(),
        &["ci", "run", "--matrix", "v6.toml", "--cluster-ids", "60-62"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).starts_with("error: no cluster ID in 60-62 gives cell v6 a valid plan beside the other cells (last tried with CLUSTER_ID=62: invalid cluster plan"),
        "{}",
        text(&o.stderr)
    );
}

/// A dump larger than the budget: the blob fits, `split-dump64` extracts it, and the dump
/// says what was trimmed; the ends of the trimmed files are kept.
#[test]
fn dump64_max_bytes_trims_the_largest_files_from_their_start() {
    let dir = tempfile::tempdir().unwrap();
    // Incompressible-ish content, so the blob is large: a hash chain as text.
    let mut noisy = String::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..40_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noisy += &format!("line {i} {x:016x}\n");
    }
    noisy += "THE FAILURE IS AT THE END\n";
    let dump = format!(
        "*** Dumping cluster state ***\n@@@ kdc-dump.json @@@\n{{}}\n@@@ journal-big.log @@@\n{noisy}@@@ small.txt @@@\nkept whole\n"
    );
    write(dir.path(), "dump.txt", &dump);
    let full = kdc(dir.path(), &["dump64", "--from", "dump.txt"]);
    assert!(
        full.stdout.len() > 200_000,
        "the whole blob is {} bytes",
        full.stdout.len()
    );
    let o = kdc(
        dir.path(),
        &["dump64", "--from", "dump.txt", "--max-bytes", "100000"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.len() <= 100_000, "{} bytes", o.stdout.len());
    assert!(
        text(&o.stderr).contains("trimmed journal-big.log to its last"),
        "{}",
        text(&o.stderr)
    );
    write(
        dir.path(),
        "job.log",
        &format!("some CI output\n{}more output\n", text(&o.stdout)),
    );
    let o = kdc(dir.path(), &["split-dump64", "-o", "out", "job.log"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let big = std::fs::read_to_string(dir.path().join("out/journal-big.log")).unwrap();
    assert!(big.starts_with("[kdc: the first "), "{}", &big[..200]);
    assert!(big.ends_with("THE FAILURE IS AT THE END\n"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/small.txt")).unwrap(),
        "kept whole\n"
    );
    let list = std::fs::read_to_string(dir.path().join("out/kdc-trimmed.txt")).unwrap();
    assert!(list.contains("journal-big.log: kept the last "), "{list}");
    assert!(
        list.contains(&format!(" of {} bytes", noisy.len())),
        "{list}"
    );
    // The smallest budget the flag takes still gives a blob of this dump, ends kept.
    let o = kdc(
        dir.path(),
        &["dump64", "--from", "dump.txt", "--max-bytes", "4096"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.len() <= 4096);
}

/// `timeout` and CI runners signal the process and its group at once: kdc sees SIGTERM twice
/// within microseconds. That is one interruption: it cleans up (here: the split's stage) and
/// never says "interrupted again".
#[test]
fn a_signal_to_the_process_and_its_group_at_once_counts_once() {
    use std::os::unix::process::CommandExt;
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kdc"))
            .env_clear()
            .args(["split-dump64", "-o", "out", "-"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        use std::io::Write;
        // A blob begins, so the stage exists; then the pipe stays quiet.
        stdin.write_all(b"%%% start-base64 %%%\n").unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let pid = child.id() as i32;
        // SAFETY: kill(2) on our own child and its process group.
        unsafe {
            assert_eq!(libc::kill(pid, libc::SIGTERM), 0);
            assert_eq!(libc::kill(-pid, libc::SIGTERM), 0);
        }
        let o = child.wait_with_output().unwrap();
        drop(stdin);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{err}");
        assert!(!err.contains("interrupted again"), "{err}");
        assert!(
            !dir.path().join("out").exists(),
            "the split cleaned up: {err}"
        );
    }
}

#[test]
fn the_report_of_a_run_record_holds_every_cell_and_escapes_what_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let record = serde_json::json!({
        "matrix": "ci/matrix.toml", "shard": "1/2", "jobs": 2, "seconds": 61.5, "junit": "junit_kdc.xml",
        "cells": [
            {"name": "v4_bridge", "base": "v4", "coords": [["cni", "bridge"]], "status": "passed", "seconds": 30.0,
             "suites": ["ipv4"], "settings": {}, "reproduce": "kdc ci run v4_bridge", "artifacts": "v4_bridge",
             "clusters": [{"label": "cluster-1", "id": 1, "stats": {"passed": 20, "failed": 0, "skipped": 2}, "failures": [], "diagnosis": []}]},
            {"name": "v4_ptp", "base": "v4", "coords": [["cni", "ptp"]], "status": "failed", "seconds": 31.0,
             "suites": ["ipv4"], "settings": {}, "reproduce": "kdc ci run v4_ptp", "artifacts": "v4_ptp",
             "clusters": [{"label": "cluster-2", "id": 2, "stats": {"passed": 19, "failed": 1, "skipped": 2}, "dump_dir": "v4_ptp/dump",
                           "failures": [{"class": "ipv4", "name": "ping on kube-master", "message": "expected <a reply>, got none"}],
                           "diagnosis": ["1 failed case of 1 check: ipv4/ping (1)"]}]}
        ]
    });
    write(dir.path(), "a/kdc-matrix.json", &record.to_string());
    let o = kdc(dir.path(), &["report", "a"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "a/report.html\n");
    let html = std::fs::read_to_string(dir.path().join("a/report.html")).unwrap();
    assert!(html.contains(r#"data-cell="v4_bridge" data-status="passed""#));
    assert!(html.contains(r#"data-cell="v4_ptp" data-status="failed""#));
    assert!(html.contains("expected &lt;a reply&gt;, got none"));
    assert!(html.contains(r#"<a href="v4_ptp/dump/">dump</a>"#));
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("<script"),
        "self-contained"
    );
    let o = kdc(dir.path(), &["report", "nowhere"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("DIR must be the --artifacts directory of a `kdc ci run`"));
}
