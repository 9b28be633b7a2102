//! The two side-effect seams: [`Provider`] (everything the container runtime does) and
//! [`NodeExec`] (a command run inside a node). Orchestration code only sees these traits, so it
//! is unit-tested with recording fakes; [`docker::Docker`] implements both against a real engine
//! through bollard and is tested live.

pub mod docker;
pub mod endpoint;
mod exec;
pub mod fake;

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

pub use exec::{ExecError, ExecOutput, ExecRequest, OutputSender, Stream, shell_quote};

/// Labels every kdc resource carries; state lives only in these, never in files.
pub mod labels {
    /// The cluster a resource belongs to (the plan's label).
    pub const CLUSTER: &str = "io.kdc.cluster";
    /// `control-plane`, `worker`, `dns` (bind9), `router` (tayga or kdc-gw), `target` or `lock`.
    pub const ROLE: &str = "io.kdc.role";
    /// The cluster's ID (0-254) and IP mode, so `status` knows them without a configuration.
    pub const CLUSTER_ID: &str = "io.kdc.cluster-id";
    pub const IP_MODE: &str = "io.kdc.ip-mode";
    /// On a node's volume: the node it belongs to.
    pub const NODE: &str = "io.kdc.node";
    /// On a cluster's lock container: who holds it (`pid@host`), since when, for which command.
    pub const LOCK_OWNER: &str = "io.kdc.lock.owner";
    pub const LOCK_SINCE: &str = "io.kdc.lock.since";
    pub const LOCK_COMMAND: &str = "io.kdc.lock.command";
    /// On the master's volume: the host port published for the API server, reused by a later
    /// `up` on the same volume so a restarted cluster keeps its address.
    pub const APISERVER_PORT: &str = "io.kdc.apiserver-port";
    /// On images: the hash of the image's build inputs.
    pub const IMAGE_INPUTS: &str = "io.kdc.image.inputs";
}

/// What went wrong with a runtime operation, so that orchestration decides on kinds and never
/// matches an engine's message text (which differs between engines and versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The engine could not be reached at all.
    Unavailable,
    /// The object does not exist.
    NotFound,
    /// An object of that name exists already.
    Conflict,
    /// The object is still used (a volume mounted by a container, a network with endpoints).
    InUse,
    /// The runtime refused a privileged container: the host does not grant every capability.
    PrivilegedRefused,
    /// The requested subnets overlap those of an existing network.
    SubnetOverlap,
    /// A host port to publish is taken.
    PortInUse,
    /// The engine cannot make IPv6 networks (IPv6 or ip6tables disabled on its host).
    Ipv6Unavailable,
    /// Anything else; the message says what.
    Other,
}

/// A failed runtime operation: what kdc asked, of which object, and the engine's answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op} {object}: {message}")]
pub struct ProviderError {
    /// The operation, named like the runtime's CLI command (`docker network create`).
    pub op: &'static str,
    pub object: String,
    pub kind: ErrorKind,
    /// The engine's own answer.
    pub message: String,
}

/// Facts about the engine, gathered once.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EngineInfo {
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub kernel: String,
    pub cgroup_version: String,
    pub storage_driver: String,
}

/// A network as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkState {
    pub name: String,
    pub subnets: Vec<IpNet>,
    pub labels: BTreeMap<String, String>,
}

/// A network to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    pub name: String,
    pub ipv6: bool,
    /// Subnet, gateway and the range dynamic addresses are taken from (if restricted).
    pub subnets: Vec<(IpNet, IpAddr, Option<IpNet>)>,
    pub labels: BTreeMap<String, String>,
}

/// How much privilege a node container gets. Some runtimes refuse `--privileged` (for example
/// when the host's capability bounding set lacks CAP_SYS_RESOURCE, as in restricted CI sandboxes);
/// then every capability but the refused one, with seccomp and AppArmor unconfined, does the job.
/// Ordered from most to least privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Privilege {
    Privileged,
    /// `--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined
    /// --security-opt apparmor=unconfined --device-cgroup-rule 'a *:* rwm'`.
    AllCapsButSysResource,
}

/// A container to create and start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub hostname: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub network: String,
    pub addresses: Vec<IpAddr>,
    pub env: Vec<String>,
    /// Entry point override; `None` keeps the image's.
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `None` for unprivileged containers with only `cap_add`.
    pub privilege: Option<Privilege>,
    pub cap_add: Vec<String>,
    /// tmpfs mount points.
    pub tmpfs: Vec<String>,
    /// `volume:path[:opts]` binds.
    pub binds: Vec<String>,
    pub sysctls: BTreeMap<String, String>,
    pub devices: Vec<String>,
    /// (host address, host port or 0 for any, container port/tcp).
    pub publish: Vec<(IpAddr, u16, u16)>,
    pub dns: Vec<IpAddr>,
    pub tty: bool,
    /// The signal `docker stop` sends; `None` is systemd's `SIGRTMIN+3` (a node powers off).
    pub stop_signal: Option<String>,
}

/// A container as the engine lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerState {
    pub name: String,
    pub id: String,
    /// `running`, `exited`, `created`, …
    pub state: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    /// Host ports bound to the container's TCP ports.
    pub published: Vec<Published>,
    /// The container's addresses on its networks (empty while it is not running).
    pub addresses: Vec<IpAddr>,
}

/// A container's TCP port bound to a host address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub container_port: u16,
    pub host: IpAddr,
    pub host_port: u16,
}

impl ContainerState {
    /// What kdc made it for: its [`labels::ROLE`] label.
    pub fn role(&self) -> Option<&str> {
        self.labels.get(labels::ROLE).map(String::as_str)
    }

    /// The host port bound to `container_port`, if any.
    pub fn host_port(&self, container_port: u16) -> Option<u16> {
        self.published
            .iter()
            .find(|p| p.container_port == container_port)
            .map(|p| p.host_port)
    }
}

/// A volume as the engine lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeState {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Everything kdc asks of the container runtime.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    async fn info(&self) -> Result<EngineInfo, ProviderError>;
    /// The labels of a local image, or `None` if it is absent.
    async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError>;
    async fn network(&self, name: &str) -> Result<Option<NetworkState>, ProviderError>;
    async fn create_network(&self, spec: &NetworkSpec) -> Result<(), ProviderError>;
    async fn remove_network(&self, name: &str) -> Result<(), ProviderError>;
    /// Networks carrying `label` (a `key` or `key=value` filter; empty for every network).
    async fn list_networks(&self, label: &str) -> Result<Vec<NetworkState>, ProviderError>;
    async fn volume(&self, name: &str) -> Result<Option<VolumeState>, ProviderError>;
    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError>;
    async fn remove_volume(&self, name: &str) -> Result<(), ProviderError>;
    /// Volumes carrying `label` (a `key` or `key=value` filter).
    async fn list_volumes(&self, label: &str) -> Result<Vec<VolumeState>, ProviderError>;
    /// Creates a container without starting it; a name in use is a `Conflict`.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, ProviderError>;
    /// Creates and starts a container. A container whose start fails is left (created, not
    /// running) for the caller to inspect or remove.
    async fn run_container(&self, spec: &ContainerSpec) -> Result<String, ProviderError>;
    async fn start_container(&self, name: &str) -> Result<(), ProviderError>;
    /// Attaches a container to another network (with an address the engine picks).
    async fn connect_container(&self, network: &str, container: &str) -> Result<(), ProviderError>;
    /// Stops a container: its stop signal, then after `grace` a kill. Absent or stopped
    /// containers are not an error.
    async fn stop_container(
        &self,
        name: &str,
        grace: std::time::Duration,
    ) -> Result<(), ProviderError>;
    /// Removes a container, running or not; absent containers are not an error.
    async fn remove_container(&self, name: &str) -> Result<(), ProviderError>;
    /// Containers, running or not, carrying `label` (a `key` or `key=value` filter).
    async fn list_containers(&self, label: &str) -> Result<Vec<ContainerState>, ProviderError>;
    /// One container, running or not; `None` if it does not exist.
    async fn container(&self, name: &str) -> Result<Option<ContainerState>, ProviderError>;
    /// The runtime's own full description of a container (`docker inspect`), for dumps.
    async fn describe_container(&self, name: &str) -> Result<serde_json::Value, ProviderError>;
    /// The container's output (its "serial console"): the last `tail` lines, or all.
    async fn logs(&self, name: &str, tail: Option<usize>) -> Result<Vec<u8>, ProviderError>;
}

/// Runs a command inside a node.
#[async_trait::async_trait]
pub trait NodeExec: Send + Sync {
    /// Runs the request in `node` and returns its exit code and output; a non-zero exit is not
    /// an error here (see [`ExecOutput::ok`]), running out of time is.
    async fn exec(&self, node: &str, req: ExecRequest) -> Result<ExecOutput, ExecError>;
}
