//! The one human-readable rendering of a cluster: `kdc plan` prints it for the plan, `kdc up` for
//! the cluster it brought up.

use std::fmt::Write as _;

use super::{Bootstrapper, UpOutcome};
use crate::plan::Plan;

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cluster summary: the original's "Cluster Info" lines, then the details. For a plan
/// (`up` is `None`) everything planned; for a cluster `up` brought up, only what exists — a bare
/// cluster has no kubeconfig context, no DNS service and nothing listening on the API port.
pub fn render(p: &Plan, up: Option<&UpOutcome>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Network Mode: {}", p.ip_mode);
    if up.is_none() {
        let _ = writeln!(s, "Cluster context: {}", p.cluster.context);
    }
    let _ = writeln!(s, "Cluster ID: {}", p.cluster.id);
    let _ = writeln!(s, "Cluster label: {}", p.cluster.label);
    let _ = writeln!(
        s,
        "Management CIDR(s): {}",
        join(&p.network.subnets[..p.nodes[0].addresses.len()])
    );
    if up.is_none() {
        let fam = if p.service_cidr.addr().is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        let _ = writeln!(s, "Service CIDR/mode: {}/{fam}", p.service_cidr);
    }
    let _ = writeln!(s, "Pod CIDR(s): {}", join(&p.pod_cidrs));
    if up.is_none() {
        let _ = writeln!(s, "DNS service IP: {}", p.dns_service_ip);
    }
    let _ = writeln!(
        s,
        "Network: {} (subnets {}; gateways {})",
        p.network.name,
        join(&p.network.subnets),
        join(&p.network.gateways)
    );
    if up.is_none() {
        let port = p
            .apiserver
            .port
            .map_or("random".to_string(), |n| n.to_string());
        let _ = writeln!(s, "API server: {} port {port}", p.apiserver.host);
        let _ = writeln!(
            s,
            "CNI plugin: {}; image: {}; Kubernetes: {}",
            p.cni_plugin.as_str(),
            p.image,
            p.k8s_version
        );
    } else {
        let _ = writeln!(
            s,
            "CNI plugin: {}; image: {}",
            p.cni_plugin.as_str(),
            p.image
        );
    }
    let n = p.nodes.len();
    let _ = match up {
        None => writeln!(s, "Nodes:"),
        Some(u) if u.fresh.is_empty() => writeln!(s, "Nodes: {n} (restarted from volumes)"),
        Some(u) if u.restarted.is_empty() => writeln!(s, "Nodes: {n} (fresh)"),
        Some(u) => writeln!(
            s,
            "Nodes: {n} ({} restarted from volumes; fresh: {})",
            u.restarted.len(),
            u.fresh.join(", ")
        ),
    };
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
    if p.dns64.is_none() {
        let _ = writeln!(
            s,
            "Name server: {} at {}",
            p.dns.container,
            join(&p.dns.addresses)
        );
        let _ = writeln!(
            s,
            "Router to the targets: {} at {}",
            p.router.container,
            join(&p.router.addresses)
        );
    }
    let t = &p.targets;
    let _ = writeln!(
        s,
        "Targets: {} ({}), {} ({}) on network {}",
        t.ipv4only.name,
        join(&t.ipv4only.addresses),
        t.dualstack.name,
        join(&t.dualstack.addresses),
        t.network
    );
    if let Some(u) = up.filter(|u| !u.host_routes.is_empty()) {
        let _ = writeln!(
            s,
            "Host routes: {} holds {} on the engine's host (down and clean remove them)",
            super::host_routes::container_name(p),
            u.host_routes.join("; ")
        );
    }
    if let Some(u) = up {
        let addr = std::net::SocketAddr::new(p.apiserver.host, u.apiserver_port);
        match u.bootstrapper {
            Bootstrapper::None => {
                let _ = writeln!(
                    s,
                    "Bootstrapper: none: machines only. No Kubernetes runs, so there is no kubeconfig context and nothing listens on the API server port ({addr} is kept for it)"
                );
            }
            Bootstrapper::Kubeadm => {
                let _ = writeln!(
                    s,
                    "Bootstrapper: kubeadm: Kubernetes {} is Ready; API server at https://{addr}, kubectl context {} (kubectl --context {} get nodes)",
                    p.k8s_version, p.cluster.context, p.cluster.context
                );
            }
        }
    }
    s
}
