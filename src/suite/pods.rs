//! kdc's pods on a Kubernetes cluster, where the suites' pod cases run (the original's
//! `pod-on-node1`, `pod-on-node2`): one long-lived pod per node, `kdc-pod-on-<node>` in the
//! namespace `default`, on kdc's pod image (`kdc.local/pod:1`, which `up` loads into every
//! node), bound to its node by `nodeName` and tolerating every taint, so the master gets one too.
//! Each pod case runs on the master as `kubectl exec kdc-pod-on-<node> -- bash -c CMD`, in the
//! master's one runner exec; the pods' lookups go through CoreDNS, which forwards to bind9.
//!
//! A cluster without Kubernetes (`--bootstrapper none`) has no pods: its pod cases run in the
//! CNI sandbox of each node (`ip netns exec pod`, see `cluster::actions::sandboxes`). Which of the
//! two a cluster has is read from the master once per run: kubeadm's `admin.conf` is there or
//! not, so `--use-existing` runs find out the same way.
//!
//! The commands and the reading of their answers are pure and tested here; [`start`],
//! [`delete`] and [`kubernetes`] run them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::cluster::actions::{ADMIN_CONF, POD_IMAGE};
use crate::plan::Plan;
use crate::runtime::{ExecRequest, NodeExec, shell_quote};

use super::Raw;
use super::judge::summary;

/// The namespace of kdc's pods.
pub const NAMESPACE: &str = "default";

/// How long the pods may take to be Ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Between the pods' JSON and the events' JSON in the start script's stdout.
const EVENTS_MARK: &str = "---events---";

/// What kubectl prints on stderr when the command it ran in a pod exits non-zero (client-go's
/// `remotecommand`); any other non-zero exit is kubectl's own failure.
const EXIT_MARK: &str = "command terminated with exit code ";

/// Where the suites' pod cases run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Pods {
    /// No Kubernetes: each node's CNI sandbox; the addresses come from its kept ADD result.
    #[default]
    Sandboxes,
    /// Kubernetes: kdc's pods, started by [`start`]. Node container name → the pod's
    /// addresses, or why its cases cannot run (a pod that never became Ready, named).
    Kubernetes(BTreeMap<String, Result<Vec<IpAddr>, String>>),
}

/// The pod of the node (container name) `node`.
pub fn pod_name(node: &str) -> String {
    format!("kdc-pod-on-{node}")
}

/// `kubectl` on the master with kubeadm's admin credentials.
fn kubectl() -> String {
    format!("kubectl --kubeconfig {ADMIN_CONF}")
}

/// The command the master runs for a pod case: `cmd` in the pod of `node`.
pub fn exec_command(node: &str, cmd: &str) -> String {
    format!(
        "{} -n {NAMESPACE} exec {} -- bash -c {}",
        kubectl(),
        pod_name(node),
        shell_quote(cmd)
    )
}

/// The pods, one per node, as a `kubectl create -f -` manifest.
pub fn manifest(plan: &Plan) -> String {
    let items: Vec<serde_json::Value> = plan
        .nodes
        .iter()
        .map(|n| {
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod_name(&n.name),
                    "namespace": NAMESPACE,
                    "labels": {"app.kubernetes.io/managed-by": "kdc"},
                },
                "spec": {
                    "nodeName": n.hostname,
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 0,
                    "automountServiceAccountToken": false,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "pod",
                        "image": POD_IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["sleep", "infinity"],
                    }],
                },
            })
        })
        .collect();
    // One line per pod: the JUnit step shows the manifest.
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n{}\n]}}",
        items.join(",\n")
    )
}

/// The master's script that starts the pods: the pods of an earlier run go first (deleted at
/// once, so their names are free), then all are created, then each is waited for until
/// `timeout` is spent (one deadline for all). Its stdout is the pods' JSON, followed by the
/// namespace's events when one is not Ready; everything kubectl says goes to stderr.
pub fn start_script(plan: &Plan, timeout: Duration) -> String {
    let names: Vec<String> = plan.nodes.iter().map(|n| pod_name(&n.name)).collect();
    let names = names.join(" ");
    format!(
        r#"k() {{ {kubectl} -n {NAMESPACE} "$@"; }}
k delete pod --ignore-not-found --force --grace-period=0 {names} 1>&2
k create -f - 1>&2 <<'EOF'
{manifest}
EOF
end=$((SECONDS + {secs})); ready=0
for p in {names}; do
  left=$((end - SECONDS)); [ "$left" -gt 0 ] || left=0
  k wait --for=condition=Ready --timeout="${{left}}s" "pod/$p" 1>&2 || ready=1
done
k get pod {names} --ignore-not-found -o json
[ "$ready" = 0 ] || {{ echo '{EVENTS_MARK}'; k get events -o json; }}
"#,
        kubectl = kubectl(),
        manifest = manifest(plan),
        secs = timeout.as_secs(),
    )
}

/// The master's command that removes the pods, without waiting for them to go.
pub fn delete_argv(plan: &Plan) -> Vec<String> {
    let mut argv: Vec<String> = [
        "kubectl",
        "--kubeconfig",
        ADMIN_CONF,
        "-n",
        NAMESPACE,
        "delete",
        "pod",
        "--ignore-not-found",
        "--wait=false",
        "--grace-period=0",
    ]
    .map(String::from)
    .to_vec();
    argv.extend(plan.nodes.iter().map(|n| pod_name(&n.name)));
    argv
}

/// Each node's pod from the start script's output: its addresses (`status.podIPs`) when it is
/// Ready, else why not — the pod's name, phase, its container's state, the failing conditions
/// and its last events — or that it was not created, with what kubectl said (`stderr`).
pub fn read_status(
    plan: &Plan,
    stdout: &str,
    stderr: &str,
    timeout: Duration,
) -> BTreeMap<String, Result<Vec<IpAddr>, String>> {
    let (pods, events) = match stdout.split_once(&format!("{EVENTS_MARK}\n")) {
        Some((p, e)) => (p, e),
        None => (stdout, ""),
    };
    let items = |text: &str| -> Vec<serde_json::Value> {
        match serde_json::from_str::<serde_json::Value>(text.trim()) {
            Ok(v) if v["kind"] == "List" => v["items"].as_array().cloned().unwrap_or_default(),
            Ok(v) if v["kind"] == "Pod" => vec![v],
            _ => Vec::new(),
        }
    };
    let pods = items(pods);
    let events = items(events);
    let said = summary(stderr);
    plan.nodes
        .iter()
        .map(|n| {
            let name = pod_name(&n.name);
            let r = match pods.iter().find(|p| p["metadata"]["name"] == name.as_str()) {
                None => Err(if said.is_empty() {
                    format!("pod {name} was not created")
                } else {
                    format!("pod {name} was not created: {said}")
                }),
                Some(pod) if ready(pod) => {
                    let addrs = addresses(pod);
                    if addrs.is_empty() {
                        Err(format!("pod {name} is Ready but has no address"))
                    } else {
                        Ok(addrs)
                    }
                }
                Some(pod) => Err(not_ready(&name, pod, &events, timeout)),
            };
            (n.name.clone(), r)
        })
        .collect()
}

fn ready(pod: &serde_json::Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// `status.podIPs`, else `status.podIP`.
fn addresses(pod: &serde_json::Value) -> Vec<IpAddr> {
    let status = &pod["status"];
    let mut out: Vec<IpAddr> = status["podIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ip| ip["ip"].as_str()?.parse().ok())
        .collect();
    if out.is_empty()
        && let Some(ip) = status["podIP"].as_str().and_then(|s| s.parse().ok())
    {
        out.push(ip);
    }
    out
}

/// `pod kdc-pod-on-kube-node-1 is not Ready after 120s: Pending; container pod waiting:
/// ErrImageNeverPull (…); events: Failed: …` — the last three distinct events of this pod.
fn not_ready(
    name: &str,
    pod: &serde_json::Value,
    events: &[serde_json::Value],
    timeout: Duration,
) -> String {
    let status = &pod["status"];
    let mut parts = vec![status["phase"].as_str().unwrap_or("no phase").to_string()];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    for c in status["containerStatuses"].as_array().into_iter().flatten() {
        let state = &c["state"];
        let container = text(&c["name"]);
        if state["waiting"].is_object() {
            let w = &state["waiting"];
            let mut s = format!("container {container} waiting: {}", text(&w["reason"]));
            if w["message"].is_string() {
                let _ = write!(s, " ({})", text(&w["message"]));
            }
            parts.push(s);
        } else if state["terminated"].is_object() {
            let t = &state["terminated"];
            parts.push(format!(
                "container {container} terminated: {} (exit {})",
                text(&t["reason"]),
                t["exitCode"]
            ));
        }
    }
    for c in status["conditions"].as_array().into_iter().flatten() {
        let kind = text(&c["type"]);
        if c["status"] == "True" || kind == "Ready" || kind == "ContainersReady" {
            continue;
        }
        let mut s = format!("{kind}=False");
        if c["reason"].is_string() {
            let _ = write!(s, " ({}", text(&c["reason"]));
            if c["message"].is_string() {
                let _ = write!(s, ": {}", text(&c["message"]));
            }
            s.push(')');
        }
        parts.push(s);
    }
    // Events outlive their pod: an earlier run's pod of the same name has its own UID.
    let uid = &pod["metadata"]["uid"];
    let mine: Vec<String> = events
        .iter()
        .filter(|e| {
            let about = &e["involvedObject"];
            about["name"] == name && (uid.is_null() || about["uid"] == *uid)
        })
        .map(|e| format!("{}: {}", text(&e["reason"]), text(&e["message"]).trim()))
        .collect();
    let mut seen = Vec::new();
    for e in mine.into_iter().rev() {
        if !seen.contains(&e) {
            seen.push(e);
        }
        if seen.len() == 3 {
            break;
        }
    }
    seen.reverse();
    if !seen.is_empty() {
        parts.push(format!("events: {}", seen.join("; ")));
    }
    format!(
        "pod {name} is not Ready after {}s: {}",
        timeout.as_secs(),
        parts.join("; ")
    )
}

/// A pod case's result as the runner got it from `kubectl exec`: the command's own, without
/// kubectl's "command terminated with exit code N" line; `Err` when kubectl itself failed (the
/// pod or the API server could not be reached), so that no negative check passes on it.
pub fn exec_result(mut raw: Raw, node: &str) -> Result<Raw, String> {
    if raw.code == 0 || raw.timed_out {
        return Ok(raw);
    }
    let mark = format!("{EXIT_MARK}{}", raw.code);
    let lines: Vec<&str> = raw.output.lines().collect();
    if let Some(at) = lines.iter().rposition(|l| l.trim() == mark) {
        let mut kept: Vec<&str> = lines[..at].to_vec();
        kept.extend(&lines[at + 1..]);
        raw.output = kept.iter().map(|l| format!("{l}\n")).collect();
        return Ok(raw);
    }
    Err(format!(
        "kubectl exec into pod {} failed (exit {}): {}",
        pod_name(node),
        raw.code,
        summary(&raw.output)
    ))
}

/// Whether the cluster runs Kubernetes: its master has kubeadm's `admin.conf`.
pub async fn kubernetes(exec: &dyn NodeExec, plan: &Plan) -> Result<bool, String> {
    let master = &plan.master().name;
    let req = ExecRequest::new(["test", "-s", ADMIN_CONF]).timeout(Duration::from_secs(20));
    match exec.exec(master, req).await {
        Ok(o) => Ok(o.code == 0),
        Err(e) => Err(format!("cannot tell whether {master} runs Kubernetes: {e}")),
    }
}

/// What [`start`] did.
#[derive(Debug, Clone)]
pub struct Started {
    /// Node container name → its pod's addresses, or why its cases cannot run.
    pub pods: BTreeMap<String, Result<Vec<IpAddr>, String>>,
    /// The command, what kubectl said and each pod's state: the JUnit step's output.
    pub transcript: String,
}

impl Started {
    /// The pods that are not Ready, with why; empty when all are.
    pub fn problems(&self) -> Vec<&str> {
        self.pods
            .values()
            .filter_map(|r| r.as_ref().err().map(String::as_str))
            .collect()
    }
}

/// Starts the pods (one exec on the master) and waits up to `timeout` for them to be Ready.
pub async fn start(exec: &dyn NodeExec, plan: &Plan, timeout: Duration) -> Started {
    let master = &plan.master().name;
    let script = start_script(plan, timeout);
    let mut transcript = format!("$ docker exec {master} bash -c {}\n", shell_quote(&script));
    let started = Instant::now();
    let req = ExecRequest::new(["bash", "-c", &script]).timeout(timeout + Duration::from_secs(60));
    let pods = match exec.exec(master, req).await {
        Ok(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            let _ = writeln!(
                transcript,
                "{}\n(exit {}, {:.3}s)",
                stderr.trim_end(),
                o.code,
                started.elapsed().as_secs_f64()
            );
            read_status(plan, &o.stdout_text(), &stderr, timeout)
        }
        Err(e) => {
            let why = format!("the pods could not be started on {master}: {e}");
            let _ = writeln!(transcript, "{why}");
            plan.nodes
                .iter()
                .map(|n| (n.name.clone(), Err(why.clone())))
                .collect()
        }
    };
    for (node, r) in &pods {
        let _ = match r {
            Ok(addrs) => {
                let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                writeln!(
                    transcript,
                    "{}: Ready, {}",
                    pod_name(node),
                    shown.join(", ")
                )
            }
            Err(why) => writeln!(transcript, "{why}"),
        };
    }
    Started { pods, transcript }
}

/// Removes the pods (one exec on the master; kubectl does not wait for them to go).
pub async fn delete(exec: &dyn NodeExec, plan: &Plan) -> Result<(), String> {
    let master = &plan.master().name;
    let req = ExecRequest::new(delete_argv(plan)).timeout(Duration::from_secs(60));
    match exec.exec(master, req).await {
        Ok(o) if o.code == 0 => Ok(()),
        Ok(o) => Err(format!(
            "removing kdc's pods on {master} failed (exit {}): {}",
            o.code,
            summary(&o.combined_text())
        )),
        Err(e) => Err(format!("removing kdc's pods on {master} failed: {e}")),
    }
}
