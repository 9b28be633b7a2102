//! Plan tests. Expected values are derived by hand from seed-spec §4–§5 and §9 (written as
//! literal strings), never computed with the planner's own helpers.

use super::*;
use crate::config::{Inputs, resolve};

/// Resolves a config from environment-style pairs (panics on configuration errors).
fn cfg(env: &[(&str, &str)]) -> Config {
    match resolve(&Inputs::default().with_env(env.iter().copied())) {
        Ok(r) => r.config,
        Err(e) => panic!("config {env:?} should be valid: {e}"),
    }
}

fn plan_of(env: &[(&str, &str)]) -> Plan {
    match plan(&cfg(env)) {
        Ok(p) => p,
        Err(e) => panic!("plan {env:?} should be valid: {e}"),
    }
}

fn problems_of(env: &[(&str, &str)]) -> Problems {
    match plan(&cfg(env)) {
        Ok(p) => panic!("plan {env:?} should fail, got {p:?}"),
        Err(e) => e,
    }
}

fn strs<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

use crate::config::tests::has as has_problem;

// ---------------------------------------------------------------------------------------------
// §4.1 identity

#[test]
fn identity_table() {
    // (DIND_LABEL, CLUSTER_ID) -> (label, id, suffix, context)
    // FNV-1a 32 of "foo" = 0xa9f37ed7 (python3), 0xa9f37ed7 % 12 + 1 = 4.
    type Row<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        u8,
        &'a str,
        &'a str,
    );
    let rows: &[Row] = &[
        (
            None,
            None,
            "mirantis.kubeadm_dind_cluster_runtime",
            0,
            "",
            "dind",
        ),
        (
            None,
            Some("0"),
            "mirantis.kubeadm_dind_cluster_runtime",
            0,
            "",
            "dind",
        ),
        (
            None,
            Some("10"),
            "cluster-10",
            10,
            "-cluster-10",
            "dind-cluster-10",
        ),
        // The default label given explicitly counts as unset (the original made
        // `mirantis.kubeadm_dind_cluster_runtime-5`, which no node name may end with).
        (
            Some("mirantis.kubeadm_dind_cluster_runtime"),
            Some("5"),
            "cluster-5",
            5,
            "-cluster-5",
            "dind-cluster-5",
        ),
        (Some("foo"), None, "foo", 4, "-foo", "dind-foo"),
        (Some("foo"), Some("0"), "foo", 4, "-foo", "dind-foo"),
        (Some("foo"), Some("3"), "foo-3", 3, "-foo-3", "dind-foo-3"),
        (
            Some("mirantis.kubeadm_dind_cluster_runtime"),
            None,
            "mirantis.kubeadm_dind_cluster_runtime",
            0,
            "",
            "dind",
        ),
        (
            Some("mirantis.kubeadm_dind_cluster_runtime"),
            Some("7"),
            "cluster-7",
            7,
            "-cluster-7",
            "dind-cluster-7",
        ),
        // Empty values count as unset.
        (
            Some(""),
            Some(""),
            "mirantis.kubeadm_dind_cluster_runtime",
            0,
            "",
            "dind",
        ),
    ];
    for (label, id, want_label, want_id, want_suffix, want_ctx) in rows {
        let mut env = Vec::new();
        if let Some(l) = label {
            env.push(("DIND_LABEL", *l));
        }
        if let Some(i) = id {
            env.push(("CLUSTER_ID", *i));
        }
        let got = identity(&cfg(&env));
        assert_eq!(
            got,
            Identity {
                label: want_label.to_string(),
                id: *want_id,
                suffix: want_suffix.to_string(),
                context: want_ctx.to_string(),
            },
            "row {label:?} {id:?}"
        );
    }
}

#[test]
fn label_id_is_fnv1a_mod_12_plus_1() {
    // python3: FNV-1a 32 "foo" = 0xa9f37ed7 -> 4; "bar" = 0x76b77d1a -> 3;
    // "ci" = 0x6029a0e1 -> 10; "" = 0x811c9dc5 (offset basis) -> 0x811c9dc5 % 12 + 1 = 2.
    assert_eq!(label_id("foo"), 4);
    assert_eq!(label_id("bar"), 3);
    assert_eq!(label_id("ci"), 10);
    assert_eq!(label_id(""), 2);
    // Stable: the same label always gives the same ID (no random draw, §9 item 3).
    assert_eq!(label_id("foo"), label_id("foo"));
}

#[test]
fn label_ids_stay_in_1_to_12() {
    for l in ["a", "b", "foo", "bar", "ci", "x-1", "long.label-name-42"] {
        let id = label_id(l);
        assert!((1..=12).contains(&id), "{l} -> {id}");
    }
}

// ---------------------------------------------------------------------------------------------
// §4.1 names

#[test]
fn names_for_default_cluster() {
    let p = plan_of(&[]);
    assert_eq!(p.network.name, "kubeadm-dind-net");
    assert_eq!(p.cluster.context, "dind");
    let names: Vec<_> = p.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["kube-master", "kube-node-1", "kube-node-2"]);
    let hosts: Vec<_> = p.nodes.iter().map(|n| n.hostname.as_str()).collect();
    assert_eq!(hosts, ["kube-master", "kube-node-1", "kube-node-2"]);
    let vols: Vec<_> = p.nodes.iter().map(|n| n.volume.as_str()).collect();
    assert_eq!(
        vols,
        [
            "kubeadm-dind-kube-master",
            "kubeadm-dind-kube-node-1",
            "kubeadm-dind-kube-node-2"
        ]
    );
    assert_eq!(p.nodes[0].role, Role::ControlPlane);
    assert_eq!(p.nodes[1].role, Role::Worker);
    assert_eq!(p.master().name, "kube-master");
}

#[test]
fn names_for_cluster_10_in_ipv6() {
    let p = plan_of(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "10")]);
    assert_eq!(p.network.name, "kubeadm-dind-net-cluster-10");
    assert_eq!(p.cluster.context, "dind-cluster-10");
    let names: Vec<_> = p.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "kube-master-cluster-10",
            "kube-node-1-cluster-10",
            "kube-node-2-cluster-10"
        ]
    );
    assert_eq!(p.nodes[1].hostname, "kube-node-1-cluster-10");
    assert_eq!(p.nodes[1].volume, "kubeadm-dind-kube-node-1-cluster-10");
    assert_eq!(p.dns64.as_ref().unwrap().container, "bind9-cluster-10");
    assert_eq!(p.nat64.as_ref().unwrap().container, "tayga-cluster-10");
}

#[test]
fn names_for_labels() {
    let p = plan_of(&[("DIND_LABEL", "foo")]);
    assert_eq!(p.nodes[0].name, "kube-master-foo");
    assert_eq!(p.cluster.context, "dind-foo");
    let p = plan_of(&[("DIND_LABEL", "foo"), ("CLUSTER_ID", "3")]);
    assert_eq!(p.nodes[0].name, "kube-master-foo-3");
    assert_eq!(p.network.name, "kubeadm-dind-net-foo-3");
    let p = plan_of(&[("IP_MODE", "ipv6"), ("DIND_LABEL", "bar")]);
    assert_eq!(p.dns64.unwrap().container, "bind9-bar");
    assert_eq!(p.nat64.unwrap().container, "tayga-bar");
}

#[test]
fn num_nodes_zero_is_master_only() {
    let p = plan_of(&[("NUM_NODES", "0")]);
    assert_eq!(p.nodes.len(), 1);
    assert_eq!(p.nodes[0].name, "kube-master");
}

// ---------------------------------------------------------------------------------------------
// §4.2 cluster-ID injection, §4.3 host addresses

#[test]
fn ipv4_default_addresses() {
    let p = plan_of(&[]);
    assert_eq!(p.ip_mode, IpMode::Ipv4);
    assert_eq!(strs(&p.network.subnets), ["10.192.0.0/24"]);
    assert_eq!(strs(&p.network.gateways), ["10.192.0.1"]);
    assert_eq!(strs(&p.nodes[0].addresses), ["10.192.0.2"]);
    assert_eq!(strs(&p.nodes[1].addresses), ["10.192.0.3"]);
    assert_eq!(strs(&p.nodes[2].addresses), ["10.192.0.4"]);
    assert_eq!(p.service_cidr.to_string(), "10.96.0.0/12");
    assert_eq!(p.dns_service_ip.to_string(), "10.96.0.10");
    assert_eq!(strs(&p.pod_cidrs), ["10.244.0.0/16"]);
    assert_eq!(strs(&p.nodes[0].pod_cidrs), ["10.244.1.0/24"]);
    assert_eq!(strs(&p.nodes[1].pod_cidrs), ["10.244.2.0/24"]);
    assert_eq!(strs(&p.nodes[2].pod_cidrs), ["10.244.3.0/24"]);
    assert!(p.dns64.is_none());
    assert!(p.nat64.is_none());
    assert_eq!(p.apiserver.host.to_string(), "127.0.0.1");
}

#[test]
fn ipv4_cluster_id_goes_in_third_octet() {
    let p = plan_of(&[("CLUSTER_ID", "10")]);
    assert_eq!(strs(&p.network.subnets), ["10.192.10.0/24"]);
    assert_eq!(strs(&p.network.gateways), ["10.192.10.1"]);
    assert_eq!(strs(&p.nodes[0].addresses), ["10.192.10.2"]);
    assert_eq!(strs(&p.nodes[2].addresses), ["10.192.10.4"]);
    // A custom /24: the third and fourth octets become <id>.0.
    let p = plan_of(&[("CLUSTER_ID", "5"), ("MGMT_CIDRS", "10.50.77.0/24")]);
    assert_eq!(strs(&p.network.subnets), ["10.50.5.0/24"]);
    assert_eq!(strs(&p.nodes[1].addresses), ["10.50.5.3"]);
}

#[test]
fn ipv4_non_24_with_cluster_id_is_an_error() {
    let e = problems_of(&[("CLUSTER_ID", "3"), ("MGMT_CIDRS", "10.192.0.0/16")]);
    has_problem(&e, "MGMT_CIDRS", "not a /24");
    assert_eq!(e.subject, "cluster plan");
    // With no cluster ID a non-/24 is used unchanged.
    let p = plan_of(&[("MGMT_CIDRS", "10.192.0.0/16")]);
    assert_eq!(strs(&p.network.subnets), ["10.192.0.0/16"]);
    assert_eq!(strs(&p.network.gateways), ["10.192.0.1"]);
    assert_eq!(strs(&p.nodes[0].addresses), ["10.192.0.2"]);
}

#[test]
fn ipv6_default_addresses() {
    let p = plan_of(&[("IP_MODE", "ipv6")]);
    // fd00:20::/64 with ID 0 inserted as text: fd00:20:0::/64 = fd00:20::/64.
    assert_eq!(strs(&p.network.subnets), ["fd00:20::/64", "172.18.0.0/16"]);
    assert_eq!(strs(&p.network.gateways), ["fd00:20::1", "172.18.0.1"]);
    assert_eq!(strs(&p.nodes[0].addresses), ["fd00:20::2"]);
    assert_eq!(strs(&p.nodes[1].addresses), ["fd00:20::3"]);
    assert_eq!(p.service_cidr.to_string(), "fd00:30::/110");
    assert_eq!(p.dns_service_ip.to_string(), "fd00:30::a");
    assert_eq!(strs(&p.pod_cidrs), ["fd00:40::/72"]);
    assert_eq!(strs(&p.nodes[0].pod_cidrs), ["fd00:40:0:0:1::/80"]);
    assert_eq!(p.apiserver.host.to_string(), "::1");
}

#[test]
fn ipv6_cluster_id_is_inserted_as_text() {
    // ID 10 becomes the hextet 0x10, not 0xa.
    let p = plan_of(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "10")]);
    assert_eq!(
        strs(&p.network.subnets),
        ["fd00:20:10::/64", "172.28.0.0/16"]
    );
    assert_eq!(strs(&p.network.gateways), ["fd00:20:10::1", "172.28.0.1"]);
    assert_eq!(strs(&p.nodes[0].addresses), ["fd00:20:10::2"]);
    assert_eq!(strs(&p.nodes[2].addresses), ["fd00:20:10::4"]);
    // The insertion is before the text "::", so fd00:20:0::/64 gives fd00:20:0:10::/64.
    let p = plan_of(&[
        ("IP_MODE", "ipv6"),
        ("CLUSTER_ID", "10"),
        ("MGMT_CIDRS", "fd00:20:0::/64"),
    ]);
    assert_eq!(strs(&p.network.subnets)[0], "fd00:20:0:10::/64");
}

#[test]
fn ipv6_mgmt_without_double_colon_and_cluster_id_is_an_error() {
    let e = problems_of(&[
        ("IP_MODE", "ipv6"),
        ("CLUSTER_ID", "3"),
        ("MGMT_CIDRS", "fd00:20:0:0:0:0:0:0/64"),
    ]);
    has_problem(&e, "MGMT_CIDRS", "cluster ID 3 cannot be inserted");
    let p = plan_of(&[
        ("IP_MODE", "ipv6"),
        ("MGMT_CIDRS", "fd00:20:0:0:0:0:0:0/64"),
    ]);
    assert_eq!(strs(&p.network.subnets)[0], "fd00:20::/64");
}

#[test]
fn ipv6_node_10_is_hex_c() {
    let p = plan_of(&[("IP_MODE", "ipv6"), ("NUM_NODES", "10")]);
    assert_eq!(p.nodes[10].name, "kube-node-10");
    assert_eq!(strs(&p.nodes[10].addresses), ["fd00:20::c"]);
    // node_id 11 in the pod subnet: fd00:40:0:0:b::/80.
    assert_eq!(strs(&p.nodes[10].pod_cidrs), ["fd00:40:0:0:b::/80"]);
}

#[test]
fn dual_stack_defaults() {
    let p = plan_of(&[("IP_MODE", "dual-stack")]);
    assert_eq!(strs(&p.network.subnets), ["10.192.0.0/24", "fd00:20::/64"]);
    assert_eq!(strs(&p.network.gateways), ["10.192.0.1", "fd00:20::1"]);
    assert_eq!(strs(&p.nodes[0].addresses), ["10.192.0.2", "fd00:20::2"]);
    assert_eq!(strs(&p.nodes[1].addresses), ["10.192.0.3", "fd00:20::3"]);
    assert_eq!(strs(&p.pod_cidrs), ["10.244.0.0/16", "fd00:40::/72"]);
    assert_eq!(
        strs(&p.nodes[1].pod_cidrs),
        ["10.244.2.0/24", "fd00:40:0:0:2::/80"]
    );
    assert_eq!(p.service_cidr.to_string(), "fd00:30::/110");
    assert_eq!(p.dns_service_ip.to_string(), "fd00:30::a");
    assert!(p.dns64.is_none());
    assert!(p.nat64.is_none());
}

#[test]
fn dual_stack_with_a_label_is_allowed() {
    // "foo" -> stable ID 4 (FNV-1a, see above).
    let p = plan_of(&[("IP_MODE", "dual-stack"), ("DIND_LABEL", "foo")]);
    assert_eq!(p.cluster.label, "foo");
    assert_eq!(p.cluster.id, 4);
    assert_eq!(
        strs(&p.network.subnets),
        ["10.192.4.0/24", "fd00:20:4::/64"]
    );
    assert_eq!(strs(&p.nodes[0].addresses), ["10.192.4.2", "fd00:20:4::2"]);
    assert_eq!(p.nodes[0].name, "kube-master-foo");
}

#[test]
fn dual_stack_with_ipv4_service_cidr() {
    let p = plan_of(&[("IP_MODE", "dual-stack"), ("SERVICE_CIDR", "10.96.0.0/12")]);
    assert_eq!(p.dns_service_ip.to_string(), "10.96.0.10");
    assert_eq!(p.apiserver.host.to_string(), "127.0.0.1");
}

#[test]
fn custom_service_cidr_dns_is_host_10() {
    let p = plan_of(&[("SERVICE_CIDR", "10.100.0.0/16")]);
    assert_eq!(p.dns_service_ip.to_string(), "10.100.0.10");
    let p = plan_of(&[("IP_MODE", "ipv6"), ("SERVICE_CIDR", "fd00:99::/112")]);
    assert_eq!(p.dns_service_ip.to_string(), "fd00:99::a");
}

#[test]
fn service_cidr_too_small_for_dns_is_an_error() {
    let e = problems_of(&[("SERVICE_CIDR", "10.96.0.0/29")]);
    has_problem(&e, "SERVICE_CIDR", "DNS service");
}

// ---------------------------------------------------------------------------------------------
// §4.4 pod subnets

fn ipv6_pods(pod: &str, nodes: &str) -> Plan {
    plan_of(&[
        ("IP_MODE", "ipv6"),
        ("POD_NETWORK_CIDR", pod),
        ("NUM_NODES", nodes),
    ])
}

#[test]
fn pod_table_rows() {
    // (POD_NETWORK_CIDR, master (id 1), kube-node-1 (id 2), id 17 = kube-node-16), canonical
    // RFC 5952 forms of the spec's table.
    let rows = [
        (
            "fd00:40::/72",
            "fd00:40:0:0:1::/80",
            "fd00:40:0:0:2::/80",
            "fd00:40:0:0:11::/80",
        ),
        (
            "fd00:10:20:30::/64",
            "fd00:10:20:30:100::/72",
            "fd00:10:20:30:200::/72",
            "fd00:10:20:30:1100::/72",
        ),
        (
            "fd00:10:20:30:4000::/72",
            "fd00:10:20:30:4001::/80",
            "fd00:10:20:30:4002::/80",
            "fd00:10:20:30:4011::/80",
        ),
        (
            "fd00:10::/64",
            "fd00:10:0:0:100::/72",
            "fd00:10:0:0:200::/72",
            "fd00:10:0:0:1100::/72",
        ),
        (
            "fd00:10:20::/56",
            "fd00:10:20:1::/64",
            "fd00:10:20:2::/64",
            "fd00:10:20:11::/64",
        ),
        (
            "fd00:10:20:3000::/56",
            "fd00:10:20:3001::/64",
            "fd00:10:20:3002::/64",
            "fd00:10:20:3011::/64",
        ),
    ];
    for (pod, master, node1, id17) in rows {
        let p = ipv6_pods(pod, "16");
        assert_eq!(strs(&p.nodes[0].pod_cidrs), [master], "{pod} master");
        assert_eq!(strs(&p.nodes[1].pod_cidrs), [node1], "{pod} kube-node-1");
        assert_eq!(p.nodes[16].name, "kube-node-16");
        assert_eq!(strs(&p.nodes[16].pod_cidrs), [id17], "{pod} id 17");
    }
}

#[test]
fn pod_table_error_rows() {
    for pod in [
        "fd00:10:20:30:40::/48",
        "fd00:10:20:1234::/56",
        "fd00:10:20:30:1200::/64",
    ] {
        let e = problems_of(&[("IP_MODE", "ipv6"), ("POD_NETWORK_CIDR", pod)]);
        has_problem(&e, "POD_NETWORK_CIDR", "bits set beyond its prefix length");
    }
}

#[test]
fn ipv4_pod_cidr_must_be_16() {
    for pod in ["10.244.0.0/20", "10.0.0.0/8", "10.244.0.0/24"] {
        let e = problems_of(&[("POD_NETWORK_CIDR", pod)]);
        has_problem(&e, "POD_NETWORK_CIDR", "must be /16");
    }
    let p = plan_of(&[("POD_NETWORK_CIDR", "10.250.0.0/16")]);
    assert_eq!(strs(&p.nodes[0].pod_cidrs), ["10.250.1.0/24"]);
}

#[test]
fn calico_default_pod_cidr() {
    let p = plan_of(&[("CNI_PLUGIN", "calico")]);
    assert_eq!(strs(&p.pod_cidrs), ["192.168.0.0/16"]);
    assert_eq!(strs(&p.nodes[0].pod_cidrs), ["192.168.1.0/24"]);
    let p = plan_of(&[("CNI_PLUGIN", "calico-kdd")]);
    assert_eq!(strs(&p.pod_cidrs), ["192.168.0.0/16"]);
}

#[test]
fn ipv6_pods_only_with_bridge_or_ptp() {
    for cni in ["flannel", "calico", "calico-kdd", "weave", "kube-router"] {
        let e = problems_of(&[("IP_MODE", "ipv6"), ("CNI_PLUGIN", cni)]);
        has_problem(
            &e,
            "POD_NETWORK_CIDR",
            "only supported by the bridge and ptp",
        );
        let e = problems_of(&[("IP_MODE", "dual-stack"), ("CNI_PLUGIN", cni)]);
        has_problem(
            &e,
            "POD_NETWORK_CIDR",
            "only supported by the bridge and ptp",
        );
    }
    for cni in ["bridge", "ptp"] {
        plan_of(&[("IP_MODE", "ipv6"), ("CNI_PLUGIN", cni)]);
    }
    // IPv4 pods work with every plugin.
    plan_of(&[("CNI_PLUGIN", "flannel")]);
}

// ---------------------------------------------------------------------------------------------
// §5.1 DNS64 / NAT64 values, §5.4 NAT64 prefix checks

#[test]
fn dns64_nat64_default_values() {
    let p = plan_of(&[("IP_MODE", "ipv6")]);
    let d = p.dns64.unwrap();
    assert_eq!(d.container, "bind9");
    assert_eq!(d.address.to_string(), "fd00:20::100");
    assert_eq!(d.prefix.to_string(), "fd00:10:64:ff9b::/96");
    let n = p.nat64.unwrap();
    assert_eq!(n.container, "tayga");
    assert_eq!(n.ipv4.to_string(), "172.18.0.200");
    assert_eq!(n.ipv6.to_string(), "fd00:20::200");
    assert_eq!(n.pool.to_string(), "172.18.0.128/25");
    assert_eq!(n.ipv4_subnet.to_string(), "172.18.0.0/16");
}

#[test]
fn dns64_nat64_with_cluster_id() {
    let p = plan_of(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "10")]);
    let d = p.dns64.unwrap();
    assert_eq!(d.address.to_string(), "fd00:20:10::100");
    let n = p.nat64.unwrap();
    assert_eq!(n.ipv4.to_string(), "172.28.0.200");
    assert_eq!(n.ipv6.to_string(), "fd00:20:10::200");
    assert_eq!(n.pool.to_string(), "172.28.0.128/25");
    assert_eq!(n.ipv4_subnet.to_string(), "172.28.0.0/16");
}

#[test]
fn custom_dns64_prefix() {
    let p = plan_of(&[
        ("IP_MODE", "ipv6"),
        ("DNS64_PREFIX", "fd00:77::"),
        ("DNS64_PREFIX_SIZE", "64"),
    ]);
    assert_eq!(p.dns64.unwrap().prefix.to_string(), "fd00:77::/64");
}

fn nat64(prefix: &str, id: &str) -> Result<Plan, Problems> {
    let mut env = vec![("IP_MODE", "ipv6"), ("NAT64_V4_SUBNET_PREFIX", prefix)];
    if !id.is_empty() {
        env.push(("CLUSTER_ID", id));
    }
    plan(&cfg(&env))
}

#[test]
fn nat64_prefix_numeric_range_check() {
    // Checked as numbers (§9 item 4): these are accepted although the original rejected them.
    for (prefix, want) in [
        ("10.30", "10.30.0.0/16"),
        ("10.26", "10.26.0.0/16"),
        ("10.3", "10.3.0.0/16"),
        ("10.100", "10.100.0.0/16"),
        ("10.253", "10.253.0.0/16"),
        ("172.16", "172.16.0.0/16"),
        ("172.31", "172.31.0.0/16"),
    ] {
        let p = nat64(prefix, "").unwrap_or_else(|e| panic!("{prefix}: {e}"));
        assert_eq!(p.nat64.unwrap().ipv4_subnet.to_string(), want);
    }
    for (prefix, msg) in [
        ("10.254", "10.0.0.0/8"),
        ("172.15", "172.16.0.0/12"),
        ("172.32", "172.16.0.0/12"),
        ("192.168", "not in the 10.0.0.0/8 or 172.16.0.0/12"),
    ] {
        let e = nat64(prefix, "").unwrap_err();
        has_problem(&e, "NAT64_V4_SUBNET_PREFIX", msg);
    }
}

#[test]
fn nat64_prefix_plus_cluster_id() {
    // 172.18 + 13 = 172.31: ok; + 14 = 172.32: outside 172.16.0.0/12.
    let p = nat64("172.18", "13").unwrap();
    assert_eq!(p.nat64.unwrap().ipv4.to_string(), "172.31.0.200");
    let e = nat64("172.18", "14").unwrap_err();
    has_problem(&e, "NAT64_V4_SUBNET_PREFIX", "172.16.0.0/12");
    // 10.250 + 3 = 10.253 ok; + 4 = 10.254 rejected.
    let p = nat64("10.250", "3").unwrap();
    assert_eq!(p.nat64.unwrap().pool.to_string(), "10.253.0.128/25");
    let e = nat64("10.250", "4").unwrap_err();
    has_problem(&e, "NAT64_V4_SUBNET_PREFIX", "10.0.0.0/8");
}

#[test]
fn nat64_not_checked_outside_ipv6() {
    plan_of(&[("NAT64_V4_SUBNET_PREFIX", "192.168")]);
    plan_of(&[("CLUSTER_ID", "20")]);
}

#[test]
fn well_known_nat64_prefix_is_rejected() {
    let e = problems_of(&[("IP_MODE", "ipv6"), ("DNS64_PREFIX", "64:ff9b::")]);
    has_problem(&e, "DNS64_PREFIX", "well-known");
}

#[test]
fn fixed_original_bugs_in_addressing() {
    // §9 item 6: host parts are added as numbers, so a last octet other than 0 works.
    let p = plan_of(&[("MGMT_CIDRS", "10.192.0.128/25")]);
    assert_eq!(strs(&p.network.gateways), ["10.192.0.129"]);
    assert_eq!(strs(&p.nodes[0].addresses), ["10.192.0.130"]);
    assert_eq!(strs(&p.nodes[2].addresses), ["10.192.0.132"]);
    // ... and an IPv6 prefix not written with a trailing '::' works (with ID 0).
    let p = plan_of(&[
        ("IP_MODE", "ipv6"),
        ("MGMT_CIDRS", "fd00:20:0:0:0:0:0:0/64"),
    ]);
    assert_eq!(strs(&p.nodes[0].addresses), ["fd00:20::2"]);
    assert_eq!(p.dns64.unwrap().address.to_string(), "fd00:20::100");
    // §9 item 5: the original always failed to trim fd00:10:20:30:0::/64 ("Cannot trim");
    // it is the same network as fd00:10:20:30::/64 and gets the same node subnets.
    let p = ipv6_pods("fd00:10:20:30:0::/64", "1");
    assert_eq!(strs(&p.nodes[0].pod_cidrs), ["fd00:10:20:30:100::/72"]);
    assert_eq!(strs(&p.nodes[1].pod_cidrs), ["fd00:10:20:30:200::/72"]);
    // §9 item 1: a wrong-family CIDR is fatal, not silently turned into a bogus value.
    let e = resolve(&Inputs::default().with_env([("MGMT_CIDRS", "fd00::/64")])).unwrap_err();
    assert!(e.list[0].what.starts_with("MGMT_CIDRS"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Overlaps, capacity, collected problems

#[test]
fn overlapping_networks_are_rejected() {
    let e = problems_of(&[("POD_NETWORK_CIDR", "10.192.0.0/16")]);
    has_problem(&e, "POD_NETWORK_CIDR", "overlaps 10.192.0.0/24");
    let e = problems_of(&[("SERVICE_CIDR", "10.244.0.0/16")]);
    assert!(e.list.iter().any(|p| p.message.contains("overlaps")), "{e}");
    let e = problems_of(&[("IP_MODE", "ipv6"), ("MGMT_CIDRS", "fd00:40::/64")]);
    assert!(e.list.iter().any(|p| p.message.contains("overlaps")), "{e}");
}

#[test]
fn num_nodes_capacity_ipv4() {
    // /24 management: host parts 2..=252 for node k = host part k + 2 (253 is bind9, 254 the
    // gateway), so k <= 250.
    let p = plan_of(&[("NUM_NODES", "250")]);
    assert_eq!(strs(&p.nodes[250].addresses), ["10.192.0.252"]);
    assert_eq!(strs(&p.nodes[250].pod_cidrs), ["10.244.251.0/24"]);
    let e = problems_of(&[("NUM_NODES", "251")]);
    has_problem(&e, "NUM_NODES", "at most 250");
    // Pod subnets: node IDs 1..=255 in 8 bits, so at most 254 workers.
    let p = plan_of(&[("NUM_NODES", "254"), ("MGMT_CIDRS", "10.192.0.0/16")]);
    assert_eq!(strs(&p.nodes[254].pod_cidrs), ["10.244.255.0/24"]);
    let e = problems_of(&[("NUM_NODES", "255"), ("MGMT_CIDRS", "10.192.0.0/16")]);
    has_problem(&e, "NUM_NODES", "at most 254");
}

#[test]
fn num_nodes_capacity_ipv6_stops_below_bind9() {
    // Host parts stop below 0x100 (bind9): k + 2 <= 0xff, so k <= 253.
    let p = plan_of(&[("IP_MODE", "ipv6"), ("NUM_NODES", "253")]);
    assert_eq!(strs(&p.nodes[253].addresses), ["fd00:20::ff"]);
    let e = problems_of(&[("IP_MODE", "ipv6"), ("NUM_NODES", "254")]);
    has_problem(&e, "NUM_NODES", "at most 253");
}

#[test]
fn several_problems_are_collected() {
    let e = problems_of(&[
        ("IP_MODE", "ipv6"),
        ("CLUSTER_ID", "14"),
        ("DNS64_PREFIX", "64:ff9b::"),
        ("NUM_NODES", "300"),
    ]);
    has_problem(&e, "NAT64_V4_SUBNET_PREFIX", "172.16.0.0/12");
    has_problem(&e, "DNS64_PREFIX", "well-known");
    has_problem(&e, "NUM_NODES", "do not fit");
    assert!(e.list.len() >= 3, "{e}");
    let text = e.to_string();
    assert!(text.starts_with("invalid cluster plan: "), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Property tests

mod props {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[derive(Debug, Clone)]
    struct Gen {
        mode: &'static str,
        label: Option<&'static str>,
        mgmt4: &'static str,
        mgmt6: &'static str,
        pod4: &'static str,
        pod6: &'static str,
        cni: &'static str,
        nodes: u16,
    }

    impl Gen {
        fn env(&self, id: u8) -> Vec<(&'static str, String)> {
            let mut env = vec![
                ("IP_MODE", self.mode.to_string()),
                ("CLUSTER_ID", id.to_string()),
                ("NUM_NODES", self.nodes.to_string()),
                ("CNI_PLUGIN", self.cni.to_string()),
            ];
            if let Some(l) = self.label {
                env.push(("DIND_LABEL", l.to_string()));
            }
            let (m, p) = match self.mode {
                "ipv4" => (self.mgmt4.to_string(), self.pod4.to_string()),
                "ipv6" => (self.mgmt6.to_string(), self.pod6.to_string()),
                _ => (
                    format!("{}, {}", self.mgmt6, self.mgmt4),
                    format!("{} {}", self.pod4, self.pod6),
                ),
            };
            env.push(("MGMT_CIDRS", m));
            env.push(("POD_NETWORK_CIDR", p));
            env
        }

        fn plan(&self, id: u8) -> Plan {
            let env = self.env(id);
            let c = match resolve(&Inputs::default().with_env(env.clone())) {
                Ok(r) => r.config,
                Err(e) => panic!("{env:?}: {e}"),
            };
            plan(&c).unwrap_or_else(|e| panic!("{env:?}: {e}"))
        }
    }

    fn gen_config() -> impl Strategy<Value = Gen> {
        (
            prop::sample::select(vec!["ipv4", "ipv6", "dual-stack"]),
            prop::option::of(prop::sample::select(vec!["foo", "bar", "ci", "x.y-z1"])),
            prop::sample::select(vec!["10.192.0.0/24", "10.200.0.0/24", "172.20.9.0/24"]),
            prop::sample::select(vec!["fd00:20::/64", "fd00:21::/64", "fd00:aa:bb::/80"]),
            prop::sample::select(vec!["10.244.0.0/16", "10.250.0.0/16", "192.168.0.0/16"]),
            prop::sample::select(vec![
                "fd00:40::/72",
                "fd00:10:20::/56",
                "fd00:10:20:30::/64",
                "fd00:10:20:30:4000::/72",
            ]),
            prop::sample::select(vec!["bridge", "ptp"]),
            0u16..=40,
        )
            .prop_map(|(mode, label, mgmt4, mgmt6, pod4, pod6, cni, nodes)| Gen {
                mode,
                label,
                mgmt4,
                mgmt6,
                pod4,
                pod6,
                cni,
                nodes,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn node_addresses_are_unique_and_in_the_management_subnets(g in gen_config(), id in 0u8..=12) {
            let p = g.plan(id);
            let mgmt_count = p.nodes[0].addresses.len();
            prop_assert_eq!(mgmt_count, if g.mode == "dual-stack" { 2 } else { 1 });
            let mut reserved: HashSet<IpAddr> = p.network.gateways.iter().copied().collect();
            if let Some(d) = &p.dns64 {
                reserved.insert(IpAddr::V6(d.address));
            }
            if let Some(n) = &p.nat64 {
                reserved.insert(IpAddr::V6(n.ipv6));
                reserved.insert(IpAddr::V4(n.ipv4));
            }
            reserved.extend(p.dns.addresses.iter().copied());
            reserved.extend(p.router.addresses.iter().copied());
            for a in p.dns.addresses.iter().chain(&p.router.addresses) {
                prop_assert!(p.network.subnets.iter().any(|n| n.contains(a)), "{} outside the network", a);
            }
            let mut seen = HashSet::new();
            prop_assert_eq!(p.nodes.len(), usize::from(g.nodes) + 1);
            for n in &p.nodes {
                prop_assert_eq!(n.addresses.len(), mgmt_count);
                for (i, a) in n.addresses.iter().enumerate() {
                    let net = p.network.subnets[i];
                    prop_assert!(net.contains(a), "{} not in {}", a, net);
                    prop_assert!(*a != net.network(), "{} is the network address", a);
                    if let IpNet::V4(v4) = net {
                        prop_assert!(*a != IpAddr::V4(v4.broadcast()), "{} is broadcast", a);
                    }
                    prop_assert!(!reserved.contains(a), "{} is reserved", a);
                    prop_assert!(seen.insert(*a), "{} twice", a);
                }
            }
        }

        #[test]
        fn node_pod_subnets_are_disjoint_and_inside_the_pod_cidr(g in gen_config(), id in 0u8..=12) {
            let p = g.plan(id);
            let mut all: Vec<IpNet> = Vec::new();
            for n in &p.nodes {
                prop_assert_eq!(n.pod_cidrs.len(), p.pod_cidrs.len());
                for (i, s) in n.pod_cidrs.iter().enumerate() {
                    let pod = p.pod_cidrs[i];
                    prop_assert!(pod.contains(s), "{} not in {}", s, pod);
                    prop_assert_eq!(s.prefix_len(), pod.prefix_len() + 8);
                    prop_assert_eq!(s.trunc(), *s);
                    for other in &all {
                        prop_assert!(!other.contains(s) && !s.contains(other), "{} overlaps {}", s, other);
                    }
                    all.push(*s);
                }
            }
        }

        #[test]
        fn clusters_with_different_ids_share_nothing(g in gen_config(), a in 0u8..=12, b in 0u8..=12, label_b in prop::option::of(prop::sample::select(vec!["foo", "bar", "ci"]))) {
            let pa = g.plan(a);
            let gb = Gen { label: label_b, ..g.clone() };
            let pb = gb.plan(b);
            prop_assume!(pa.cluster.id != pb.cluster.id);
            for x in &pa.network.subnets {
                for y in &pb.network.subnets {
                    prop_assert!(!x.contains(y) && !y.contains(x), "{} overlaps {}", x, y);
                }
            }
            prop_assert_ne!(&pa.network.name, &pb.network.name);
            prop_assert_ne!(&pa.cluster.context, &pb.cluster.context);
            prop_assert_ne!(&pa.cluster.label, &pb.cluster.label);
            let names = |p: &Plan| -> HashSet<String> {
                let mut s: HashSet<String> = p.nodes.iter().flat_map(|n| [n.name.clone(), n.volume.clone(), n.hostname.clone()]).collect();
                if let Some(d) = &p.dns64 { s.insert(d.container.clone()); }
                if let Some(n) = &p.nat64 { s.insert(n.container.clone()); }
                s
            };
            let (na, nb) = (names(&pa), names(&pb));
            let shared: Vec<_> = na.intersection(&nb).collect();
            prop_assert!(shared.is_empty(), "shared names {:?}", shared);
        }

        #[test]
        fn resolving_and_planning_arbitrary_strings_never_panics(
            idx in 0usize..crate::config::SETTINGS.len(),
            value in prop_oneof![
                any::<String>(),
                "[0-9a-f:./, -]{0,40}",
                "[0-9]{1,6}",
            ],
            mode in prop::sample::select(vec!["", "ipv4", "ipv6", "dual-stack"]),
        ) {
            let var = crate::config::SETTINGS[idx].env;
            let env = vec![("IP_MODE", mode.to_string()), (var, value)];
            if let Ok(r) = resolve(&Inputs::default().with_env(env)) {
                let _ = plan(&r.config);
            }
        }

        #[test]
        fn arbitrary_cidr_pairs_never_panic(
            mode in prop::sample::select(vec!["ipv4", "ipv6", "dual-stack"]),
            mgmt in "([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}|fd[0-9a-f]{0,2}:[0-9a-f:]{0,12}/[0-9]{1,3}",
            pod in "([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}|fd[0-9a-f]{0,2}:[0-9a-f:]{0,12}/[0-9]{1,3}",
            svc in "([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}|fd[0-9a-f]{0,2}:[0-9a-f:]{0,12}/[0-9]{1,3}",
            id in "[0-9]{1,3}",
            nodes in "[0-9]{1,5}",
        ) {
            let env = vec![
                ("IP_MODE", mode.to_string()),
                ("MGMT_CIDRS", mgmt),
                ("POD_NETWORK_CIDR", pod),
                ("SERVICE_CIDR", svc),
                ("CLUSTER_ID", id),
                ("NUM_NODES", nodes),
            ];
            if let Ok(r) = resolve(&Inputs::default().with_env(env)) {
                let _ = plan(&r.config);
            }
        }
    }
}

/// A label's numeric ending is its ID, so different IDs never share names (found by a test:
/// `DIND_LABEL=foo-3` used to hash to ID 12 while `foo` + `CLUSTER_ID=3` gave the same names on ID 3).
#[test]
fn numbered_label_means_that_id_so_names_and_ids_agree() {
    let with_id = identity_of(Some("foo"), Some(3));
    let numbered = identity_of(Some("foo-3"), None);
    assert_eq!(numbered, with_id);
    assert_eq!((numbered.label.as_str(), numbered.id), ("foo-3", 3));
    assert_eq!(
        identity_of(Some("cluster-20"), None),
        identity_of(None, Some(20))
    );
    // Not a number, out of range, or zero-padded: the label is hashed as before.
    for l in ["foo-x", "foo-0", "foo-255", "foo-03", "3"] {
        assert_eq!(
            identity_of(Some(l), None).id,
            crate::plan::label_id(l),
            "{l}"
        );
    }
}

fn identity_of(label: Option<&str>, id: Option<u8>) -> crate::plan::Identity {
    let mut vars: Vec<(&str, String)> = Vec::new();
    if let Some(l) = label {
        vars.push(("DIND_LABEL", l.to_string()));
    }
    if let Some(i) = id {
        vars.push(("CLUSTER_ID", i.to_string()));
    }
    let cfg = crate::config::resolve(&crate::config::Inputs::default().with_env(vars))
        .unwrap()
        .config;
    crate::plan::identity(&cfg)
}

/// bind9 and the router in each IP mode: the original's addresses in ipv6 mode (0x100, tayga
/// at 0x200 and P.0.200), the last two IPv4 host parts and the same IPv6 ones otherwise.
#[test]
fn name_server_and_router_in_every_mode() {
    let p = plan_of(&[]);
    assert_eq!(p.dns.container, "bind9");
    assert_eq!(strs(&p.dns.addresses), ["10.192.0.253"]);
    assert_eq!(p.dns.dns64, None);
    assert_eq!(
        (p.router.container.as_str(), p.router.kind),
        ("kdc-gw", RouterKind::Gateway)
    );
    assert_eq!(strs(&p.router.addresses), ["10.192.0.254"]);

    let p = plan_of(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "10")]);
    assert_eq!(p.dns.container, "bind9-cluster-10");
    assert_eq!(strs(&p.dns.addresses), ["fd00:20:10::100"]);
    assert_eq!(p.dns.dns64.unwrap().to_string(), "fd00:10:64:ff9b::/96");
    assert_eq!(
        (p.router.container.as_str(), p.router.kind),
        ("tayga-cluster-10", RouterKind::Nat64)
    );
    assert_eq!(
        strs(&p.router.addresses),
        ["172.28.0.200", "fd00:20:10::200"]
    );

    let p = plan_of(&[("IP_MODE", "dual-stack"), ("CLUSTER_ID", "7")]);
    assert_eq!(strs(&p.dns.addresses), ["10.192.7.253", "fd00:20:7::100"]);
    assert_eq!(p.router.container, "kdc-gw-cluster-7");
    assert_eq!(
        strs(&p.router.addresses),
        ["10.192.7.254", "fd00:20:7::200"]
    );
}

#[test]
fn the_targets_are_the_same_for_every_cluster() {
    let a = plan_of(&[]);
    let b = plan_of(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "3")]);
    assert_eq!(a.targets, b.targets);
    let t = a.targets;
    assert_eq!(t.network, "kdc-targets");
    assert_eq!(strs(&t.subnets), ["198.18.0.0/24", "fd00:198:18::/64"]);
    assert_eq!(t.ipv4only.name, "ipv4only.kdc.test");
    assert_eq!(strs(&t.ipv4only.addresses), ["198.18.0.10"]);
    assert_eq!(t.dualstack.name, "dualstack.kdc.test");
    assert_eq!(
        strs(&t.dualstack.addresses),
        ["198.18.0.11", "fd00:198:18::11"]
    );
}

#[test]
fn networks_on_the_targets_subnets_are_refused() {
    let e = problems_of(&[("MGMT_CIDRS", "198.18.0.0/24")]);
    has_problem(
        &e,
        "MGMT_CIDRS",
        "198.18.0.0/24 overlaps 198.18.0.0/24, which kdc's targets network",
    );
}
