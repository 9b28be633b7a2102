//! Live dumps: what a running cluster's nodes say about themselves, as a text dump.
//!
//! Every node is collected concurrently and every command has its own timeout; one broken node
//! or command does not stop the rest — its error is kept in `errors.txt`. Secrets (bootstrap
//! tokens, private keys, kubeconfig credentials) are redacted unless asked otherwise.

use std::time::Duration;

use regex::bytes::Regex;

use super::{DumpMeta, DumpWriter};
use crate::cluster::{Absence, NotUp};
use crate::runtime::{ExecRequest, NodeExec, Provider, ProviderError};

/// systemd units whose status and journal are collected when present in a node.
pub const UNITS: [&str; 5] = ["kubelet", "containerd", "docker", "named", "tayga"];

/// One file of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub content: Vec<u8>,
}

/// What is collected from each kind of container, besides its addresses, routes, `docker
/// inspect` and console: `(file prefix, shell command)`; the file is `<prefix>-<container>.txt`.
/// Commands print what they can and never fail for a missing file (a stopped tayga has written
/// no map yet), so that every section exists.
fn role_commands(role: &str) -> &'static [(&'static str, &'static str)] {
    match role {
        "node" => &[
            ("psaux", "ps auxww"),
            ("resolv-conf", "cat /etc/resolv.conf"),
            (
                "cni",
                "for f in /etc/cni/net.d/*; do echo \"## $f\"; cat \"$f\"; echo; done 2>&1",
            ),
            (
                "pod",
                "echo '## ADD result'; cat /run/kdc/pod.json 2>&1; echo '## resolv.conf'; cat /etc/netns/pod/resolv.conf 2>&1; echo '## ip a'; ip netns exec pod ip a 2>&1; echo '## ip r'; ip netns exec pod ip r 2>&1; echo '## ip -6 r'; ip netns exec pod ip -6 r 2>&1",
            ),
        ],
        "dns" => &[
            ("named-conf", "cat /etc/bind/named.conf 2>&1"),
            ("zone", "cat /etc/bind/db.kdc.test 2>&1"),
            ("resolv-conf", "cat /etc/resolv.conf"),
        ],
        "router" => &[
            (
                "tayga-conf",
                "cat /etc/tayga.conf 2>&1 || echo 'no tayga.conf: not a NAT64 router'",
            ),
            ("tayga-map", "cat /var/db/tayga/dynamic.map 2>&1 || true"),
            (
                "nat",
                "echo '## iptables -t nat'; iptables -t nat -S 2>&1; echo '## ip6tables -t nat'; ip6tables -t nat -S 2>&1",
            ),
        ],
        _ => &[],
    }
}

/// Collects the dump sections of every container of cluster `label`: the nodes (master first),
/// then bind9 and the router. Only listing the containers fails the whole: what fails in one is
/// listed in `errors.txt`.
pub async fn collect(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    label: &str,
    redact_secrets: bool,
    timeout: Duration,
) -> Result<(Vec<Section>, Vec<String>), ProviderError> {
    let all = provider
        .list_containers(&crate::cluster::spec::cluster_filter(label))
        .await?;
    // The nodes, master first, then bind9 and the router; a lock container is not dumped.
    let mut members: Vec<(String, &str, String)> = Vec::new();
    let mut master = None;
    for c in all {
        if c.role() == Some("control-plane") && c.state == "running" {
            master = Some(c.name.clone());
        }
        let role = match c.role() {
            _ if crate::cluster::is_node(&c) => "node",
            Some(crate::cluster::support::ROLE_DNS) => "dns",
            Some(crate::cluster::support::ROLE_ROUTER) => "router",
            Some(crate::cluster::host_routes::ROLE) => "host-routes",
            _ => continue,
        };
        members.push((c.name, role, c.state));
    }
    if !members.iter().any(|(_, role, _)| *role == "node") {
        return Ok((Vec::new(), Vec::new()));
    }
    members.sort_by_key(|(n, role, _)| (*role != "node", !n.starts_with("kube-master"), n.clone()));
    let mark = super::kube::new_mark();
    // The cluster's Kubernetes state comes through the master's kubectl, beside the rest.
    let cluster = async {
        match master {
            Some(m) => super::kube::cluster_sections(exec, &m, &mark, timeout).await,
            None => (Vec::new(), Vec::new()),
        }
    };
    let (per, cluster) = futures_util::future::join(
        futures_util::future::join_all(members.iter().map(|(n, role, state)| {
            container_sections(provider, exec, n, role, state, &mark, timeout)
        })),
        cluster,
    )
    .await;
    let (mut sections, mut errors) = (Vec::new(), Vec::new());
    for (s, e) in per.into_iter().chain([cluster]) {
        sections.extend(s);
        errors.extend(e);
    }
    if redact_secrets {
        for s in &mut sections {
            s.content = redact(&s.content);
        }
    }
    if !errors.is_empty() {
        sections.push(Section {
            name: "errors.txt".into(),
            content: (errors.join("\n") + "\n").into_bytes(),
        });
    }
    Ok((sections, errors))
}

async fn container_sections(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    node: &str,
    role: &str,
    state: &str,
    mark: &str,
    timeout: Duration,
) -> (Vec<Section>, Vec<String>) {
    let mut sections = Vec::new();
    let mut errors = Vec::new();
    if role == "host-routes" && state == "running" {
        // On the host's network: its log says what it added, its inspect which rules.
        engine_sections(provider, node, timeout, &mut sections, &mut errors).await;
        return (sections, errors);
    }
    if state != "running" {
        // Nothing can run in it; what the engine knows of it is still worth having.
        errors.push(format!(
            "{node} is {state}: no command was run in it; its inspect and console log are here"
        ));
        engine_sections(provider, node, timeout, &mut sections, &mut errors).await;
        return (sections, errors);
    }
    let run = |argv: Vec<&str>| {
        let argv: Vec<String> = argv.into_iter().map(String::from).collect();
        async move {
            exec.exec(node, ExecRequest::new(argv).timeout(timeout))
                .await
                .map_err(|e| format!("{node}: {e}"))
        }
    };
    if role == "node" {
        for unit in UNITS {
            let present = matches!(run(vec!["systemctl", "cat", unit]).await, Ok(o) if o.code == 0);
            if !present {
                continue;
            }
            let mut content = Vec::new();
            for argv in [
                vec!["systemctl", "status", "--no-pager", unit],
                vec!["journalctl", "--no-pager", "-xe", "-n", "all", "-u", unit],
            ] {
                match run(argv).await {
                    Ok(o) => content.extend(o.stdout),
                    Err(e) => errors.push(e),
                }
            }
            sections.push(Section {
                name: format!("service-{node}-{unit}.log"),
                content,
            });
        }
        let (s, e) = super::kube::node_sections(exec, node, mark, timeout).await;
        sections.extend(s);
        errors.extend(e);
    }
    let common: [(&str, &str); 3] = [("ip-a", "ip a"), ("ip-r", "ip r"), ("ip-6-r", "ip -6 r")];
    for (file, cmd) in common.iter().chain(role_commands(role)) {
        match run(vec!["sh", "-c", cmd]).await {
            Ok(o) => sections.push(Section {
                name: format!("{file}-{node}.txt"),
                content: o.stdout,
            }),
            Err(e) => errors.push(e),
        }
    }
    engine_sections(provider, node, timeout, &mut sections, &mut errors).await;
    (sections, errors)
}

/// What the engine knows of a container, running or not: `docker inspect` and its console.
async fn engine_sections(
    provider: &dyn Provider,
    node: &str,
    timeout: Duration,
    sections: &mut Vec<Section>,
    errors: &mut Vec<String>,
) {
    match tokio::time::timeout(timeout, provider.describe_container(node)).await {
        Ok(Ok(v)) => sections.push(Section {
            name: format!("inspect-{node}.json"),
            content: serde_json::to_vec_pretty(&v).unwrap_or_default(),
        }),
        Ok(Err(e)) => errors.push(format!("{node}: {e}")),
        Err(_) => errors.push(format!("{node}: docker inspect timed out")),
    }
    match tokio::time::timeout(timeout, provider.logs(node, None)).await {
        Ok(Ok(log)) => sections.push(Section {
            name: format!("serial-{node}.log"),
            content: crate::text::strip_ansi(&String::from_utf8_lossy(&log)).into_bytes(),
        }),
        Ok(Err(e)) => errors.push(format!("{node}: {e}")),
        Err(_) => errors.push(format!("{node}: docker logs timed out")),
    }
}

/// Why a live dump could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LiveDumpError {
    #[error(transparent)]
    NotUp(#[from] NotUp),
    /// The cluster's nodes cannot be listed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Section(#[from] super::DumpError),
}

/// What a live dump is of.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub label: &'a str,
    pub ip_mode: &'a str,
    pub redact: bool,
    /// How long each command in a node may take.
    pub timeout: Duration,
}

/// The cluster's state as a text dump (the `kdc-dump.json` section first), and the problems met
/// collecting it (also in its `errors.txt`).
pub async fn text_dump(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    target: &Target<'_>,
) -> Result<(Vec<u8>, Vec<String>), LiveDumpError> {
    let (sections, errors) =
        collect(provider, exec, target.label, target.redact, target.timeout).await?;
    if sections.is_empty() {
        return Err(LiveDumpError::NotUp(NotUp {
            cluster: target.label.to_string(),
            why: Absence::NoNodes,
        }));
    }
    let meta = DumpMeta {
        kdc_version: env!("CARGO_PKG_VERSION").to_string(),
        cluster: target.label.to_string(),
        time: rfc3339_now(),
        ip_mode: target.ip_mode.to_string(),
    };
    let mut w = DumpWriter::new(Vec::new(), &meta).expect("writing to memory");
    for s in &sections {
        w.section(&s.name, &s.content)?;
    }
    Ok((w.finish().expect("writing to memory"), errors))
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, Howard Hinnant's algorithm).
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Replaces secrets with `[REDACTED]`: PEM private keys, kubeadm bootstrap tokens, and the
/// credential fields of kubeconfigs.
pub fn redact(content: &[u8]) -> Vec<u8> {
    use std::sync::OnceLock;
    static RULES: OnceLock<[(Regex, &'static [u8]); 3]> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (
                Regex::new(
                    r"(?s)-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                )
                .unwrap(),
                b"-----BEGIN ${1}PRIVATE KEY----- [REDACTED] -----END ${1}PRIVATE KEY-----"
                    .as_slice(),
            ),
            (
                Regex::new(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b").unwrap(),
                b"[REDACTED-TOKEN]".as_slice(),
            ),
            (
                Regex::new(
                    r"(client-key-data|client-certificate-data|token|password)(\s*[:=]\s*)\S+",
                )
                .unwrap(),
                b"${1}${2}[REDACTED]".as_slice(),
            ),
        ]
    });
    let mut out = content.to_vec();
    for (re, with) in rules {
        out = re.replace_all(&out, *with).into_owned();
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::runtime::fake::{Fake, Handler};

    /// An ipv6 cluster (master, two workers, bind9, tayga) brought up on a fake engine whose
    /// nodes answer with `handler`, if given; returns the engine and the cluster's label.
    pub(in crate::dump) async fn fake_cluster(handler: Option<Handler>) -> (Fake, String) {
        let plan = crate::plan::for_env(&[("IP_MODE", "ipv6")]);
        let mut fake = Fake::with_image(&plan.image);
        if let Some(h) = handler {
            fake.handler = h;
        }
        let opts = crate::cluster::UpOptions::default();
        let (events, _) = crate::report::Recorder::emitter();
        crate::cluster::up(
            &fake,
            &fake,
            &plan,
            &opts,
            &events,
            &crate::signal::Stop::manual(),
        )
        .await
        .unwrap();
        (fake, plan.cluster.label)
    }

    /// A stopped router (tayga killed, a crashed container) is dumped as far as the engine
    /// knows it, with one line saying why nothing ran in it, and no command is sent to it.
    #[tokio::test]
    async fn a_container_that_is_not_running_gets_its_inspect_and_console_only() {
        let (fake, label) = fake_cluster(None).await;
        fake.state().containers.get_mut("tayga").unwrap().1 = "exited".into();
        let before = fake.calls().len();
        let (sections, errors) = collect(&fake, &fake, &label, true, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            errors,
            ["tayga is exited: no command was run in it; its inspect and console log are here"]
        );
        let tayga: Vec<&str> = sections
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| n.contains("tayga") && !n.starts_with("service-"))
            .collect();
        assert_eq!(tayga, ["inspect-tayga.json", "serial-tayga.log"]);
        assert!(sections.iter().any(|s| s.name == "zone-bind9.txt"));
        assert_eq!(sections.last().map(|s| s.name.as_str()), Some("errors.txt"));
        let sent: Vec<String> = fake.calls()[before..]
            .iter()
            .filter(|c| c.starts_with("exec tayga "))
            .cloned()
            .collect();
        assert!(sent.is_empty(), "{sent:?}");
    }

    #[test]
    fn redacts_keys_tokens_and_kubeconfig_credentials() {
        let input = b"kubeadm join 10.192.0.2:6443 --token abcdef.0123456789abcdef\n\
            -----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----\n\
            users:\n- user:\n    client-key-data: LS0tc2VjcmV0\n    token: s3cr3t\nkeep: this\n";
        let out = String::from_utf8(redact(input)).unwrap();
        assert_eq!(
            out,
            "kubeadm join 10.192.0.2:6443 --token [REDACTED-TOKEN]\n\
             -----BEGIN RSA PRIVATE KEY----- [REDACTED] -----END RSA PRIVATE KEY-----\n\
             users:\n- user:\n    client-key-data: [REDACTED]\n    token: [REDACTED]\nkeep: this\n"
        );
    }
}
