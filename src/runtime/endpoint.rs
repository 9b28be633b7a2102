//! Which Docker engine kdc talks to, chosen exactly as the docker CLI chooses it, so that `kdc`
//! and `docker` always see the same containers:
//!
//! 1. `DOCKER_HOST` (with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` for TLS), else
//! 2. the context named by `DOCKER_CONTEXT`, else
//! 3. the current context of the docker CLI's config (`currentContext` in
//!    `$DOCKER_CONFIG/config.json`, default `~/.docker`), else
//! 4. the local socket `unix:///var/run/docker.sock`.
//!
//! The context `default` means steps 1 and 4. Contexts are read from the CLI's store
//! (`contexts/meta/<sha256 of the name>/meta.json`, TLS files under `contexts/tls/…/docker/`).
//! Addresses may be `unix://`, `tcp://` (TLS when asked for) and `ssh://` (through the `ssh`
//! client, which runs `docker system dial-stdio` on the remote host). Anything else is an error
//! that names the value and where it came from.

use std::fmt;
use std::path::{Path, PathBuf};

/// What the environment says about the engine; gathered by `Env`, the only reader of the
/// environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineEnv {
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    /// `DOCKER_TLS_VERIFY` is set (to anything non-empty, as for the docker CLI).
    pub tls_verify: bool,
    /// `DOCKER_TLS` is set: TLS without checking the engine's certificate.
    pub tls_no_verify: bool,
    pub cert_path: Option<PathBuf>,
    /// `$DOCKER_CONFIG`, else `$HOME/.docker`.
    pub config_dir: Option<PathBuf>,
}

/// How to reach the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Unix(PathBuf),
    /// Plain HTTP to `host:port`.
    Tcp(String),
    /// TLS to `host:port`, checking the engine against `ca` and presenting `cert`/`key`.
    Tls {
        authority: String,
        ca: PathBuf,
        cert: PathBuf,
        key: PathBuf,
    },
    /// `[user@]host[:port]` through the ssh client.
    Ssh(String),
}

/// The engine kdc uses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub transport: Transport,
    /// The address as written (`tcp://docker:2376`).
    pub address: String,
    /// What chose it: `DOCKER_HOST`, `DOCKER_CONTEXT=ci`, `docker context ci (current)`, or
    /// `the default socket`.
    pub chosen_by: String,
}

impl Endpoint {
    /// Whether the engine runs on this host, so that paths and addresses on the engine's host
    /// are also this host's (`/lib/modules`, container addresses, published ports).
    pub fn is_local(&self) -> bool {
        match &self.transport {
            Transport::Unix(_) => true,
            Transport::Tcp(a) | Transport::Tls { authority: a, .. } => {
                let host = a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                matches!(host, "localhost" | "127.0.0.1" | "::1")
            }
            Transport::Ssh(_) => false,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.address, self.chosen_by)
    }
}

/// The engine cannot be chosen: a value is malformed or names something that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {message}")]
pub struct EndpointError {
    /// The setting at fault, with its value (`DOCKER_HOST=tcp//x`).
    pub what: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// Chooses the engine (see the module documentation).
pub fn resolve(env: &EngineEnv) -> Result<Endpoint, EndpointError> {
    if let Some(host) = &env.docker_host {
        return from_host(host, "DOCKER_HOST", env);
    }
    let (name, chosen_by) = match (&env.docker_context, current_context(env)?) {
        (Some(name), _) => (name.clone(), format!("DOCKER_CONTEXT={name}")),
        (None, Some(name)) => {
            let by = format!("docker context {name} (current in the docker CLI's config)");
            (name, by)
        }
        (None, None) => return from_host(DEFAULT_SOCKET, "the default socket", env),
    };
    if name == "default" {
        return from_host(DEFAULT_SOCKET, &chosen_by, env);
    }
    from_context(&name, &chosen_by, env)
}

fn current_context(env: &EngineEnv) -> Result<Option<String>, EndpointError> {
    let Some(dir) = &env.config_dir else {
        return Ok(None);
    };
    let file = dir.join("config.json");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| EndpointError {
        what: file.display().to_string(),
        message: format!("not valid JSON ({e}); fix it or set DOCKER_HOST"),
    })?;
    Ok(doc["currentContext"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(String::from))
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn from_context(name: &str, chosen_by: &str, env: &EngineEnv) -> Result<Endpoint, EndpointError> {
    let missing = |message: String| EndpointError {
        what: chosen_by.to_string(),
        message,
    };
    let Some(dir) = &env.config_dir else {
        return Err(missing(
            "no docker config directory to read contexts from (set DOCKER_CONFIG or HOME)".into(),
        ));
    };
    let id = sha256_hex(name);
    let meta = dir.join("contexts/meta").join(&id).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|_| {
        missing(format!(
            "no docker context named {name} ({} does not exist); `docker context ls` lists them",
            meta.display()
        ))
    })?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| missing(format!("{} is not valid JSON: {e}", meta.display())))?;
    let docker = &doc["Endpoints"]["docker"];
    let Some(host) = docker["Host"].as_str() else {
        return Err(missing(format!(
            "context {name} has no docker endpoint ({})",
            meta.display()
        )));
    };
    let tls_dir = dir.join("contexts/tls").join(&id).join("docker");
    let mut endpoint = from_host(host, chosen_by, &EngineEnv::default())?;
    if let Transport::Tcp(authority) = &endpoint.transport
        && tls_dir.join("ca.pem").exists()
    {
        if docker["SkipTLSVerify"].as_bool() == Some(true) {
            return Err(missing(format!(
                "context {name} skips TLS verification, which kdc does not do; give the context the engine's CA"
            )));
        }
        endpoint.transport = Transport::Tls {
            authority: authority.clone(),
            ca: tls_dir.join("ca.pem"),
            cert: tls_dir.join("cert.pem"),
            key: tls_dir.join("key.pem"),
        };
    }
    Ok(endpoint)
}

/// An address as `DOCKER_HOST` or a context's `Host` writes it.
fn from_host(host: &str, chosen_by: &str, env: &EngineEnv) -> Result<Endpoint, EndpointError> {
    let bad = |message: &str| EndpointError {
        what: if chosen_by == "DOCKER_HOST" {
            format!("DOCKER_HOST={host}")
        } else {
            format!("{host} (from {chosen_by})")
        },
        message: message.to_string(),
    };
    let endpoint = |transport| Endpoint {
        transport,
        address: host.to_string(),
        chosen_by: chosen_by.to_string(),
    };
    let Some((scheme, rest)) = host.split_once("://") else {
        return Err(bad(
            "not an engine address; use unix:///path/to/docker.sock, tcp://host:port or ssh://[user@]host",
        ));
    };
    match scheme {
        "unix" => {
            if rest.is_empty() || !rest.starts_with('/') {
                return Err(bad(
                    "a unix address needs an absolute socket path, as in unix:///var/run/docker.sock",
                ));
            }
            Ok(endpoint(Transport::Unix(PathBuf::from(rest))))
        }
        "tcp" => {
            let authority = rest.trim_end_matches('/');
            let tls = env.tls_verify;
            if env.tls_no_verify && !tls {
                return Err(bad(
                    "DOCKER_TLS asks for TLS without checking the engine's certificate, which kdc does not do; set DOCKER_TLS_VERIFY=1 and put ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH",
                ));
            }
            let authority = with_port(authority, if tls { 2376 } else { 2375 })
                .ok_or_else(|| bad("expected tcp://host:port, as in tcp://127.0.0.1:2375"))?;
            if !tls {
                return Ok(endpoint(Transport::Tcp(authority)));
            }
            let dir = env
                .cert_path
                .clone()
                .or_else(|| env.config_dir.clone())
                .ok_or_else(|| bad("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor a home directory says where the certificates are"))?;
            for f in ["ca.pem", "cert.pem", "key.pem"] {
                if !dir.join(f).is_file() {
                    return Err(EndpointError {
                        what: format!("DOCKER_CERT_PATH={}", dir.display()),
                        message: format!(
                            "{f} is missing; DOCKER_TLS_VERIFY needs ca.pem, cert.pem and key.pem there"
                        ),
                    });
                }
            }
            Ok(endpoint(Transport::Tls {
                authority,
                ca: dir.join("ca.pem"),
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
            }))
        }
        "ssh" => {
            let dest = rest.trim_end_matches('/');
            if dest.is_empty() || dest.contains('/') {
                return Err(bad("expected ssh://[user@]host"));
            }
            let host = dest.rsplit_once('@').map_or(dest, |(_, h)| h);
            if let Some((_, port)) = host.rsplit_once(':') {
                // bollard hands `user@host:port` to ssh as one host name, which ssh cannot
                // resolve; ssh's own configuration carries a port fine.
                return Err(bad(&format!(
                    "kdc cannot give ssh a port in the address; name the host in ~/.ssh/config (Host myengine, HostName …, Port {port}) and use ssh://myengine"
                )));
            }
            Ok(endpoint(Transport::Ssh(dest.to_string())))
        }
        _ => Err(bad(
            "unsupported scheme; kdc talks to engines at unix://, tcp:// (with DOCKER_TLS_VERIFY for TLS) or ssh:// addresses",
        )),
    }
}

/// `host:port`, adding `default` when there is no port; `None` when malformed.
fn with_port(authority: &str, default: u16) -> Option<String> {
    if authority.is_empty() || authority.contains('/') || authority.contains('@') {
        return None;
    }
    // A bracketed IPv6 literal: [::1] or [::1]:2375.
    if let Some(rest) = authority.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        return match after {
            "" => Some(format!("[{addr}]:{default}")),
            p => p
                .strip_prefix(':')?
                .parse::<u16>()
                .ok()
                .map(|_| authority.to_string()),
        };
    }
    match authority.split_once(':') {
        None => Some(format!("{authority}:{default}")),
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Some(authority.to_string())
        }
        _ => None,
    }
}

/// The docker CLI's config directory from `DOCKER_CONFIG` and `HOME`.
pub fn config_dir(docker_config: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    docker_config
        .map(PathBuf::from)
        .or_else(|| home.map(|h| Path::new(h).join(".docker")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(host: Option<&str>) -> EngineEnv {
        EngineEnv {
            docker_host: host.map(String::from),
            ..EngineEnv::default()
        }
    }

    #[test]
    fn docker_host_is_used_as_written() {
        let e = resolve(&env(Some("tcp://127.0.0.1:1"))).unwrap();
        assert_eq!(e.transport, Transport::Tcp("127.0.0.1:1".into()));
        assert_eq!(e.to_string(), "tcp://127.0.0.1:1 (from DOCKER_HOST)");
        assert!(e.is_local());
        let e = resolve(&env(Some("unix:///run/user/1000/docker.sock"))).unwrap();
        assert_eq!(
            e.transport,
            Transport::Unix("/run/user/1000/docker.sock".into())
        );
        let e = resolve(&env(Some("tcp://docker:2375"))).unwrap();
        assert!(!e.is_local(), "GitLab's docker:dind service is remote");
        assert_eq!(
            resolve(&env(Some("tcp://docker"))).unwrap().transport,
            Transport::Tcp("docker:2375".into())
        );
        assert_eq!(
            resolve(&env(Some("tcp://[::1]:2375"))).unwrap().transport,
            Transport::Tcp("[::1]:2375".into())
        );
        assert_eq!(
            resolve(&env(Some("ssh://ci@build-3"))).unwrap().transport,
            Transport::Ssh("ci@build-3".into())
        );
        let e = resolve(&env(None)).unwrap();
        assert_eq!(
            (e.transport, e.chosen_by.as_str()),
            (
                Transport::Unix("/var/run/docker.sock".into()),
                "the default socket"
            )
        );
    }

    #[test]
    fn malformed_or_unsupported_addresses_are_errors_naming_them() {
        for (host, start) in [
            ("tcp//x", "not an engine address"),
            ("localhost:2375", "not an engine address"),
            ("tcp://", "expected tcp://host:port"),
            ("tcp://host:port", "expected tcp://host:port"),
            ("tcp://h:99999", "expected tcp://host:port"),
            (
                "unix://relative.sock",
                "a unix address needs an absolute socket path",
            ),
            ("npipe:////./pipe/docker_engine", "unsupported scheme"),
            ("fd://", "unsupported scheme"),
            ("ssh://", "expected ssh://"),
            (
                "ssh://ci@build-3:2222",
                "kdc cannot give ssh a port in the address; name the host in ~/.ssh/config (Host myengine, HostName …, Port 2222)",
            ),
        ] {
            let e = resolve(&env(Some(host))).unwrap_err();
            assert_eq!(e.what, format!("DOCKER_HOST={host}"));
            assert!(e.message.starts_with(start), "{host}: {}", e.message);
        }
    }

    #[test]
    fn tls_needs_the_three_files_and_verification() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = env(Some("tcp://10.0.0.5"));
        e.tls_verify = true;
        e.cert_path = Some(dir.path().to_path_buf());
        let err = resolve(&e).unwrap_err();
        assert_eq!(
            err.what,
            format!("DOCKER_CERT_PATH={}", dir.path().display())
        );
        assert!(
            err.message.starts_with("ca.pem is missing"),
            "{}",
            err.message
        );
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        assert_eq!(
            resolve(&e).unwrap().transport,
            Transport::Tls {
                authority: "10.0.0.5:2376".into(),
                ca: dir.path().join("ca.pem"),
                cert: dir.path().join("cert.pem"),
                key: dir.path().join("key.pem"),
            }
        );
        let mut no_verify = env(Some("tcp://10.0.0.5:2376"));
        no_verify.tls_no_verify = true;
        assert!(
            resolve(&no_verify)
                .unwrap_err()
                .message
                .starts_with("DOCKER_TLS asks for TLS without checking")
        );
    }

    /// A context store as `docker context create ci --docker host=tcp://…,ca=…,cert=…,key=…`
    /// writes it, and `docker context use ci`.
    fn store(current: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let id = sha256_hex("ci");
        let meta = dir.path().join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"ci","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://build-3:2376","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let tls = dir.path().join("contexts/tls").join(&id).join("docker");
        std::fs::create_dir_all(&tls).unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(tls.join(f), "x").unwrap();
        }
        if let Some(c) = current {
            std::fs::write(
                dir.path().join("config.json"),
                format!(r#"{{"auths":{{}},"currentContext":"{c}"}}"#),
            )
            .unwrap();
        }
        dir
    }

    #[test]
    fn contexts_follow_the_docker_cli() {
        let dir = store(Some("ci"));
        let base = EngineEnv {
            config_dir: Some(dir.path().to_path_buf()),
            ..EngineEnv::default()
        };
        let tls = dir
            .path()
            .join("contexts/tls")
            .join(sha256_hex("ci"))
            .join("docker");
        let current = resolve(&base).unwrap();
        assert_eq!(
            current.transport,
            Transport::Tls {
                authority: "build-3:2376".into(),
                ca: tls.join("ca.pem"),
                cert: tls.join("cert.pem"),
                key: tls.join("key.pem"),
            }
        );
        assert_eq!(
            current.chosen_by,
            "docker context ci (current in the docker CLI's config)"
        );
        // DOCKER_CONTEXT wins over the current context; `default` is the local socket.
        let by_var = EngineEnv {
            docker_context: Some("default".into()),
            ..base.clone()
        };
        assert_eq!(
            resolve(&by_var).unwrap().transport,
            Transport::Unix("/var/run/docker.sock".into())
        );
        // DOCKER_HOST wins over both.
        let by_host = EngineEnv {
            docker_host: Some("unix:///tmp/d.sock".into()),
            docker_context: Some("ci".into()),
            ..base.clone()
        };
        assert_eq!(
            resolve(&by_host).unwrap().transport,
            Transport::Unix("/tmp/d.sock".into())
        );
        let missing = EngineEnv {
            docker_context: Some("nosuch".into()),
            ..base
        };
        let e = resolve(&missing).unwrap_err();
        assert_eq!(e.what, "DOCKER_CONTEXT=nosuch");
        assert!(
            e.message.starts_with("no docker context named nosuch"),
            "{}",
            e.message
        );
    }

    #[test]
    fn context_ids_are_the_sha256_of_the_name() {
        // As `docker context create ci` names its directories.
        assert_eq!(
            sha256_hex("ci"),
            "1b158839f8aa339e89bb50b1603e90ec68e0fd5565fe10a7cb32729fddf7070a"
        );
    }
}
