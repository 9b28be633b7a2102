//! The runner against the fake engine, whose nodes run the real node runner script in a local
//! bash: one exec per node, every case judged, timeouts, a runner that cannot start.

use std::sync::Arc;

use super::*;
use crate::report::{EventKind, Outcome, Recorder};
use crate::runtime::fake::Fake;
use crate::runtime::{ExecError, ExecRequest};
use crate::suite::runner::{self, Target};

/// Runs the command of `req` here, as a node would: the runner script is plain bash.
pub(super) fn local(req: &ExecRequest) -> (i64, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(&req.argv[0])
        .args(&req.argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bash runs");
    let input = req.stdin.clone().unwrap_or_default();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        i64::from(out.status.code().unwrap_or(-1)),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A node: the runner script runs locally; `cat` of the pod result answers a bridge ADD.
fn node_handler(_node: &str, req: &ExecRequest) -> Result<(i64, String, String), ExecError> {
    if req.argv.first().is_some_and(|a| a == "cat") {
        let r = r#"{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.244.1.2/24"}]}"#;
        return Ok((0, r.into(), String::new()));
    }
    Ok(local(req))
}

const COMMANDS: &str = r#"description = "commands"
[[check]]
id = "echo"
what = "echo answers"
on = ["nodes"]
command = ["echo", "hello"]
expect = { output_equals = "hello" }

[[check]]
id = "exit-3"
what = "exit codes are compared"
on = ["nodes"]
command = ["bash", "-c", "exit 3"]
expect = { exit = 3 }

[[check]]
id = "wrong"
what = "an unexpected output fails"
on = ["node:master"]
command = ["echo", "goodbye"]
expect = { output_equals = "hello" }

[[check]]
id = "slow"
what = "a command over its time fails"
on = ["node:master"]
command = ["sleep", "30"]
timeout = "1s"

[[check]]
id = "exit-124"
what = "a quick exit 124 is an exit code, not a timeout"
on = ["node:master"]
command = ["bash", "-c", "echo own; exit 124"]
expect = { exit = 124, output_equals = "own" }
"#;

fn finished(rec: &Recorder) -> Vec<(String, Outcome)> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::CaseFinished { name, outcome, .. } => Some((name, outcome)),
            _ => None,
        })
        .collect()
}

fn run_with(fake: &Fake, plan: &Plan, text: &str) -> (runner::Stats, Recorder) {
    let s = suite(text);
    let ids: Vec<String> = s.checks.iter().map(|c| c.id.clone()).collect();
    let (events, rec) = Recorder::emitter();
    let target = Target {
        exec: fake,
        plan,
        targets: TargetsKind::Local,
        host_possible: Err("the engine is remote".into()),
        host_routes: false,
        pods: crate::suite::pods::Pods::Sandboxes,
    };
    let stats = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(runner::run(&target, &[(s, ids)], &events));
    (stats, rec)
}

#[test]
fn each_node_runs_its_cases_in_one_exec_and_every_case_is_judged() {
    let (plan, _) = cluster(&[]);
    let mut fake = Fake::with_image(&plan.image);
    fake.handler = Arc::new(node_handler);
    let (stats, rec) = run_with(&fake, &plan, COMMANDS);
    assert_eq!(
        stats,
        runner::Stats {
            passed: 3 + 3 + 1,
            failed: 2,
            skipped: 0
        }
    );
    let runner_execs: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("exec ") && c.contains("mktemp"))
        .map(|c| c.split(' ').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(runner_execs, ["kube-master", "kube-node-1", "kube-node-2"]);
    let results = finished(&rec);
    let failed: Vec<(&str, &str)> = results
        .iter()
        .filter_map(|(n, o)| match o {
            Outcome::Failed { message } => Some((n.as_str(), message.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        [
            (
                "wrong on kube-master",
                "`echo goodbye` on kube-master: expected output \"hello\", got \"goodbye\""
            ),
            (
                "slow on kube-master",
                "`sleep 30` on kube-master: timed out after 1s"
            ),
        ]
    );
    assert!(
        results
            .iter()
            .any(|(n, o)| n == "exit-124 on kube-master" && *o == Outcome::Passed),
        "{results:?}"
    );
}

#[test]
fn a_node_whose_runner_cannot_start_fails_its_cases_with_the_reason_and_others_run() {
    let (plan, _) = cluster(&[]);
    let mut fake = Fake::with_image(&plan.image);
    fake.handler = Arc::new(|node, req| {
        if node == "kube-node-1" && req.argv.first().is_some_and(|a| a == "bash") {
            return Err(ExecError::Unrunnable {
                command: "bash".into(),
                message: "container kube-node-1 is not running".into(),
            });
        }
        node_handler(node, req)
    });
    let text = COMMANDS
        .split("[[check]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("[[check]]");
    let (stats, rec) = run_with(&fake, &plan, &text);
    assert_eq!((stats.passed, stats.failed), (2, 1));
    let failed: Vec<String> = finished(&rec)
        .into_iter()
        .filter_map(|(n, o)| match o {
            Outcome::Failed { message } => Some(format!("{n}: {message}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        [
            "echo on kube-node-1: `echo hello` on kube-node-1: the checks could not run in kube-node-1: command \"bash\" could not run: container kube-node-1 is not running"
        ]
    );
}

#[test]
fn host_cases_on_a_remote_engine_are_skipped_with_the_reason() {
    let (plan, _) = cluster(&[]);
    let mut fake = Fake::with_image(&plan.image);
    fake.handler = Arc::new(node_handler);
    let (stats, rec) = run_with(
        &fake,
        &plan,
        r#"description = "the host"
[[check]]
id = "host-ping"
what = "the host reaches the master"
on = ["host"]
ping = { to = "{node.master.ipv4}", family = 4 }
"#,
    );
    assert_eq!((stats.passed, stats.failed, stats.skipped), (0, 0, 1));
    let results = finished(&rec);
    assert_eq!(results.len(), 1);
    let Outcome::Skipped { reason } = &results[0].1 else {
        panic!("{results:?}")
    };
    assert_eq!(reason, "the engine is remote");
}

/// More cases than the runner runs at once (32): every one still gets its own result.
#[test]
fn a_node_with_more_cases_than_run_at_once_answers_each() {
    let (plan, _) = cluster(&[("NUM_NODES", "0")]);
    let mut fake = Fake::with_image(&plan.image);
    fake.handler = Arc::new(node_handler);
    let mut text = String::from("description = \"many\"\n");
    for i in 0..40 {
        text += &format!(
            "[[check]]\nid = \"c{i}\"\nwhat = \"echo {i}\"\non = [\"node:master\"]\ncommand = [\"echo\", \"{i}\"]\nexpect = {{ output_equals = \"{i}\" }}\n"
        );
    }
    let (stats, rec) = run_with(&fake, &plan, &text);
    assert_eq!(
        (stats.passed, stats.failed),
        (40, 0),
        "{:?}",
        finished(&rec)
    );
}
