//! [`Provider`] and [`NodeExec`] for a real Docker engine, through bollard.
//!
//! Requests go to the engine named by `DOCKER_HOST` (or the local socket). Every failure becomes a
//! [`ProviderError`] naming the docker operation, the object and the engine's message, plus a
//! hint where one is known.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HostConfig,
    HostConfigCgroupnsModeEnum, Ipam, IpamConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding, RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListNetworksOptions, ListVolumesOptions,
    LogsOptions, RemoveContainerOptions, RemoveVolumeOptions,
};
use futures_util::StreamExt;

use super::endpoint::{Endpoint, Transport};
use super::exec::{Stream, TIMED_OUT_CODES};
use tokio::io::AsyncWriteExt;

use super::{
    ContainerSpec, ContainerState, EngineInfo, ErrorKind, ExecError, ExecOutput, ExecRequest,
    NetworkSpec, NetworkState, NodeExec, Privilege, Provider, ProviderError, Published,
    VolumeState,
};

/// A connection to a Docker engine.
#[derive(Clone)]
pub struct Docker {
    client: bollard::Docker,
    /// Where `-vv` shows each request that changes something and each command run in a node.
    trace: Option<crate::report::Emitter>,
}

impl Docker {
    /// Connects to the engine at `endpoint` and negotiates the API version (old engines such as
    /// 20.10 speak API 1.41); a connection that does not answer is an error naming the
    /// endpoint and what chose it.
    pub async fn connect(endpoint: &Endpoint) -> Result<Docker, ProviderError> {
        let fail = |e: bollard::errors::Error| ProviderError {
            op: "docker connect",
            object: endpoint.to_string(),
            kind: ErrorKind::Unavailable,
            message: causes(&e),
        };
        let version = bollard::API_DEFAULT_VERSION;
        // The per-request timeout bounds waiting for a response head, not streamed output.
        let timeout = 300;
        let client = match &endpoint.transport {
            Transport::Unix(path) => {
                bollard::Docker::connect_with_unix(&path.to_string_lossy(), timeout, version)
            }
            Transport::Tcp(authority) => {
                bollard::Docker::connect_with_http(&format!("http://{authority}"), timeout, version)
            }
            Transport::Tls {
                authority,
                ca,
                cert,
                key,
            } => bollard::Docker::connect_with_ssl(
                &format!("https://{authority}"),
                key,
                cert,
                ca,
                timeout,
                version,
            ),
            Transport::Ssh(dest) => {
                bollard::Docker::connect_with_ssh(&format!("ssh://{dest}"), timeout, version, None)
            }
        }
        .map_err(fail)?;
        let client = client.negotiate_version().await.map_err(fail)?;
        Ok(Docker {
            client,
            trace: None,
        })
    }

    /// Shows each request that changes something, and each command run in a node, as `-vv`
    /// detail on `events`.
    pub fn traced(mut self, events: &crate::report::Emitter) -> Docker {
        self.trace = Some(events.clone());
        self
    }

    fn trace(&self, what: impl FnOnce() -> String) {
        if let Some(t) = &self.trace {
            t.debug(2, what());
        }
    }
}

fn err<'a>(
    op: &'static str,
    object: &'a str,
) -> impl FnOnce(bollard::errors::Error) -> ProviderError + 'a {
    move |e| {
        let (kind, message) = match &e {
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => (
                classify(*status_code, message),
                format!("{message} (HTTP {status_code})"),
            ),
            other => (ErrorKind::Unavailable, causes(other)),
        };
        ProviderError {
            op,
            object: object.to_string(),
            kind,
            message,
        }
    }
}

/// An error with its causes: bollard's own message for a failed connection is only "client
/// error (Connect)"; the cause says "Connection refused".
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text
}

/// The kind of a Docker engine's error answer. Docker reports most failures as HTTP 500 or 409
/// with a message from the daemon or from runc, so the text decides where the status cannot.
pub fn classify(status: u16, message: &str) -> ErrorKind {
    let m = message.to_ascii_lowercase();
    if m.contains("unable to apply caps")
        || (m.contains("operation not permitted") && m.contains("caps"))
    {
        // runc, when --privileged asks for capabilities outside the host's bounding set.
        ErrorKind::PrivilegedRefused
    } else if m.contains("pool overlaps") {
        ErrorKind::SubnetOverlap
    } else if m.contains("port is already allocated") || m.contains("address already in use") {
        ErrorKind::PortInUse
    } else if status == 404 {
        ErrorKind::NotFound
    } else if m.contains("already in use") || m.contains("already exists") {
        // "The container name "/x" is already in use by container …" is a name conflict.
        ErrorKind::Conflict
    } else if m.contains("is in use") || m.contains("active endpoints") {
        ErrorKind::InUse
    } else if status == 409 {
        ErrorKind::Conflict
    } else if m.contains("ipv6") {
        ErrorKind::Ipv6Unavailable
    } else {
        ErrorKind::Other
    }
}

/// The engine's answer with "not found" (HTTP 404) as `None`: for inspecting, absence is a value,
/// and for removing, an absent object is already what was asked for.
fn found<T>(
    result: Result<T, bollard::errors::Error>,
    op: &'static str,
    object: &str,
) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(err(op, object)(e)),
    }
}

fn label_filter(label: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![label.to_string()])])
}

fn to_btree(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

/// The bollard request body for a container spec (split out so it can be unit-tested).
pub fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut host = HostConfig {
        network_mode: Some(spec.network.clone()),
        binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
        tmpfs: (!spec.tmpfs.is_empty()).then(|| {
            spec.tmpfs
                .iter()
                .map(|t| (t.clone(), String::new()))
                .collect()
        }),
        sysctls: (!spec.sysctls.is_empty()).then(|| spec.sysctls.clone().into_iter().collect()),
        cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
        dns: (!spec.dns.is_empty()).then(|| spec.dns.iter().map(ToString::to_string).collect()),
        devices: (!spec.devices.is_empty()).then(|| {
            spec.devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: Some(d.clone()),
                    path_in_container: Some(d.clone()),
                    cgroup_permissions: Some("rwm".into()),
                })
                .collect()
        }),
        // systemd must be PID 1 even where daemon.json turns on an init process.
        init: Some(false),
        cgroupns_mode: Some(HostConfigCgroupnsModeEnum::PRIVATE),
        // Restart only after an engine restart, as kind does; never in a crash loop.
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: Some(1),
        }),
        ..Default::default()
    };
    match spec.privilege {
        Some(Privilege::Privileged) => {
            host.privileged = Some(true);
            host.security_opt = Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]);
        }
        Some(Privilege::AllCapsButSysResource) => {
            host.cap_add = Some(vec!["ALL".into()]);
            host.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
            // Every device, as --privileged would allow: kubelet's privileged pods (kube-proxy)
            // get `a *:* rwm` in their devices cgroup, which only a parent that has it can grant.
            host.device_cgroup_rules = Some(vec!["a *:* rwm".into()]);
            host.security_opt = Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]);
        }
        None => {}
    }
    let mut exposed = Vec::new();
    if !spec.publish.is_empty() {
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for (addr, host_port, port) in &spec.publish {
            let key = format!("{port}/tcp");
            exposed.push(key.clone());
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(addr.to_string()),
                    host_port: Some(if *host_port == 0 {
                        String::new()
                    } else {
                        host_port.to_string()
                    }),
                });
        }
        host.port_bindings = Some(bindings);
    }
    let mut ipam = EndpointIpamConfig::default();
    for a in &spec.addresses {
        match a {
            std::net::IpAddr::V4(v4) => ipam.ipv4_address = Some(v4.to_string()),
            std::net::IpAddr::V6(v6) => ipam.ipv6_address = Some(v6.to_string()),
        }
    }
    let endpoint = EndpointSettings {
        ipam_config: Some(ipam),
        ..Default::default()
    };
    ContainerCreateBody {
        // The host's network has the host's name: Docker refuses another one there.
        hostname: (spec.network != "host").then(|| spec.hostname.clone()),
        image: Some(spec.image.clone()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        env: (!spec.env.is_empty()).then(|| spec.env.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.cmd.clone(),
        tty: Some(spec.tty),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        stop_signal: Some(
            spec.stop_signal
                .clone()
                .unwrap_or_else(|| "SIGRTMIN+3".into()),
        ),
        host_config: Some(host),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(spec.network.clone(), endpoint)])),
        }),
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl Provider for Docker {
    async fn info(&self) -> Result<EngineInfo, ProviderError> {
        let v = self
            .client
            .version()
            .await
            .map_err(err("docker version", "engine"))?;
        let i = self
            .client
            .info()
            .await
            .map_err(err("docker info", "engine"))?;
        Ok(EngineInfo {
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
            os: i.operating_system.unwrap_or_default(),
            kernel: i.kernel_version.unwrap_or_default(),
            cgroup_version: i.cgroup_version.map(|c| c.to_string()).unwrap_or_default(),
            storage_driver: i.driver.unwrap_or_default(),
        })
    }

    async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let img = found(
            self.client.inspect_image(image).await,
            "docker image inspect",
            image,
        )?;
        Ok(img.map(|i| to_btree(i.config.and_then(|c| c.labels))))
    }

    async fn network(&self, name: &str) -> Result<Option<NetworkState>, ProviderError> {
        let net = found(
            self.client.inspect_network(name, None).await,
            "docker network inspect",
            name,
        )?;
        Ok(net.map(|n| network_state(n.name, n.ipam, n.labels)))
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<(), ProviderError> {
        self.trace(|| format!("docker network create {}", spec.name));
        let config = spec
            .subnets
            .iter()
            .map(|(net, gw, range)| IpamConfig {
                subnet: Some(net.to_string()),
                gateway: Some(gw.to_string()),
                ip_range: range.map(|r| r.to_string()),
                ..Default::default()
            })
            .collect();
        let req = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".into()),
            enable_ipv6: Some(spec.ipv6),
            ipam: Some(Ipam {
                driver: Some("default".into()),
                config: Some(config),
                options: None,
            }),
            labels: Some(spec.labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.client
            .create_network(req)
            .await
            .map(|_| ())
            .map_err(err("docker network create", &spec.name))
    }

    async fn remove_network(&self, name: &str) -> Result<(), ProviderError> {
        self.trace(|| format!("docker network rm {name}"));
        found(
            self.client.remove_network(name).await,
            "docker network rm",
            name,
        )
        .map(|_| ())
    }

    async fn list_networks(&self, label: &str) -> Result<Vec<NetworkState>, ProviderError> {
        let opts = ListNetworksOptions {
            filters: (!label.is_empty()).then(|| label_filter(label)),
        };
        let nets = self
            .client
            .list_networks(Some(opts))
            .await
            .map_err(err("docker network ls", label))?;
        Ok(nets
            .into_iter()
            .map(|n| network_state(n.name, n.ipam, n.labels))
            .collect())
    }

    async fn volume(&self, name: &str) -> Result<Option<VolumeState>, ProviderError> {
        let vol = found(
            self.client.inspect_volume(name).await,
            "docker volume inspect",
            name,
        )?;
        Ok(vol.map(volume_state))
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        self.trace(|| format!("docker volume create {name}"));
        let req = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.client
            .create_volume(req)
            .await
            .map(|_| ())
            .map_err(err("docker volume create", name))
    }

    async fn remove_volume(&self, name: &str) -> Result<(), ProviderError> {
        self.trace(|| format!("docker volume rm {name}"));
        let opts = Some(RemoveVolumeOptions { force: true });
        found(
            self.client.remove_volume(name, opts).await,
            "docker volume rm",
            name,
        )
        .map(|_| ())
    }

    async fn list_volumes(&self, label: &str) -> Result<Vec<VolumeState>, ProviderError> {
        let opts = ListVolumesOptions {
            filters: Some(label_filter(label)),
        };
        let resp = self
            .client
            .list_volumes(Some(opts))
            .await
            .map_err(err("docker volume ls", label))?;
        Ok(resp
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(volume_state)
            .collect())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, ProviderError> {
        self.trace(|| format!("docker create --name {} {}", spec.name, spec.image));
        let opts = CreateContainerOptions {
            name: Some(spec.name.clone()),
            platform: String::new(),
        };
        let created = self
            .client
            .create_container(Some(opts), create_body(spec))
            .await
            .map_err(err("docker create", &spec.name))?;
        Ok(created.id)
    }

    async fn run_container(&self, spec: &ContainerSpec) -> Result<String, ProviderError> {
        self.trace(|| format!("docker start {}", spec.name));
        let id = self.create_container(spec).await?;
        self.client
            .start_container(&spec.name, None)
            .await
            .map_err(err("docker start", &spec.name))?;
        Ok(id)
    }

    async fn start_container(&self, name: &str) -> Result<(), ProviderError> {
        self.client
            .start_container(name, None)
            .await
            .map_err(err("docker start", name))
    }

    async fn stop_container(
        &self,
        name: &str,
        grace: std::time::Duration,
    ) -> Result<(), ProviderError> {
        self.trace(|| format!("docker stop -t {} {name}", grace.as_secs()));
        let opts = bollard::query_parameters::StopContainerOptions {
            t: Some(grace.as_secs().try_into().unwrap_or(i32::MAX)),
            ..Default::default()
        };
        match self.client.stop_container(name, Some(opts)).await {
            // Not modified: it was not running.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            r => found(r, "docker stop", name).map(|_| ()),
        }
    }

    async fn connect_container(&self, network: &str, container: &str) -> Result<(), ProviderError> {
        self.trace(|| format!("docker network connect {network} {container}"));
        let req = bollard::models::NetworkConnectRequest {
            container: container.to_string(),
            ..Default::default()
        };
        self.client
            .connect_network(network, req)
            .await
            .map_err(err("docker network connect", container))
    }

    async fn remove_container(&self, name: &str) -> Result<(), ProviderError> {
        self.trace(|| format!("docker rm -f {name}"));
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        found(
            self.client.remove_container(name, Some(opts)).await,
            "docker rm",
            name,
        )
        .map(|_| ())
    }

    async fn list_containers(&self, label: &str) -> Result<Vec<ContainerState>, ProviderError> {
        let opts = ListContainersOptions {
            all: true,
            filters: Some(label_filter(label)),
            ..Default::default()
        };
        let list = self
            .client
            .list_containers(Some(opts))
            .await
            .map_err(err("docker ps", label))?;
        Ok(list.into_iter().map(summary_state).collect())
    }

    async fn container(&self, name: &str) -> Result<Option<ContainerState>, ProviderError> {
        let c = found(
            self.client.inspect_container(name, None).await,
            "docker inspect",
            name,
        )?;
        Ok(c.map(inspect_state))
    }

    async fn describe_container(&self, name: &str) -> Result<serde_json::Value, ProviderError> {
        let c = self
            .client
            .inspect_container(name, None)
            .await
            .map_err(err("docker inspect", name))?;
        Ok(serde_json::to_value(c).unwrap_or(serde_json::Value::Null))
    }

    async fn logs(&self, name: &str, tail: Option<usize>) -> Result<Vec<u8>, ProviderError> {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..Default::default()
        };
        let mut stream = self.client.logs(name, Some(opts));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.map_err(err("docker logs", name))?.into_bytes());
        }
        Ok(out)
    }
}

fn summary_state(c: bollard::models::ContainerSummary) -> ContainerState {
    let published = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            Some(Published {
                container_port: p.private_port,
                host: p.ip?.parse().ok()?,
                host_port: p.public_port?,
            })
        })
        .collect();
    let addresses = c
        .network_settings
        .and_then(|n| n.networks)
        .map(|n| endpoint_addresses(n.into_values()))
        .unwrap_or_default();
    ContainerState {
        name: c
            .names
            .unwrap_or_default()
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        id: c.id.unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        image: c.image.unwrap_or_default(),
        labels: to_btree(c.labels),
        published,
        addresses,
    }
}

/// A container as `docker inspect` describes it. Published ports come from the configured
/// bindings, which a stopped container keeps, except where the engine picked the host port.
fn inspect_state(c: bollard::models::ContainerInspectResponse) -> ContainerState {
    let config = c.config.unwrap_or_default();
    let settings = c.network_settings.unwrap_or_default();
    let bound = settings.ports.unwrap_or_default();
    let configured = c
        .host_config
        .and_then(|h| h.port_bindings)
        .unwrap_or_default();
    let mut published = Vec::new();
    for (key, bindings) in bound.into_iter().chain(configured) {
        let Some(port) = key.strip_suffix("/tcp").and_then(|p| p.parse().ok()) else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            let host = b.host_ip.and_then(|h| h.parse().ok());
            let host_port = b.host_port.and_then(|p| p.parse().ok());
            if let (Some(host), Some(host_port)) = (host, host_port) {
                let p = Published {
                    container_port: port,
                    host,
                    host_port,
                };
                if !published.contains(&p) {
                    published.push(p);
                }
            }
        }
    }
    ContainerState {
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        id: c.id.unwrap_or_default(),
        state: c
            .state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        image: config.image.unwrap_or_default(),
        labels: to_btree(config.labels),
        published,
        addresses: endpoint_addresses(settings.networks.unwrap_or_default().into_values()),
    }
}

fn endpoint_addresses(endpoints: impl Iterator<Item = EndpointSettings>) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for e in endpoints {
        for a in [e.ip_address, e.global_ipv6_address].into_iter().flatten() {
            if let Ok(ip) = a.parse() {
                out.push(ip);
            }
        }
    }
    out
}

fn volume_state(v: bollard::models::Volume) -> VolumeState {
    VolumeState {
        name: v.name,
        labels: v.labels.into_iter().collect(),
    }
}

fn network_state(
    name: Option<String>,
    ipam: Option<Ipam>,
    labels: Option<HashMap<String, String>>,
) -> NetworkState {
    let subnets = ipam
        .and_then(|i| i.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.subnet?.parse().ok())
        .collect();
    NetworkState {
        name: name.unwrap_or_default(),
        subnets,
        labels: to_btree(labels),
    }
}

#[async_trait::async_trait]
impl NodeExec for Docker {
    async fn exec(&self, node: &str, req: ExecRequest) -> Result<ExecOutput, ExecError> {
        self.trace(|| super::exec::command_line(node, &req.argv));
        let argv = req.node_argv();
        let command = super::exec::command_line(node, &req.argv);
        let unrunnable = |message: String| ExecError::Unrunnable {
            command: command.clone(),
            message,
        };
        let started_at = std::time::Instant::now();
        let created = self
            .client
            .create_exec(
                node,
                CreateExecOptions {
                    cmd: Some(argv),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    attach_stdin: Some(req.stdin.is_some()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| unrunnable(e.to_string()))?;
        let started = self
            .client
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| unrunnable(e.to_string()))?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        if let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        {
            if let Some(data) = &req.stdin {
                input
                    .write_all(data)
                    .await
                    .map_err(|e| unrunnable(format!("writing stdin: {e}")))?;
                input
                    .shutdown()
                    .await
                    .map_err(|e| unrunnable(format!("closing stdin: {e}")))?;
            }
            drop(input);
            // The node's timeout(1) ends the command; this only guards against a node whose
            // timeout did not work (no coreutils) or an engine that stopped answering.
            let backstop = req.timeout.map(|t| t + Duration::from_secs(10));
            let read = async {
                while let Some(item) = output.next().await {
                    let (stream, bytes) = match item.map_err(|e| unrunnable(e.to_string()))? {
                        bollard::container::LogOutput::StdErr { message } => {
                            (Stream::Stderr, message)
                        }
                        other => (Stream::Stdout, other.into_bytes()),
                    };
                    if let Some(tx) = &req.stream {
                        let _ = tx.send((stream, bytes.to_vec()));
                    }
                    match stream {
                        Stream::Stdout => stdout.extend_from_slice(&bytes),
                        Stream::Stderr => stderr.extend_from_slice(&bytes),
                    }
                }
                Ok::<_, ExecError>(())
            };
            match backstop {
                Some(limit) => match tokio::time::timeout(limit, read).await {
                    Ok(r) => r?,
                    Err(_) => {
                        return Err(unrunnable(format!(
                            "no answer within {}s although the node should have ended it after {}s",
                            limit.as_secs(),
                            req.timeout.unwrap_or_default().as_secs()
                        )));
                    }
                },
                None => read.await?,
            }
        }
        let inspect = self
            .client
            .inspect_exec(&created.id)
            .await
            .map_err(|e| unrunnable(e.to_string()))?;
        let output = ExecOutput {
            node: node.to_string(),
            argv: req.argv.clone(),
            code: inspect.exit_code.unwrap_or(-1),
            stdout,
            stderr,
        };
        match req.timeout {
            Some(after)
                if TIMED_OUT_CODES.contains(&output.code) && started_at.elapsed() >= after =>
            {
                Err(ExecError::TimedOut {
                    output: Box::new(output),
                    after,
                })
            }
            _ => Ok(output),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docker inspect` of a running master and of the same master stopped (Docker 20.10 keeps
    /// the configured bindings but empties `NetworkSettings` of a stopped container).
    #[test]
    fn inspect_documents_become_typed_states() {
        let running: bollard::models::ContainerInspectResponse = serde_json::from_str(
            r#"{"Id":"0a1b","Name":"/kube-master","State":{"Status":"running"},
                "Config":{"Image":"kdc/node:bookworm","Labels":{"io.kdc.role":"control-plane"}},
                "HostConfig":{"PortBindings":{"6443/tcp":[{"HostIp":"127.0.0.1","HostPort":"40123"}]}},
                "NetworkSettings":{"Ports":{"6443/tcp":[{"HostIp":"127.0.0.1","HostPort":"40123"}],"22/udp":null},
                  "Networks":{"kubeadm-dind-net":{"IPAddress":"10.192.0.2","GlobalIPv6Address":""}}}}"#,
        )
        .unwrap();
        let s = inspect_state(running);
        assert_eq!(s.name, "kube-master");
        assert_eq!(s.state, "running");
        assert_eq!(s.image, "kdc/node:bookworm");
        assert_eq!(s.host_port(6443), Some(40123));
        assert_eq!(s.published.len(), 1, "the same binding twice is one");
        assert_eq!(s.addresses, vec!["10.192.0.2".parse::<IpAddr>().unwrap()]);
        let stopped: bollard::models::ContainerInspectResponse = serde_json::from_str(
            r#"{"Id":"0a1b","Name":"/kube-master","State":{"Status":"exited"},
                "Config":{"Image":"kdc/node:bookworm"},
                "HostConfig":{"PortBindings":{"6443/tcp":[{"HostIp":"127.0.0.1","HostPort":"40123"}]}},
                "NetworkSettings":{"Ports":{},"Networks":{}}}"#,
        )
        .unwrap();
        let s = inspect_state(stopped);
        assert_eq!(
            (s.state.as_str(), s.host_port(6443)),
            ("exited", Some(40123))
        );
        assert!(s.addresses.is_empty());
    }

    /// Real answers of Docker 20.10 (and runc) to the requests kdc makes.
    #[test]
    fn engine_answers_map_to_kinds() {
        let cases = [
            (
                500,
                "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown",
                ErrorKind::PrivilegedRefused,
            ),
            (
                403,
                "Pool overlaps with other one on this address space",
                ErrorKind::SubnetOverlap,
            ),
            (
                500,
                "driver failed programming external connectivity on endpoint kube-master (ab12): Bind for 127.0.0.1:40001 failed: port is already allocated",
                ErrorKind::PortInUse,
            ),
            (404, "No such container: kube-master", ErrorKind::NotFound),
            (404, "No such image: kdc/node:bookworm", ErrorKind::NotFound),
            (
                409,
                "Conflict. The container name \"/kube-master\" is already in use by container \"0a1b\". You have to remove (or rename) that container to be able to reuse that name.",
                ErrorKind::Conflict,
            ),
            (
                409,
                "network with name kubeadm-dind-net already exists",
                ErrorKind::Conflict,
            ),
            (
                409,
                "remove kubeadm-dind-kube-master: volume is in use - [0a1b2c]",
                ErrorKind::InUse,
            ),
            (
                403,
                "error while removing network: network kubeadm-dind-net id 0a1b has active endpoints",
                ErrorKind::InUse,
            ),
            (
                500,
                "Error response from daemon: Cannot read IPv6 setup for bridge br-0a1b: open /proc/sys/net/ipv6/conf/br-0a1b/disable_ipv6: no such file or directory",
                ErrorKind::Ipv6Unavailable,
            ),
            (500, "something else entirely", ErrorKind::Other),
        ];
        for (status, message, kind) in cases {
            assert_eq!(classify(status, message), kind, "{message}");
        }
    }
}
