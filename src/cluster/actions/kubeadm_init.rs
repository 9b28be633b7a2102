//! kind's "Starting control-plane": `kubeadm init` on the master, its output kept for the error
//! and the dump. A master restored from its volume (it has `/etc/kubernetes/admin.conf`) is
//! not initialised again: kubelet brings the static pods back by itself.

use std::time::Duration;

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::kube::kubeadm::CONFIG_PATH;
use crate::runtime::ExecRequest;

/// kubeadm's admin kubeconfig on the master.
pub const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

pub struct KubeadmInit;

/// Whether `node` already holds a cluster made by kubeadm (a restored volume).
pub async fn initialised(
    cx: &ActionContext<'_>,
    node: &str,
    file: &str,
) -> Result<bool, ActionError> {
    let out = cx
        .exec
        .exec(node, ExecRequest::new(["test", "-s", file]))
        .await?;
    Ok(out.code == 0)
}

/// kubectl on the master with kubeadm's admin kubeconfig, `args` after it, ended after
/// `timeout`.
pub fn admin_kubectl(args: &[&str], timeout: Duration) -> ExecRequest {
    let mut argv = vec!["kubectl", "--kubeconfig", ADMIN_CONF];
    argv.extend_from_slice(args);
    ExecRequest::new(argv).timeout(timeout)
}

/// `kubeadm init`'s command line.
pub fn init_argv() -> Vec<String> {
    [
        "kubeadm",
        "init",
        "--config",
        CONFIG_PATH,
        "--skip-token-print",
        "--v=1",
    ]
    .map(String::from)
    .to_vec()
}

#[async_trait::async_trait]
impl Action for KubeadmInit {
    fn name(&self) -> &'static str {
        "kubeadm-init"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        format!(
            "Starting control-plane on {} (kubeadm init)",
            cx.plan.master().name
        )
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let master = &cx.plan.master().name;
        if initialised(cx, master, ADMIN_CONF).await? {
            cx.events.note(format!(
                "{master} keeps its control plane from its volume: no kubeadm init"
            ));
            return wait_for_api(cx, master).await;
        }
        let req = ExecRequest::new(init_argv()).timeout(Duration::from_secs(300));
        cx.exec.exec(master, req).await?.ok()?;
        if cx.plan.nodes.len() == 1 {
            // A lone master runs everything, as kind's single-node clusters do.
            let req = admin_kubectl(
                &[
                    "taint",
                    "nodes",
                    "--all",
                    "node-role.kubernetes.io/control-plane-",
                ],
                Duration::from_secs(60),
            );
            cx.exec.exec(master, req).await?.ok()?;
        }
        Ok(())
    }
}

/// Waits until the API server that kubelet restarts from its static pods answers `/readyz`.
async fn wait_for_api(cx: &ActionContext<'_>, master: &str) -> Result<(), ActionError> {
    let timeout = cx.kube()?.ready_timeout;
    let start = std::time::Instant::now();
    loop {
        let req = admin_kubectl(&["get", "--raw", "/readyz"], Duration::from_secs(10));
        let out = cx.exec.exec(master, req).await?;
        if out.code == 0 {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(ActionError::Check(format!(
                "the API server restored on {master} did not answer /readyz within {} s: {}",
                timeout.as_secs(),
                out.combined_text().trim()
            )));
        }
        tokio::select! {
            () = cx.stop.wait() => return Err(ActionError::Interrupted),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
