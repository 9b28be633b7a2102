//! kdc's pods on Kubernetes: the commands (pure), reading the pods' state, kubectl's exit
//! codes; and against the fake engine the whole cell on a Kubernetes cluster (pods created on
//! the master, pod cases as `kubectl exec` in the master's runner, the pods deleted at the end),
//! a bare cluster's unchanged sandboxes, and a pod that never becomes Ready.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::cell::options;
use super::*;
use crate::report::{EventKind, Outcome, Recorder};
use crate::runtime::ExecRequest;
use crate::runtime::fake::Fake;
use crate::signal::Stop;
use crate::suite::cell::{self, CellResult};
use crate::suite::pods;

const ADMIN: &str = "kubectl --kubeconfig /etc/kubernetes/admin.conf";

#[test]
fn a_pod_case_is_kubectl_exec_into_the_nodes_pod() {
    assert_eq!(pods::pod_name("kube-node-1"), "kdc-pod-on-kube-node-1");
    assert_eq!(
        pods::exec_command("kube-node-1", "ping -n -c1 -W2 -6 'fd00::1'"),
        format!(
            "{ADMIN} -n default exec kdc-pod-on-kube-node-1 -- bash -c 'ping -n -c1 -W2 -6 '\\''fd00::1'\\'''"
        )
    );
}

#[test]
fn the_pods_are_bound_to_their_nodes_tolerate_every_taint_and_never_pull() {
    let (plan, _) = cluster(&[("CLUSTER_ID", "7"), ("NUM_NODES", "1")]);
    let list: serde_json::Value = serde_json::from_str(&pods::manifest(&plan)).unwrap();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1],
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "kdc-pod-on-kube-node-1-cluster-7",
                "namespace": "default",
                "labels": {"app.kubernetes.io/managed-by": "kdc"},
            },
            "spec": {
                "nodeName": "kube-node-1-cluster-7",
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": false,
                "tolerations": [{"operator": "Exists"}],
                "containers": [{
                    "name": "pod",
                    "image": "kdc.local/pod:1",
                    "imagePullPolicy": "Never",
                    "command": ["sleep", "infinity"],
                }],
            },
        })
    );
    assert_eq!(items[0]["spec"]["nodeName"], "kube-master-cluster-7");
}

#[test]
fn the_start_script_deletes_leftovers_creates_all_and_waits_under_one_deadline() {
    let (plan, _) = cluster(&[("NUM_NODES", "1")]);
    let script = pods::start_script(&plan, Duration::from_secs(120));
    let names = "kdc-pod-on-kube-master kdc-pod-on-kube-node-1";
    let expected = format!(
        r#"k() {{ {ADMIN} -n default "$@"; }}
k delete pod --ignore-not-found --force --grace-period=0 {names} 1>&2
k create -f - 1>&2 <<'EOF'
{manifest}
EOF
end=$((SECONDS + 120)); ready=0
for p in {names}; do
  left=$((end - SECONDS)); [ "$left" -gt 0 ] || left=0
  k wait --for=condition=Ready --timeout="${{left}}s" "pod/$p" 1>&2 || ready=1
done
k get pod {names} --ignore-not-found -o json
[ "$ready" = 0 ] || {{ echo '---events---'; k get events -o json; }}
"#,
        manifest = pods::manifest(&plan)
    );
    assert_eq!(script, expected);
    assert_eq!(
        pods::delete_argv(&plan).join(" "),
        format!(
            "{ADMIN} -n default delete pod --ignore-not-found --wait=false --grace-period=0 {names}"
        )
    );
}

/// A pod as `kubectl get pod -o json` shows it: Ready with these addresses, or Pending with its
/// container waiting for a reason.
fn pod_json(name: &str, ips: &[&str], waiting: Option<(&str, &str)>) -> serde_json::Value {
    let ready = waiting.is_none();
    let mut status = serde_json::json!({
        "phase": if ready { "Running" } else { "Pending" },
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": if ready { "True" } else { "False" },
             "reason": if ready { "" } else { "ContainersNotReady" }},
        ],
    });
    if !ips.is_empty() {
        status["podIP"] = ips[0].into();
        status["podIPs"] = ips
            .iter()
            .map(|ip| serde_json::json!({ "ip": ip }))
            .collect();
    }
    if let Some((reason, message)) = waiting {
        status["containerStatuses"] = serde_json::json!([{
            "name": "pod", "ready": false,
            "state": {"waiting": {"reason": reason, "message": message}},
        }]);
    }
    let uid = format!("uid-{name}");
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "uid": uid}, "status": status})
}

fn list(items: Vec<serde_json::Value>) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

const NEVER_PULL: (&str, &str) = (
    "ErrImageNeverPull",
    "Container image \"kdc.local/pod:1\" is not present with pull policy of Never",
);

/// The events of a pod that cannot start, one of another pod, and one of an earlier run's pod of
/// the same name (another UID).
fn events_json() -> String {
    let ev = |name: &str, reason: &str, message: &str| {
        serde_json::json!({"kind": "Event",
            "involvedObject": {"kind": "Pod", "name": name, "uid": format!("uid-{name}")},
            "reason": reason, "message": message})
    };
    let mut earlier = ev(
        "kdc-pod-on-kube-node-1",
        "Killing",
        "Stopping container pod",
    );
    earlier["involvedObject"]["uid"] = "uid-of-an-earlier-run".into();
    list(vec![
        earlier,
        ev("kdc-pod-on-kube-node-1", "Failed", NEVER_PULL.1),
        ev("kdc-pod-on-kube-master", "Started", "Started container pod"),
        ev(
            "kdc-pod-on-kube-node-1",
            "Failed",
            "Error: ErrImageNeverPull",
        ),
        ev(
            "kdc-pod-on-kube-node-1",
            "Failed",
            "Error: ErrImageNeverPull",
        ),
    ])
}

#[test]
fn the_pods_state_gives_each_nodes_addresses_or_why_not() {
    let (plan, _) = cluster(&[("IP_MODE", "dual-stack")]);
    let stdout = format!(
        "{}\n---events---\n{}\n",
        list(vec![
            pod_json(
                "kdc-pod-on-kube-master",
                &["fd00:10:244::1:0:0:3", "10.244.1.3"],
                None
            ),
            pod_json("kdc-pod-on-kube-node-1", &[], Some(NEVER_PULL)),
        ]),
        events_json()
    );
    let stderr = "pod/kdc-pod-on-kube-master created\nError from server (Forbidden): pods \"kdc-pod-on-kube-node-2\" is forbidden: no\n";
    let got = pods::read_status(&plan, &stdout, stderr, Duration::from_secs(120));
    let want: std::collections::BTreeMap<String, Result<Vec<std::net::IpAddr>, String>> = [
        (
            "kube-master".to_string(),
            Ok(vec![
                "fd00:10:244::1:0:0:3".parse().unwrap(),
                "10.244.1.3".parse().unwrap(),
            ]),
        ),
        (
            "kube-node-1".to_string(),
            Err("pod kdc-pod-on-kube-node-1 is not Ready after 120s: Pending; container pod waiting: ErrImageNeverPull (Container image \"kdc.local/pod:1\" is not present with pull policy of Never); events: Failed: Container image \"kdc.local/pod:1\" is not present with pull policy of Never; Failed: Error: ErrImageNeverPull".to_string()),
        ),
        (
            "kube-node-2".to_string(),
            Err("pod kdc-pod-on-kube-node-2 was not created: pod/kdc-pod-on-kube-master created; Error from server (Forbidden): pods \"kdc-pod-on-kube-node-2\" is forbidden: no".to_string()),
        ),
    ]
    .into();
    assert_eq!(got, want);

    // One pod asked for by name is shown as the pod itself, not a list.
    let (one, _) = cluster(&[("NUM_NODES", "0")]);
    let single = pod_json("kdc-pod-on-kube-master", &["10.244.1.3"], None).to_string();
    assert_eq!(
        pods::read_status(&one, &single, "", Duration::from_secs(120)),
        [(
            "kube-master".to_string(),
            Ok(vec!["10.244.1.3".parse().unwrap()])
        )]
        .into()
    );
}

fn raw(code: i64, output: &str, timed_out: bool) -> Raw {
    Raw {
        code,
        output: output.into(),
        elapsed: Duration::from_millis(1200),
        timed_out,
    }
}

#[test]
fn kubectls_own_failure_is_not_the_commands_exit_code() {
    // The command's exit: kubectl's line about it goes, the rest stays.
    let r = pods::exec_result(
        raw(
            1,
            "1 packets transmitted, 0 received, 100% packet loss\ncommand terminated with exit code 1\n",
            false,
        ),
        "kube-node-1",
    );
    assert_eq!(
        r,
        Ok(raw(
            1,
            "1 packets transmitted, 0 received, 100% packet loss\n",
            false
        ))
    );
    assert_eq!(
        pods::exec_result(raw(0, "hello\n", false), "kube-node-1"),
        Ok(raw(0, "hello\n", false))
    );
    assert_eq!(
        pods::exec_result(raw(124, "", true), "kube-node-1"),
        Ok(raw(124, "", true))
    );
    // kubectl's own exit 1 would pass a negative ping: it is a failure to run instead.
    assert_eq!(
        pods::exec_result(
            raw(
                1,
                "error: unable to upgrade connection: container not found (\"pod\")\n",
                false
            ),
            "kube-node-1"
        ),
        Err("kubectl exec into pod kdc-pod-on-kube-node-1 failed (exit 1): error: unable to upgrade connection: container not found (\"pod\")".into())
    );
    // A mark for another code is not the command's.
    assert!(
        pods::exec_result(
            raw(1, "command terminated with exit code 2\n", false),
            "kube-node-1"
        )
        .is_err()
    );
}

// ---- against the fake engine ----

/// What the fake answers a case's command with, given the node it ran in: exit code and output.
type Answer = fn(&str, &str) -> (i64, String);

/// Every case command the fake's check runners got, as (node, command).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A fake cluster: the master has `admin.conf` when `kube`; the pod start script answers
/// `start` (stdout); each check runner's cases are answered by `answer`; the rest as a booted
/// node does.
fn engine(plan: &Plan, kube: bool, start: String, answer: Answer) -> (Fake, Seen) {
    let mut fake = Fake::with_image(&plan.image);
    let seen: Seen = Arc::default();
    let record = seen.clone();
    fake.handler = Arc::new(move |node: &str, req: &ExecRequest| {
        let line = req.argv.join(" ");
        if line.starts_with("test -s /etc/kubernetes/admin.conf") {
            return Ok((if kube { 0 } else { 1 }, String::new(), String::new()));
        }
        if req.argv.first().is_some_and(|a| a == "cat") {
            // The sandbox's kept ADD result.
            let r = r#"{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.244.1.2/24"}]}"#;
            return Ok((0, r.into(), String::new()));
        }
        if line.contains("k create -f -") {
            return Ok((0, start.clone(), "pod/… created\n".into()));
        }
        if req.argv.first().is_some_and(|a| a == "bash")
            && req.argv.get(2).is_some_and(|s| s.contains("mktemp"))
        {
            let input = String::from_utf8(req.stdin.clone().unwrap_or_default()).unwrap();
            let mut out = String::new();
            for l in input.lines() {
                let f: Vec<&str> = l.split('\t').collect();
                let cmd = String::from_utf8(STANDARD.decode(f[2]).unwrap()).unwrap();
                record.lock().unwrap().push((node.to_string(), cmd.clone()));
                let (code, output) = answer(node, &cmd);
                out += &format!("{} {code} 5 {}\n", f[0], STANDARD.encode(output));
            }
            return Ok((0, out, String::new()));
        }
        Ok(Fake::systemd_running(req))
    });
    (fake, seen)
}

/// A cell of the suite `text`: its result, every case as (class, name, outcome, output), and
/// the notes.
async fn run_cell(
    fake: &Fake,
    plan: &Plan,
    text: &str,
    dir: &std::path::Path,
) -> (CellResult, Vec<(String, String, Outcome, String)>) {
    let s = suite(text);
    let ids: Vec<String> = s.checks.iter().map(|c| c.id.clone()).collect();
    let (events, rec) = Recorder::emitter();
    let mut out = Vec::new();
    let result = cell::run(
        fake,
        fake,
        plan,
        &[(s, ids)],
        &options(dir),
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
                output,
                ..
            } => Some((class, name, outcome, output)),
            _ => None,
        })
        .collect();
    (result, cases)
}

const PODS: &str = r#"description = "pods"
[[check]]
id = "hello"
what = "each pod answers"
on = ["pods"]
command = ["echo", "hello"]
expect = { output_equals = "hello" }

[[check]]
id = "pod-to-pod"
what = "the master's pod reaches node-1's pod"
on = ["pod:master"]
ping = { to = "{pod.node-1.ipv4}", family = 4 }

[[check]]
id = "no-path"
what = "node-1's pod has no path to the target"
on = ["pod:node-1"]
ping = { to = "{target.ipv4only.ipv4}", family = 4 }
expect = { unreachable = true }

[[check]]
id = "node"
what = "a node check stays on its node"
on = ["node:node-1"]
command = ["echo", "node"]
expect = { output_equals = "node" }
"#;

/// Answers as kdc's pods and nodes would: echo echoes, ping gets a reply except to the target,
/// where kubectl reports the command's exit 1.
fn answer(_node: &str, cmd: &str) -> (i64, String) {
    if let Some(word) = cmd.rsplit("echo ").next().filter(|_| cmd.contains("echo ")) {
        let word = word.trim_end_matches('\'');
        return (0, format!("{word}\n"));
    }
    if cmd.contains("198.18.0.10") {
        return (
            1,
            "1 packets transmitted, 0 received, 100% packet loss\ncommand terminated with exit code 1\n".into(),
        );
    }
    (
        0,
        "1 packets transmitted, 1 received, 0% packet loss\n".into(),
    )
}

/// Each node's pod, all Ready (node-1's is 10.244.2.5).
fn all_ready(plan: &Plan) -> String {
    list(
        plan.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let ip = format!("10.244.{}.5", i + 1);
                pod_json(&pods::pod_name(&n.name), &[&ip], None)
            })
            .collect(),
    )
}

/// The commands run in nodes, but the machine's `up` and `clean`: from the detection on.
fn suite_calls(fake: &Fake) -> Vec<String> {
    let calls = fake.calls();
    let from = calls
        .iter()
        .position(|c| c.contains("test -s /etc/kubernetes/admin.conf"))
        .expect("the run asks whether the cluster runs Kubernetes");
    calls[from..]
        .iter()
        .filter(|c| c.starts_with("exec "))
        .map(|c| {
            if c.contains("mktemp") {
                format!("{} <check runner>", &c[..c.find(" bash").unwrap()])
            } else if c.contains("k create -f -") {
                format!("{} <start pods>", &c[..c.find(" bash").unwrap()])
            } else {
                c.clone()
            }
        })
        .collect()
}

#[tokio::test]
async fn on_kubernetes_pod_cases_run_in_kdcs_pods_through_the_master() {
    let (plan, _) = cluster(&[]);
    let (fake, seen) = engine(&plan, true, all_ready(&plan), answer);
    let dir = tempfile::tempdir().unwrap();
    let (result, cases) = run_cell(&fake, &plan, PODS, dir.path()).await;

    let names = "kdc-pod-on-kube-master kdc-pod-on-kube-node-1 kdc-pod-on-kube-node-2";
    assert_eq!(
        suite_calls(&fake),
        [
            "exec kube-master test -s /etc/kubernetes/admin.conf".to_string(),
            "exec kube-master <start pods>".into(),
            "exec kube-master <check runner>".into(),
            "exec kube-node-1 <check runner>".into(),
            format!(
                "exec kube-master {ADMIN} -n default delete pod --ignore-not-found --wait=false --grace-period=0 {names}"
            ),
        ]
    );
    let exec = |node: &str, cmd: &str| {
        (
            "kube-master".to_string(),
            pods::exec_command(node, cmd).to_string(),
        )
    };
    assert_eq!(
        *seen.lock().unwrap(),
        [
            exec("kube-master", "echo hello"),
            exec("kube-node-1", "echo hello"),
            exec("kube-node-2", "echo hello"),
            exec("kube-master", "ping -n -c1 -W2 -4 10.244.2.5"),
            exec("kube-node-1", "ping -n -c1 -W1 -4 198.18.0.10"),
            ("kube-node-1".to_string(), "echo node".to_string()),
        ]
    );
    let shown: Vec<(String, String, Outcome)> = cases
        .iter()
        .map(|(c, n, o, _)| (c.clone(), n.clone(), o.clone()))
        .collect();
    let passed = |c: &str, n: &str| (c.to_string(), n.to_string(), Outcome::Passed);
    assert_eq!(
        shown,
        [
            passed("kdc", "Up"),
            passed("kdc", "Pods"),
            passed("mine", "hello on pod on kube-master"),
            passed("mine", "hello on pod on kube-node-1"),
            passed("mine", "hello on pod on kube-node-2"),
            passed("mine", "pod-to-pod on pod on kube-master"),
            passed("mine", "no-path on pod on kube-node-1"),
            passed("mine", "node on kube-node-1"),
            passed("kdc", "Down"),
        ]
    );
    assert!(result.ok(), "{result:?}");
    // The transcripts say what really ran: kubectl exec on the master.
    let transcript = |name: &str| {
        cases
            .iter()
            .find(|(_, n, _, _)| n == name)
            .map(|c| c.3.clone())
            .unwrap()
    };
    assert_eq!(
        transcript("no-path on pod on kube-node-1"),
        format!(
            "$ docker exec kube-master bash -c '{ADMIN} -n default exec kdc-pod-on-kube-node-1 -- bash -c '\\''ping -n -c1 -W1 -4 198.18.0.10'\\'''\n1 packets transmitted, 0 received, 100% packet loss\n(exit 1, 0.005s)\n"
        )
    );
    let pods_step = transcript("Pods");
    assert!(
        pods_step.starts_with("$ docker exec kube-master bash -c 'k() { kubectl --kubeconfig"),
        "{pods_step}"
    );
    assert!(
        pods_step.ends_with(
            "kdc-pod-on-kube-master: Ready, 10.244.1.5\nkdc-pod-on-kube-node-1: Ready, 10.244.2.5\nkdc-pod-on-kube-node-2: Ready, 10.244.3.5\n"
        ),
        "{pods_step}"
    );
}

#[tokio::test]
async fn a_bare_cluster_runs_pod_cases_in_its_sandboxes_as_before() {
    let (plan, _) = cluster(&[]);
    let (fake, seen) = engine(&plan, false, String::new(), answer);
    let dir = tempfile::tempdir().unwrap();
    let (result, cases) = run_cell(&fake, &plan, PODS, dir.path()).await;
    assert!(result.ok(), "{cases:?}");
    assert!(
        !fake.calls().iter().any(|c| c.contains("kubectl")),
        "{:?}",
        fake.calls()
    );
    assert!(cases.iter().all(|c| c.1 != "Pods"));
    let netns = |node: &str, cmd: &str| {
        (
            node.to_string(),
            format!("ip netns exec pod bash -c '{cmd}'"),
        )
    };
    // The sandbox's address, from the fake's ADD result.
    assert_eq!(
        *seen.lock().unwrap(),
        [
            netns("kube-master", "echo hello"),
            netns("kube-master", "ping -n -c1 -W2 -4 10.244.1.2"),
            netns("kube-node-1", "echo hello"),
            netns("kube-node-1", "ping -n -c1 -W1 -4 198.18.0.10"),
            ("kube-node-1".to_string(), "echo node".to_string()),
            netns("kube-node-2", "echo hello"),
        ]
    );
}

#[tokio::test]
async fn a_pod_that_never_becomes_ready_fails_its_cases_naming_it() {
    let (plan, _) = cluster(&[]);
    let start = format!(
        "{}\n---events---\n{}\n",
        list(vec![
            pod_json("kdc-pod-on-kube-master", &["10.244.1.5"], None),
            pod_json("kdc-pod-on-kube-node-1", &[], Some(NEVER_PULL)),
            pod_json("kdc-pod-on-kube-node-2", &["10.244.3.5"], None),
        ]),
        events_json()
    );
    let (fake, seen) = engine(&plan, true, start, answer);
    let dir = tempfile::tempdir().unwrap();
    let (result, cases) = run_cell(&fake, &plan, PODS, dir.path()).await;
    let why = "pod kdc-pod-on-kube-node-1 is not Ready after 120s: Pending; container pod waiting: ErrImageNeverPull (Container image \"kdc.local/pod:1\" is not present with pull policy of Never); events: Failed: Container image \"kdc.local/pod:1\" is not present with pull policy of Never; Failed: Error: ErrImageNeverPull";
    let shown: Vec<(String, Outcome)> = cases
        .iter()
        .filter(|(_, n, _, _)| n != "Up" && n != "Dump" && n != "Down")
        .map(|(_, n, o, _)| (n.clone(), o.clone()))
        .collect();
    let failed = |n: &str, m: String| (n.to_string(), Outcome::Failed { message: m });
    assert_eq!(
        shown,
        [
            failed("Pods", why.to_string()),
            ("hello on pod on kube-master".into(), Outcome::Passed),
            failed(
                "hello on pod on kube-node-1",
                format!("`echo hello` from the pod on kube-node-1: {why}")
            ),
            ("hello on pod on kube-node-2".into(), Outcome::Passed),
            (
                "pod-to-pod on pod on kube-master".into(),
                Outcome::Skipped {
                    reason: why.to_string()
                }
            ),
            failed(
                "no-path on pod on kube-node-1",
                format!("ping -4 198.18.0.10 from the pod on kube-node-1: {why}")
            ),
            ("node on kube-node-1".into(), Outcome::Passed),
        ]
    );
    assert_eq!(
        (
            result.stats.passed,
            result.stats.failed,
            result.stats.skipped
        ),
        (3, 2, 1)
    );
    assert!(!result.ok());
    // Nothing ran in the pod that is not there; the pods still go at the end.
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|(_, c)| !c.contains("kdc-pod-on-kube-node-1")),
        "{seen:?}"
    );
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.contains("delete pod --ignore-not-found --wait=false")),
        "{:?}",
        fake.calls()
    );
}

#[tokio::test]
async fn kubectls_own_failure_fails_a_negative_check_instead_of_passing_it() {
    let (plan, _) = cluster(&[]);
    let (fake, _) = engine(&plan, true, all_ready(&plan), |_, cmd| {
        if cmd.contains("198.18.0.10") {
            (
                1,
                "error: unable to upgrade connection: container not found (\"pod\")\n".into(),
            )
        } else {
            answer("", cmd)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (_, cases) = run_cell(&fake, &plan, PODS, dir.path()).await;
    let case = cases
        .iter()
        .find(|c| c.1 == "no-path on pod on kube-node-1")
        .unwrap();
    assert_eq!(
        case.2,
        Outcome::Failed {
            message: "ping -4 198.18.0.10 from the pod on kube-node-1: kubectl exec into pod kdc-pod-on-kube-node-1 failed (exit 1): error: unable to upgrade connection: container not found (\"pod\")".into()
        }
    );
    // What ran and what kubectl said are in the transcript.
    assert_eq!(
        case.3,
        format!(
            "$ docker exec kube-master bash -c '{ADMIN} -n default exec kdc-pod-on-kube-node-1 -- bash -c '\\''ping -n -c1 -W1 -4 198.18.0.10'\\'''\nerror: unable to upgrade connection: container not found (\"pod\")\n(exit 1, 0.005s)\n"
        )
    );
}

/// A suite without pod cases starts no pods on Kubernetes (the kubernetes suite, say).
#[tokio::test]
async fn no_pods_without_pod_cases() {
    let (plan, _) = cluster(&[]);
    let (fake, _) = engine(&plan, true, all_ready(&plan), answer);
    let dir = tempfile::tempdir().unwrap();
    let text = PODS.split("[[check]]").last().unwrap();
    let text = format!("description = \"nodes\"\n[[check]]{text}");
    let (result, cases) = run_cell(&fake, &plan, &text, dir.path()).await;
    assert!(result.ok(), "{cases:?}");
    assert_eq!(
        suite_calls(&fake),
        [
            "exec kube-master test -s /etc/kubernetes/admin.conf",
            "exec kube-node-1 <check runner>"
        ]
    );
}

/// `pods_possible` on Kubernetes: kubelet runs the pods whatever the plugin; a bare cluster has
/// sandboxes for bridge and ptp only.
#[tokio::test]
async fn on_kubernetes_any_cni_plugin_has_pods() {
    let (plan, _) = cluster(&[("CNI_PLUGIN", "calico")]);
    let text = PODS
        .split("[[check]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("[[check]]");
    let (fake, _) = engine(&plan, true, all_ready(&plan), answer);
    let dir = tempfile::tempdir().unwrap();
    let (result, cases) = run_cell(&fake, &plan, &text, dir.path()).await;
    assert!(result.ok(), "{cases:?}");
    assert_eq!(result.stats.passed, 3);

    let (fake, _) = engine(&plan, false, String::new(), answer);
    let (result, cases) = run_cell(&fake, &plan, &text, dir.path()).await;
    assert_eq!(result.stats.skipped, 3, "{cases:?}");
    assert_eq!(
        cases[1].2,
        Outcome::Skipped {
            reason: "CNI_PLUGIN=calico needs Kubernetes to run pods; kdc's pod sandboxes are for bridge and ptp".into()
        }
    );
}
