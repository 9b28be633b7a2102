//! An in-memory engine implementing both seams, for tests of everything above them.
//!
//! It keeps networks, volumes, containers and images like an engine would, records every
//! mutating call and every command run in a node (in order, as text such as `network create
//! kubeadm-dind-net` or `exec kube-master systemctl is-system-running --wait`), and answers
//! commands through a replaceable handler. Faults are injected with the public fields.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    ContainerSpec, ContainerState, EngineInfo, ErrorKind, ExecError, ExecOutput, ExecRequest,
    NetworkSpec, NetworkState, NodeExec, Privilege, Provider, ProviderError, Published,
    VolumeState,
};

/// How the fake answers a command: given the node and the request, the exit code, stdout and
/// stderr, or an error.
pub type Handler =
    Arc<dyn Fn(&str, &ExecRequest) -> Result<(i64, String, String), ExecError> + Send + Sync>;

/// The fake engine.
pub struct Fake {
    pub state: Mutex<FakeState>,
    /// Refuse privileged containers, as runc does when the host lacks a capability.
    pub refuse_privileged: bool,
    /// Names of containers whose start fails.
    pub fail_start: Vec<String>,
    /// Names of networks, volumes or containers that the engine creates but whose answer is
    /// lost on the way back (a reset connection, an interrupt).
    pub lose_answer: Vec<String>,
    /// Answers commands run in nodes.
    pub handler: Handler,
}

/// What the fake engine holds.
#[derive(Default)]
pub struct FakeState {
    /// What `info` answers.
    pub info: EngineInfo,
    pub images: Vec<String>,
    pub networks: BTreeMap<String, NetworkState>,
    pub volumes: BTreeMap<String, VolumeState>,
    /// Containers by name: the spec they were made from and their state.
    pub containers: BTreeMap<String, (ContainerSpec, String)>,
    /// Every mutating call and every command, in order.
    pub calls: Vec<String>,
    /// (network, container) of `connect_container`, beyond each container's own network.
    pub connections: Vec<(String, String)>,
    /// (image, key, value): labels of the images above.
    pub image_labels: Vec<(String, String, String)>,
}

impl Default for Fake {
    fn default() -> Self {
        Fake {
            state: Mutex::default(),
            refuse_privileged: false,
            fail_start: Vec::new(),
            lose_answer: Vec::new(),
            handler: Arc::new(|_, req| Ok(Fake::systemd_running(req))),
        }
    }
}

impl Fake {
    /// A fake engine that has `image`, and kdc's support image.
    pub fn with_image(image: &str) -> Fake {
        let f = Fake::default();
        f.state().images.push(image.to_string());
        f.state()
            .images
            .push(crate::images::SUPPORT_IMAGE.to_string());
        f
    }

    /// The default answer: systemd is `running`, a CNI ADD gives the pod an address, every
    /// other command succeeds silently.
    pub fn systemd_running(req: &ExecRequest) -> (i64, String, String) {
        if req.argv.iter().any(|a| a == "is-system-running") {
            (0, "running\n".into(), String::new())
        } else if req.argv.iter().any(|a| a.contains("CNI_COMMAND=ADD")) {
            let result =
                r#"{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.244.1.2/24"}]}"#;
            (0, result.into(), String::new())
        } else {
            (0, String::new(), String::new())
        }
    }

    /// The engine's state, also when a panicking test poisoned the lock.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The calls recorded so far.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    fn record(&self, call: String) {
        self.state().calls.push(call);
    }
}

fn fail(op: &'static str, object: &str, kind: ErrorKind, message: &str) -> ProviderError {
    ProviderError {
        op,
        object: object.into(),
        kind,
        message: message.into(),
    }
}

impl Fake {
    /// The error for a created object whose answer is lost, if `name` is one.
    fn lost(&self, op: &'static str, name: &str) -> Result<(), ProviderError> {
        if self.lose_answer.iter().any(|n| n == name) {
            Err(fail(
                op,
                name,
                ErrorKind::Unavailable,
                "connection reset by peer",
            ))
        } else {
            Ok(())
        }
    }
}

fn matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).map(String::as_str) == Some(v),
        None => filter.is_empty() || labels.contains_key(filter),
    }
}

fn container_state(spec: &ContainerSpec, state: &str) -> ContainerState {
    let running = state == "running";
    ContainerState {
        name: spec.name.clone(),
        id: format!("id-{}", spec.name),
        state: state.to_string(),
        image: spec.image.clone(),
        labels: spec.labels.clone(),
        published: spec
            .publish
            .iter()
            .map(|(host, host_port, container_port)| Published {
                container_port: *container_port,
                host: *host,
                host_port: *host_port,
            })
            .collect(),
        addresses: if running {
            spec.addresses.clone()
        } else {
            Vec::new()
        },
    }
}

#[async_trait::async_trait]
impl Provider for Fake {
    async fn info(&self) -> Result<EngineInfo, ProviderError> {
        Ok(self.state().info.clone())
    }
    async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let s = self.state();
        Ok(s.images.iter().any(|i| i == image).then(|| {
            s.image_labels
                .iter()
                .filter(|(i, _, _)| i == image)
                .map(|(_, k, v)| (k.clone(), v.clone()))
                .collect()
        }))
    }
    async fn network(&self, name: &str) -> Result<Option<NetworkState>, ProviderError> {
        Ok(self.state().networks.get(name).cloned())
    }
    async fn create_network(&self, spec: &NetworkSpec) -> Result<(), ProviderError> {
        let mut s = self.state();
        s.calls.push(format!("network create {}", spec.name));
        if s.networks.contains_key(&spec.name) {
            return Err(fail(
                "docker network create",
                &spec.name,
                ErrorKind::Conflict,
                "network with name already exists",
            ));
        }
        let subnets = spec.subnets.iter().map(|(n, _, _)| *n).collect();
        s.networks.insert(
            spec.name.clone(),
            NetworkState {
                name: spec.name.clone(),
                subnets,
                labels: spec.labels.clone(),
            },
        );
        self.lost("docker network create", &spec.name)
    }
    async fn remove_network(&self, name: &str) -> Result<(), ProviderError> {
        let mut s = self.state();
        s.calls.push(format!("network rm {name}"));
        s.networks.remove(name);
        Ok(())
    }
    async fn list_networks(&self, label: &str) -> Result<Vec<NetworkState>, ProviderError> {
        Ok(self
            .state()
            .networks
            .values()
            .filter(|n| matches(&n.labels, label))
            .cloned()
            .collect())
    }
    async fn volume(&self, name: &str) -> Result<Option<VolumeState>, ProviderError> {
        Ok(self.state().volumes.get(name).cloned())
    }
    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let mut s = self.state();
        s.calls.push(format!("volume create {name}"));
        s.volumes.insert(
            name.into(),
            VolumeState {
                name: name.into(),
                labels: labels.clone(),
            },
        );
        self.lost("docker volume create", name)
    }
    async fn remove_volume(&self, name: &str) -> Result<(), ProviderError> {
        let mut s = self.state();
        s.calls.push(format!("volume rm {name}"));
        let in_use = s
            .containers
            .values()
            .any(|(c, _)| c.binds.iter().any(|b| b.split(':').next() == Some(name)));
        if in_use {
            return Err(fail(
                "docker volume rm",
                name,
                ErrorKind::InUse,
                "volume is in use",
            ));
        }
        s.volumes.remove(name);
        Ok(())
    }
    async fn list_volumes(&self, label: &str) -> Result<Vec<VolumeState>, ProviderError> {
        Ok(self
            .state()
            .volumes
            .values()
            .filter(|v| matches(&v.labels, label))
            .cloned()
            .collect())
    }
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, ProviderError> {
        let mut s = self.state();
        s.calls.push(format!("create {}", spec.name));
        if !spec.image.is_empty() && !s.images.contains(&spec.image) {
            return Err(fail(
                "docker create",
                &spec.name,
                ErrorKind::NotFound,
                "No such image",
            ));
        }
        if s.containers.contains_key(&spec.name) {
            return Err(fail(
                "docker create",
                &spec.name,
                ErrorKind::Conflict,
                "the container name is already in use",
            ));
        }
        s.containers
            .insert(spec.name.clone(), (spec.clone(), "created".into()));
        Ok(format!("id-{}", spec.name))
    }
    async fn run_container(&self, spec: &ContainerSpec) -> Result<String, ProviderError> {
        // A real engine takes a while: let other tasks of the same `up` run meanwhile.
        tokio::task::yield_now().await;
        let mut s = self.state();
        if s.containers.contains_key(&spec.name) {
            return Err(fail(
                "docker create",
                &spec.name,
                ErrorKind::Conflict,
                "the container name is already in use",
            ));
        }
        if self.refuse_privileged && spec.privilege == Some(Privilege::Privileged) {
            s.calls.push(format!("run {} refused", spec.name));
            // Like Docker: created, then the start fails and the container stays.
            s.containers
                .insert(spec.name.clone(), (spec.clone(), "created".into()));
            return Err(fail(
                "docker start",
                &spec.name,
                ErrorKind::PrivilegedRefused,
                "OCI runtime create failed: unable to apply caps: operation not permitted",
            ));
        }
        if self.fail_start.contains(&spec.name) {
            s.calls.push(format!("run {} failed", spec.name));
            s.containers
                .insert(spec.name.clone(), (spec.clone(), "created".into()));
            return Err(fail("docker start", &spec.name, ErrorKind::Other, "boom"));
        }
        s.calls
            .push(format!("run {} {:?}", spec.name, spec.privilege));
        s.containers
            .insert(spec.name.clone(), (spec.clone(), "running".into()));
        self.lost("docker start", &spec.name)?;
        Ok(format!("id-{}", spec.name))
    }
    async fn start_container(&self, name: &str) -> Result<(), ProviderError> {
        let mut s = self.state();
        s.calls.push(format!("start {name}"));
        match s.containers.get_mut(name) {
            Some((_, state)) => {
                *state = "running".into();
                Ok(())
            }
            None => Err(fail(
                "docker start",
                name,
                ErrorKind::NotFound,
                "No such container",
            )),
        }
    }
    async fn connect_container(&self, network: &str, container: &str) -> Result<(), ProviderError> {
        let mut s = self.state();
        s.calls
            .push(format!("network connect {network} {container}"));
        if !s.networks.contains_key(network) {
            return Err(fail(
                "docker network connect",
                container,
                ErrorKind::NotFound,
                "network not found",
            ));
        }
        match s.containers.contains_key(container) {
            true => {
                s.connections
                    .push((network.to_string(), container.to_string()));
                Ok(())
            }
            false => Err(fail(
                "docker network connect",
                container,
                ErrorKind::NotFound,
                "No such container",
            )),
        }
    }

    async fn stop_container(
        &self,
        name: &str,
        _grace: std::time::Duration,
    ) -> Result<(), ProviderError> {
        let mut s = self.state();
        s.calls.push(format!("stop {name}"));
        if let Some((_, state)) = s.containers.get_mut(name) {
            *state = "exited".into();
        }
        Ok(())
    }
    async fn remove_container(&self, name: &str) -> Result<(), ProviderError> {
        let mut s = self.state();
        s.calls.push(format!("rm {name}"));
        s.containers.remove(name);
        s.connections.retain(|(_, c)| c != name);
        Ok(())
    }
    async fn list_containers(&self, label: &str) -> Result<Vec<ContainerState>, ProviderError> {
        Ok(self
            .state()
            .containers
            .values()
            .filter(|(c, _)| matches(&c.labels, label))
            .map(|(c, st)| container_state(c, st))
            .collect())
    }
    async fn container(&self, name: &str) -> Result<Option<ContainerState>, ProviderError> {
        Ok(self
            .state()
            .containers
            .get(name)
            .map(|(c, st)| container_state(c, st)))
    }
    async fn describe_container(&self, name: &str) -> Result<serde_json::Value, ProviderError> {
        match self.state().containers.get(name) {
            Some((c, st)) => {
                Ok(serde_json::json!({"Name": format!("/{}", c.name), "State": {"Status": st}}))
            }
            None => Err(fail(
                "docker inspect",
                name,
                ErrorKind::NotFound,
                "No such container",
            )),
        }
    }
    /// The console of a node, or the last lines a ready support container prints.
    async fn logs(&self, name: &str, _tail: Option<usize>) -> Result<Vec<u8>, ProviderError> {
        let role = self
            .state()
            .containers
            .get(name)
            .and_then(|(c, _)| c.labels.get(super::labels::ROLE).cloned());
        Ok(match role.as_deref() {
            Some("dns") => b"all zones loaded\nrunning\n".to_vec(),
            Some("router") => b"kdc: router ready (targets on eth1)\n".to_vec(),
            Some("host-routes") => {
                b"kdc: added: ip -6 route add\nkdc: host routes ready\n".to_vec()
            }
            _ => b"\x1b[0;32mReached target\x1b[0m Multi-User System\r\r\n".to_vec(),
        })
    }
}

#[async_trait::async_trait]
impl NodeExec for Fake {
    async fn exec(&self, node: &str, req: ExecRequest) -> Result<ExecOutput, ExecError> {
        self.record(format!("exec {node} {}", req.argv.join(" ")));
        let (code, stdout, stderr) = (self.handler)(node, &req)?;
        Ok(ExecOutput {
            node: node.to_string(),
            argv: req.argv.clone(),
            code,
            stdout: stdout.into_bytes(),
            stderr: stderr.into_bytes(),
        })
    }
}
