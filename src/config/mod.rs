//! Configuration: the settings table, the layers that set values, and validation into [`Config`].
//!
//! Precedence, highest first: command-line flags > named layers (a CI matrix cell, a suite) >
//! environment variables > the config file (`--config FILE`, else `kdc.toml` in the working
//! directory if present) > defaults. The values are an ordered list of [`Layer`]s, so a new
//! source of values is one more layer with its own [`Source`], named in error messages.
//! The environment variables keep kubeadm-dind-cluster's names and meaning, so a CI job can move
//! over unchanged. An empty variable counts as unset (CI matrices often export empty values).
//!
//! Validation collects every problem and reports them together, each naming where the bad value
//! came from and what would fix it. Nothing after `main` reads flags or the environment: the
//! [`Inputs`] are gathered once and [`resolve`]d into a [`Config`].

mod settings;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Serialize;

pub use settings::{DEFAULT_K8S, Key, SETTINGS, SUPPORTED_K8S, Setting, Shape, setting};

/// The label kubeadm-dind-cluster uses for its single default cluster.
pub const DEFAULT_LABEL: &str = "mirantis.kubeadm_dind_cluster_runtime";
/// The config file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "kdc.toml";

/// Where a value came from; error messages name it so the user knows what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    Env(&'static str),
    File {
        path: PathBuf,
        key: &'static str,
    },
    /// A variable set by a named layer: `matrix cell ipv6-nat64: NAT64_V4_SUBNET_PREFIX`.
    Layer {
        kind: &'static str,
        name: String,
        var: &'static str,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "--{flag}"),
            Origin::Env(var) => write!(f, "{var}"),
            Origin::File { path, key } => write!(f, "{} key {key}", path.display()),
            Origin::Layer { kind, name, var } => write!(f, "{kind} {name}: {var}"),
        }
    }
}

/// One thing wrong with the configuration or the plan derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What to change: a setting's origin (`IP_MODE`, `--num-nodes`, `kdc.toml key label`).
    pub what: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.message)
    }
}

/// Every problem found in one pass, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems {
    /// "configuration" or "cluster plan".
    pub subject: &'static str,
    pub list: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.list.len();
        write!(
            f,
            "invalid {}: {n} problem{}",
            self.subject,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.list {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// Where a layer of values comes from; its rank orders the layers (a higher rank wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The config file.
    File(PathBuf),
    /// Environment variables (the original's names).
    Env,
    /// A named layer that programs add: a CI matrix cell or a test suite, which set values as
    /// variables would and win over the environment.
    Named { kind: &'static str, name: String },
    /// Command-line flags.
    Flags,
}

impl Source {
    /// Precedence: flags > named layers > environment > config file > defaults.
    pub fn rank(&self) -> u8 {
        match self {
            Source::File(_) => 10,
            Source::Env => 20,
            Source::Named { .. } => 30,
            Source::Flags => 40,
        }
    }

    /// Where `key` came from in this layer, as error messages name it.
    fn origin(&self, key: Key) -> Origin {
        let s = setting(key);
        match self {
            Source::File(path) => Origin::File {
                path: path.clone(),
                key: s.file_key.unwrap_or(s.env),
            },
            Source::Env => Origin::Env(s.env),
            Source::Named { kind, name } => Origin::Layer {
                kind,
                name: name.clone(),
                var: s.env,
            },
            Source::Flags => Origin::Flag(s.flag.unwrap_or(s.env)),
        }
    }
}

/// One layer of values.
#[derive(Debug, Clone)]
pub struct Layer {
    pub source: Source,
    pub values: BTreeMap<Key, String>,
}

impl Layer {
    /// A named layer from variables given by their environment names (`IP_MODE=ipv6`), as a
    /// matrix cell or a suite sets them; unknown names are problems of that layer.
    pub fn named<'v>(
        kind: &'static str,
        name: &str,
        vars: impl IntoIterator<Item = (&'v str, &'v str)>,
    ) -> Result<Layer, Problem> {
        let mut values = BTreeMap::new();
        for (var, value) in vars {
            let Some(s) = SETTINGS.iter().find(|s| s.env == var) else {
                return Err(Problem {
                    what: format!("{kind} {name}"),
                    message: format!(
                        "{var} is not a kdc setting; known: {}",
                        env_names().join(", ")
                    ),
                });
            };
            if !value.trim().is_empty() {
                values.insert(s.key, value.to_string());
            }
        }
        Ok(Layer {
            source: Source::Named {
                kind,
                name: name.to_string(),
            },
            values,
        })
    }
}

/// Raw values from the layers, before validation: an ordered list (lowest precedence first)
/// that any caller can add a layer to.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    layers: Vec<Layer>,
    /// Problems met while reading the config file; [`resolve`] reports them together with the
    /// problems of every other value instead of stopping at the file.
    file_problems: Vec<Problem>,
}

impl Inputs {
    /// Adds a layer in its place by rank; of two layers of one rank, the later added wins.
    pub fn add(&mut self, layer: Layer) {
        let rank = layer.source.rank();
        let at = self
            .layers
            .iter()
            .position(|l| l.source.rank() > rank)
            .unwrap_or(self.layers.len());
        self.layers.insert(at, layer);
    }

    /// The values of the layer of `source`, made if missing.
    fn layer_mut(&mut self, source: Source) -> &mut BTreeMap<Key, String> {
        if let Some(i) = self.layers.iter().position(|l| l.source == source) {
            return &mut self.layers[i].values;
        }
        self.add(Layer {
            source: source.clone(),
            values: BTreeMap::new(),
        });
        let i = self
            .layers
            .iter()
            .position(|l| l.source == source)
            .expect("just added");
        &mut self.layers[i].values
    }

    /// Records a command-line flag (already parsed by clap).
    pub fn set_flag(&mut self, key: Key, value: impl Into<String>) {
        self.layer_mut(Source::Flags).insert(key, value.into());
    }

    /// Takes the known variables from an environment; empty values count as unset.
    pub fn with_env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let env = self.layer_mut(Source::Env);
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            if let Some(s) = SETTINGS.iter().find(|s| s.env == name)
                && !value.trim().is_empty()
            {
                env.insert(s.key, value.to_string());
            }
        }
        self
    }

    /// Reads the config file: `explicit` if given (it must exist), else `kdc.toml` in `cwd` if
    /// present. Unknown keys and values of the wrong type are problems; they are kept and
    /// reported by [`resolve`] together with every other problem (a bad file must not hide a bad
    /// environment variable), while the file's valid keys still apply.
    pub fn with_file(mut self, explicit: Option<&Path>, cwd: &Path) -> Self {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = cwd.join(DEFAULT_CONFIG_FILE);
                if !p.exists() {
                    return self;
                }
                p
            }
        };
        let problem = |what: String, message: String| Problem { what, message };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                self.file_problems.push(problem(
                    path.display().to_string(),
                    format!("cannot read the config file ({e}); check the path given to --config"),
                ));
                return self;
            }
        };
        let table = match text.parse::<toml::Table>() {
            Ok(table) => table,
            Err(e) => {
                self.file_problems.push(problem(
                    path.display().to_string(),
                    format!("not valid TOML: {}", e.message()),
                ));
                return self;
            }
        };
        let mut values = BTreeMap::new();
        for (name, value) in &table {
            let Some(s) = SETTINGS.iter().find(|s| s.file_key == Some(name.as_str())) else {
                self.file_problems.push(problem(
                    format!("{} key {name}", path.display()),
                    format!("unknown key; known keys: {}", file_keys().join(", ")),
                ));
                continue;
            };
            match toml_to_text(value) {
                Some(v) => {
                    values.insert(s.key, v);
                }
                None => self.file_problems.push(problem(
                    format!("{} key {name}", path.display()),
                    format!(
                        "expected a string, whole number, boolean or list of strings, got {}",
                        value.type_str()
                    ),
                )),
            }
        }
        self.add(Layer {
            source: Source::File(path),
            values,
        });
        self
    }

    /// The winning value for `key` and where it came from.
    pub fn get(&self, key: Key) -> Option<(&str, Origin)> {
        self.layers
            .iter()
            .rev()
            .find_map(|l| Some((l.values.get(&key)?.as_str(), l.source.origin(key))))
    }
}

fn env_names() -> Vec<&'static str> {
    SETTINGS.iter().map(|s| s.env).collect()
}

fn file_keys() -> Vec<&'static str> {
    SETTINGS.iter().filter_map(|s| s.file_key).collect()
}

fn toml_to_text(value: &toml::Value) -> Option<String> {
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => {
            let parts: Option<Vec<&str>> = items.iter().map(|v| v.as_str()).collect();
            parts?.join(", ")
        }
        _ => return None,
    })
}

/// The cluster's IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpMode {
    Ipv4,
    Ipv6,
    DualStack,
}

impl IpMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IpMode::Ipv4 => "ipv4",
            IpMode::Ipv6 => "ipv6",
            IpMode::DualStack => "dual-stack",
        }
    }
}

impl fmt::Display for IpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CNI plugin; only bridge and ptp carry IPv6 pod networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CniPlugin {
    Bridge,
    Ptp,
    Flannel,
    Calico,
    CalicoKdd,
    Weave,
    KubeRouter,
}

impl CniPlugin {
    const ALL: [(CniPlugin, &'static str); 7] = [
        (CniPlugin::Bridge, "bridge"),
        (CniPlugin::Ptp, "ptp"),
        (CniPlugin::Flannel, "flannel"),
        (CniPlugin::Calico, "calico"),
        (CniPlugin::CalicoKdd, "calico-kdd"),
        (CniPlugin::Weave, "weave"),
        (CniPlugin::KubeRouter, "kube-router"),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, n)| *n)
            .unwrap_or("bridge")
    }

    /// Whether the plugin is one of kdc's own static-route plugins that support IPv6 pods.
    pub fn supports_ipv6_pods(self) -> bool {
        matches!(self, CniPlugin::Bridge | CniPlugin::Ptp)
    }
}

/// The validated configuration. Per-mode defaults are already applied; everything derived from
/// it (names, addresses, subnets) is the job of [`crate::plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub ip_mode: IpMode,
    /// `CLUSTER_ID`, 0-254, if given.
    pub cluster_id: Option<u8>,
    /// `DIND_LABEL`, if given and not the default label.
    pub label: Option<String>,
    pub num_nodes: u16,
    /// Management CIDRs as configured (IPv4 first in dual-stack), before the cluster ID is injected.
    pub mgmt_cidrs: Vec<Cidr>,
    pub service_cidr: IpNet,
    /// Pod CIDRs (IPv4 first in dual-stack).
    pub pod_cidrs: Vec<Cidr>,
    pub dns64_prefix: Ipv6Addr,
    pub dns64_prefix_size: u8,
    /// The two configured octets of the NAT64 IPv4 network, before the cluster ID is added.
    pub nat64_v4_subnet_prefix: [u8; 2],
    pub remote_dns64_v4server: Ipv4Addr,
    pub allow_aaaa_use: bool,
    pub cni_plugin: CniPlugin,
    /// Fixed host port for the API server; `None` picks a free one.
    pub apiserver_port: Option<u16>,
    pub image: String,
    /// Kubernetes version, normalised to start with `v`.
    pub k8s_version: String,
    pub skip_snapshot: bool,
    /// `None` when `FEATURE_GATES` is `none`.
    pub feature_gates: Option<String>,
    /// `None` when `KUBELET_FEATURE_GATES` is `none`.
    pub kubelet_feature_gates: Option<String>,
    pub port_forwarder: Option<PathBuf>,
}

/// A valid configuration plus the warnings met on the way (printed to stderr by the caller).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Validates the inputs into a [`Config`], collecting every problem.
pub fn resolve(inputs: &Inputs) -> Result<Resolved, Problems> {
    let mut r = Resolver {
        inputs,
        problems: inputs.file_problems.clone(),
        warnings: Vec::new(),
    };

    let ip_mode = r
        .parse(Key::IpMode, |v| match v.trim() {
            "ipv4" => Ok(IpMode::Ipv4),
            "ipv6" => Ok(IpMode::Ipv6),
            "dual-stack" => Ok(IpMode::DualStack),
            _ => Err("not an IP mode; use ipv4, ipv6 or dual-stack".into()),
        })
        .unwrap_or(IpMode::Ipv4);
    let cluster_id = r.parse(Key::ClusterId, |v| {
        v.trim()
            .parse::<u8>()
            .ok()
            .filter(|id| *id <= 254)
            .ok_or_else(|| "must be a whole number from 0 to 254".to_string())
    });
    let label = r
        .parse(Key::Label, |v| {
            // The label ends node names, and Kubernetes takes only lowercase DNS names as node
            // names; the original's default label (with `_`) never appears in a name.
            let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            let ok = v == DEFAULT_LABEL
                || (v.len() <= 50
                    && edge(v.chars().next())
                    && edge(v.chars().last())
                    && v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c)));
            if ok {
                Ok(v.to_string())
            } else {
                Err("must be 1-50 characters of lowercase letters, digits, '-' and '.', starting and ending with a letter or digit: it ends the node names, and Kubernetes takes only lowercase DNS names (e.g. my-cluster)".into())
            }
        })
        .filter(|l| l != DEFAULT_LABEL);
    let num_nodes = r
        .parse(Key::NumNodes, |v| {
            v.trim()
                .parse::<u16>()
                .map_err(|_| "must be a whole number of worker nodes (0 or more)".into())
        })
        .unwrap_or(2);
    let cni_plugin = r
        .parse(Key::CniPlugin, |v| {
            CniPlugin::ALL.iter().find(|(_, n)| *n == v.trim()).map(|(c, _)| *c).ok_or_else(|| {
                "not a supported CNI plugin; use bridge, ptp, flannel, calico, calico-kdd, weave or kube-router".into()
            })
        })
        .unwrap_or(CniPlugin::Bridge);

    let mgmt_cidrs = r.mgmt_cidrs(ip_mode);
    let service_cidr = r.service_cidr(ip_mode);
    let pod_cidrs = r.pod_cidrs(ip_mode, cni_plugin);

    let dns64_prefix = r
        .parse(Key::Dns64Prefix, |v| {
            let v = v.trim();
            if !v.ends_with("::") {
                return Err(
                    "must be an IPv6 prefix ending in '::', such as fd00:10:64:ff9b::".into(),
                );
            }
            v.parse::<Ipv6Addr>()
                .map_err(|_| "not an IPv6 address".into())
        })
        .unwrap_or(Ipv6Addr::new(0xfd00, 0x10, 0x64, 0xff9b, 0, 0, 0, 0));
    let dns64_prefix_size = r
        .parse(Key::Dns64PrefixSize, |v| {
            v.trim()
                .parse::<u8>()
                .ok()
                .filter(|n| [32, 40, 48, 56, 64, 96].contains(n))
                .ok_or_else(|| {
                    "must be 32, 40, 48, 56, 64 or 96 (the NAT64 prefix lengths of RFC 6052)".into()
                })
        })
        .unwrap_or(96);
    let nat64_v4_subnet_prefix = r
        .parse(Key::Nat64V4SubnetPrefix, |v| {
            let parts: Vec<&str> = v.trim().split('.').collect();
            match parts.as_slice() {
                [a, b] => match (a.parse::<u8>(), b.parse::<u8>()) {
                    (Ok(a), Ok(b)) => Ok([a, b]),
                    _ => Err("both octets must be numbers from 0 to 255, as in 172.18".into()),
                },
                _ => Err(format!(
                    "must be two octets, as in 172.18 (have {} parts)",
                    parts.len()
                )),
            }
        })
        .unwrap_or([172, 18]);
    let remote_dns64_v4server = r
        .parse(Key::RemoteDns64V4Server, |v| {
            v.trim()
                .parse::<Ipv4Addr>()
                .map_err(|_| "must be an IPv4 address such as 8.8.8.8".into())
        })
        .unwrap_or(Ipv4Addr::new(8, 8, 8, 8));
    let mut allow_aaaa_use = r.parse(Key::AllowAaaaUse, parse_bool);
    match ip_mode {
        IpMode::DualStack => {
            if allow_aaaa_use == Some(false) {
                r.warnings.push("DIND_ALLOW_AAAA_USE=false is ignored: dual-stack clusters always use real AAAA records".into());
            }
            allow_aaaa_use = Some(true);
        }
        IpMode::Ipv4 => {
            if allow_aaaa_use == Some(true) {
                r.warnings
                    .push("DIND_ALLOW_AAAA_USE is ignored in ipv4 mode".into());
            }
            allow_aaaa_use = Some(false);
        }
        IpMode::Ipv6 => {}
    }
    let apiserver_port = r
        .parse(Key::ApiserverPort, |v| {
            v.trim()
                .parse::<u16>()
                .map_err(|_| "must be a port number from 1 to 65535 (0 picks a free port)".into())
        })
        .filter(|p| *p != 0);
    let image = r.parse(Key::Image, |v| {
        let v = v.trim();
        if v.is_empty() || v.contains(char::is_whitespace) {
            Err("must be an image reference such as kdc/node:bookworm".into())
        } else {
            Ok(v.to_string())
        }
    });
    let k8s_version = r
        .parse(Key::K8sVersion, |v| {
            crate::kube::release_for(v).map(|r| r.version.to_string())
        })
        .unwrap_or_else(|| crate::kube::default_release().version.to_string());
    // The node image of the Kubernetes release, as `kdc image build node` tags it.
    let image =
        image.unwrap_or_else(|| format!("{}:{k8s_version}", crate::images::NODE_REPOSITORY));
    let skip_snapshot = r.parse(Key::SkipSnapshot, parse_bool).unwrap_or(false);
    let feature_gates = r.parse(Key::FeatureGates, parse_gates).flatten();
    let kubelet_feature_gates = r.parse(Key::KubeletFeatureGates, parse_gates).flatten();
    let port_forwarder = r.parse(Key::PortForwarder, |v| {
        use std::os::unix::fs::PermissionsExt;
        let path = PathBuf::from(v.trim());
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(path),
            Ok(m) if m.is_file() => Err("is not executable; chmod +x it".into()),
            Ok(_) => Err("is not a file; give the path of an executable".into()),
            Err(e) => Err(format!(
                "cannot be used ({e}); give the path of an executable"
            )),
        }
    });

    if !r.problems.is_empty() {
        return Err(Problems {
            subject: "configuration",
            list: r.problems,
        });
    }
    Ok(Resolved {
        config: Config {
            ip_mode,
            cluster_id,
            label,
            num_nodes,
            mgmt_cidrs,
            service_cidr: service_cidr.expect("no problems means a service CIDR"),
            pod_cidrs,
            dns64_prefix,
            dns64_prefix_size,
            nat64_v4_subnet_prefix,
            remote_dns64_v4server,
            allow_aaaa_use: allow_aaaa_use.unwrap_or(false),
            cni_plugin,
            apiserver_port,
            image,
            k8s_version,
            skip_snapshot,
            feature_gates,
            kubelet_feature_gates,
            port_forwarder,
        },
        warnings: r.warnings,
    })
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" => Ok(true),
        "false" | "no" | "n" | "0" | "off" => Ok(false),
        _ => Err("must be true or false (also y/n, yes/no, 1/0, on/off)".into()),
    }
}

fn parse_gates(v: &str) -> Result<Option<String>, String> {
    let v = v.trim();
    if v == "none" {
        return Ok(None);
    }
    let valid = v.split(',').all(|gate| {
        matches!(gate.trim().split_once('='), Some((name, value))
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric())
                && (value == "true" || value == "false"))
    });
    if valid {
        Ok(Some(
            v.split(',').map(str::trim).collect::<Vec<_>>().join(","),
        ))
    } else {
        Err("must be 'none' or a comma-separated list of Name=true|false".into())
    }
}

/// A CIDR together with the text it was written as.
///
/// kubeadm-dind-cluster injects the cluster ID into an IPv6 management CIDR by editing its text
/// (`fd00:20::/64` → `fd00:20:<id>::/64`), so `fd00:20::/64` and `fd00:20:0::/64` give different
/// subnets; keeping the text lets kdc give existing CI jobs the same addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    pub net: IpNet,
    pub text: String,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        Some(Cidr {
            net: text.parse().ok()?,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Family of a CIDR for messages.
fn family(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "IPv4",
        IpNet::V6(_) => "IPv6",
    }
}

struct Resolver<'a> {
    inputs: &'a Inputs,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl Resolver<'_> {
    /// Parses the winning value of `key`; on failure records a problem naming its origin and value.
    fn parse<T>(&mut self, key: Key, f: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let (value, origin) = self.inputs.get(key)?;
        match f(value) {
            Ok(t) => Some(t),
            Err(message) => {
                self.problem(&origin, value, message);
                None
            }
        }
    }

    fn problem(&mut self, origin: &Origin, value: &str, message: String) {
        let what = match origin {
            Origin::Flag(_) => format!("{origin} {value}"),
            Origin::Env(_) | Origin::Layer { .. } => format!("{origin}={value}"),
            Origin::File { .. } => format!("{origin} = {value:?}"),
        };
        self.problems.push(Problem { what, message });
    }

    /// Splits and checks a CIDR list the way kubeadm-dind-cluster's `get-and-validate-cidrs` does:
    /// one CIDR of the mode's family in ipv4/ipv6 mode; in dual-stack one of each family, IPv4
    /// first, a missing family taken from `defaults`. Unlike the original, every error is fatal.
    fn cidr_list(
        &mut self,
        mode: IpMode,
        value: &str,
        origin: &Origin,
        defaults: &[Cidr],
    ) -> Vec<Cidr> {
        let mut nets = Vec::new();
        for item in value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            match Cidr::parse(item) {
                Some(c) => nets.push(c),
                None => {
                    self.problem(
                        origin,
                        value,
                        format!("'{item}' is not a CIDR such as 10.192.0.0/24 or fd00:20::/64"),
                    );
                    return defaults.to_vec();
                }
            }
        }
        if nets.is_empty() {
            return defaults.to_vec();
        }
        let wanted = match mode {
            IpMode::Ipv4 => Some("IPv4"),
            IpMode::Ipv6 => Some("IPv6"),
            IpMode::DualStack => None,
        };
        if let Some(fam) = wanted {
            if nets.len() > 1 {
                self.problem(
                    origin,
                    value,
                    format!("{mode} mode takes one {fam} CIDR, got {}", nets.len()),
                );
            } else if family(&nets[0].net) != fam {
                self.problem(
                    origin,
                    value,
                    format!("must be an {fam} CIDR in {mode} mode (set IP_MODE to match)"),
                );
            }
            return nets;
        }
        if nets.len() > 2 {
            self.problem(
                origin,
                value,
                format!(
                    "dual-stack takes at most two CIDRs, one per family, got {}",
                    nets.len()
                ),
            );
            return nets;
        }
        let (v4, v6): (Vec<Cidr>, Vec<Cidr>) = nets
            .into_iter()
            .partition(|c| matches!(c.net, IpNet::V4(_)));
        if v4.len() > 1 || v6.len() > 1 {
            self.problem(
                origin,
                value,
                "dual-stack needs one IPv4 and one IPv6 CIDR, not two of one family".into(),
            );
            return defaults.to_vec();
        }
        vec![
            v4.into_iter().next().unwrap_or_else(|| defaults[0].clone()),
            v6.into_iter().next().unwrap_or_else(|| defaults[1].clone()),
        ]
    }

    fn mgmt_cidrs(&mut self, mode: IpMode) -> Vec<Cidr> {
        let defaults: Vec<Cidr> = match mode {
            IpMode::Ipv4 => vec![net("10.192.0.0/24")],
            IpMode::Ipv6 => vec![net("fd00:20::/64")],
            IpMode::DualStack => vec![net("10.192.0.0/24"), net("fd00:20::/64")],
        };
        if let Some((value, origin)) = self.inputs.get(Key::MgmtCidrs) {
            return self.cidr_list(mode, value, &origin, &defaults);
        }
        // Legacy pair: used only when both parts are set; outside ipv4 mode the original's
        // config.sh gives DIND_SUBNET the default fd00:10::, so DIND_SUBNET_SIZE alone counts.
        let size = self.inputs.get(Key::DindSubnetSize);
        let subnet = self
            .inputs
            .get(Key::DindSubnet)
            .map(|(v, _)| v.to_string())
            .or_else(|| (mode != IpMode::Ipv4).then(|| "fd00:10::".to_string()));
        match (subnet, size) {
            (Some(addr), Some((size, _))) => {
                let value = format!("{}/{}", addr.trim(), size.trim());
                // The CIDR is made of both variables (and DIND_SUBNET may be the implicit
                // fd00:10::), so a problem names both: the bad part is often the size.
                let origin = Origin::Env("DIND_SUBNET/DIND_SUBNET_SIZE");
                self.cidr_list(mode, &value, &origin, &defaults)
            }
            _ => defaults,
        }
    }

    fn service_cidr(&mut self, mode: IpMode) -> Option<IpNet> {
        let default = match mode {
            IpMode::Ipv4 => net("10.96.0.0/12").net,
            IpMode::Ipv6 | IpMode::DualStack => net("fd00:30::/110").net,
        };
        let Some((value, origin)) = self.inputs.get(Key::ServiceCidr) else {
            return Some(default);
        };
        let parsed = match value.trim().parse::<IpNet>() {
            Ok(n) => n,
            Err(_) => {
                self.problem(
                    &origin,
                    value,
                    "must be one CIDR such as 10.96.0.0/12 or fd00:30::/110".into(),
                );
                return None;
            }
        };
        let fits = match mode {
            IpMode::Ipv4 => matches!(parsed, IpNet::V4(_)),
            IpMode::Ipv6 => matches!(parsed, IpNet::V6(_)),
            IpMode::DualStack => true,
        };
        if !fits {
            self.problem(
                &origin,
                value,
                format!(
                    "an {} service CIDR does not fit {mode} mode",
                    family(&parsed)
                ),
            );
            return None;
        }
        Some(parsed)
    }

    fn pod_cidrs(&mut self, mode: IpMode, cni: CniPlugin) -> Vec<Cidr> {
        let v4 = if matches!(cni, CniPlugin::Calico | CniPlugin::CalicoKdd) {
            net("192.168.0.0/16")
        } else {
            net("10.244.0.0/16")
        };
        let defaults = match mode {
            IpMode::Ipv4 => vec![v4],
            IpMode::Ipv6 => vec![net("fd00:40::/72")],
            IpMode::DualStack => vec![v4, net("fd00:40::/72")],
        };
        match self.inputs.get(Key::PodNetworkCidr) {
            Some((value, origin)) => self.cidr_list(mode, value, &origin, &defaults),
            None => defaults,
        }
    }
}

fn net(s: &str) -> Cidr {
    Cidr::parse(s).expect("built-in CIDRs are valid")
}

#[cfg(test)]
pub(crate) mod tests;
