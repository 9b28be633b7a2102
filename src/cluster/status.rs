//! `status`: every kdc cluster on the engine, from labels alone — running or down, with what is
//! left over of it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::host_routes::ROLE as HOST_ROUTES;
use super::lock;
use super::spec::APISERVER_CONTAINER_PORT;
use super::support::{ROLE_DNS, ROLE_ROUTER};
use crate::config::DEFAULT_LABEL;
use crate::runtime::{ContainerState, NetworkState, Provider, ProviderError, VolumeState, labels};

/// A cluster's state as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Every node has its container, and all run.
    Running,
    /// No node containers, the volumes are kept: the next `up` restarts from them.
    Down,
    /// Anything in between: nodes not running or missing, or only leftovers.
    Partial,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Down => "down: volumes kept",
            State::Partial => "partial",
        }
    }
}

/// A container of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    pub role: String,
    pub state: String,
    pub addresses: Vec<IpAddr>,
    pub image: String,
}

/// One cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// How people call it: the kubeconfig context name `dind` for the default cluster, the
    /// label otherwise.
    pub name: String,
    /// The label its resources carry (`--label`/`DIND_LABEL`).
    pub label: String,
    pub id: Option<u8>,
    pub ip_mode: Option<String>,
    pub state: State,
    pub apiserver_port: Option<u16>,
    pub network: Option<String>,
    /// Node containers, master first.
    pub nodes: Vec<Member>,
    /// Support containers (bind9, the router, the host routes).
    pub support: Vec<Member>,
    pub volumes: Vec<String>,
    /// What should not be there, with what it is.
    pub leftovers: Vec<String>,
}

/// Orders `cluster-5` before `cluster-11`: digit runs compare as numbers.
pub fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut n = c.to_digit(10).unwrap_or(0) as u64;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            out.push((std::mem::take(&mut text), n));
        } else {
            text.push(c);
        }
    }
    out.push((text, u64::MAX));
    out
}

/// Every kdc cluster on the engine, in natural order of name.
pub async fn status(provider: &dyn Provider) -> Result<Vec<ClusterStatus>, ProviderError> {
    let containers = provider.list_containers(labels::CLUSTER).await?;
    let volumes = provider.list_volumes(labels::CLUSTER).await?;
    let networks = provider.list_networks(labels::CLUSTER).await?;
    let mut by: BTreeMap<String, Parts> = BTreeMap::new();
    let label = |l: &BTreeMap<String, String>| l.get(labels::CLUSTER).cloned().unwrap_or_default();
    for c in containers {
        by.entry(label(&c.labels)).or_default().containers.push(c);
    }
    for v in volumes {
        by.entry(label(&v.labels)).or_default().volumes.push(v);
    }
    for n in networks {
        by.entry(label(&n.labels)).or_default().networks.push(n);
    }
    let mut out: Vec<ClusterStatus> = by
        .into_iter()
        .map(|(label, parts)| parts.into_status(label))
        .collect();
    out.sort_by_key(|c| natural_key(&c.name));
    Ok(out)
}

#[derive(Default)]
struct Parts {
    containers: Vec<ContainerState>,
    volumes: Vec<VolumeState>,
    networks: Vec<NetworkState>,
}

impl Parts {
    /// A label value found on any of the cluster's resources.
    fn label(&self, key: &str) -> Option<String> {
        self.networks
            .iter()
            .map(|n| &n.labels)
            .chain(self.volumes.iter().map(|v| &v.labels))
            .chain(self.containers.iter().map(|c| &c.labels))
            .find_map(|l| l.get(key).cloned())
    }

    fn into_status(self, label: String) -> ClusterStatus {
        let member = |c: &ContainerState| Member {
            name: c.name.clone(),
            role: c.labels.get(labels::ROLE).cloned().unwrap_or_default(),
            state: c.state.clone(),
            addresses: c.addresses.clone(),
            image: c.image.clone(),
        };
        let mut nodes: Vec<Member> = self
            .containers
            .iter()
            .filter(|c| super::is_node(c))
            .map(member)
            .collect();
        nodes.sort_by_key(|n| (n.role != "control-plane", natural_key(&n.name)));
        let support: Vec<Member> = self
            .containers
            .iter()
            .filter(|c| matches!(c.role(), Some(ROLE_DNS | ROLE_ROUTER | HOST_ROUTES)))
            .map(member)
            .collect();
        let mut leftovers = Vec::new();
        for c in &self.containers {
            if let Some(holder) = lock::holder_of(&c.labels) {
                leftovers.push(format!("lock {} held by {holder}", c.name));
            } else if !super::is_node(c)
                && !matches!(c.role(), Some(ROLE_DNS | ROLE_ROUTER | HOST_ROUTES))
            {
                leftovers.push(format!("container {} ({})", c.name, c.state));
            }
        }
        // Node volumes: by their node label, else by the name `up` gives them.
        let node_of = |v: &VolumeState| {
            v.labels
                .get(labels::NODE)
                .cloned()
                .or_else(|| v.name.strip_prefix("kubeadm-dind-").map(String::from))
        };
        let node_volumes: Vec<&VolumeState> = self
            .volumes
            .iter()
            .filter(|v| node_of(v).is_some())
            .collect();
        if !nodes.is_empty() {
            for v in &node_volumes {
                let node = node_of(v).unwrap_or_default();
                if !nodes.iter().any(|n| n.name == node) {
                    leftovers.push(format!(
                        "volume {} of {node}, which has no container (a node removed by a smaller NUM_NODES)",
                        v.name
                    ));
                }
            }
        }
        let all_running = !nodes.is_empty() && nodes.iter().all(|n| n.state == "running");
        let state = if all_running && leftovers.is_empty() {
            State::Running
        } else if nodes.is_empty() && !node_volumes.is_empty() && leftovers.is_empty() {
            State::Down
        } else {
            State::Partial
        };
        if nodes.is_empty() && node_volumes.is_empty() {
            for n in &self.networks {
                leftovers.push(format!(
                    "network {} (the cluster has no nodes or volumes)",
                    n.name
                ));
            }
        }
        let master_port = self
            .containers
            .iter()
            .filter(|c| c.labels.get(labels::ROLE).map(String::as_str) == Some("control-plane"))
            .find_map(|c| c.host_port(APISERVER_CONTAINER_PORT));
        let volume_port = self
            .volumes
            .iter()
            .find_map(|v| v.labels.get(labels::APISERVER_PORT)?.parse().ok());
        let mut volumes: Vec<String> = self.volumes.iter().map(|v| v.name.clone()).collect();
        volumes.sort_by_key(|v| natural_key(v));
        ClusterStatus {
            name: if label == DEFAULT_LABEL {
                crate::plan::context_for(&label)
            } else {
                label.clone()
            },
            id: self.label(labels::CLUSTER_ID).and_then(|i| i.parse().ok()),
            ip_mode: self.label(labels::IP_MODE),
            label,
            state,
            apiserver_port: master_port.or(volume_port),
            network: self.networks.first().map(|n| n.name.clone()),
            nodes,
            support,
            volumes,
            leftovers,
        }
    }
}

/// The status as text: a line per cluster, then its nodes and what is left over.
pub fn render(clusters: &[ClusterStatus]) -> String {
    use std::fmt::Write as _;
    let mut s = format!(
        "{:<28} {:>3}  {:<10} {:<20} {}\n",
        "CLUSTER", "ID", "MODE", "STATE", "API PORT"
    );
    for c in clusters {
        let id = c.id.map_or("?".to_string(), |i| i.to_string());
        let port = c.apiserver_port.map_or("-".to_string(), |p| p.to_string());
        let _ = writeln!(
            s,
            "{:<28} {:>3}  {:<10} {:<20} {port}",
            c.name,
            id,
            c.ip_mode.as_deref().unwrap_or("?"),
            c.state.as_str()
        );
        for m in c.nodes.iter().chain(&c.support) {
            let addrs: Vec<String> = m.addresses.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                s,
                "  {:<26} {:<14} {:<9} {}",
                m.name,
                m.role,
                m.state,
                addrs.join(", ")
            );
        }
        if c.nodes.is_empty() && !c.volumes.is_empty() {
            let _ = writeln!(s, "  volumes: {}", c.volumes.join(", "));
        }
        for l in &c.leftovers {
            let _ = writeln!(s, "  left over: {l}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_puts_5_before_11() {
        let mut v = vec!["cluster-11", "dind", "cluster-5", "bar", "cluster-20"];
        v.sort_by_key(|s| natural_key(s));
        assert_eq!(v, ["bar", "cluster-5", "cluster-11", "cluster-20", "dind"]);
    }
}
