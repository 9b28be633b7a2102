//! Waits until every node and every kube-system pod is Ready. Unlike kind (control planes only,
//! and a timeout is only a warning), a timeout fails `up` and names each object that is not
//! Ready with its conditions: a CI cell should not start its tests on half a cluster.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::kubeadm_init::admin_kubectl;
use crate::cluster::action::{Action, ActionContext, ActionError};

pub struct WaitReady;

/// What is not Ready yet, one line each; empty when all of `want_nodes` and every kube-system
/// pod are. `list` is `kubectl get nodes,pods -n kube-system -o json`.
pub fn not_ready(list: &Value, want_nodes: &[&str]) -> Vec<String> {
    let items = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut missing = Vec::new();
    let mut seen = Vec::new();
    let mut pods = 0;
    for item in items {
        let kind = item["kind"].as_str().unwrap_or_default();
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        let conditions = item["status"]["conditions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let ready = conditions
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        match kind {
            "Node" => {
                seen.push(name.to_string());
                if !ready {
                    missing.push(format!("node {name}: {}", describe(conditions, "Ready")));
                }
            }
            "Pod" => {
                pods += 1;
                let phase = item["status"]["phase"].as_str().unwrap_or("Unknown");
                if !ready && phase != "Succeeded" {
                    let ns = item["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("kube-system");
                    let waiting: Vec<String> = item["status"]["containerStatuses"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|s| {
                            let w = &s["state"]["waiting"];
                            w["reason"]
                                .as_str()
                                .map(|r| format!("{} {r}", s["name"].as_str().unwrap_or("?")))
                        })
                        .collect();
                    let mut line = format!(
                        "pod {ns}/{name} ({phase}): {}",
                        describe(conditions, "Ready")
                    );
                    if !waiting.is_empty() {
                        line += &format!("; waiting: {}", waiting.join(", "));
                    }
                    missing.push(line);
                }
            }
            _ => {}
        }
    }
    for want in want_nodes {
        if !seen.iter().any(|s| s == want) {
            missing.push(format!("node {want}: not registered"));
        }
    }
    if pods == 0 {
        missing.push("no kube-system pods yet".into());
    }
    missing
}

/// `Ready=False (Reason: message)` for the condition of `kind`, or that there is none.
fn describe(conditions: &[Value], kind: &str) -> String {
    conditions.iter().find(|c| c["type"] == kind).map_or_else(
        || format!("no {kind} condition"),
        |c| {
            let mut s = format!("{kind}={}", c["status"].as_str().unwrap_or("?"));
            let reason = c["reason"].as_str().unwrap_or_default();
            let message = c["message"].as_str().unwrap_or_default();
            if !reason.is_empty() || !message.is_empty() {
                s += &format!(
                    " ({reason}{}{message})",
                    if message.is_empty() { "" } else { ": " }
                );
            }
            s
        },
    )
}

#[async_trait::async_trait]
impl Action for WaitReady {
    fn name(&self) -> &'static str {
        "wait-ready"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        let timeout = cx
            .kube()
            .map(|k| k.ready_timeout.as_secs())
            .unwrap_or_default();
        format!("Waiting ≤ {timeout} s for every node and kube-system pod to be Ready")
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let timeout = cx.kube()?.ready_timeout;
        let master = &cx.plan.master().name;
        let want: Vec<&str> = cx.plan.nodes.iter().map(|n| n.hostname.as_str()).collect();
        let start = Instant::now();
        let mut last: Vec<String>;
        loop {
            let req = admin_kubectl(
                &["get", "nodes,pods", "-n", "kube-system", "-o", "json"],
                Duration::from_secs(30),
            );
            let out = cx.exec.exec(master, req).await?;
            last = if out.code == 0 {
                match serde_json::from_slice::<Value>(&out.stdout) {
                    Ok(list) => not_ready(&list, &want),
                    Err(e) => vec![format!("kubectl printed no JSON ({e})")],
                }
            } else {
                vec![format!(
                    "the API server does not answer yet: {}",
                    out.combined_text().trim()
                )]
            };
            if last.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                break;
            }
            tokio::select! {
                () = cx.stop.wait() => return Err(ActionError::Interrupted),
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        Err(ActionError::Check(format!(
            "not Ready after {} s:\n  {}",
            timeout.as_secs(),
            last.join("\n  ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_is_not_ready_with_its_conditions() {
        let list = serde_json::json!({"items": [
            {"kind": "Node", "metadata": {"name": "kube-master"}, "status": {"conditions": [
                {"type": "Ready", "status": "True"}]}},
            {"kind": "Node", "metadata": {"name": "kube-node-1"}, "status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                 "message": "container runtime network not ready"}]}},
            {"kind": "Pod", "metadata": {"name": "coredns-1", "namespace": "kube-system"},
             "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False",
                "reason": "ContainersNotReady"}],
                "containerStatuses": [{"name": "coredns", "state": {"waiting": {"reason": "ContainerCreating"}}}]}},
            {"kind": "Pod", "metadata": {"name": "etcd-kube-master", "namespace": "kube-system"},
             "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
        ]});
        assert_eq!(
            not_ready(&list, &["kube-master", "kube-node-1", "kube-node-2"]),
            [
                "node kube-node-1: Ready=False (KubeletNotReady: container runtime network not ready)",
                "pod kube-system/coredns-1 (Pending): Ready=False (ContainersNotReady); waiting: coredns ContainerCreating",
                "node kube-node-2: not registered",
            ]
        );
        let all_ready = serde_json::json!({"items": [
            {"kind": "Node", "metadata": {"name": "kube-master"}, "status": {"conditions": [
                {"type": "Ready", "status": "True"}]}},
            {"kind": "Pod", "metadata": {"name": "x"}, "status": {"phase": "Succeeded"}}]});
        assert!(not_ready(&all_ready, &["kube-master"]).is_empty());
        assert_eq!(
            not_ready(&serde_json::json!({"items": []}), &[]),
            ["no kube-system pods yet"]
        );
    }
}
