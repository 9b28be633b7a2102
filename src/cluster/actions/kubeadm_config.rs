//! kind's "Writing configuration": the kubeadm documents of each node into
//! [`crate::kube::kubeadm::CONFIG_PATH`], and the resolver kubelet gives pods that use the
//! node's DNS (CoreDNS forwards there): kdc's name server, bind9 — DNS64 in ipv6 mode, as in
//! the original — since Docker's 127.0.0.11 cannot be reached from a pod.

use crate::cluster::action::{Action, ActionContext, ActionError};
pub use crate::kube::kubeadm::POD_RESOLV_CONF;
use crate::kube::kubeadm::{CONFIG_PATH, KubeadmInputs, render};
use crate::node;
use crate::plan::Plan;

pub struct KubeadmConfig;

/// kdc's name server, as a resolv.conf.
pub fn pod_resolv_conf(plan: &Plan) -> String {
    let mut s =
        String::from("# kdc: the cluster's name server (bind9), for CoreDNS to forward to\n");
    for a in &plan.dns.addresses {
        s += &format!("nameserver {a}\n");
    }
    s
}

#[async_trait::async_trait]
impl Action for KubeadmConfig {
    fn name(&self) -> &'static str {
        "kubeadm-config"
    }

    fn describe(&self, _cx: &ActionContext<'_>) -> String {
        format!("Writing configuration ({CONFIG_PATH})")
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let cx = &*cx;
        let kube = cx.kube()?;
        let inputs = KubeadmInputs {
            plan: cx.plan,
            release: kube.release,
            feature_gates: kube.feature_gates.as_deref(),
            kubelet_feature_gates: kube.kubelet_feature_gates.as_deref(),
            cgroup_v1: kube.cgroup_v1,
            token: &kube.token,
            published_host: Some(cx.plan.apiserver.host),
        };
        let resolv = pod_resolv_conf(cx.plan);
        let runs = cx.plan.nodes.iter().map(|n| {
            let config = render(&inputs, n);
            let resolv = resolv.clone();
            async move {
                node::write_file(cx.exec, &n.name, POD_RESOLV_CONF, resolv.as_bytes(), 0o644)
                    .await?;
                node::write_file(cx.exec, &n.name, CONFIG_PATH, config.as_bytes(), 0o600).await
            }
        });
        futures_util::future::try_join_all(runs).await?;
        Ok(())
    }
}
