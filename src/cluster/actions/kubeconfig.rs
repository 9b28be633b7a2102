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

/// The admin kubeconfig of a cluster that is up, its server at the published address: what
/// `kdc kubeconfig` prints and `kdc e2e` uses.
pub async fn published(
    provider: &dyn crate::runtime::Provider,
    exec: &dyn crate::runtime::NodeExec,
    plan: &crate::plan::Plan,
) -> Result<String, String> {
    let port = crate::cluster::apiserver_port(provider, plan)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let admin = node::read_file(exec, &plan.master().name, ADMIN_CONF)
        .await
        .map_err(|e| {
            format!(
                "reading {ADMIN_CONF} on {}: {e}; is the cluster up with Kubernetes (`{}`)?",
                plan.master().name,
                plan.cluster.command("up")
            )
        })?;
    Ok(with_server(
        &String::from_utf8_lossy(&admin),
        &server(plan.apiserver.host, port),
    ))
}

/// `text` with every cluster's `server:` set to `server`.
pub fn with_server(text: &str, server: &str) -> String {
    text.lines()
        .map(|l| match l.trim_start().strip_prefix("server:") {
            Some(_) => {
                let indent = &l[..l.len() - l.trim_start().len()];
                format!("{indent}server: {server}")
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_is_rewritten_in_every_cluster_entry() {
        let admin = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: AAA\n    server: https://172.18.0.2:6443\n  name: kubernetes\n";
        let out = with_server(admin, "https://127.0.0.1:40123");
        assert_eq!(
            out,
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: AAA\n    server: https://127.0.0.1:40123\n  name: kubernetes\n"
        );
    }
}
