//! The kubeadm configuration kdc writes into each node, at [`CONFIG_PATH`], before `kubeadm
//! init` (master) and `kubeadm join` (workers). Built from typed documents, one struct per
//! kind, so every value is quoted as YAML needs and every field name is spelled once.
//!
//! The documents follow kind's (`pkg/cluster/internal/kubeadm/config.go`) field by field, with
//! the differences the README lists ("The kubeadm configuration"): kdc's nodes run runc with
//! cgroupfs, pull no images, get their pod subnets from the plan rather than from the
//! controller manager, and reach the API server by address.
//!
//! - The master gets InitConfiguration, ClusterConfiguration, KubeletConfiguration and
//!   KubeProxyConfiguration: `kubeadm init` reads all four and uploads the last two as the
//!   cluster-wide `kubelet-config` and `kube-proxy` ConfigMaps.
//! - A worker gets JoinConfiguration and KubeletConfiguration. `kubeadm join` reads only the
//!   first (it warns "Ignored configuration document" for the second) and gives the worker's
//!   kubelet the cluster's `kubelet-config`, which is the same document; it is written so the
//!   node holds what its kubelet runs with. kind writes all five documents to every node; the
//!   three a worker's kubeadm ignores are left out.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::Serialize;

use super::{KubeadmApi, Release};
use crate::config::IpMode;
use crate::plan::{Node, Plan, Role};

/// The path of the configuration in every node: kind's, so kind users find it.
pub const CONFIG_PATH: &str = "/kind/kubeadm.conf";
/// containerd's CRI socket in kdc's node image.
pub const CRI_SOCKET: &str = "unix:///run/containerd/containerd.sock";
/// The API server's port inside the cluster network.
pub const API_PORT: u16 = 6443;
/// The cluster's DNS domain.
pub const DNS_DOMAIN: &str = "cluster.local";
/// A well-known bootstrap token, as kind uses: the clusters are disposable and reachable only
/// from the engine's host.
pub const WELL_KNOWN_TOKEN: &str = "abcdef.0123456789abcdef";

const KUBELET_API: &str = "kubelet.config.k8s.io/v1beta1";
const KUBE_PROXY_API: &str = "kubeproxy.config.k8s.io/v1alpha1";

/// What the documents are made from.
pub struct KubeadmInputs<'a> {
    pub plan: &'a Plan,
    pub release: &'a Release,
    /// `FEATURE_GATES` (`Name=true,Other=false`, as the configuration validated it): the API
    /// server, controller manager, scheduler and kube-proxy.
    pub feature_gates: Option<&'a str>,
    /// `KUBELET_FEATURE_GATES`: KubeletConfiguration.featureGates.
    pub kubelet_feature_gates: Option<&'a str>,
    /// The engine's host runs cgroup v1.
    pub cgroup_v1: bool,
    /// The bootstrap token, `abcdef.0123456789abcdef` form.
    pub token: &'a str,
    /// Where the host reaches the API server (`plan.apiserver.host`): one of the certSANs.
    pub published_host: Option<IpAddr>,
}

impl KubeadmInputs<'_> {
    /// Whether kubelet must be told to run on cgroup v1 (`failCgroupV1: false`): the host runs
    /// v1 and the release refuses it by default.
    pub fn allows_cgroup_v1(&self) -> bool {
        self.cgroup_v1 && self.release.refuses_cgroup_v1()
    }
}

/// Every document kdc writes into `node`, `---`-separated.
pub fn render(inputs: &KubeadmInputs, node: &Node) -> String {
    let docs = match node.role {
        Role::ControlPlane => vec![
            yaml(&init_configuration(inputs, node)),
            yaml(&cluster_configuration(inputs)),
            yaml(&kubelet_configuration(inputs)),
            yaml(&kube_proxy_configuration(inputs)),
        ],
        Role::Worker => vec![
            yaml(&join_configuration(inputs, node)),
            yaml(&kubelet_configuration(inputs)),
        ],
    };
    docs.join("---\n")
}

/// The documents of each of `nodes`, preceded by `# <name>: /kind/kubeadm.conf` and separated
/// by `---`, so the whole is one YAML stream: what `kdc plan --kubeadm-config` prints.
pub fn render_nodes<'n>(
    inputs: &KubeadmInputs,
    nodes: impl IntoIterator<Item = &'n Node>,
) -> String {
    nodes
        .into_iter()
        .map(|node| format!("# {}: {CONFIG_PATH}\n{}", node.name, render(inputs, node)))
        .collect::<Vec<_>>()
        .join("---\n")
}

fn yaml(doc: &impl Serialize) -> String {
    serde_saphyr::to_string(doc).expect("kubeadm documents are plain strings, numbers and maps")
}

/// `extraArgs` and `kubeletExtraArgs`: a string map up to v1beta3, a list of `{name, value}`
/// from v1beta4 (where an argument may repeat).
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Args {
    Map(BTreeMap<&'static str, String>),
    List(Vec<Arg>),
}

#[derive(Debug, Serialize)]
struct Arg {
    name: &'static str,
    value: String,
}

/// `pairs` in `api`'s shape, sorted by name; `None` when there are none.
fn args(api: KubeadmApi, mut pairs: Vec<(&'static str, String)>) -> Option<Args> {
    if pairs.is_empty() {
        return None;
    }
    pairs.sort();
    Some(match api {
        KubeadmApi::V1beta3 => Args::Map(pairs.into_iter().collect()),
        KubeadmApi::V1beta4 => Args::List(
            pairs
                .into_iter()
                .map(|(name, value)| Arg { name, value })
                .collect(),
        ),
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InitConfiguration {
    api_version: &'static str,
    kind: &'static str,
    bootstrap_tokens: Vec<BootstrapToken>,
    #[serde(rename = "localAPIEndpoint")]
    local_api_endpoint: ApiEndpoint,
    node_registration: NodeRegistration,
    skip_phases: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct BootstrapToken {
    token: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiEndpoint {
    advertise_address: IpAddr,
    bind_port: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeRegistration {
    name: String,
    cri_socket: &'static str,
    image_pull_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kubelet_extra_args: Option<Args>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterConfiguration {
    api_version: &'static str,
    kind: &'static str,
    kubernetes_version: &'static str,
    cluster_name: String,
    control_plane_endpoint: String,
    networking: Networking,
    api_server: ApiServer,
    controller_manager: Component,
    scheduler: Component,
    etcd: Etcd,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Networking {
    dns_domain: &'static str,
    pod_subnet: String,
    service_subnet: IpNet,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiServer {
    #[serde(rename = "certSANs")]
    cert_sans: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_args: Option<Args>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Component {
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_args: Option<Args>,
}

#[derive(Debug, Serialize)]
struct Etcd {
    local: LocalEtcd,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalEtcd {
    data_dir: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct JoinConfiguration {
    api_version: &'static str,
    kind: &'static str,
    node_registration: NodeRegistration,
    discovery: Discovery,
    skip_phases: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Discovery {
    bootstrap_token: TokenDiscovery,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenDiscovery {
    api_server_endpoint: String,
    token: String,
    #[serde(rename = "unsafeSkipCAVerification")]
    unsafe_skip_ca_verification: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeletConfiguration {
    api_version: &'static str,
    kind: &'static str,
    cgroup_driver: &'static str,
    container_runtime_endpoint: &'static str,
    fail_swap_on: bool,
    #[serde(rename = "failCgroupV1", skip_serializing_if = "Option::is_none")]
    fail_cgroup_v1: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthz_bind_address: Option<&'static str>,
    #[serde(rename = "imageGCHighThresholdPercent")]
    image_gc_high_threshold_percent: u8,
    eviction_hard: BTreeMap<&'static str, &'static str>,
    #[serde(rename = "clusterDNS")]
    cluster_dns: Vec<IpAddr>,
    cluster_domain: &'static str,
    /// What pods with `dnsPolicy: Default` (CoreDNS) resolve with: kdc's name server, since
    /// Docker's 127.0.0.11 in the node's resolv.conf cannot be reached from a pod.
    resolv_conf: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    feature_gates: BTreeMap<String, bool>,
}

/// The resolv.conf kdc writes into every node for kubelet's `resolvConf`.
pub const POD_RESOLV_CONF: &str = "/etc/kdc/resolv.conf";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeProxyConfiguration {
    api_version: &'static str,
    kind: &'static str,
    mode: &'static str,
    #[serde(rename = "clusterCIDR")]
    cluster_cidr: String,
    conntrack: Conntrack,
    iptables: Iptables,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    feature_gates: BTreeMap<String, bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Conntrack {
    max_per_core: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Iptables {
    min_sync_period: &'static str,
}

/// The addresses of `node` that Kubernetes uses, the cluster's primary family (that of the
/// service network) first: one in ipv4 and ipv6 mode, two in dual-stack.
pub fn node_ips(plan: &Plan, node: &Node) -> Vec<IpAddr> {
    let primary_v6 = matches!(plan.service_cidr, IpNet::V6(_));
    let mut ips: Vec<IpAddr> = node
        .addresses
        .iter()
        .copied()
        .filter(|ip| match plan.ip_mode {
            IpMode::Ipv4 => ip.is_ipv4(),
            IpMode::Ipv6 => ip.is_ipv6(),
            IpMode::DualStack => true,
        })
        .collect();
    ips.sort_by_key(|ip| ip.is_ipv6() != primary_v6);
    ips
}

/// The master's address of the primary family: the API server's advertise address.
fn advertise_address(plan: &Plan) -> IpAddr {
    *node_ips(plan, plan.master())
        .first()
        .expect("a planned master has an address of the cluster's family")
}

/// `<master address>:6443`, IPv6 in brackets: where every node reaches the API server.
pub fn control_plane_endpoint(plan: &Plan) -> String {
    SocketAddr::new(advertise_address(plan), API_PORT).to_string()
}

fn node_registration(inputs: &KubeadmInputs, node: &Node) -> NodeRegistration {
    let node_ip = node_ips(inputs.plan, node)
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(",");
    NodeRegistration {
        name: node.hostname.clone(),
        cri_socket: CRI_SOCKET,
        image_pull_policy: "Never",
        kubelet_extra_args: args(inputs.release.kubeadm_api(), vec![("node-ip", node_ip)]),
    }
}

fn init_configuration(inputs: &KubeadmInputs, node: &Node) -> InitConfiguration {
    InitConfiguration {
        api_version: inputs.release.kubeadm_api().as_str(),
        kind: "InitConfiguration",
        bootstrap_tokens: vec![BootstrapToken {
            token: inputs.token.to_string(),
        }],
        local_api_endpoint: ApiEndpoint {
            advertise_address: advertise_address(inputs.plan),
            bind_port: API_PORT,
        },
        node_registration: node_registration(inputs, node),
        skip_phases: vec!["preflight"],
    }
}

fn join_configuration(inputs: &KubeadmInputs, node: &Node) -> JoinConfiguration {
    JoinConfiguration {
        api_version: inputs.release.kubeadm_api().as_str(),
        kind: "JoinConfiguration",
        node_registration: node_registration(inputs, node),
        discovery: Discovery {
            bootstrap_token: TokenDiscovery {
                api_server_endpoint: control_plane_endpoint(inputs.plan),
                token: inputs.token.to_string(),
                unsafe_skip_ca_verification: true,
            },
        },
        skip_phases: vec!["preflight"],
    }
}

/// The pod subnets as kubeadm and kube-proxy take them: comma-separated.
fn pod_subnet(plan: &Plan) -> String {
    plan.pod_cidrs
        .iter()
        .map(IpNet::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The names the API server's certificate holds: loopback (the host reaches the API through
/// a published port), every master address, and the published host.
fn cert_sans(inputs: &KubeadmInputs) -> Vec<String> {
    let plan = inputs.plan;
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if plan.ip_mode != IpMode::Ipv4 {
        sans.push("::1".into());
    }
    let addresses = plan.master().addresses.iter().chain(&inputs.published_host);
    for a in addresses.map(IpAddr::to_string) {
        if !sans.contains(&a) {
            sans.push(a);
        }
    }
    sans
}

fn cluster_configuration(inputs: &KubeadmInputs) -> ClusterConfiguration {
    let plan = inputs.plan;
    let api = inputs.release.kubeadm_api();
    let ipv6 = plan.ip_mode == IpMode::Ipv6;
    let gates: Vec<(&'static str, String)> = inputs
        .feature_gates
        .map(|g| ("feature-gates", gates_arg(&gates(g))))
        .into_iter()
        .collect();
    let mut controller_manager = gates.clone();
    controller_manager.push(("allocate-node-cidrs", "false".into()));
    controller_manager.push(("enable-hostpath-provisioner", "true".into()));
    let mut scheduler = gates.clone();
    if ipv6 {
        controller_manager.push(("bind-address", "::".into()));
        scheduler.push(("bind-address", "::1".into()));
    }
    ClusterConfiguration {
        api_version: api.as_str(),
        kind: "ClusterConfiguration",
        kubernetes_version: inputs.release.version,
        cluster_name: plan.cluster.context.clone(),
        control_plane_endpoint: control_plane_endpoint(plan),
        networking: Networking {
            dns_domain: DNS_DOMAIN,
            pod_subnet: pod_subnet(plan),
            service_subnet: plan.service_cidr,
        },
        api_server: ApiServer {
            cert_sans: cert_sans(inputs),
            extra_args: args(api, gates),
        },
        controller_manager: Component {
            extra_args: args(api, controller_manager),
        },
        scheduler: Component {
            extra_args: args(api, scheduler),
        },
        etcd: Etcd {
            local: LocalEtcd {
                data_dir: "/var/lib/etcd",
            },
        },
    }
}

fn kubelet_configuration(inputs: &KubeadmInputs) -> KubeletConfiguration {
    let ipv6 = inputs.plan.ip_mode == IpMode::Ipv6;
    KubeletConfiguration {
        api_version: KUBELET_API,
        kind: "KubeletConfiguration",
        cgroup_driver: "cgroupfs",
        container_runtime_endpoint: CRI_SOCKET,
        fail_swap_on: false,
        fail_cgroup_v1: inputs.allows_cgroup_v1().then_some(false),
        address: ipv6.then_some("::"),
        healthz_bind_address: ipv6.then_some("::"),
        image_gc_high_threshold_percent: 100,
        eviction_hard: ["nodefs.available", "nodefs.inodesFree", "imagefs.available"]
            .into_iter()
            .map(|signal| (signal, "0%"))
            .collect(),
        cluster_dns: vec![inputs.plan.dns_service_ip],
        cluster_domain: DNS_DOMAIN,
        resolv_conf: POD_RESOLV_CONF,
        feature_gates: inputs.kubelet_feature_gates.map(gates).unwrap_or_default(),
    }
}

fn kube_proxy_configuration(inputs: &KubeadmInputs) -> KubeProxyConfiguration {
    KubeProxyConfiguration {
        api_version: KUBE_PROXY_API,
        kind: "KubeProxyConfiguration",
        mode: "iptables",
        cluster_cidr: pod_subnet(inputs.plan),
        conntrack: Conntrack { max_per_core: 0 },
        iptables: Iptables {
            min_sync_period: "1s",
        },
        feature_gates: inputs.feature_gates.map(gates).unwrap_or_default(),
    }
}

/// `Name=true,Other=false` as a sorted map. The configuration has validated the list
/// (`config::parse_gates`); anything else is a caller's bug.
pub fn gates(list: &str) -> BTreeMap<String, bool> {
    list.split(',')
        .map(|gate| {
            let (name, value) = gate
                .trim()
                .split_once('=')
                .unwrap_or_else(|| panic!("feature gate {gate:?} is not Name=true|false"));
            let on = value
                .parse()
                .unwrap_or_else(|_| panic!("feature gate {gate:?} is not Name=true|false"));
            (name.to_string(), on)
        })
        .collect()
}

/// The `--feature-gates` value of sorted `gates`.
fn gates_arg(gates: &BTreeMap<String, bool>) -> String {
    gates
        .iter()
        .map(|(name, on)| format!("{name}={on}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests;
