//! The one table of settings: every configuration value kdc reads, with the environment variable
//! (the original tool's name), the command-line flag and the `kdc.toml` key that set it.
//!
//! The CLI flags, the config-file schema, the README reference and the tests are all driven by
//! [`SETTINGS`], so a setting cannot exist in one place and be missing from another.

/// Identifies one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    IpMode,
    ClusterId,
    Label,
    NumNodes,
    MgmtCidrs,
    DindSubnet,
    DindSubnetSize,
    ServiceCidr,
    PodNetworkCidr,
    Dns64Prefix,
    Dns64PrefixSize,
    Nat64V4SubnetPrefix,
    RemoteDns64V4Server,
    AllowAaaaUse,
    CniPlugin,
    ApiserverPort,
    Image,
    K8sVersion,
    SkipSnapshot,
    FeatureGates,
    KubeletFeatureGates,
    PortForwarder,
}

/// How a setting's value is written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `--flag VALUE`.
    Value,
    /// `--flag` alone means true; in the environment and the file it is a boolean.
    Switch,
}

/// One row of the settings table.
#[derive(Debug)]
pub struct Setting {
    pub key: Key,
    /// Environment variable, named as in kubeadm-dind-cluster.
    pub env: &'static str,
    /// Long flag without the dashes; `None` for legacy variables kept only for compatibility.
    pub flag: Option<&'static str>,
    /// Key in `kdc.toml`; `None` for legacy variables.
    pub file_key: Option<&'static str>,
    pub shape: Shape,
    /// The default, as shown in help and the README.
    pub default: &'static str,
    /// What the setting does (one sentence; the README has the long form).
    pub help: &'static str,
}

macro_rules! setting {
    ($key:ident, $env:literal, $flag:expr, $file:expr, $shape:ident, $default:expr, $help:literal) => {
        Setting {
            key: Key::$key,
            env: $env,
            flag: $flag,
            file_key: $file,
            shape: Shape::$shape,
            default: $default,
            help: $help,
        }
    };
}

pub use crate::kube::release::{DEFAULT_K8S, SUPPORTED_K8S};

/// Every setting, in the order of the README's reference table.
pub const SETTINGS: &[Setting] = &[
    setting!(
        IpMode,
        "IP_MODE",
        Some("ip-mode"),
        Some("ip_mode"),
        Value,
        "ipv4",
        "IP family of the cluster: ipv4, ipv6 or dual-stack"
    ),
    setting!(
        ClusterId,
        "CLUSTER_ID",
        Some("cluster-id"),
        Some("cluster_id"),
        Value,
        "0",
        "cluster number 0-254, injected into the management subnets and the NAT64 prefix"
    ),
    setting!(
        Label,
        "DIND_LABEL",
        Some("label"),
        Some("label"),
        Value,
        "mirantis.kubeadm_dind_cluster_runtime",
        "cluster name: the suffix of container, network and context names"
    ),
    setting!(
        NumNodes,
        "NUM_NODES",
        Some("num-nodes"),
        Some("num_nodes"),
        Value,
        "2",
        "number of worker nodes besides the master"
    ),
    setting!(
        MgmtCidrs,
        "MGMT_CIDRS",
        Some("mgmt-cidrs"),
        Some("mgmt_cidrs"),
        Value,
        "ipv4: 10.192.0.0/24; ipv6: fd00:20::/64; dual-stack: both",
        "management (Docker network) CIDRs, comma- or space-separated"
    ),
    setting!(
        DindSubnet,
        "DIND_SUBNET",
        None,
        None,
        Value,
        "fd00:10:: outside ipv4 mode",
        "legacy management subnet address, used with DIND_SUBNET_SIZE when MGMT_CIDRS is unset"
    ),
    setting!(
        DindSubnetSize,
        "DIND_SUBNET_SIZE",
        None,
        None,
        Value,
        "unset",
        "legacy management subnet prefix length, used with DIND_SUBNET"
    ),
    setting!(
        ServiceCidr,
        "SERVICE_CIDR",
        Some("service-cidr"),
        Some("service_cidr"),
        Value,
        "ipv4: 10.96.0.0/12; ipv6 and dual-stack: fd00:30::/110",
        "Kubernetes service CIDR; its family decides the API server's address family"
    ),
    setting!(
        PodNetworkCidr,
        "POD_NETWORK_CIDR",
        Some("pod-network-cidr"),
        Some("pod_network_cidr"),
        Value,
        "ipv4: 10.244.0.0/16 (192.168.0.0/16 for calico); ipv6: fd00:40::/72; dual-stack: both",
        "pod CIDRs, carved into one subnet per node"
    ),
    setting!(
        Dns64Prefix,
        "DNS64_PREFIX",
        Some("dns64-prefix"),
        Some("dns64_prefix"),
        Value,
        "fd00:10:64:ff9b::",
        "ipv6 mode: the DNS64/NAT64 prefix (must end in ::)"
    ),
    setting!(
        Dns64PrefixSize,
        "DNS64_PREFIX_SIZE",
        Some("dns64-prefix-size"),
        Some("dns64_prefix_size"),
        Value,
        "96",
        "ipv6 mode: the DNS64/NAT64 prefix length (32, 40, 48, 56, 64 or 96)"
    ),
    setting!(
        Nat64V4SubnetPrefix,
        "NAT64_V4_SUBNET_PREFIX",
        Some("nat64-v4-subnet-prefix"),
        Some("nat64_v4_subnet_prefix"),
        Value,
        "172.18",
        "ipv6 mode: first two octets of the NAT64 IPv4 network; the cluster ID is added to the second"
    ),
    setting!(
        RemoteDns64V4Server,
        "REMOTE_DNS64_V4SERVER",
        Some("remote-dns64-v4server"),
        Some("remote_dns64_v4server"),
        Value,
        "8.8.8.8",
        "ipv6 mode: upstream IPv4 resolver that bind9 forwards to through NAT64"
    ),
    setting!(
        AllowAaaaUse,
        "DIND_ALLOW_AAAA_USE",
        Some("allow-aaaa-use"),
        Some("allow_aaaa_use"),
        Switch,
        "false (always true in dual-stack)",
        "ipv6 mode: use real AAAA records instead of always synthesising them"
    ),
    setting!(
        CniPlugin,
        "CNI_PLUGIN",
        Some("cni-plugin"),
        Some("cni_plugin"),
        Value,
        "bridge",
        "CNI plugin: bridge, ptp, flannel, calico, calico-kdd, weave or kube-router"
    ),
    setting!(
        ApiserverPort,
        "APISERVER_PORT",
        Some("apiserver-port"),
        Some("apiserver_port"),
        Value,
        "random",
        "host port published for the API server"
    ),
    setting!(
        Image,
        "DIND_IMAGE",
        Some("image"),
        Some("image"),
        Value,
        "kdc/node:<release>",
        "node image (default: kdc's image of the Kubernetes release, kdc/node:bookworm for machines only)"
    ),
    setting!(
        K8sVersion,
        "DIND_K8S_VERSION",
        Some("k8s-version"),
        Some("k8s_version"),
        Value,
        DEFAULT_K8S,
        "Kubernetes version the kubeadm bootstrapper installs"
    ),
    setting!(
        SkipSnapshot,
        "SKIP_SNAPSHOT",
        Some("skip-snapshot"),
        Some("skip_snapshot"),
        Switch,
        "false",
        "always bring the cluster up fresh: never reuse node volumes"
    ),
    setting!(
        FeatureGates,
        "FEATURE_GATES",
        Some("feature-gates"),
        Some("feature_gates"),
        Value,
        "none",
        "feature gates for the API server, controller manager and scheduler (none: unset)"
    ),
    setting!(
        KubeletFeatureGates,
        "KUBELET_FEATURE_GATES",
        Some("kubelet-feature-gates"),
        Some("kubelet_feature_gates"),
        Value,
        "none",
        "kubelet feature gates (none: unset)"
    ),
    setting!(
        PortForwarder,
        "DIND_PORT_FORWARDER",
        Some("port-forwarder"),
        Some("port_forwarder"),
        Value,
        "unset",
        "executable run with the API server port once the cluster is up"
    ),
];

/// The row for `key`.
pub fn setting(key: Key) -> &'static Setting {
    SETTINGS
        .iter()
        .find(|s| s.key == key)
        .expect("every key has a row")
}

impl Setting {
    /// How error messages name the setting whatever set it: `NAME (--flag)`.
    pub fn names(&self) -> String {
        match self.flag {
            Some(flag) => format!("{} (--{flag})", self.env),
            None => self.env.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_key_has_exactly_one_row_and_unique_names() {
        let (mut keys, mut envs, mut flags, mut file_keys) = (
            HashSet::new(),
            HashSet::new(),
            HashSet::new(),
            HashSet::new(),
        );
        for s in SETTINGS {
            assert!(keys.insert(s.key), "{:?} twice", s.key);
            assert!(envs.insert(s.env), "{} twice", s.env);
            if let Some(f) = s.flag {
                assert!(flags.insert(f), "flag {f} twice");
            }
            if let Some(k) = s.file_key {
                assert!(file_keys.insert(k), "file key {k} twice");
            }
        }
        assert_eq!(keys.len(), 22);
    }
}

#[cfg(test)]
mod readme {
    use super::SETTINGS;

    /// The README's configuration reference names every variable, flag and file key.
    #[test]
    fn readme_documents_every_setting() {
        let readme = include_str!("../../README.md");
        for s in SETTINGS {
            assert!(
                readme.contains(&format!("`{}`", s.env)),
                "README lacks {}",
                s.env
            );
            if let Some(f) = s.flag {
                assert!(readme.contains(&format!("`--{f}`")), "README lacks --{f}");
            }
            if let Some(k) = s.file_key {
                assert!(readme.contains(&format!("`{k}`")), "README lacks key {k}");
            }
        }
    }
}
