//! Pure translation of a [`Plan`] into what the runtime must create: the network, the volumes
//! and the node containers. No I/O, so every flag a node gets is unit-tested.

use std::collections::BTreeMap;

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::config::IpMode;
use crate::plan::{Node, Plan, Role};
use crate::runtime::{ContainerSpec, NetworkSpec, Privilege, labels};

/// The API server's port inside the master.
pub const APISERVER_CONTAINER_PORT: u16 = 6443;

/// Facts about the host that change node flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    /// The engine is local and `/lib/modules` exists, so it can be mounted read-only.
    pub lib_modules: bool,
}

impl HostFacts {
    /// What this host offers nodes on the engine at `endpoint`.
    pub fn of(endpoint: &crate::runtime::endpoint::Endpoint) -> HostFacts {
        HostFacts {
            lib_modules: endpoint.is_local() && std::path::Path::new("/lib/modules").is_dir(),
        }
    }
}

/// Labels on every resource of the cluster: the original's bare label key (so its tooling and
/// filters still see the cluster), kdc's own `io.kdc.cluster`, and the cluster's ID and IP mode
/// (so `status` knows them without a configuration).
pub fn cluster_labels(plan: &Plan) -> BTreeMap<String, String> {
    BTreeMap::from([
        (plan.cluster.label.clone(), String::new()),
        (labels::CLUSTER.to_string(), plan.cluster.label.clone()),
        (labels::CLUSTER_ID.to_string(), plan.cluster.id.to_string()),
        (labels::IP_MODE.to_string(), plan.ip_mode.to_string()),
    ])
}

/// The label filter that selects this cluster's resources.
pub fn cluster_filter(label: &str) -> String {
    format!("{}={label}", labels::CLUSTER)
}

/// The cluster network: management subnets with gateway 1, and in ipv6 mode the NAT64 IPv4 /16
/// whose dynamic addresses are kept below `.0.128` so they never collide with tayga's pool.
pub fn network_spec(plan: &Plan) -> NetworkSpec {
    let subnets = plan
        .network
        .subnets
        .iter()
        .zip(&plan.network.gateways)
        .map(|(net, gw)| {
            let range = plan
                .nat64
                .as_ref()
                .filter(|n| IpNet::V4(n.ipv4_subnet) == *net)
                .map(|n| IpNet::V4(Ipv4Net::new(n.ipv4_subnet.network(), 25).expect("valid")));
            (*net, *gw, range)
        })
        .collect::<Vec<_>>();
    NetworkSpec {
        name: plan.network.name.clone(),
        ipv6: subnets.iter().any(|(n, _, _)| matches!(n, IpNet::V6(_))),
        subnets,
        labels: cluster_labels(plan),
    }
}

/// Labels of a node's volume, naming its node; the master's also records the API server's
/// host port.
pub fn volume_labels(plan: &Plan, node: &Node, apiserver_port: u16) -> BTreeMap<String, String> {
    let mut l = cluster_labels(plan);
    l.insert(labels::NODE.to_string(), node.name.clone());
    if node.role == Role::ControlPlane {
        l.insert(
            labels::APISERVER_PORT.to_string(),
            apiserver_port.to_string(),
        );
    }
    l
}

/// A node container, following kind's proven flag set: systemd as PID 1 with tmpfs `/run` and
/// `/tmp`, a private cgroup namespace, `/var` on the node's named volume (it survives `down`,
/// which makes the next `up` fast), a TTY so the console shows in `docker logs`.
pub fn node_spec(
    plan: &Plan,
    node: &Node,
    privilege: Privilege,
    apiserver_port: u16,
    host: HostFacts,
) -> ContainerSpec {
    let mut node_labels = cluster_labels(plan);
    node_labels.insert(labels::ROLE.to_string(), node.role.as_str().to_string());
    let mut binds = vec![format!("{}:/var", node.volume)];
    if host.lib_modules {
        binds.push("/lib/modules:/lib/modules:ro".to_string());
    }
    // /proc/sys is read-only in a node: what the CNI plugins and the pod routes need is set
    // here. Forwarding, or the plugins try (and fail) to switch it on; no IPv6 duplicate address
    // detection on the node's own new interfaces (the CNI bridge), or their addresses stay
    // `tentative` for a second or two and the first packets are lost.
    let mut sysctls = BTreeMap::from([("net.ipv4.ip_forward".to_string(), "1".to_string())]);
    if plan.ip_mode != IpMode::Ipv4 {
        for (k, v) in [
            ("net.ipv6.conf.all.disable_ipv6", "0"),
            ("net.ipv6.conf.all.forwarding", "1"),
            ("net.ipv6.conf.default.accept_dad", "0"),
        ] {
            sysctls.insert(k.to_string(), v.to_string());
        }
    }
    // The cluster's bind9 answers the nodes: in ipv6 mode directly (Docker's embedded resolver
    // cannot forward to an IPv6 server), else through Docker's 127.0.0.11, which forwards what
    // it does not know itself to the first --dns server.
    let dns = match plan.ip_mode {
        IpMode::Ipv6 => plan.dns.addresses.clone(),
        IpMode::Ipv4 | IpMode::DualStack => plan
            .dns
            .addresses
            .iter()
            .copied()
            .filter(IpAddr::is_ipv4)
            .collect(),
    };
    let publish = if node.role == Role::ControlPlane {
        vec![(
            plan.apiserver.host,
            apiserver_port,
            APISERVER_CONTAINER_PORT,
        )]
    } else {
        Vec::new()
    };
    ContainerSpec {
        name: node.name.clone(),
        hostname: node.hostname.clone(),
        image: plan.image.clone(),
        labels: node_labels,
        network: plan.network.name.clone(),
        addresses: node.addresses.clone(),
        env: vec!["container=docker".to_string()],
        privilege: Some(privilege),
        tmpfs: vec!["/run".into(), "/run/lock".into(), "/tmp".into()],
        binds,
        sysctls,
        publish,
        dns,
        tty: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    use crate::plan::for_env as plan_for;

    #[test]
    fn ipv4_master_spec_has_the_node_flags_and_publishes_the_api_server() {
        let plan = plan_for(&[]);
        let s = node_spec(
            &plan,
            plan.master(),
            Privilege::Privileged,
            40001,
            HostFacts { lib_modules: false },
        );
        assert_eq!(s.name, "kube-master");
        assert_eq!(s.hostname, "kube-master");
        assert_eq!(s.network, "kubeadm-dind-net");
        assert_eq!(s.addresses, vec!["10.192.0.2".parse::<IpAddr>().unwrap()]);
        assert_eq!(s.binds, vec!["kubeadm-dind-kube-master:/var".to_string()]);
        assert_eq!(s.tmpfs, vec!["/run", "/run/lock", "/tmp"]);
        assert_eq!(
            s.sysctls,
            BTreeMap::from([("net.ipv4.ip_forward".to_string(), "1".to_string())]),
            "no IPv6 sysctls in ipv4 mode"
        );
        assert_eq!(s.dns, vec!["10.192.0.253".parse::<IpAddr>().unwrap()]);
        assert_eq!(s.publish, vec![("127.0.0.1".parse().unwrap(), 40001, 6443)]);
        assert_eq!(
            s.labels.get("io.kdc.role").map(String::as_str),
            Some("control-plane")
        );
        assert_eq!(
            s.labels.get("io.kdc.cluster").map(String::as_str),
            Some("mirantis.kubeadm_dind_cluster_runtime")
        );
        assert_eq!(
            s.labels
                .get("mirantis.kubeadm_dind_cluster_runtime")
                .map(String::as_str),
            Some("")
        );
        assert!(s.tty);
    }

    #[test]
    fn ipv6_worker_gets_sysctls_no_publish_and_lib_modules_when_present() {
        let plan = plan_for(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "12")]);
        let s = node_spec(
            &plan,
            &plan.nodes[2],
            Privilege::AllCapsButSysResource,
            1,
            HostFacts { lib_modules: true },
        );
        assert_eq!(s.name, "kube-node-2-cluster-12");
        assert_eq!(
            s.addresses,
            vec!["fd00:20:12::4".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            s.sysctls
                .get("net.ipv6.conf.all.disable_ipv6")
                .map(String::as_str),
            Some("0")
        );
        assert_eq!(
            s.sysctls
                .get("net.ipv6.conf.all.forwarding")
                .map(String::as_str),
            Some("1")
        );
        assert_eq!(
            s.sysctls
                .get("net.ipv6.conf.default.accept_dad")
                .map(String::as_str),
            Some("0")
        );
        assert_eq!(s.dns, vec!["fd00:20:12::100".parse::<IpAddr>().unwrap()]);
        assert!(s.publish.is_empty());
        assert!(
            s.binds
                .contains(&"/lib/modules:/lib/modules:ro".to_string())
        );
        assert_eq!(
            s.labels.get("io.kdc.role").map(String::as_str),
            Some("worker")
        );
    }

    #[test]
    fn ipv6_network_keeps_dynamic_ipv4_out_of_the_nat64_pool() {
        let plan = plan_for(&[("IP_MODE", "ipv6")]);
        let n = network_spec(&plan);
        assert!(n.ipv6);
        let want: Vec<(IpNet, IpAddr, Option<IpNet>)> = vec![
            (
                "fd00:20::/64".parse().unwrap(),
                "fd00:20::1".parse().unwrap(),
                None,
            ),
            (
                "172.18.0.0/16".parse().unwrap(),
                "172.18.0.1".parse().unwrap(),
                Some("172.18.0.0/25".parse().unwrap()),
            ),
        ];
        assert_eq!(n.subnets, want);
    }

    #[test]
    fn master_volume_records_the_apiserver_port() {
        let plan = plan_for(&[("DIND_LABEL", "third")]);
        let l = volume_labels(&plan, plan.master(), 34567);
        assert_eq!(
            l.get("io.kdc.apiserver-port").map(String::as_str),
            Some("34567")
        );
        assert!(!volume_labels(&plan, &plan.nodes[1], 34567).contains_key("io.kdc.apiserver-port"));
        assert_eq!(l.get("io.kdc.cluster").map(String::as_str), Some("third"));
    }
}
