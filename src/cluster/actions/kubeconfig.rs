//! The admin kubeconfig, its server rewritten to the address the API server is published on,
//! merged into the user's kubeconfig under the cluster's context (`dind`, `dind-cluster-N`,
//! `dind-<label>`), as the original's `configure-kubectl` and kind's export do.

use super::kubeadm_init::ADMIN_CONF;
use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::node;

pub struct Kubeconfig;

/// `https://127.0.0.1:PORT` or `https://[::1]:PORT`.
pub fn server(host: std::net::IpAddr, port: u16) -> String {
    match host {
        std::net::IpAddr::V6(h) => format!("https://[{h}]:{port}"),
        std::net::IpAddr::V4(h) => format!("https://{h}:{port}"),
    }
}

#[async_trait::async_trait]
impl Action for Kubeconfig {
    fn name(&self) -> &'static str {
        "kubeconfig"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        match cx.kube().ok().and_then(|k| k.kubeconfig.as_ref()) {
            Some(f) => format!(
                "Setting kubectl context {} in {}",
                cx.plan.cluster.context,
                f.display()
            ),
            None => "Reading the admin kubeconfig".into(),
        }
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let admin = node::read_file(cx.exec, &cx.plan.master().name, ADMIN_CONF).await?;
        let port = cx
            .state
            .apiserver_port
            .expect("the volumes action chose the port");
        let text = String::from_utf8_lossy(&admin).into_owned();
        cx.state.admin_kubeconfig = Some(text.clone());
        if let Some(file) = cx.kube()?.kubeconfig.clone() {
            let server = server(cx.plan.apiserver.host, port);
            crate::kubeconfig::merge(&file, &cx.plan.cluster.context, &text, &server)
                .map_err(|e| ActionError::Check(format!("{e:#}")))?;
        }
        Ok(())
    }
}
