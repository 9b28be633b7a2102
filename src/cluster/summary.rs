//! The one human-readable rendering of a cluster: `kdc plan` prints it for the plan, `kdc up` for
//! the cluster it brought up.

use std::fmt::Write as _;

use super::UpOutcome;
use crate::plan::Plan;

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cluster summary: the original's "Cluster Info" lines, then the details; after `up`, with
/// the chosen API server port and how the nodes started.
pub fn render(p: &Plan, up: Option<&UpOutcome>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Network Mode: {}", p.ip_mode);
    let _ = writeln!(s, "Cluster context: {}", p.cluster.context);
    let _ = writeln!(s, "Cluster ID: {}", p.cluster.id);
    let _ = writeln!(s, "Cluster label: {}", p.cluster.label);
    let _ = writeln!(
        s,
        "Management CIDR(s): {}",
        join(&p.network.subnets[..p.nodes[0].addresses.len()])
    );
    let fam = if p.service_cidr.addr().is_ipv4() {
        "ipv4"
    } else {
        "ipv6"
    };
    let _ = writeln!(s, "Service CIDR/mode: {}/{fam}", p.service_cidr);
    let _ = writeln!(s, "Pod CIDR(s): {}", join(&p.pod_cidrs));
    let _ = writeln!(s, "DNS service IP: {}", p.dns_service_ip);
    let _ = writeln!(
        s,
        "Network: {} (subnets {}; gateways {})",
        p.network.name,
        join(&p.network.subnets),
        join(&p.network.gateways)
    );
    let port = up
        .map(|u| u.apiserver_port)
        .or(p.apiserver.port)
        .map_or("random".to_string(), |n| n.to_string());
    let _ = writeln!(s, "API server: {} port {port}", p.apiserver.host);
    let _ = writeln!(
        s,
        "CNI plugin: {}; image: {}; Kubernetes: {}",
        p.cni_plugin.as_str(),
        p.image,
        p.k8s_version
    );
    match up {
        Some(u) if u.restarted => {
            let _ = writeln!(s, "Nodes: {} (restarted from volumes)", p.nodes.len());
        }
        Some(_) => {
            let _ = writeln!(s, "Nodes: {} (fresh)", p.nodes.len());
        }
        None => {
            let _ = writeln!(s, "Nodes:");
        }
    }
    for n in &p.nodes {
        let _ = writeln!(
            s,
            "  {:<24} {:<13} {:<36} pods {}  volume {}",
            n.name,
            n.role.as_str(),
            join(&n.addresses),
            join(&n.pod_cidrs),
            n.volume
        );
    }
    if let Some(d) = &p.dns64 {
        let _ = writeln!(
            s,
            "DNS64: {} at {}, prefix {}",
            d.container, d.address, d.prefix
        );
    }
    if let Some(n) = &p.nat64 {
        let _ = writeln!(
            s,
            "NAT64: {} at {} / {}, pool {}, IPv4 subnet {}",
            n.container, n.ipv4, n.ipv6, n.pool, n.ipv4_subnet
        );
    }
    s
}
