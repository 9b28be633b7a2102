//! A whole cell against the fake engine: the steps as `kdc` cases, the dump of a failed run
//! (blob on "stdout", files in the artifacts), nothing left behind.

use std::sync::Arc;
use std::time::Duration;

use super::runner::local;
use super::*;
use crate::cluster::UpOptions;
use crate::report::{EventKind, Outcome, Recorder};
use crate::runtime::fake::Fake;
use crate::signal::Stop;
use crate::suite::cell::{self, CellOptions, CellResult};

/// A fake whose nodes run the check runner in a local bash and answer everything else as a
/// booted node does.
fn engine(plan: &Plan) -> Fake {
    let mut fake = Fake::with_image(&plan.image);
    fake.handler = Arc::new(|_, req| {
        if req
            .argv
            .join(" ")
            .starts_with("test -s /etc/kubernetes/admin.conf")
        {
            // No Kubernetes.
            return Ok((1, String::new(), String::new()));
        }
        if req.argv.first().is_some_and(|a| a == "bash")
            && req.argv.get(2).is_some_and(|s| s.contains("mktemp"))
        {
            Ok(local(req))
        } else {
            Ok(Fake::systemd_running(req))
        }
    });
    fake
}

/// A cell's options for the fake: short timeouts, no host checks (shared with `pods`).
pub(super) fn options(artifacts: &std::path::Path) -> CellOptions {
    CellOptions {
        up: UpOptions {
            systemd_timeout: Duration::from_millis(500),
            ..UpOptions::default()
        },
        use_existing: false,
        retain: false,
        targets: TargetsKind::Local,
        host_possible: Err("remote".into()),
        artifacts: artifacts.to_path_buf(),
        dump_timeout: Duration::from_secs(5),
        retries: 0,
        max_blob_bytes: None,
        e2e: None,
    }
}

const ONE_FAILS: &str = r#"description = "one check passes, one fails"
[[check]]
id = "good"
what = "echo"
on = ["node:master"]
command = ["echo", "hello"]
expect = { output_equals = "hello" }

[[check]]
id = "bad"
what = "a wrong answer"
on = ["node:master"]
command = ["echo", "goodbye"]
expect = { output_equals = "hello" }
"#;

/// Runs a cell: its result, `(class, name, outcome)` of every case, and what went to stdout.
async fn run_cell(
    fake: &Fake,
    plan: &Plan,
    text: &str,
    opts: &CellOptions,
) -> (CellResult, Vec<(String, String, Outcome)>, Vec<u8>) {
    let s = suite(text);
    let ids: Vec<String> = s.checks.iter().map(|c| c.id.clone()).collect();
    let (events, rec) = Recorder::emitter();
    let mut out = Vec::new();
    let result = cell::run(
        fake,
        fake,
        plan,
        &[(s, ids)],
        opts,
        &events,
        &Stop::manual(),
        &mut out,
    )
    .await;
    let cases = rec
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::CaseFinished {
                class,
                name,
                outcome,
                ..
            } => Some((class, name, outcome)),
            _ => None,
        })
        .collect();
    (result, cases, out)
}

fn names(cases: &[(String, String, Outcome)]) -> Vec<String> {
    cases
        .iter()
        .map(|(c, n, o)| {
            let o = match o {
                Outcome::Passed => "passed",
                Outcome::Failed { .. } => "failed",
                Outcome::Skipped { .. } => "skipped",
                Outcome::Flaky { .. } => "flaky",
            };
            format!("{c}/{n} {o}")
        })
        .collect()
}

fn assert_nothing_left(fake: &Fake) {
    let st = fake.state();
    assert!(st.containers.is_empty(), "{:?}", st.containers.keys());
    assert!(st.volumes.is_empty(), "{:?}", st.volumes.keys());
    assert!(st.networks.is_empty(), "{:?}", st.networks.keys());
}

/// The files of the blobs in a log.
fn split_log(log: &[u8]) -> Vec<String> {
    let mut sink = crate::dump::MemSink::new(1 << 30);
    let report = crate::dump::scan_log(log, &mut sink);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.blobs.len(), 1);
    sink.files.keys().map(|(_, n)| n.clone()).collect()
}

#[tokio::test]
async fn a_failed_check_is_dumped_into_the_log_and_the_artifacts_then_the_cluster_goes() {
    let (plan, _) = cluster(&[]);
    let fake = engine(&plan);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let (result, cases, out) = run_cell(&fake, &plan, ONE_FAILS, &opts).await;
    assert_eq!(
        names(&cases),
        [
            "kdc/Up passed",
            "mine/good on kube-master passed",
            "mine/bad on kube-master failed",
            "kdc/Dump passed",
            "kdc/Down passed"
        ]
    );
    assert!(!result.ok());
    assert_eq!((result.stats.passed, result.stats.failed), (1, 1));
    assert_eq!(
        result.dump_dir.as_deref(),
        Some(dir.path().join("dump").as_path())
    );
    let files = split_log(&out);
    for f in [
        "kdc-dump.json",
        "pod-kube-master.txt",
        "zone-bind9.txt",
        "tayga-conf-kdc-gw.txt",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} not in {files:?}");
    }
    let on_disk: Vec<String> = walk(&dir.path().join("dump"));
    assert_eq!(on_disk, files);
    assert_nothing_left(&fake);

    // A second failed run keeps the first dump and writes beside it.
    let (result, _, _) = run_cell(&fake, &plan, ONE_FAILS, &opts).await;
    assert_eq!(
        result.dump_dir.as_deref(),
        Some(dir.path().join("dump-2").as_path())
    );
    assert_eq!(walk(&dir.path().join("dump")), files);
}

/// The files under `dir`, relative, sorted.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_cluster_that_does_not_come_up_is_a_failed_up_case_with_a_dump_and_no_checks() {
    let (plan, _) = cluster(&[]);
    let mut fake = engine(&plan);
    fake.fail_start = vec!["kube-node-1".into()];
    let dir = tempfile::tempdir().unwrap();
    let (result, cases, out) = run_cell(&fake, &plan, ONE_FAILS, &options(dir.path())).await;
    assert_eq!(
        names(&cases),
        ["kdc/Up failed", "kdc/Dump passed", "kdc/Down passed"]
    );
    let Outcome::Failed { message } = &cases[0].2 else {
        unreachable!()
    };
    assert_eq!(message, "starting 3 node containers failed");
    assert!(result.up_failed && !result.ok());
    assert_eq!(result.stats, Default::default());
    assert!(
        split_log(&out)
            .iter()
            .any(|f| f == "inspect-kube-node-1.json")
    );
    assert_nothing_left(&fake);
}

#[tokio::test]
async fn use_existing_without_a_cluster_fails_up_with_the_command_and_neither_dumps_nor_removes() {
    let (plan, _) = cluster(&[("CLUSTER_ID", "7")]);
    let fake = engine(&plan);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.use_existing = true;
    let (result, cases, out) = run_cell(&fake, &plan, ONE_FAILS, &opts).await;
    assert_eq!(names(&cases), ["kdc/Up failed"]);
    assert_eq!(
        cases[0].2,
        Outcome::Failed {
            message: format!(
                "--use-existing: cluster {} has no node containers; run `CLUSTER_ID=7 kdc up`",
                plan.cluster.label
            )
        }
    );
    assert!(out.is_empty());
    assert!(result.dump_dir.is_none() && !dir.path().join("dump").exists());
    assert!(
        fake.calls().iter().all(|c| c.starts_with("exec ")),
        "{:?}",
        fake.calls()
    );
}

#[tokio::test]
async fn a_run_in_which_every_check_is_skipped_is_not_a_success() {
    let (plan, _) = cluster(&[]);
    let fake = engine(&plan);
    let dir = tempfile::tempdir().unwrap();
    let text = r#"description = "ptp only"
[[check]]
id = "ptp"
what = "only with the ptp plugin"
on = ["node:master"]
command = ["true"]
when = { cni = ["ptp"] }
"#;
    let (result, cases, out) = run_cell(&fake, &plan, text, &options(dir.path())).await;
    assert_eq!(
        names(&cases),
        [
            "kdc/Up passed",
            "mine/ptp on kube-master skipped",
            "kdc/Down passed"
        ]
    );
    assert_eq!(result.stats.skipped, 1);
    assert!(!result.ok());
    assert!(out.is_empty(), "no dump when nothing failed");
    assert_nothing_left(&fake);
}
