//! The cluster plan: a pure function from [`Config`] to [`Plan`].
//!
//! Everything about a cluster — its identity, names, network, node addresses, pod subnets, service
//! network, DNS64/NAT64 — derives from here and nowhere else, following kubeadm-dind-cluster's
//! rules (seed-spec §4–§5) so that existing CI jobs get the same addresses, minus its bugs (§9):
//! every problem is fatal and reported together, numbers are checked as numbers, and a labelled
//! cluster without `CLUSTER_ID` gets a stable ID instead of a new random one per run.
//!
//! The JSON form of [`Plan`] (`kdc plan --json`) is a stable interface documented in the README.

mod address;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

use crate::config::{CniPlugin, Config, DEFAULT_LABEL, IpMode, Key, Problem, Problems, setting};

pub use address::host;

/// Host part of the bind9 (DNS64) container in the IPv6 management subnet.
pub const DNS64_HOST: u128 = 0x100;
/// Host part of the tayga (NAT64) container in the IPv6 management subnet.
pub const NAT64_HOST: u128 = 0x200;
/// Host part of the cluster DNS service in the service CIDR.
pub const DNS_SERVICE_HOST: u128 = 10;
/// The longest host name Linux accepts (`HOST_NAME_MAX`).
pub const MAX_HOSTNAME: usize = 64;

/// Everything about one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub cluster: Identity,
    pub ip_mode: IpMode,
    pub network: Network,
    pub nodes: Vec<Node>,
    pub service_cidr: IpNet,
    pub dns_service_ip: IpAddr,
    pub pod_cidrs: Vec<IpNet>,
    pub dns64: Option<Dns64>,
    pub nat64: Option<Nat64>,
    /// kdc's name server for the cluster (bind9), in every IP mode.
    pub dns: Dns,
    /// The way from the nodes to the test targets: tayga (NAT64) in ipv6 mode, else a gateway.
    pub router: Router,
    /// The test targets, on a network every cluster shares.
    pub targets: Targets,
    pub apiserver: ApiServer,
    pub cni_plugin: CniPlugin,
    pub image: String,
    pub k8s_version: String,
}

/// Who the cluster is: the label its resources carry and the names derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// `DIND_LABEL` after the identity rules: the default label, `cluster-<id>`, `<label>` or
    /// `<label>-<id>`. It is also the key of the Docker label every resource carries.
    pub label: String,
    pub id: u8,
    /// Appended to every name: empty for the default cluster, else `-<label>`.
    pub suffix: String,
    /// kubeconfig cluster and context name: `dind<suffix>`.
    pub context: String,
}

/// The cluster's Docker network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Network {
    /// `kubeadm-dind-net<suffix>`.
    pub name: String,
    /// Management subnets (IPv4 first), then in ipv6 mode the NAT64 IPv4 /16.
    pub subnets: Vec<IpNet>,
    /// One gateway per subnet, in the same order: host part 1.
    pub gateways: Vec<IpAddr>,
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
        }
    }
}

/// One node container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// `kube-master<suffix>` or `kube-node-<n><suffix>`; also the container name.
    pub name: String,
    pub role: Role,
    pub hostname: String,
    /// Static addresses, one per management subnet (IPv4 first).
    pub addresses: Vec<IpAddr>,
    /// This node's pod subnets, one per pod CIDR.
    pub pod_cidrs: Vec<IpNet>,
    /// The named volume on the node's `/var`: `kubeadm-dind-<name>`.
    pub volume: String,
    /// 1 for the master, `n + 1` for `kube-node-<n>`: numbers its addresses and pod subnets.
    #[serde(skip)]
    pub node_id: u16,
}

/// The bind9 DNS64 container (ipv6 mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dns64 {
    /// `bind9<suffix>`.
    pub container: String,
    pub address: Ipv6Addr,
    /// The DNS64/NAT64 prefix that synthesised AAAA records use.
    pub prefix: Ipv6Net,
}

/// The tayga NAT64 container (ipv6 mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nat64 {
    /// `tayga<suffix>`.
    pub container: String,
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    /// tayga's dynamic pool: IPv6 clients are mapped to these IPv4 addresses.
    pub pool: Ipv4Net,
    /// The IPv4 /16 added to the cluster network for NAT64 traffic.
    pub ipv4_subnet: Ipv4Net,
}

/// The cluster's name server: bind9, serving the targets' zone and forwarding the rest; in ipv6
/// mode it synthesises AAAA records (DNS64) — it is then the original's DNS64 container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dns {
    /// `bind9<suffix>`.
    pub container: String,
    /// One address per management family: host part 0x100 of an IPv6 subnet (the original's),
    /// the last but one of an IPv4 subnet.
    pub addresses: Vec<IpAddr>,
    /// The DNS64 prefix (ipv6 mode only).
    pub dns64: Option<Ipv6Net>,
    /// Real AAAA records win over synthesised ones (`DIND_ALLOW_AAAA_USE`; always in
    /// dual-stack, never in ipv4).
    pub real_aaaa: bool,
    /// Where names outside the targets' zone are asked: in ipv6 mode `REMOTE_DNS64_V4SERVER`
    /// through NAT64, else Docker's resolver.
    pub upstream: IpAddr,
}

/// What a router does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouterKind {
    /// tayga: translates the DNS64 prefix to IPv4 (ipv6 mode).
    Nat64,
    /// Forwards and masquerades (ipv4 and dual-stack mode).
    Gateway,
}

/// The cluster's router to the targets network, attached to both networks; it masquerades
/// there, so neither the targets nor the host need routes back to any cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Router {
    /// `tayga<suffix>` (NAT64) or `kdc-gw<suffix>`.
    pub container: String,
    pub kind: RouterKind,
    /// On the cluster network: host part 0x200 of an IPv6 subnet, the last of an IPv4 subnet;
    /// tayga also `P.0.200`.
    pub addresses: Vec<IpAddr>,
}

/// A name the suites look up and ping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub name: String,
    pub container: String,
    pub addresses: Vec<IpAddr>,
}

/// kdc's own targets, so that suites need no internet: an IPv4-only host and a dual-stack one
/// in the zone `kdc.test` (RFC 6761 reserves `.test`), on one network all clusters share. The
/// subnets are outside everything a plan can use (198.18.0.0/15 is the benchmarking range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Targets {
    pub network: String,
    pub subnets: Vec<IpNet>,
    pub zone: String,
    pub ipv4only: Target,
    pub dualstack: Target,
}

/// The targets, the same for every cluster (a documented, stable interface).
pub fn targets() -> Targets {
    let v4 = |d| IpAddr::V4(Ipv4Addr::new(198, 18, 0, d));
    let v6 = |h| IpAddr::V6(Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, h));
    Targets {
        network: "kdc-targets".into(),
        subnets: vec![
            "198.18.0.0/24".parse().expect("valid"),
            "fd00:198:18::/64".parse().expect("valid"),
        ],
        zone: "kdc.test".into(),
        ipv4only: Target {
            name: "ipv4only.kdc.test".into(),
            container: "kdc-target-ipv4only".into(),
            addresses: vec![v4(10)],
        },
        dualstack: Target {
            name: "dualstack.kdc.test".into(),
            container: "kdc-target-dualstack".into(),
            addresses: vec![v4(11), v6(0x11)],
        },
    }
}

/// Where the API server is published on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiServer {
    /// `::1` when the service network is IPv6, else `127.0.0.1`.
    pub host: IpAddr,
    /// `APISERVER_PORT`, or null for a free port picked at `up`.
    pub port: Option<u16>,
}

impl Identity {
    /// The command line that runs `kdc <verb>` on this cluster: `kdc clean`,
    /// `CLUSTER_ID=20 kdc clean`, `DIND_LABEL=third kdc clean`.
    pub fn command(&self, verb: &str) -> String {
        if self.label == DEFAULT_LABEL {
            format!("kdc {verb}")
        } else if self.label == format!("cluster-{}", self.id) {
            format!("CLUSTER_ID={} kdc {verb}", self.id)
        } else {
            format!("DIND_LABEL={} kdc {verb}", self.label)
        }
    }
}

impl Plan {
    /// The master node (always the first).
    pub fn master(&self) -> &Node {
        &self.nodes[0]
    }
}

/// Computes the plan, collecting every problem.
pub fn plan(cfg: &Config) -> Result<Plan, Problems> {
    let mut p = Planner {
        problems: Vec::new(),
    };
    let cluster = identity(cfg);
    let id = cluster.id;
    let suffix = cluster.suffix.clone();

    let mgmt: Vec<IpNet> = cfg
        .mgmt_cidrs
        .iter()
        .filter_map(|c| p.inject_cluster_id(c, id))
        .collect();
    let mgmt6 = mgmt.iter().find_map(|n| match n {
        IpNet::V6(n) => Some(*n),
        IpNet::V4(_) => None,
    });

    let service_cidr = cfg.service_cidr;
    p.check_network(&service_cidr, Key::ServiceCidr);
    let dns_service_ip = p.host_in(
        &service_cidr,
        DNS_SERVICE_HOST,
        Key::ServiceCidr,
        "the DNS service address (host part 10)",
    );

    let pod_cidrs: Vec<IpNet> = cfg.pod_cidrs.iter().map(|c| c.net).collect();
    for pod in &pod_cidrs {
        p.check_pod_cidr(pod, cfg.cni_plugin);
    }

    let (dns64, nat64) = match (cfg.ip_mode, mgmt6) {
        (IpMode::Ipv6, Some(mgmt6)) => p.dns64_nat64(cfg, id, &suffix, mgmt6),
        _ => (None, None),
    };

    let max_nodes = p.max_nodes(cfg, &mgmt, &pod_cidrs);
    if u32::from(cfg.num_nodes) > max_nodes {
        p.problem(
            Key::NumNodes,
            format!("{} worker nodes do not fit the address plan: at most {max_nodes} (limited by the management and pod CIDRs)", cfg.num_nodes),
        );
    }

    // Node names are also host names, and Linux (so Docker) refuses a host name longer than
    // 64 bytes at container start ("sethostname: invalid argument"): the 50-character label
    // limit alone does not guarantee that once `-<id>` and `kube-node-<n>-` are added.
    let longest = if cfg.num_nodes == 0 {
        format!("kube-master{suffix}")
    } else {
        format!("kube-node-{}{suffix}", cfg.num_nodes)
    };
    if longest.len() > MAX_HOSTNAME {
        p.problem(
            Key::Label,
            format!(
                "the host name {longest} has {} characters, more than Linux allows ({MAX_HOSTNAME}); use a shorter DIND_LABEL",
                longest.len()
            ),
        );
    }

    let mut network = Network {
        name: format!("kubeadm-dind-net{suffix}"),
        subnets: mgmt.clone(),
        gateways: Vec::new(),
    };
    for net in &mgmt {
        network.gateways.push(host(net, 1));
    }
    if let Some(nat) = &nat64 {
        network.subnets.push(IpNet::V4(nat.ipv4_subnet));
        network.gateways.push(host(&IpNet::V4(nat.ipv4_subnet), 1));
    }

    p.check_overlaps(
        &mgmt,
        &service_cidr,
        &pod_cidrs,
        dns64.as_ref(),
        nat64.as_ref(),
    );

    if !p.problems.is_empty() {
        return Err(Problems {
            subject: "cluster plan",
            list: p.problems,
        });
    }

    let nodes = (0..=cfg.num_nodes)
        .map(|k| {
            let node_id = k + 1;
            let (name, role) = if k == 0 {
                (format!("kube-master{suffix}"), Role::ControlPlane)
            } else {
                (format!("kube-node-{k}{suffix}"), Role::Worker)
            };
            Node {
                hostname: name.clone(),
                volume: format!("kubeadm-dind-{name}"),
                addresses: mgmt
                    .iter()
                    .map(|net| host(net, u128::from(node_id) + 1))
                    .collect(),
                pod_cidrs: pod_cidrs
                    .iter()
                    .map(|pod| address::node_pod_subnet(pod, node_id))
                    .collect(),
                name,
                role,
                node_id,
            }
        })
        .collect();

    let dns = Dns {
        container: format!("bind9{suffix}"),
        addresses: mgmt
            .iter()
            .map(|net| match net {
                IpNet::V4(_) => host(net, address::usable_hosts(net) - 2),
                IpNet::V6(_) => host(net, DNS64_HOST),
            })
            .collect(),
        dns64: dns64.as_ref().map(|d| d.prefix),
        real_aaaa: cfg.allow_aaaa_use,
        upstream: if cfg.ip_mode == IpMode::Ipv6 {
            IpAddr::V4(cfg.remote_dns64_v4server)
        } else {
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11))
        },
    };
    let router = match &nat64 {
        Some(n) => Router {
            container: n.container.clone(),
            kind: RouterKind::Nat64,
            addresses: vec![IpAddr::V4(n.ipv4), IpAddr::V6(n.ipv6)],
        },
        None => Router {
            container: format!("kdc-gw{suffix}"),
            kind: RouterKind::Gateway,
            addresses: mgmt
                .iter()
                .map(|net| match net {
                    IpNet::V4(_) => host(net, address::usable_hosts(net) - 1),
                    IpNet::V6(_) => host(net, NAT64_HOST),
                })
                .collect(),
        },
    };
    let apiserver_host = match service_cidr {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    Ok(Plan {
        cluster,
        ip_mode: cfg.ip_mode,
        network,
        nodes,
        service_cidr,
        dns_service_ip: dns_service_ip.expect("no problems means a DNS service address"),
        pod_cidrs,
        dns64,
        nat64,
        dns,
        router,
        targets: targets(),
        apiserver: ApiServer {
            host: apiserver_host,
            port: cfg.apiserver_port,
        },
        cni_plugin: cfg.cni_plugin,
        image: cfg.image.clone(),
        k8s_version: cfg.k8s_version.clone(),
    })
}

/// The suffix of names derived from a cluster label: none for the default label.
pub fn suffix_for(label: &str) -> String {
    if label == DEFAULT_LABEL {
        String::new()
    } else {
        format!("-{label}")
    }
}

/// The kubeconfig cluster and context name of the cluster labelled `label`: `dind<suffix>`.
/// `clean --all` knows only labels, so this must depend on nothing else.
pub fn context_for(label: &str) -> String {
    format!("dind{}", suffix_for(label))
}

/// The identity rules of seed-spec §4.1, with two fixes: a label without a cluster ID gets a
/// stable ID instead of a new random one on every run, so a second `up` finds the same subnets;
/// and the final label alone decides the ID, so two clusters with different IDs can never share
/// names: a label ending in `-<N>` (N 1-254), such as `foo-3` or `cluster-20`, means ID N — the
/// same cluster as `DIND_LABEL=foo CLUSTER_ID=3` or `CLUSTER_ID=20`.
pub fn identity(cfg: &Config) -> Identity {
    let explicit = cfg.cluster_id.filter(|id| *id != 0);
    let (label, id) = match (&cfg.label, explicit) {
        (None, None) => (DEFAULT_LABEL.to_string(), 0),
        (None, Some(id)) => (format!("cluster-{id}"), id),
        (Some(l), None) => (l.clone(), numbered(l).unwrap_or_else(|| label_id(l))),
        (Some(l), Some(id)) => (format!("{l}-{id}"), id),
    };
    let suffix = suffix_for(&label);
    Identity {
        context: context_for(&label),
        label,
        id,
        suffix,
    }
}

/// `N` of a label `<name>-<N>` with N 1-254 written without leading zeros.
fn numbered(label: &str) -> Option<u8> {
    let (name, n) = label.rsplit_once('-')?;
    let id: u8 = n.parse().ok().filter(|id| (1..=254).contains(id))?;
    (!name.is_empty() && id.to_string() == n).then_some(id)
}

/// The cluster ID of a labelled cluster without `CLUSTER_ID` (and no `-<N>` ending): FNV-1a (32 bit) of the label,
/// mod 12, plus 1. Stable across runs and machines; documented in the README.
pub fn label_id(label: &str) -> u8 {
    let mut h: u32 = 0x811c_9dc5;
    for b in label.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % 12) as u8 + 1
}

struct Planner {
    problems: Vec<Problem>,
}

impl Planner {
    fn problem(&mut self, key: Key, message: String) {
        self.problems.push(Problem {
            what: setting(key).names(),
            message,
        });
    }

    /// Injects the cluster ID into a management CIDR (seed-spec §4.2 step 4): an IPv4 /24 gets
    /// the ID as its third octet; an IPv6 CIDR written `<prefix>::/<n>` gets `:<id>` inserted
    /// before the `::` (as text: ID 10 is hextet 0x10, exactly as the original). Where the
    /// original silently shared one subnet between clusters, kdc refuses.
    fn inject_cluster_id(&mut self, cidr: &crate::config::Cidr, id: u8) -> Option<IpNet> {
        let injected = match cidr.net {
            IpNet::V4(v4) if v4.prefix_len() == 24 => {
                let [a, b, _, _] = v4.addr().octets();
                IpNet::V4(Ipv4Net::new(Ipv4Addr::new(a, b, id, 0), 24).expect("/24 is valid"))
            }
            // With ID 0 the original's `:0` insertion yields the same network, or no valid
            // address at all when `::` stands for a single zero group (`fd00:1:2:3:4:5:6::/112`
            // would become `...:6:0::`); such a CIDR is then used as given, like IPv4 ones.
            IpNet::V6(_) if id != 0 && cidr.text.contains("::/") => {
                let (head, len) = cidr.text.split_once("::/").expect("checked");
                let text = format!("{head}:{id}::/{len}");
                match text.parse::<IpNet>() {
                    Ok(net) => net,
                    Err(_) => {
                        self.problem(Key::MgmtCidrs, format!(
                            "{cidr}: inserting cluster ID {id} gives '{text}', which is not a CIDR; use a shorter prefix such as fd00:20::/64"));
                        return None;
                    }
                }
            }
            net if id == 0 => net,
            IpNet::V4(_) => {
                self.problem(Key::MgmtCidrs, format!(
                    "{cidr} is not a /24, so cluster ID {id} cannot get its own subnet (kdc puts the ID in the third octet of a /24); use a /24 such as 10.192.0.0/24"));
                return None;
            }
            IpNet::V6(_) => {
                self.problem(Key::MgmtCidrs, format!(
                    "{cidr} is not written as <prefix>::/<len>, so cluster ID {id} cannot be inserted; write it as, for example, fd00:20::/64"));
                return None;
            }
        };
        if injected.trunc() != injected {
            let what = if id == 0 {
                String::new()
            } else {
                format!(" (after inserting cluster ID {id}: {injected})")
            };
            self.problem(Key::MgmtCidrs, format!(
                "{cidr}{what} has bits set beyond its prefix length; use the network address {} or a longer prefix",
                injected.trunc()));
            return None;
        }
        if address::usable_hosts(&injected) < 3 {
            self.problem(
                Key::MgmtCidrs,
                format!("{injected} is too small for a gateway and a master; use /24 or /64"),
            );
            return None;
        }
        Some(injected)
    }

    fn check_network(&mut self, net: &IpNet, key: Key) -> bool {
        if net.trunc() != *net {
            self.problem(
                key,
                format!(
                    "{net} has bits set beyond its prefix length; did you mean {}?",
                    net.trunc()
                ),
            );
            return false;
        }
        true
    }

    /// `host(net, n)` if it is a usable address of `net`, else a problem naming `what`.
    fn host_in(&mut self, net: &IpNet, n: u128, key: Key, what: &str) -> Option<IpAddr> {
        if n < address::usable_hosts(net) {
            Some(host(net, n))
        } else {
            self.problem(key, format!("{net} is too small to hold {what}"));
            None
        }
    }

    /// Pod CIDR rules of seed-spec §4.4: IPv4 must be a /16 (each node gets `<a>.<b>.<id>.0/24`);
    /// IPv6 only with bridge or ptp, and each node gets the next 8 bits (`/<n+8>`).
    fn check_pod_cidr(&mut self, pod: &IpNet, cni: CniPlugin) {
        if !self.check_network(pod, Key::PodNetworkCidr) {
            return;
        }
        match pod {
            IpNet::V4(v4) if v4.prefix_len() != 16 => self.problem(Key::PodNetworkCidr, format!(
                "{pod}: IPv4 pod CIDRs must be /16 (each node gets a /24 numbered by its node ID), such as 10.244.0.0/16")),
            IpNet::V6(_) if !cni.supports_ipv6_pods() => self.problem(Key::PodNetworkCidr, format!(
                "{pod}: IPv6 pod networks are only supported by the bridge and ptp CNI plugins (CNI_PLUGIN is {})",
                cni.as_str())),
            IpNet::V6(v6) if v6.prefix_len() > 120 => self.problem(Key::PodNetworkCidr, format!(
                "{pod}: an IPv6 pod CIDR needs room for 8 bits of node number and a subnet; use /120 or shorter, such as fd00:40::/72")),
            _ => {}
        }
    }

    /// DNS64 (bind9) and NAT64 (tayga) of seed-spec §5.1 and §5.4.
    fn dns64_nat64(
        &mut self,
        cfg: &Config,
        id: u8,
        suffix: &str,
        mgmt6: Ipv6Net,
    ) -> (Option<Dns64>, Option<Nat64>) {
        let [a, b] = cfg.nat64_v4_subnet_prefix;
        let given = format!("{a}.{b}");
        let b = u16::from(b) + u16::from(id);
        let with_id = if id == 0 {
            String::new()
        } else {
            format!(" plus CLUSTER_ID {id} gives {a}.{b}, which")
        };
        let nat_ok = match a {
            10 if b <= 253 => true,
            10 => {
                self.problem(Key::Nat64V4SubnetPrefix, format!(
                    "{given}{with_id} is too large for the 10.0.0.0/8 private network (second octet at most 253); use a smaller second octet or CLUSTER_ID"));
                false
            }
            172 if (16..=31).contains(&b) => true,
            172 => {
                self.problem(Key::Nat64V4SubnetPrefix, format!(
                    "{given}{with_id} is outside the 172.16.0.0/12 private network (second octet 16-31); with 172.18 CLUSTER_ID can be at most 13, or use a 10.x prefix such as 10.100"));
                false
            }
            _ => {
                self.problem(Key::Nat64V4SubnetPrefix, format!(
                    "{given} is not in the 10.0.0.0/8 or 172.16.0.0/12 private networks; use, for example, 172.18 or 10.100"));
                false
            }
        };

        let prefix = match Ipv6Net::new(cfg.dns64_prefix, cfg.dns64_prefix_size) {
            Ok(net) if net.trunc() == net => Some(net),
            Ok(net) => {
                self.problem(
                    Key::Dns64Prefix,
                    format!(
                        "{net} has bits set beyond /{}; use {} or a longer DNS64_PREFIX_SIZE",
                        net.prefix_len(),
                        net.trunc()
                    ),
                );
                None
            }
            Err(_) => None,
        };
        let well_known = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);
        if let Some(prefix) = prefix.filter(|p| p.addr() == well_known) {
            self.problem(Key::Dns64Prefix, format!(
                "{prefix} is the well-known NAT64 prefix, which tayga refuses to use with private IPv4 addresses such as its pool (RFC 6052 §3.1); use a ULA prefix such as fd00:10:64:ff9b::"));
        }
        if NAT64_HOST >= address::usable_hosts(&IpNet::V6(mgmt6)) {
            self.problem(Key::MgmtCidrs, format!(
                "{mgmt6} is too small for the DNS64 and NAT64 containers (host parts 0x100 and 0x200); use /118 or shorter"));
            return (None, None);
        }
        let dns64 = prefix.map(|prefix| Dns64 {
            container: format!("bind9{suffix}"),
            address: address::host6(&mgmt6, DNS64_HOST),
            prefix,
        });
        let nat64 = nat_ok.then(|| {
            let b = b as u8;
            Nat64 {
                container: format!("tayga{suffix}"),
                ipv4: Ipv4Addr::new(a, b, 0, 200),
                ipv6: address::host6(&mgmt6, NAT64_HOST),
                pool: Ipv4Net::new(Ipv4Addr::new(a, b, 0, 128), 25).expect("valid"),
                ipv4_subnet: Ipv4Net::new(Ipv4Addr::new(a, b, 0, 0), 16).expect("valid"),
            }
        });
        (dns64, nat64)
    }

    /// The most workers the plan can hold: node `k` uses management host part `k + 2` and pod
    /// subnet number `k + 1` (8 bits); IPv6 host parts stop below bind9's 0x100, and the last two
    /// IPv4 host parts are bind9's and the gateway's.
    fn max_nodes(&self, _cfg: &Config, mgmt: &[IpNet], pods: &[IpNet]) -> u32 {
        let mut max = u32::MAX;
        for net in mgmt {
            // The highest host part a node may have.
            let last = match net {
                IpNet::V4(_) => address::usable_hosts(net).saturating_sub(3),
                IpNet::V6(_) => (DNS64_HOST - 1).min(address::usable_hosts(net) - 1),
            };
            max = max.min(u32::try_from(last.saturating_sub(2)).unwrap_or(u32::MAX));
        }
        if !pods.is_empty() {
            max = max.min(254); // node IDs 1..=255 in 8 bits
        }
        max
    }

    /// No two of the plan's networks may overlap: the nodes would route one into the other.
    fn check_overlaps(
        &mut self,
        mgmt: &[IpNet],
        service: &IpNet,
        pods: &[IpNet],
        dns64: Option<&Dns64>,
        nat64: Option<&Nat64>,
    ) {
        let mut nets: Vec<(Key, IpNet)> = mgmt.iter().map(|n| (Key::MgmtCidrs, *n)).collect();
        nets.push((Key::ServiceCidr, *service));
        nets.extend(pods.iter().map(|n| (Key::PodNetworkCidr, *n)));
        if let Some(d) = dns64 {
            nets.push((Key::Dns64Prefix, IpNet::V6(d.prefix)));
        }
        if let Some(n) = nat64 {
            nets.push((Key::Nat64V4SubnetPrefix, IpNet::V4(n.ipv4_subnet)));
        }
        for t in targets().subnets {
            for (k, n) in &nets {
                if n.contains(&t.network()) || t.contains(&n.network()) {
                    self.problem(*k, format!(
                        "{n} overlaps {t}, which kdc's targets network (ipv4only.kdc.test, dualstack.kdc.test) uses; choose a network outside 198.18.0.0/24 and fd00:198:18::/64"));
                }
            }
        }
        for (i, (ka, a)) in nets.iter().enumerate() {
            for (kb, b) in &nets[i + 1..] {
                if a.contains(&b.network()) || b.contains(&a.network()) {
                    self.problem(
                        *kb,
                        format!(
                            "{b} overlaps {a} of {}; choose networks that do not overlap",
                            setting(*ka).names()
                        ),
                    );
                }
            }
        }
    }
}

/// The plan of environment-style settings (`[("IP_MODE", "ipv6")]`), for the tests of what is
/// built on plans; panics, naming them, when they are not valid.
#[cfg(test)]
pub(crate) fn for_env(vars: &[(&str, &str)]) -> Plan {
    let resolved =
        crate::config::resolve(&crate::config::Inputs::default().with_env(vars.iter().copied()))
            .unwrap_or_else(|e| panic!("config {vars:?} should be valid: {e}"));
    plan(&resolved.config).unwrap_or_else(|e| panic!("plan {vars:?} should be valid: {e}"))
}

#[cfg(test)]
mod tests;
