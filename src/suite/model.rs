//! What a suite file says, after parsing and checking: suites, checks, places, actions and
//! expectations. Templates are kept unresolved here; [`super::expand`] resolves them against a
//! cluster.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{CniPlugin, IpMode, Layer};

use super::template::Template;

/// Where a suite came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `suites/<name>.toml` of the repository, compiled into kdc.
    Embedded,
    /// A user's `--suite-file`.
    File(PathBuf),
}

impl Source {
    /// The file as error messages and `test list` name it: `suites/ipv6.toml` or the path given.
    pub fn file(&self, name: &str) -> String {
        match self {
            Source::Embedded => format!("suites/{name}.toml"),
            Source::File(path) => path.display().to_string(),
        }
    }
}

/// One suite file.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The file stem: `ipv6` for `suites/ipv6.toml`.
    pub name: String,
    pub description: String,
    pub source: Source,
    /// The `[cluster]` variables (environment names, values as text), in file order; every name
    /// is a kdc setting (checked at parse time).
    pub cluster: Vec<(String, String)>,
    pub checks: Vec<Check>,
}

impl Suite {
    /// The `[cluster]` variables as a configuration layer: it wins over the environment and
    /// loses to flags, and errors about its values name `suite <name>: <VAR>`.
    pub fn layer(&self) -> Layer {
        Layer::named(
            "suite",
            &self.name,
            self.cluster.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .expect("the parser accepts only kdc settings in [cluster]")
    }

    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// One `[[check]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Unique in the suite, `[a-z0-9-]+`.
    pub id: String,
    /// One line, shown by `test list` and in JUnit.
    pub what: String,
    pub on: Vec<Place>,
    pub action: Action,
    /// The expectation, with the action's default filled in when the file gives none.
    pub expect: Expect,
    /// The IP modes the check applies to; `None` is all. Elsewhere it makes no cases at all.
    pub modes: Option<Vec<IpMode>>,
    pub when: When,
    pub timeout: Duration,
}

/// The default time a case may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a check runs, as written in `on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The machine kdc runs on (DNS and ICMP done by kdc itself).
    Host,
    /// Every node.
    Nodes,
    Node(NodeRef),
    /// The pod of every node: its CNI sandbox (network namespace `pod`), or on Kubernetes
    /// kdc's pod on it.
    Pods,
    Pod(NodeRef),
}

impl Place {
    /// The forms `on` accepts, for error messages.
    pub const FORMS: &'static str =
        "host, nodes, pods, node:master, node:node-N, pod:master, pod:node-N";

    pub fn parse(s: &str) -> Option<Place> {
        Some(match s {
            "host" => Place::Host,
            "nodes" => Place::Nodes,
            "pods" => Place::Pods,
            _ => match s.split_once(':')? {
                ("node", r) => Place::Node(NodeRef::parse(r)?),
                ("pod", r) => Place::Pod(NodeRef::parse(r)?),
                _ => return None,
            },
        })
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Host => f.write_str("host"),
            Place::Nodes => f.write_str("nodes"),
            Place::Pods => f.write_str("pods"),
            Place::Node(r) => write!(f, "node:{r}"),
            Place::Pod(r) => write!(f, "pod:{r}"),
        }
    }
}

/// A node named the way suites name them: `master`, or `node-N` for the N-th worker
/// (`kube-node-N<suffix>`), so a suite works for any cluster label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeRef {
    Master,
    Worker(u16),
}

impl NodeRef {
    pub fn parse(s: &str) -> Option<NodeRef> {
        if s == "master" {
            return Some(NodeRef::Master);
        }
        let n = s.strip_prefix("node-")?;
        if n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok().filter(|n| *n > 0).map(NodeRef::Worker)
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Master => f.write_str("master"),
            NodeRef::Worker(n) => write!(f, "node-{n}"),
        }
    }
}

/// Conditions on the cluster; a case whose conditions are not met is skipped with a reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct When {
    /// `DIND_ALLOW_AAAA_USE` must be this (as resolved: forced true in dual-stack mode).
    pub allow_aaaa: Option<bool>,
    /// `CNI_PLUGIN` must be one of these.
    pub cni: Option<Vec<CniPlugin>>,
    /// The cluster must (or must not) hold host routes (`--host-routes`).
    pub host_routes: Option<bool>,
}

impl When {
    pub fn is_empty(&self) -> bool {
        self.allow_aaaa.is_none() && self.cni.is_none() && self.host_routes.is_none()
    }
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The DNS record type of the family's addresses.
    pub fn record(self) -> &'static str {
        match self {
            Family::V4 => "A",
            Family::V6 => "AAAA",
        }
    }

    /// `ping`'s flag.
    pub fn flag(self) -> &'static str {
        match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }

    /// As messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    /// As templates spell it (`{dns.ipv4}`).
    pub fn key(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// How a node or pod looks a name up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `getent ahostsv4|ahostsv6`: the node's resolv.conf and nsswitch, what applications get.
    Getent,
    /// `dig +short`: asks the name server in resolv.conf directly; tells "no answer" (exit 9)
    /// from "no address" (exit 0, nothing printed), which getent cannot.
    Dig,
    /// On the host: kdc asks the cluster's bind9 itself (the runner's resolver).
    Native,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Getent => "getent",
            Via::Dig => "dig",
            Via::Native => "native",
        }
    }
}

/// What a check does (exactly one per check). Each kind lives in `checks/<kind>.rs`.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Look a name up; the answer is its addresses of one family.
    Lookup {
        name: Template,
        family: Family,
        /// `None`: getent on nodes, dig in pods.
        via: Option<Via>,
    },
    /// One ICMP echo.
    Ping { to: Template, family: Family },
    /// A command in a node or pod.
    Command { argv: Vec<Template> },
}

impl Action {
    /// The key that introduces the action in a suite file.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Lookup { .. } => "lookup",
            Action::Ping { .. } => "ping",
            Action::Command { .. } => "command",
        }
    }
}

/// What a check expects (exactly one, except `exit` with `output_*` for commands).
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Lookups: non-empty, and every address starts with the text.
    StartsWith(Template),
    /// Lookups: non-empty, and no address starts with the text.
    NotStartsWith(Template),
    /// Lookups: the answer as a set equals these comma-separated addresses.
    Equals(Template),
    /// Lookups: the answer as a set equals that of another lookup of the suite.
    SameAs(String),
    Empty,
    Nonempty,
    /// Pings.
    Reachable,
    Unreachable,
    /// Commands: the exit code (0 unless given), and optionally the output.
    Exit {
        code: i64,
        output: Option<OutputExpect>,
    },
}

/// An expectation on a command's output (stdout and stderr, trimmed).
#[derive(Debug, Clone, PartialEq)]
pub enum OutputExpect {
    Contains(Template),
    Equals(Template),
}

/// A timeout as suite files write it: `500ms`, `10s`, `1m`.
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms != 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Parses `500ms`, `10s`, `1m` (a whole number and a unit); `None` for anything else or zero.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    if n.is_empty() {
        return None;
    }
    let n: u64 = n.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// The CNI plugins by name, for `when.cni`.
pub(crate) const CNI_PLUGINS: [CniPlugin; 7] = [
    CniPlugin::Bridge,
    CniPlugin::Ptp,
    CniPlugin::Flannel,
    CniPlugin::Calico,
    CniPlugin::CalicoKdd,
    CniPlugin::Weave,
    CniPlugin::KubeRouter,
];

/// The IP modes by name, for `modes`.
pub(crate) const IP_MODES: [IpMode; 3] = [IpMode::Ipv4, IpMode::Ipv6, IpMode::DualStack];
