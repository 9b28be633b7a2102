//! The cluster lifecycle: `up` as an ordered list of actions, and `down`, `clean`, `status`.
//!
//! Reads like the spec: ensure the image, create the network, prepare the volumes, start the
//! node containers (all at once), wait for
//! systemd. The kubeadm bootstrapper will append its actions after these. Everything goes
//! through the [`Provider`] and [`NodeExec`] seams; all state is in container, volume and network
//! labels, so every command works from the labels alone.

pub mod action;
pub mod actions;

pub mod ledger;
pub mod spec;
pub mod summary;

use std::collections::BTreeMap;

use crate::plan::Plan;
use crate::report::Emitter;
use crate::runtime::{ContainerState, NodeExec, Privilege, Provider, ProviderError, labels};
use crate::signal::Stop;

pub use action::{
    Action, ActionContext, ActionError, ClusterError, UpOptions, UpState, run_actions, step,
};
pub use ledger::{Created, Ledger};

/// What `up` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOutcome {
    /// The host port of the API server.
    pub apiserver_port: u16,
    /// Every node volume existed, so the nodes restarted from their volumes.
    pub restarted: bool,
    pub privilege: Privilege,
}

/// Brings up the cluster's machines: the image, the network, the volumes, the node containers
/// (all at once), systemd in each. Stops at the first error or a stop request; then everything
/// this run created is removed again — unless `retain`, which keeps it all for debugging.
pub async fn up(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    plan: &Plan,
    options: &UpOptions,
    events: &Emitter,
    stop: &Stop,
) -> Result<UpOutcome, ClusterError> {
    let ledger = Ledger::default();
    let stale = node_names(provider, &plan.cluster.label)
        .await
        .map_err(|e| ClusterError::Action {
            detail: "listing the cluster's nodes".into(),
            source: e.into(),
        })?;
    let mut actions: Vec<Box<dyn Action>> =
        vec![Box::new(actions::Image), Box::new(actions::Network)];
    if !stale.is_empty() {
        actions.push(Box::new(actions::RemoveOldNodes(stale)));
    }
    actions.push(Box::new(actions::Volumes));
    actions.push(Box::new(actions::Nodes));
    actions.push(Box::new(actions::Systemd));

    let mut cx = ActionContext {
        provider,
        exec,
        plan,
        options,
        ledger: &ledger,
        events: events.clone(),
        stop: stop.clone(),
        state: UpState::default(),
    };
    match run_actions(&actions, &mut cx).await {
        Ok(()) => Ok(UpOutcome {
            apiserver_port: cx.state.apiserver_port.expect("the volumes action ran"),
            restarted: cx.state.restarted,
            privilege: cx.state.privilege.expect("the nodes action ran"),
        }),
        Err(e) => {
            if options.retain {
                let kept: Vec<String> = ledger.entries().iter().map(ToString::to_string).collect();
                if !kept.is_empty() {
                    events.note(format!(
                        "keeping what was created (--retain): {}; remove it with `kdc clean`",
                        kept.join(", ")
                    ));
                }
            } else {
                for problem in ledger.rollback(provider).await {
                    events.warn(format!("cleanup: {problem}"));
                }
            }
            Err(e)
        }
    }
}

/// A cluster as found from labels.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterStatus {
    pub label: String,
    pub nodes: Vec<NodeStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub role: String,
    pub state: String,
    pub image: String,
}

fn is_node(c: &ContainerState) -> bool {
    is_node_role(c.labels.get(labels::ROLE).map(String::as_str))
}

/// Node containers are the Kubernetes machines; support containers (dns64, nat64) are not.
fn is_node_role(role: Option<&str>) -> bool {
    matches!(role, Some("control-plane" | "worker"))
}

/// A node container and the cluster it belongs to: a row of `kdc get nodes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterNode {
    pub cluster: String,
    #[serde(flatten)]
    pub node: NodeStatus,
}

/// The node containers of the cluster `label`, or of every cluster: clusters by label, master
/// first within each. Support containers (dns64, nat64) are not nodes.
pub async fn nodes(
    provider: &dyn Provider,
    label: Option<&str>,
) -> Result<Vec<ClusterNode>, ProviderError> {
    Ok(status(provider)
        .await?
        .into_iter()
        .filter(|c| label.is_none_or(|l| l == c.label))
        .flat_map(|c| {
            let cluster = c.label;
            c.nodes
                .into_iter()
                .filter(|n| is_node_role(Some(&n.role)))
                .map(move |node| ClusterNode {
                    cluster: cluster.clone(),
                    node,
                })
        })
        .collect())
}

/// Names of the cluster's node containers (not its support containers), running or not.
pub(crate) async fn node_names(
    provider: &dyn Provider,
    label: &str,
) -> Result<Vec<String>, ProviderError> {
    let all = provider
        .list_containers(&spec::cluster_filter(label))
        .await?;
    Ok(all.into_iter().filter(is_node).map(|c| c.name).collect())
}

/// Every kdc cluster with containers, nodes sorted master first.
pub async fn status(provider: &dyn Provider) -> Result<Vec<ClusterStatus>, ProviderError> {
    let mut by_label: BTreeMap<String, Vec<NodeStatus>> = BTreeMap::new();
    for c in provider.list_containers(labels::CLUSTER).await? {
        let label = c.labels.get(labels::CLUSTER).cloned().unwrap_or_default();
        by_label.entry(label).or_default().push(NodeStatus {
            role: c.labels.get(labels::ROLE).cloned().unwrap_or_default(),
            name: c.name,
            state: c.state,
            image: c.image,
        });
    }
    Ok(by_label
        .into_iter()
        .map(|(label, mut nodes)| {
            nodes.sort_by(|a, b| {
                (a.role != "control-plane", &a.name).cmp(&(b.role != "control-plane", &b.name))
            });
            ClusterStatus { label, nodes }
        })
        .collect())
}

/// Every kdc cluster that owns anything on the engine, by label: [`status`]'s clusters, and those
/// that are down (only volumes or a network left; `nodes` empty). What `kdc get clusters`
/// lists: every cluster `clean --all` would remove and `up` could restart.
pub async fn clusters(provider: &dyn Provider) -> Result<Vec<ClusterStatus>, ProviderError> {
    let mut running = status(provider).await?;
    for label in all_labels(provider).await? {
        if !running.iter().any(|c| c.label == label) {
            running.push(ClusterStatus {
                label,
                nodes: Vec::new(),
            });
        }
    }
    running.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(running)
}

/// The plan's node volumes that do not exist. None missing means `up` restarts the nodes from
/// their volumes (unless `SKIP_SNAPSHOT`); `reup` requires that.
pub async fn missing_volumes(
    provider: &dyn Provider,
    plan: &Plan,
) -> Result<Vec<String>, ProviderError> {
    let mut missing = Vec::new();
    for node in &plan.nodes {
        if provider.volume(&node.volume).await?.is_none() {
            missing.push(node.volume.clone());
        }
    }
    Ok(missing)
}

/// `down`: removes the node containers and keeps volumes, network and support containers, so the
/// next `up` restarts from the volumes (kubeadm-dind-cluster's semantics). Only containers with
/// kdc's role label are touched, never anything that merely carries the legacy label key.
pub async fn down(
    provider: &dyn Provider,
    label: &str,
    events: &Emitter,
) -> Result<usize, ClusterError> {
    let nodes = step(
        events,
        "list",
        format!("Finding nodes of cluster {label}"),
        async { Ok(node_names(provider, label).await?) },
    )
    .await?;
    let n = nodes.len();
    if n > 0 {
        step(
            events,
            "remove-nodes",
            format!("Removing {n} node container{}", crate::text::plural(n)),
            async { remove_containers(provider, nodes.iter().map(String::as_str)).await },
        )
        .await?;
    }
    Ok(n)
}

/// What `clean` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cleaned {
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
}

/// `clean`: removes everything labelled with the cluster — containers (nodes and support),
/// volumes and networks — and leaves nothing labelled behind.
pub async fn clean(
    provider: &dyn Provider,
    label: &str,
    events: &Emitter,
) -> Result<Cleaned, ClusterError> {
    let filter = spec::cluster_filter(label);
    step(
        events,
        "clean",
        format!("Removing cluster {label}"),
        async {
            let containers: Vec<String> = provider
                .list_containers(&filter)
                .await?
                .into_iter()
                .map(|c| c.name)
                .collect();
            remove_containers(provider, containers.iter().map(String::as_str)).await?;
            let volumes: Vec<String> = provider
                .list_volumes(&filter)
                .await?
                .into_iter()
                .map(|v| v.name)
                .collect();
            futures_util::future::try_join_all(volumes.iter().map(|v| provider.remove_volume(v)))
                .await?;
            let networks: Vec<String> = provider
                .list_networks(&filter)
                .await?
                .into_iter()
                .map(|n| n.name)
                .collect();
            for n in &networks {
                provider.remove_network(n).await?;
            }
            Ok(Cleaned {
                containers,
                volumes,
                networks,
            })
        },
    )
    .await
}

/// Labels of every cluster that owns any container, volume or network.
pub async fn all_labels(provider: &dyn Provider) -> Result<Vec<String>, ProviderError> {
    let mut set = std::collections::BTreeSet::new();
    let get = |l: &BTreeMap<String, String>| l.get(labels::CLUSTER).cloned();
    set.extend(
        provider
            .list_containers(labels::CLUSTER)
            .await?
            .iter()
            .filter_map(|c| get(&c.labels)),
    );
    set.extend(
        provider
            .list_volumes(labels::CLUSTER)
            .await?
            .iter()
            .filter_map(|v| get(&v.labels)),
    );
    set.extend(
        provider
            .list_networks(labels::CLUSTER)
            .await?
            .iter()
            .filter_map(|n| get(&n.labels)),
    );
    Ok(set.into_iter().collect())
}

pub(crate) async fn remove_containers<'a>(
    provider: &dyn Provider,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ActionError> {
    futures_util::future::try_join_all(names.map(|n| provider.remove_container(n))).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
