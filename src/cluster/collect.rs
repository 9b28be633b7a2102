//! Live dump collection: what a running cluster's nodes say about themselves.
//!
//! Every node is collected concurrently and every command has its own timeout; one broken node
//! or command does not stop the rest — its error is kept in `errors.txt`. Secrets (bootstrap
//! tokens, private keys, kubeconfig credentials) are redacted unless asked otherwise.

use std::time::Duration;

use regex::bytes::Regex;

use crate::runtime::{ExecRequest, NodeExec, Provider};

/// systemd units whose status and journal are collected when present in a node.
pub const UNITS: [&str; 5] = ["kubelet", "containerd", "docker", "named", "tayga"];

/// One file of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub content: Vec<u8>,
}

/// Collects the dump sections of every node container of cluster `label`, nodes in plan order.
pub async fn collect(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    label: &str,
    redact_secrets: bool,
    timeout: Duration,
) -> (Vec<Section>, Vec<String>) {
    let mut nodes = match super::node_names(provider, label).await {
        Ok(names) => names,
        Err(e) => return (Vec::new(), vec![e.to_string()]),
    };
    nodes.sort_by_key(|n| (!n.starts_with("kube-master"), n.clone()));
    let per_node = futures_util::future::join_all(
        nodes
            .iter()
            .map(|n| node_sections(provider, exec, n, timeout)),
    )
    .await;
    let (mut sections, mut errors) = (Vec::new(), Vec::new());
    for (s, e) in per_node {
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
    (sections, errors)
}

async fn node_sections(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    node: &str,
    timeout: Duration,
) -> (Vec<Section>, Vec<String>) {
    let mut sections = Vec::new();
    let mut errors = Vec::new();
    let run = |argv: Vec<&'static str>| async move {
        exec.exec(node, ExecRequest::new(argv).timeout(timeout))
            .await
            .map_err(|e| format!("{node}: {e}"))
    };
    for unit in UNITS {
        let present = matches!(run(vec!["systemctl", "cat", unit]).await, Ok(o) if o.code == 0);
        if !present {
            continue;
        }
        let mut content = Vec::new();
        for argv in [
            vec!["systemctl", "status", "--no-pager", unit],
            vec!["journalctl", "--no-pager", "-xe", "-u", unit],
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
    let commands: [(&str, Vec<&'static str>); 5] = [
        ("psaux", vec!["ps", "auxww"]),
        ("ip-a", vec!["ip", "a"]),
        ("ip-r", vec!["ip", "r"]),
        ("ip-6-r", vec!["ip", "-6", "r"]),
        ("resolv-conf", vec!["cat", "/etc/resolv.conf"]),
    ];
    for (file, argv) in commands {
        match run(argv).await {
            Ok(o) => sections.push(Section {
                name: format!("{file}-{node}.txt"),
                content: o.stdout,
            }),
            Err(e) => errors.push(e),
        }
    }
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
    (sections, errors)
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
mod tests {
    use super::*;

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
