//! The node volumes on `/var`. A node whose volume exists restarts from it (the fast path after
//! `down`); a node without one starts fresh. Nothing is discarded silently: after NUM_NODES grew
//! the existing nodes keep their volumes and only the new ones start fresh; after it shrank the
//! volumes of the removed nodes are kept and named (`kdc clean` removes them, `kdc status` lists
//! them). SKIP_SNAPSHOT makes every node fresh, on purpose. The master volume's label holds the
//! API server's host port, so a restarted cluster keeps its address.

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
        let keep = !cx.options.skip_snapshot;
        let recorded = existing[0]
            .as_ref()
            .filter(|_| keep)
            .and_then(|v| v.labels.get(labels::APISERVER_PORT))
            .and_then(|p| p.parse::<u16>().ok());
        let port = match (plan.apiserver.port, recorded) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => free_port(plan)?,
        };
        for (node, vol) in plan.nodes.iter().zip(&existing) {
            if vol.is_some() && keep {
                cx.state.restarted.push(node.name.clone());
                continue;
            }
            if vol.is_some() {
                provider.remove_volume(&node.volume).await?;
            }
            cx.ledger.record(Created::Volume(node.volume.clone()));
            provider
                .create_volume(&node.volume, &spec::volume_labels(plan, node, port))
                .await?;
            cx.state.fresh.push(node.name.clone());
        }
        if !cx.state.restarted.is_empty() && !cx.state.fresh.is_empty() {
            cx.events.note(format!(
                "{} restart from their volumes; {} start fresh (no volume yet)",
                cx.state.restarted.join(", "),
                cx.state.fresh.join(", ")
            ));
        }
        // Volumes of nodes this plan no longer has (NUM_NODES shrank) are kept, not lost.
        let planned: Vec<&str> = plan.nodes.iter().map(|n| n.volume.as_str()).collect();
        let mut orphans: Vec<String> = provider
            .list_volumes(&spec::cluster_filter(&plan.cluster.label))
            .await?
            .into_iter()
            .filter(|v| v.labels.contains_key(labels::NODE) && !planned.contains(&v.name.as_str()))
            .map(|v| v.name)
            .collect();
        orphans.sort();
        if !orphans.is_empty() {
            cx.events.note(format!(
                "kept the volume{} of nodes this cluster no longer has (NUM_NODES is {}): {}; `{}` removes them with the rest of the cluster",
                crate::text::plural(orphans.len()),
                plan.nodes.len() - 1,
                orphans.join(", "),
                plan.cluster.command("clean")
            ));
        }
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
