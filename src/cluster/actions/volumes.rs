//! The node volumes on `/var`: reused when all exist (the fast restart path after `down`), else
//! made fresh. The master volume's label holds the API server's host port, so a restarted
//! cluster keeps its address.

use std::net::TcpListener;

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::cluster::ledger::Created;
use crate::cluster::spec;
use crate::plan::Plan;
use crate::runtime::labels;

pub struct Volumes;

#[async_trait::async_trait]
impl Action for Volumes {
    fn name(&self) -> &'static str {
        "volumes"
    }

    fn describe(&self, _cx: &ActionContext<'_>) -> String {
        "Preparing node volumes".to_string()
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let plan = cx.plan;
        let provider = cx.provider;
        let existing = futures_util::future::try_join_all(
            plan.nodes.iter().map(|n| provider.volume(&n.volume)),
        )
        .await?;
        let all_exist = existing.iter().all(Option::is_some);
        let restarted = all_exist && !cx.options.skip_snapshot;
        let recorded = existing[0]
            .as_ref()
            .and_then(|v| v.labels.get(labels::APISERVER_PORT))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|_| restarted);
        let port = match (plan.apiserver.port, recorded) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => free_port(plan)?,
        };
        if !restarted {
            // A fresh cluster: every node starts from an empty volume, as kubeadm-dind-cluster's
            // `dind::up` did; stale volumes from a half-created cluster are replaced.
            for (node, vol) in plan.nodes.iter().zip(&existing) {
                if vol.is_some() {
                    provider.remove_volume(&node.volume).await?;
                }
                cx.ledger.record(Created::Volume(node.volume.clone()));
                provider
                    .create_volume(&node.volume, &spec::volume_labels(plan, node, port))
                    .await?;
            }
        }
        cx.state.restarted = restarted;
        cx.state.apiserver_port = Some(port);
        Ok(())
    }
}

/// A free TCP port on the loopback address the API server is published on.
fn free_port(plan: &Plan) -> Result<u16, ActionError> {
    let addr = plan.apiserver.host;
    TcpListener::bind((addr, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| {
            ActionError::Check(format!(
                "cannot find a free port on {addr} for the API server ({e}); set APISERVER_PORT"
            ))
        })
}
