//! The cluster lifecycle: `up` as an ordered list of actions, and `down`, `clean`, `status`.
//!
//! Reads like the spec: take the cluster's lock, ensure the image, create the network, prepare
//! the volumes, start the node containers (all at once), wait for systemd. The kubeadm
//! bootstrapper will append its actions after these. Everything goes through the [`Provider`]
//! and [`NodeExec`] seams; all state is in container, volume and network labels, so every
//! command works from the labels alone.

pub mod action;
pub mod actions;
mod clean;
pub mod host_routes;
pub mod ledger;
pub mod lock;
pub mod spec;
pub mod status;
pub mod summary;
pub mod support;

use crate::plan::Plan;
use crate::report::Emitter;
use crate::runtime::{ContainerState, NodeExec, Privilege, Provider, ProviderError, labels};
use crate::signal::Stop;

pub use action::{
    Action, ActionContext, ActionError, Bootstrapper, ClusterError, KubeOptions, Together,
    UpOptions, UpState, run_actions, step,
};

/// The label `images/kube/build.sh` puts on a node image that carries Kubernetes.
pub const KUBERNETES_LABEL: &str = "io.kdc.kubernetes";

/// The Kubernetes release `image` carries, `None` for a node image without Kubernetes or an
/// absent image (the image action names that).
pub async fn image_kubernetes(
    provider: &dyn Provider,
    image: &str,
) -> Result<Option<String>, ProviderError> {
    Ok(provider
        .image_labels(image)
        .await?
        .and_then(|l| l.get(KUBERNETES_LABEL).cloned()))
}
pub use clean::{Cleaned, all_labels, clean, down};
pub use ledger::{Created, Ledger};
pub use status::{ClusterStatus, status};

/// What `up` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOutcome {
    /// The host port of the API server.
    pub apiserver_port: u16,
    /// Nodes that restarted from their volumes, and nodes that started fresh (all of them on a
    /// first `up`; the new ones after NUM_NODES grew).
    pub restarted: Vec<String>,
    pub fresh: Vec<String>,
    pub privilege: Privilege,
    pub bootstrapper: Bootstrapper,
    /// The routes and rules held on the engine's host (`--host-routes`).
    pub host_routes: Vec<String>,
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
    let label = &plan.cluster.label;
    with_lock(provider, label, &plan.image, "up", events, async {
        let ledger = Ledger::default();
        let listed = provider
            .list_containers(&spec::cluster_filter(label))
            .await
            .map_err(|e| ClusterError::Action {
                detail: "listing the cluster's containers".into(),
                source: e.into(),
            })?;
        let stale: Vec<String> = listed
            .iter()
            .filter(|c| is_node(c))
            .map(|c| c.name.clone())
            .collect();
        let had_host_routes = listed.iter().any(host_routes::holds_routes);
        let mut actions: Vec<Box<dyn Action>> =
            vec![Box::new(actions::Image), Box::new(actions::Network)];
        if !stale.is_empty() {
            actions.push(Box::new(actions::RemoveOldNodes(stale)));
        }
        actions.push(Box::new(actions::Volumes));
        actions.push(Box::new(Together(vec![
            Box::new(actions::Support),
            Box::new(actions::Nodes),
        ])));
        actions.push(Box::new(actions::Systemd));
        actions.push(Box::new(actions::SupportReady));
        actions.push(Box::new(actions::NodeNetwork));
        // The suites' pod checks run in these CNI sandboxes on a cluster without Kubernetes (with
        // it in kdc's pods, see `suite::pods`); Kubernetes pods share the node's CNI config and
        // address pool with them.
        if plan.cni_plugin.supports_ipv6_pods() {
            actions.push(Box::new(actions::Sandboxes));
        }
        match options.bootstrapper {
            Bootstrapper::None => {}
            // kind's order: configuration, init, CNI (the configs node-network wrote), the
            // storage class, joins, then Ready; a restored cluster skips init and join.
            Bootstrapper::Kubeadm => actions.extend([
                Box::new(actions::KubeImages) as Box<dyn Action>,
                Box::new(actions::KubeadmConfig),
                Box::new(actions::KubeadmInit),
                Box::new(actions::StorageClass),
                Box::new(actions::KubeadmJoin),
                Box::new(actions::WaitReady),
                Box::new(actions::Kubeconfig),
            ]),
        }
        if options.host_routes || had_host_routes {
            actions.push(Box::new(actions::HostRoutes));
        }

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
                fresh: cx.state.fresh,
                privilege: cx.state.privilege.expect("the nodes action ran"),
                bootstrapper: options.bootstrapper,
                host_routes: if options.host_routes {
                    host_routes::rules(plan)
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                } else {
                    Vec::new()
                },
            }),
            Err(e) => {
                if options.retain {
                    retained(plan, &ledger, events);
                } else if options.rollback {
                    for problem in ledger.rollback(provider).await {
                        events.warn(format!("cleanup: {problem}"));
                    }
                    if let Err(e) = support::release_targets(provider, &plan.targets).await {
                        events.warn(format!("cleanup: {e}"));
                    }
                }
                Err(e)
            }
        }
    })
    .await
}

/// A command needs the cluster's machines and found nothing to work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cluster {cluster} {why}; run `kdc up`")]
pub struct NotUp {
    pub cluster: String,
    pub why: Absence,
}

/// What a command needed and did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absence {
    /// No node containers (running or not): nothing to dump.
    NoNodes,
    /// Neither the master container nor its volume: nothing to tell about the cluster.
    Nothing,
    /// The master container or volume exists, but neither tells the API server's port.
    NoPort,
}

impl std::fmt::Display for Absence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Absence::NoNodes => "has no node containers to dump",
            Absence::Nothing => "is not up and has no volumes: nothing to tell",
            Absence::NoPort => {
                "records no API server port on its master container or the master's volume"
            }
        })
    }
}

/// The API server's host port: the one the master container publishes, else the one recorded
/// on the master's volume, which a cluster keeps after `down` (the next `up` reuses it). The
/// outer `Err` is the engine failing; the inner one says what is missing.
pub async fn apiserver_port(
    provider: &dyn Provider,
    plan: &Plan,
) -> Result<Result<u16, NotUp>, ProviderError> {
    let master = plan.master();
    let container = provider.container(&master.name).await?;
    if let Some(port) = container
        .as_ref()
        .and_then(|c| c.host_port(spec::APISERVER_CONTAINER_PORT))
    {
        return Ok(Ok(port));
    }
    let volume = provider.volume(&master.volume).await?;
    if let Some(port) = volume
        .as_ref()
        .and_then(|v| v.labels.get(labels::APISERVER_PORT))
        .and_then(|p| p.parse::<u16>().ok())
    {
        return Ok(Ok(port));
    }
    let why = if container.is_none() && volume.is_none() {
        Absence::Nothing
    } else {
        Absence::NoPort
    };
    Ok(Err(NotUp {
        cluster: plan.cluster.label.clone(),
        why,
    }))
}

/// Says what `--retain` kept and the exact command that removes it.
fn retained(plan: &Plan, ledger: &Ledger, events: &Emitter) {
    let kept: Vec<String> = ledger.entries().iter().map(ToString::to_string).collect();
    if kept.is_empty() {
        return;
    }
    let nodes: Vec<String> = ledger
        .entries()
        .iter()
        .filter_map(|c| match c {
            Created::Container(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    let look = match nodes.first() {
        Some(n) => format!("; look inside with `docker logs {n}` or `docker exec -it {n} bash`"),
        None => String::new(),
    };
    events.note(format!(
        "keeping what was created (--retain): {}{look}; remove it all with `{}`",
        kept.join(", "),
        plan.cluster.command("clean")
    ));
}

/// Runs `work` holding the cluster's lock (see [`lock`]), released whatever `work` returns.
pub(crate) async fn with_lock<T>(
    provider: &dyn Provider,
    label: &str,
    image: &str,
    command: &str,
    events: &Emitter,
    work: impl std::future::Future<Output = Result<T, ClusterError>>,
) -> Result<T, ClusterError> {
    let held = lock::Lock::acquire(provider, label, image, command)
        .await
        .map_err(|e| ClusterError::Action {
            detail: format!("locking cluster {label}"),
            source: match e {
                lock::LockError::Provider(p) => ActionError::Provider(p),
                held => ActionError::Check(held.to_string()),
            },
        })?;
    let result = work.await;
    if let Some(held) = held {
        let name = held.name().to_string();
        if let Err(e) = held.release(provider).await {
            events.warn(format!(
                "cannot release the lock {name} ({e}); `docker rm {name}` does"
            ));
        }
    }
    result
}

pub(crate) fn is_node(c: &ContainerState) -> bool {
    matches!(c.role(), Some("control-plane" | "worker"))
}

/// A node container and the cluster it belongs to: a row of `kdc get nodes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterNode {
    pub cluster: String,
    #[serde(flatten)]
    pub node: status::Member,
}

/// The node containers of the cluster `label`, or of every cluster: clusters in natural order,
/// master first within each. Support containers (bind9, the router) are not nodes.
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
            c.nodes.into_iter().map(move |node| ClusterNode {
                cluster: cluster.clone(),
                node,
            })
        })
        .collect())
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

pub(crate) async fn remove_containers<'a>(
    provider: &dyn Provider,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ActionError> {
    futures_util::future::try_join_all(names.map(|n| provider.remove_container(n))).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
