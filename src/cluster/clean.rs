//! `down` and `clean`: taking a cluster apart, under its lock.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ClusterError, remove_containers, step, with_lock};
use crate::report::Emitter;
use crate::runtime::{ContainerState, ErrorKind, Provider, ProviderError, labels};

/// `down`: removes the node containers and keeps volumes, network and support containers, so the
/// next `up` restarts from the volumes (kubeadm-dind-cluster's semantics). Routes and rules
/// added to the host (`--host-routes`) are taken away too. Only containers with
/// kdc's role label are touched, never anything that merely carries the legacy label key.
/// `image` makes the cluster's lock (see [`super::lock`]).
pub async fn down(
    provider: &dyn Provider,
    label: &str,
    image: &str,
    events: &Emitter,
) -> Result<usize, ClusterError> {
    with_lock(provider, label, image, "down", events, async {
        let filter = super::spec::cluster_filter(label);
        let listed = step(
            events,
            "list",
            format!("Finding nodes of cluster {label}"),
            async { Ok(provider.list_containers(&filter).await?) },
        )
        .await?;
        undo_host_routes(provider, &listed, events).await?;
        let nodes: Vec<&str> = listed
            .iter()
            .filter(|c| super::is_node(c))
            .map(|c| c.name.as_str())
            .collect();
        let n = nodes.len();
        if n > 0 {
            step(
                events,
                "remove-nodes",
                format!("Removing {n} node container{}", crate::text::plural(n)),
                async { remove_containers(provider, nodes.iter().copied()).await },
            )
            .await?;
        }
        Ok(n)
    })
    .await
}

/// Stops the cluster's host routes container among `listed`, if it has one, so it deletes the
/// rules it added (see [`super::host_routes`]) before anything else goes; returns its name.
async fn undo_host_routes(
    provider: &dyn Provider,
    listed: &[ContainerState],
    events: &Emitter,
) -> Result<Vec<String>, ClusterError> {
    let names: Vec<String> = listed
        .iter()
        .filter(|c| super::host_routes::holds_routes(c))
        .map(|c| c.name.clone())
        .collect();
    if !names.is_empty() {
        step(
            events,
            "host-routes",
            "Removing the routes and rules added to the engine's host".to_string(),
            async { Ok(super::host_routes::release(provider, &names).await?) },
        )
        .await?;
    }
    Ok(names)
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
///
/// Containers are listed and removed again while a volume is still in use: a container whose
/// creation the engine finished after the listing (an `up` killed mid-request) holds its volume.
pub async fn clean(
    provider: &dyn Provider,
    label: &str,
    image: &str,
    events: &Emitter,
) -> Result<Cleaned, ClusterError> {
    let filter = super::spec::cluster_filter(label);
    let lock = super::lock::name(label);
    with_lock(provider, label, image, "clean", events, async {
        let listed = provider
            .list_containers(&filter)
            .await
            .map_err(|e| ClusterError::Action {
                detail: "listing the cluster's containers".into(),
                source: e.into(),
            })?;
        let released = undo_host_routes(provider, &listed, events).await?;
        step(
            events,
            "clean",
            format!("Removing cluster {label}"),
            async {
                let mut cleaned = Cleaned {
                    containers: released,
                    ..Cleaned::default()
                };
                for attempt in 0..10 {
                    let containers: Vec<String> = provider
                        .list_containers(&filter)
                        .await?
                        .into_iter()
                        .map(|c| c.name)
                        .filter(|n| *n != lock)
                        .collect();
                    remove_containers(provider, containers.iter().map(String::as_str)).await?;
                    cleaned.containers.extend(containers);
                    let volumes: Vec<String> = provider
                        .list_volumes(&filter)
                        .await?
                        .into_iter()
                        .map(|v| v.name)
                        .collect();
                    let removed = futures_util::future::join_all(
                        volumes.iter().map(|v| provider.remove_volume(v)),
                    )
                    .await;
                    let in_use = removed
                        .iter()
                        .any(|r| matches!(r, Err(e) if e.kind == ErrorKind::InUse));
                    if in_use && attempt < 9 {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    for (v, r) in volumes.into_iter().zip(removed) {
                        r?;
                        cleaned.volumes.push(v);
                    }
                    break;
                }
                let networks: Vec<String> = provider
                    .list_networks(&filter)
                    .await?
                    .into_iter()
                    .map(|n| n.name)
                    .collect();
                for n in &networks {
                    provider.remove_network(n).await?;
                }
                cleaned.networks = networks;
                // The last cluster out takes the shared targets with it.
                let targets = crate::plan::targets();
                if super::support::release_targets(provider, &targets).await? {
                    cleaned.networks.push(targets.network);
                }
                cleaned.containers.sort();
                cleaned.containers.dedup();
                Ok(cleaned)
            },
        )
        .await
    })
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
