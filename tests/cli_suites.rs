//! `kdc test list` end to end: the embedded suites as text and JSON, a user's suite file, and a
//! malformed one (exit 1, the file:line:column message); `kdc test run`'s refusals before any
//! cluster.

use assert_cmd::Command;
use serde_json::{Value, json};
use tempfile::TempDir;

/// `kdc` with an empty environment, run in a fresh empty directory.
fn kdc(dir: &TempDir) -> Command {
    let mut c = Command::cargo_bin("kdc").expect("binary kdc");
    c.env_clear().current_dir(dir.path());
    c
}

fn tmp() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn stdout_of(c: &mut Command) -> String {
    let out = c.output().expect("run kdc");
    assert!(
        out.status.success(),
        "kdc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

const MINE: &str = r#"description = "my own checks"

[cluster]
NUM_NODES = 1

[[check]]
id = "ping-x"
what = "node-1 reaches the master"
on = ["node:node-1"]
ping = { to = "{node.master.ipv4}", family = 4 }
timeout = "2s"
"#;

#[test]
fn test_list_shows_every_suite_and_check() {
    let d = tmp();
    let text = stdout_of(kdc(&d).args(["test", "list"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..7],
        [
            "smoke: any cluster: systemd up, nodes reach the master, the name server answers, pods reach each other",
            "  systemd        nodes       systemd finished booting with no failed unit",
            "  ping-master-4  nodes       every node reaches the master over IPv4 (modes: ipv4, dual-stack)",
            "  ping-master-6  nodes       every node reaches the master over IPv6 (modes: ipv6, dual-stack)",
            "  name-server    nodes       the cluster's name server answers A for the IPv4-only target",
            "  pods-4         pod:master  the master's pod reaches node-1's pod over IPv4 (modes: ipv4, dual-stack) (when: cni = bridge or ptp)",
            "  pods-6         pod:master  the master's pod reaches node-1's pod over IPv6 (modes: ipv6, dual-stack) (when: cni = bridge or ptp)",
        ]
    );
    let suites: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with(' '))
        .copied()
        .collect();
    assert_eq!(
        suites,
        [
            "smoke: any cluster: systemd up, nodes reach the master, the name server answers, pods reach each other",
            "ipv4: IPv4-only cluster: lookups agree everywhere; pods reach each other, the nodes and the targets [IP_MODE=ipv4]",
            "ipv6: IPv6-only cluster: DNS64 lookups, NAT64 pings, pod-to-pod across nodes [IP_MODE=ipv6]",
            "dual-stack: dual-stack cluster: real AAAA records, no DNS64, pods and targets reached over both families [IP_MODE=dual-stack]",
            "kubernetes: Kubernetes (kubeadm): nodes Ready, CoreDNS, Services by name and address from real pods, CoreDNS forwarding to the cluster's name server",
        ]
    );
    assert!(
        lines.contains(
            &"  dns64-always               nodes, pods             the dual-stack target's AAAA is synthesised too (when: allow_aaaa = false)"
        ),
        "{text}"
    );
    assert_eq!(lines.len(), 5 + 6 + 8 + 15 + 16 + 6);
}

#[test]
fn test_list_json_mirrors_the_suite_files() {
    let d = tmp();
    let v: Value = serde_json::from_str(&stdout_of(kdc(&d).args(["test", "list", "--json"])))
        .expect("stdout is JSON");
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["smoke", "ipv4", "ipv6", "dual-stack", "kubernetes"]);
    let ipv6 = &v[2];
    assert_eq!(ipv6["source"], "embedded");
    assert_eq!(ipv6["cluster"], json!({"IP_MODE": "ipv6"}));
    assert_eq!(
        ipv6["description"],
        "IPv6-only cluster: DNS64 lookups, NAT64 pings, pod-to-pod across nodes"
    );
    assert_eq!(
        ipv6["checks"][0],
        json!({
            "id": "dns64-ipv4only",
            "what": "the IPv4-only target gets a synthesised AAAA",
            "on": ["nodes", "pods"],
            "action": "lookup",
            "lookup": {"name": "{target.ipv4only}", "type": "AAAA", "via": null},
            "expect": {"equals": "{dns64.ipv4only}"},
            "modes": null,
            "when": null,
            "timeout": "10s",
        })
    );
    let negative = ipv6["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "no-ipv4-path")
        .unwrap();
    assert_eq!(
        negative["ping"],
        json!({"to": "{target.ipv4only.ipv4}", "family": 4})
    );
    assert_eq!(negative["expect"], json!({"unreachable": true}));
    let smoke_pods = &v[0]["checks"][4];
    assert_eq!(smoke_pods["id"], "pods-4");
    assert_eq!(smoke_pods["modes"], json!(["ipv4", "dual-stack"]));
    assert_eq!(smoke_pods["when"], json!({"cni": ["bridge", "ptp"]}));
}

#[test]
fn a_users_suite_file_is_listed_after_the_embedded_ones() {
    let d = tmp();
    std::fs::write(d.path().join("mine.toml"), MINE).unwrap();
    let text = stdout_of(kdc(&d).args(["test", "list", "--suite-file", "mine.toml"]));
    let tail: Vec<&str> = text.lines().rev().take(2).collect();
    assert_eq!(
        tail,
        [
            "  ping-x  node:node-1  node-1 reaches the master",
            "mine: my own checks [NUM_NODES=1]",
        ]
    );
    let v: Value = serde_json::from_str(&stdout_of(kdc(&d).args([
        "test",
        "list",
        "--json",
        "--suite-file",
        "mine.toml",
    ])))
    .unwrap();
    assert_eq!(
        v[5],
        json!({
            "name": "mine",
            "source": "mine.toml",
            "description": "my own checks",
            "cluster": {"NUM_NODES": "1"},
            "checks": [{
                "id": "ping-x",
                "what": "node-1 reaches the master",
                "on": ["node:node-1"],
                "action": "ping",
                "ping": {"to": "{node.master.ipv4}", "family": 4},
                "expect": {"reachable": true},
                "modes": null,
                "when": null,
                "timeout": "2s",
            }],
        })
    );
}

#[test]
fn a_malformed_suite_file_fails_with_its_position() {
    let d = tmp();
    std::fs::write(
        d.path().join("mine.toml"),
        MINE.replace("timeout = \"2s\"", "expct = { reachable = true }"),
    )
    .unwrap();
    kdc(&d)
        .args(["test", "list", "--suite-file", "mine.toml"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("error: mine.toml:11:1: check \"ping-x\": unknown key \"expct\"; known: id, what, on, lookup, ping, command, expect, modes, when, timeout\n");
}

#[test]
fn a_suite_file_may_not_take_an_embedded_name() {
    let d = tmp();
    std::fs::write(d.path().join("ipv6.toml"), MINE).unwrap();
    kdc(&d)
        .args(["test", "list", "--suite-file", "ipv6.toml"])
        .assert()
        .code(1)
        .stderr("error: the suite file ipv6.toml is named ipv6, like the embedded suite suites/ipv6.toml; rename the file\n");
}

/// `kdc test run` refuses what it cannot run before it touches an engine: each with its exact
/// message, exit 1, nothing on stdout, nothing written (DOCKER_HOST points nowhere, so an
/// attempt to connect would fail differently).
#[test]
fn test_run_refuses_bad_selections_and_unwritable_outputs_before_any_cluster() {
    let d = tmp();
    std::fs::write(d.path().join("afile"), "").unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["ipv9"],
            "unknown suite \"ipv9\"; known: smoke, ipv4, ipv6, dual-stack, kubernetes",
        ),
        (
            &["ipv4/nope"],
            "suite ipv4 has no check \"nope\"; known: a-ipv4only, a-ipv4only-pod-getent, node-names, pod-to-pod, pod-to-node, external-ipv4only, external-dualstack, host-to-master",
        ),
        (
            &["ipv4", "ipv6"],
            "suites ipv4 and ipv6 need different clusters (IP_MODE=ipv4 and IP_MODE=ipv6); run them separately",
        ),
        (
            &["ipv4", "--artifacts", "afile"],
            "afile exists and is not a directory; choose another --artifacts",
        ),
        (
            &["ipv4", "--junit", "afile/x.xml"],
            "afile exists and is not a directory; choose another --junit",
        ),
        (
            &["ipv4", "--junit", "."],
            "--junit .: is a directory; give the JUnit file's path",
        ),
    ];
    for (args, message) in cases {
        kdc(&d)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args(["test", "run"])
            .args(args)
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!("error: {message}\n"));
    }
    let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "only afile: {left:?}");
}

#[test]
fn test_run_without_a_suite_is_a_usage_error() {
    let d = tmp();
    kdc(&d)
        .args(["test", "run"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("<SUITE[/CHECK]>"));
}
