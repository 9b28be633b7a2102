//! kind's "Joining worker nodes": `kubeadm join` on every worker at once (kind joins workers
//! concurrently; only control planes must join one by one). A worker restored from its volume
//! (it has `/etc/kubernetes/kubelet.conf`) is already a member. When the master came back from
//! its volume, this run's bootstrap token is created on it first (the one from `kubeadm init`
//! has expired or is another).

use std::time::Duration;

use super::kubeadm_init::initialised;
use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::kube::kubeadm::CONFIG_PATH;
use crate::plan::Role;
use crate::runtime::ExecRequest;

/// kubelet's kubeconfig on a member node.
pub const KUBELET_CONF: &str = "/etc/kubernetes/kubelet.conf";

pub struct KubeadmJoin;

#[async_trait::async_trait]
impl Action for KubeadmJoin {
    fn name(&self) -> &'static str {
        "kubeadm-join"
    }

    fn describe(&self, _cx: &ActionContext<'_>) -> String {
        "Joining worker nodes (kubeadm join)".into()
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let cx = &*cx;
        let kube = cx.kube()?;
        let mut joining = Vec::new();
        for n in cx.plan.nodes.iter().filter(|n| n.role == Role::Worker) {
            if !initialised(cx, &n.name, KUBELET_CONF).await? {
                joining.push(n);
            }
        }
        if joining.is_empty() {
            return Ok(());
        }
        let master = &cx.plan.master().name;
        if cx.state.restarted.contains(master) {
            let req = ExecRequest::new([
                "kubeadm",
                "token",
                "create",
                kube.token.as_str(),
                "--ttl",
                "2h",
            ])
            .timeout(Duration::from_secs(60));
            let out = cx.exec.exec(master, req).await?;
            // A token made by this run's `kubeadm init` exists already: fine.
            if out.code != 0 && !out.combined_text().contains("already exists") {
                out.ok()?;
            }
        }
        let runs = joining.into_iter().map(|n| async move {
            let req = ExecRequest::new(["kubeadm", "join", "--config", CONFIG_PATH, "--v=1"])
                .timeout(Duration::from_secs(300));
            cx.exec.exec(&n.name, req).await?.ok()
        });
        futures_util::future::try_join_all(runs).await?;
        Ok(())
    }
}
