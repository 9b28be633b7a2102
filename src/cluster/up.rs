//! `up`: bring the cluster's machines up from the plan.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::spec::{self, HostFacts};
use super::{ActionError, ClusterError, step};
use crate::events::{Event, Reporter};
use crate::plan::{Node, Plan};
use crate::runtime::{ErrorKind, NodeExec, Privilege, Provider, labels};

/// Options of `up` that are not part of the plan.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub host: HostFacts,
    /// How long each node may take to reach systemd `running`.
    pub systemd_timeout: Duration,
}

/// What `up` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOutcome {
    /// The host port of the API server.
    pub apiserver_port: u16,
    /// Every node volume existed, so the nodes restarted from their volumes.
    pub restarted: bool,
    pub privilege: Privilege,
}

/// A resource `up` created; on failure or interrupt these are removed again (unless `--retain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Network(String),
    Volume(String),
    Container(String),
}

/// What this `up` created so far, shared with the caller so it survives an interrupt that drops
/// the `up` future.
pub type Ledger = Arc<Mutex<Vec<Created>>>;

fn record(ledger: &Ledger, c: Created) {
    ledger.lock().expect("ledger lock").push(c);
}

/// Brings up the cluster's machines. Stops at the first error; the caller rolls back.
pub async fn up(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    plan: &Plan,
    opts: &UpOptions,
    skip_snapshot: bool,
    ledger: &Ledger,
    reporter: &mut dyn Reporter,
) -> Result<UpOutcome, ClusterError> {
    step(
        reporter,
        "image",
        format!("Ensuring node image {}", plan.image),
        ensure_image(provider, &plan.image),
    )
    .await?;
    step(
        reporter,
        "network",
        format!("Creating network {}", plan.network.name),
        ensure_network(provider, plan, ledger),
    )
    .await?;

    let stale = super::node_names(provider, &plan.cluster.label)
        .await
        .map_err(|e| ClusterError::Action {
            detail: "list old nodes".into(),
            source: e.into(),
        })?;
    if !stale.is_empty() {
        step(
            reporter,
            "remove-old-nodes",
            format!("Removing {} old node containers", stale.len()),
            async { super::remove_containers(provider, stale.iter().map(String::as_str)).await },
        )
        .await?;
    }

    let (restarted, apiserver_port) = step(
        reporter,
        "volumes",
        "Preparing node volumes".to_string(),
        prepare_volumes(provider, plan, skip_snapshot, ledger),
    )
    .await?;

    // All nodes start at once; each falls back on its own if privileged mode is refused, which
    // costs one failed start in parallel instead of a serial probe before the workers.
    let n = plan.nodes.len();
    let known_refused = refusal_recorded(provider).await;
    let first = if known_refused {
        Privilege::AllCapsButSysResource
    } else {
        Privilege::Privileged
    };
    let started = step(
        reporter,
        "nodes",
        format!("Starting {n} node container{}", crate::text::plural(n)),
        async {
            let runs = plan.nodes.iter().map(|node| {
                start_node(
                    provider,
                    plan,
                    node,
                    first,
                    opts.host,
                    apiserver_port,
                    ledger,
                )
            });
            futures_util::future::try_join_all(runs).await
        },
    )
    .await?;
    let privilege = started.iter().map(|(p, _)| *p).max().unwrap_or(first);
    if let Some(message) = started.into_iter().find_map(|(_, note)| note) {
        reporter.report(&Event::Note { message });
        record_refusal(provider).await;
    } else if known_refused {
        reporter.report(&Event::Note {
            message: format!("privileged containers were refused before on this engine; nodes run with all capabilities but SYS_RESOURCE (docker volume rm {ENGINE_VOLUME} to try again)"),
        });
    }

    let states = step(
        reporter,
        "systemd",
        format!(
            "Waiting for systemd in {} node{}",
            plan.nodes.len(),
            crate::text::plural(plan.nodes.len())
        ),
        async {
            let waits = plan.nodes.iter().map(|n| async {
                crate::node::wait_for_systemd(exec, provider, &n.name, opts.systemd_timeout)
                    .await
                    .map_err(ActionError::Check)
            });
            futures_util::future::try_join_all(waits).await
        },
    )
    .await?;
    for (node, state) in plan.nodes.iter().zip(states) {
        if state == crate::node::Booted::Degraded {
            let failed = crate::node::failed_units(exec, &node.name).await;
            reporter.report(&Event::Note {
                message: format!(
                    "systemd in {} is degraded (failed units: {failed})",
                    node.name
                ),
            });
        }
    }
    Ok(UpOutcome {
        apiserver_port,
        restarted,
        privilege,
    })
}

async fn ensure_image(provider: &dyn Provider, image: &str) -> Result<(), ActionError> {
    match provider.image_labels(image).await? {
        Some(_) => Ok(()),
        None => Err(ActionError::Check(format!(
            "image {image} is not present; build it with `kdc image build node` (offline), pull it, or set DIND_IMAGE"
        ))),
    }
}

/// Creates the network, or reuses one whose subnets are exactly the plan's (kubeadm-dind-cluster
/// reused any network of that name, even after the IP mode changed).
async fn ensure_network(
    provider: &dyn Provider,
    plan: &Plan,
    ledger: &Ledger,
) -> Result<(), ActionError> {
    let want = spec::network_spec(plan);
    if let Some(existing) = provider.network(&want.name).await? {
        let mut have = existing.subnets.clone();
        let mut need: Vec<_> = want.subnets.iter().map(|(n, _, _)| *n).collect();
        have.sort();
        need.sort();
        if have != need {
            let show = |v: &[ipnet::IpNet]| {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ActionError::Check(format!(
                "network {} exists with subnets [{}] but the plan needs [{}]; remove the old cluster with `kdc clean` using its old settings, or `docker network rm {}`",
                want.name,
                show(&have),
                show(&need),
                want.name
            )));
        }
        return Ok(());
    }
    // Recorded before the request: an interrupt may drop this future after the engine acted.
    record(ledger, Created::Network(want.name.clone()));
    provider.create_network(&want).await?;
    Ok(())
}

/// Reuses the node volumes when all exist (the fast restart path), else creates the missing ones.
/// The master volume's label holds the API server port, so a restart keeps the port.
async fn prepare_volumes(
    provider: &dyn Provider,
    plan: &Plan,
    skip_snapshot: bool,
    ledger: &Ledger,
) -> Result<(bool, u16), ActionError> {
    let existing =
        futures_util::future::try_join_all(plan.nodes.iter().map(|n| provider.volume(&n.volume)))
            .await?;
    let all_exist = existing.iter().all(Option::is_some);
    let restarted = all_exist && !skip_snapshot;
    let recorded = existing[0]
        .as_ref()
        .and_then(|v| v.labels.get(labels::APISERVER_PORT))
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|_| restarted);
    let port = match (plan.apiserver.port, recorded) {
        (Some(p), _) => p,
        (None, Some(p)) => p,
        (None, None) => free_port(plan)?,
    };
    if !restarted {
        // A fresh cluster: every node starts from an empty volume, as kubeadm-dind-cluster's
        // `dind::up` did; stale volumes from a half-created cluster are replaced.
        for (node, vol) in plan.nodes.iter().zip(&existing) {
            if vol.is_some() {
                provider.remove_volume(&node.volume).await?;
            }
            provider
                .create_volume(&node.volume, &spec::volume_labels(plan, node, port))
                .await?;
            record(ledger, Created::Volume(node.volume.clone()));
        }
    }
    Ok((restarted, port))
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

/// An engine-wide volume (no cluster label, so `clean` keeps it) whose label remembers that the
/// runtime refuses privileged containers, so later `up`s skip a failing start per node.
pub const ENGINE_VOLUME: &str = "kdc-engine";
const REFUSED_LABEL: &str = "io.kdc.privileged";

async fn refusal_recorded(provider: &dyn Provider) -> bool {
    matches!(provider.volume(ENGINE_VOLUME).await, Ok(Some(v)) if v.labels.get(REFUSED_LABEL).map(String::as_str) == Some("refused"))
}

async fn record_refusal(provider: &dyn Provider) {
    let labels =
        std::collections::BTreeMap::from([(REFUSED_LABEL.to_string(), "refused".to_string())]);
    let _ = provider.create_volume(ENGINE_VOLUME, &labels).await;
}

/// Starts a node with `first` privilege; if the runtime refuses privileged mode, falls back to
/// all capabilities but CAP_SYS_RESOURCE and says so.
async fn start_node(
    provider: &dyn Provider,
    plan: &Plan,
    node: &Node,
    first: Privilege,
    host: HostFacts,
    port: u16,
    ledger: &Ledger,
) -> Result<(Privilege, Option<String>), ActionError> {
    match run_node(provider, plan, node, first, port, host, ledger).await {
        Ok(()) => Ok((first, None)),
        Err(ActionError::Provider(e))
            if first == Privilege::Privileged && e.kind == ErrorKind::PrivilegedRefused =>
        {
            run_node(
                provider,
                plan,
                node,
                Privilege::AllCapsButSysResource,
                port,
                host,
                ledger,
            )
            .await?;
            Ok((
                Privilege::AllCapsButSysResource,
                Some(format!(
                    "the runtime refused privileged containers ({}); nodes run with all capabilities but SYS_RESOURCE, seccomp and AppArmor unconfined",
                    e.message.lines().next().unwrap_or_default()
                )),
            ))
        }
        Err(e) => Err(e),
    }
}

async fn run_node(
    provider: &dyn Provider,
    plan: &Plan,
    node: &Node,
    privilege: Privilege,
    port: u16,
    host: HostFacts,
    ledger: &Ledger,
) -> Result<(), ActionError> {
    let spec = spec::node_spec(plan, node, privilege, port, host);
    record(ledger, Created::Container(node.name.clone()));
    provider.run_container(&spec).await?;
    Ok(())
}

/// Removes what `up` created, newest first. Errors are collected, not fatal: remove all we can.
///
/// Resources are recorded before they are requested, so an interrupted request is covered; and
/// because the engine may finish a create after the client gave up on it, containers are removed
/// until none of the recorded ones is listed any more (a volume in use cannot be removed).
pub async fn rollback(provider: &dyn Provider, ledger: &Ledger) -> Vec<String> {
    let mut created: Vec<Created> = std::mem::take(&mut *ledger.lock().expect("ledger lock"));
    created.dedup();
    let containers: Vec<&str> = created
        .iter()
        .filter_map(|c| match c {
            Created::Container(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    let mut errors = Vec::new();
    for attempt in 0..20 {
        for name in containers.iter().rev() {
            if let Err(e) = provider.remove_container(name).await {
                errors.push(e.to_string());
            }
        }
        let listed = match provider.list_containers(labels::CLUSTER).await {
            Ok(l) => l,
            Err(e) => {
                errors.push(e.to_string());
                break;
            }
        };
        if !listed.iter().any(|c| containers.contains(&c.name.as_str())) {
            errors.clear();
            break;
        }
        if attempt < 19 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for c in created.iter().rev() {
        let r = match c {
            Created::Container(_) => continue,
            Created::Volume(v) => provider.remove_volume(v).await,
            Created::Network(n) => provider.remove_network(n).await,
        };
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    }
    errors
}
