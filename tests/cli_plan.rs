//! `kdc plan` end to end: the three IP modes, the JSON interface, precedence of flag > env >
//! file, and invalid configurations. Expected values are derived by hand from seed-spec §4–§5.

use assert_cmd::Command;
use serde_json::{Value, json};
use tempfile::TempDir;

/// `kdc` with an empty environment, run in a fresh empty directory (so no stray kdc.toml).
fn kdc(dir: &TempDir) -> Command {
    let mut c = Command::cargo_bin("kdc").expect("binary kdc");
    c.env_clear().current_dir(dir.path());
    c
}

fn tmp() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn plan_json(dir: &TempDir, env: &[(&str, &str)], args: &[&str]) -> Value {
    let mut c = kdc(dir);
    c.arg("plan").arg("--json").args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run kdc");
    assert!(
        out.status.success(),
        "kdc plan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn node(name: &str, role: &str, addresses: Value, pods: Value) -> Value {
    json!({
        "name": name,
        "role": role,
        "hostname": name,
        "addresses": addresses,
        "pod_cidrs": pods,
        "volume": format!("kubeadm-dind-{name}"),
    })
}

/// Checks the documented keys (extra keys such as apiserver/image are allowed).
fn check_documented(got: &Value, want: &Value) {
    for key in [
        "cluster",
        "ip_mode",
        "network",
        "nodes",
        "service_cidr",
        "dns_service_ip",
        "pod_cidrs",
        "dns64",
        "nat64",
    ] {
        assert_eq!(got[key], want[key], "key {key}\nfull output: {got:#}");
    }
}

#[test]
fn plan_json_ipv4_defaults() {
    let d = tmp();
    let got = plan_json(&d, &[], &[]);
    let want = json!({
        "cluster": {"label": "mirantis.kubeadm_dind_cluster_runtime", "id": 0, "suffix": "", "context": "dind"},
        "ip_mode": "ipv4",
        "network": {"name": "kubeadm-dind-net", "subnets": ["10.192.0.0/24"], "gateways": ["10.192.0.1"]},
        "nodes": [
            node("kube-master", "control-plane", json!(["10.192.0.2"]), json!(["10.244.1.0/24"])),
            node("kube-node-1", "worker", json!(["10.192.0.3"]), json!(["10.244.2.0/24"])),
            node("kube-node-2", "worker", json!(["10.192.0.4"]), json!(["10.244.3.0/24"])),
        ],
        "service_cidr": "10.96.0.0/12",
        "dns_service_ip": "10.96.0.10",
        "pod_cidrs": ["10.244.0.0/16"],
        "dns64": null,
        "nat64": null,
    });
    check_documented(&got, &want);
}

#[test]
fn plan_json_ipv6_cluster_10() {
    let d = tmp();
    let got = plan_json(&d, &[("IP_MODE", "ipv6"), ("CLUSTER_ID", "10")], &[]);
    let want = json!({
        "cluster": {"label": "cluster-10", "id": 10, "suffix": "-cluster-10", "context": "dind-cluster-10"},
        "ip_mode": "ipv6",
        "network": {
            "name": "kubeadm-dind-net-cluster-10",
            "subnets": ["fd00:20:10::/64", "172.28.0.0/16"],
            "gateways": ["fd00:20:10::1", "172.28.0.1"],
        },
        "nodes": [
            node("kube-master-cluster-10", "control-plane", json!(["fd00:20:10::2"]), json!(["fd00:40:0:0:1::/80"])),
            node("kube-node-1-cluster-10", "worker", json!(["fd00:20:10::3"]), json!(["fd00:40:0:0:2::/80"])),
            node("kube-node-2-cluster-10", "worker", json!(["fd00:20:10::4"]), json!(["fd00:40:0:0:3::/80"])),
        ],
        "service_cidr": "fd00:30::/110",
        "dns_service_ip": "fd00:30::a",
        "pod_cidrs": ["fd00:40::/72"],
        "dns64": {"container": "bind9-cluster-10", "address": "fd00:20:10::100", "prefix": "fd00:10:64:ff9b::/96"},
        "nat64": {
            "container": "tayga-cluster-10",
            "ipv4": "172.28.0.200",
            "ipv6": "fd00:20:10::200",
            "pool": "172.28.0.128/25",
            "ipv4_subnet": "172.28.0.0/16",
        },
    });
    check_documented(&got, &want);
}

#[test]
fn plan_json_dual_stack() {
    let d = tmp();
    let got = plan_json(&d, &[("IP_MODE", "dual-stack"), ("NUM_NODES", "1")], &[]);
    let want = json!({
        "cluster": {"label": "mirantis.kubeadm_dind_cluster_runtime", "id": 0, "suffix": "", "context": "dind"},
        "ip_mode": "dual-stack",
        "network": {
            "name": "kubeadm-dind-net",
            "subnets": ["10.192.0.0/24", "fd00:20::/64"],
            "gateways": ["10.192.0.1", "fd00:20::1"],
        },
        "nodes": [
            node("kube-master", "control-plane", json!(["10.192.0.2", "fd00:20::2"]), json!(["10.244.1.0/24", "fd00:40:0:0:1::/80"])),
            node("kube-node-1", "worker", json!(["10.192.0.3", "fd00:20::3"]), json!(["10.244.2.0/24", "fd00:40:0:0:2::/80"])),
        ],
        "service_cidr": "fd00:30::/110",
        "dns_service_ip": "fd00:30::a",
        "pod_cidrs": ["10.244.0.0/16", "fd00:40::/72"],
        "dns64": null,
        "nat64": null,
    });
    check_documented(&got, &want);
}

#[test]
fn plan_json_custom_cidrs() {
    let d = tmp();
    let got = plan_json(
        &d,
        &[
            ("IP_MODE", "ipv6"),
            ("MGMT_CIDRS", "fd00:77::/64"),
            ("POD_NETWORK_CIDR", "fd00:10:20::/56"),
            ("SERVICE_CIDR", "fd00:99::/112"),
            ("NUM_NODES", "0"),
        ],
        &[],
    );
    assert_eq!(
        got["network"]["subnets"],
        json!(["fd00:77::/64", "172.18.0.0/16"])
    );
    assert_eq!(got["nodes"][0]["addresses"], json!(["fd00:77::2"]));
    assert_eq!(got["nodes"][0]["pod_cidrs"], json!(["fd00:10:20:1::/64"]));
    assert_eq!(got["dns_service_ip"], json!("fd00:99::a"));
    assert_eq!(got["nodes"].as_array().unwrap().len(), 1);
}

fn plan_text(dir: &TempDir, env: &[(&str, &str)]) -> String {
    let mut c = kdc(dir);
    c.arg("plan");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn plan_text_in_three_modes() {
    let d = tmp();
    let t = plan_text(&d, &[]);
    assert!(t.contains("Network Mode: ipv4"), "{t}");
    assert!(t.contains("Cluster context: dind\n"), "{t}");
    assert!(t.contains("Management CIDR(s): 10.192.0.0/24\n"), "{t}");
    assert!(t.contains("kube-node-2"), "{t}");
    assert!(t.contains("10.192.0.4"), "{t}");
    assert!(!t.contains("NAT64"), "{t}");

    let t = plan_text(&d, &[("IP_MODE", "ipv6"), ("CLUSTER_ID", "10")]);
    assert!(t.contains("Network Mode: ipv6"), "{t}");
    assert!(t.contains("Cluster context: dind-cluster-10"), "{t}");
    assert!(t.contains("Management CIDR(s): fd00:20:10::/64\n"), "{t}");
    assert!(t.contains("bind9-cluster-10 at fd00:20:10::100"), "{t}");
    assert!(
        t.contains("tayga-cluster-10 at 172.28.0.200 / fd00:20:10::200"),
        "{t}"
    );

    let t = plan_text(&d, &[("IP_MODE", "dual-stack")]);
    assert!(t.contains("Network Mode: dual-stack"), "{t}");
    assert!(
        t.contains("Management CIDR(s): 10.192.0.0/24, fd00:20::/64\n"),
        "{t}"
    );
    assert!(t.contains("10.192.0.2, fd00:20::2"), "{t}");
}

// ------------------------------------------------------------------------------------------
// Precedence: flag > env > file > default

#[test]
fn file_in_cwd_is_read() {
    let d = tmp();
    std::fs::write(d.path().join("kdc.toml"), "num_nodes = 1\ncluster_id = 5\n").unwrap();
    let got = plan_json(&d, &[], &[]);
    assert_eq!(got["cluster"]["id"], json!(5));
    assert_eq!(got["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(got["network"]["subnets"], json!(["10.192.5.0/24"]));
}

#[test]
fn env_beats_file_and_flag_beats_env() {
    let d = tmp();
    std::fs::write(d.path().join("kdc.toml"), "cluster_id = 5\nnum_nodes = 1\n").unwrap();
    // env over file
    let got = plan_json(&d, &[("CLUSTER_ID", "6")], &[]);
    assert_eq!(got["cluster"]["id"], json!(6));
    assert_eq!(
        got["nodes"].as_array().unwrap().len(),
        2,
        "file num_nodes still used"
    );
    // flag over env over file
    let got = plan_json(&d, &[("CLUSTER_ID", "6")], &["--cluster-id", "7"]);
    assert_eq!(got["cluster"]["id"], json!(7));
    assert_eq!(got["network"]["subnets"], json!(["10.192.7.0/24"]));
    // An empty env value counts as unset: the file wins.
    let got = plan_json(&d, &[("CLUSTER_ID", "")], &[]);
    assert_eq!(got["cluster"]["id"], json!(5));
}

#[test]
fn explicit_config_file_replaces_cwd_file() {
    let d = tmp();
    std::fs::write(d.path().join("kdc.toml"), "cluster_id = 5\n").unwrap();
    let other = tmp();
    let path = other.path().join("custom.toml");
    std::fs::write(&path, "ip_mode = \"ipv6\"\nlabel = \"foo\"\n").unwrap();
    let got = plan_json(&d, &[], &["--config", path.to_str().unwrap()]);
    // label foo without CLUSTER_ID: FNV-1a("foo") = 0xa9f37ed7, % 12 + 1 = 4; kdc.toml ignored.
    assert_eq!(
        got["cluster"],
        json!({"label": "foo", "id": 4, "suffix": "-foo", "context": "dind-foo"})
    );
    assert_eq!(got["ip_mode"], json!("ipv6"));
    assert_eq!(got["network"]["subnets"][0], json!("fd00:20:4::/64"));
    // env and flags still beat --config.
    let got = plan_json(
        &d,
        &[("IP_MODE", "dual-stack")],
        &["--config", path.to_str().unwrap(), "--label", "bar"],
    );
    assert_eq!(got["ip_mode"], json!("dual-stack"));
    assert_eq!(got["cluster"]["label"], json!("bar"));
    assert_eq!(got["cluster"]["id"], json!(3)); // FNV-1a("bar") = 0x76b77d1a -> 3
}

#[test]
fn missing_explicit_config_file_fails() {
    let d = tmp();
    let out = kdc(&d)
        .args(["plan", "--config", "nope.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

// ------------------------------------------------------------------------------------------
// Invalid configurations

#[test]
fn invalid_config_exits_1_with_all_problems_on_stderr() {
    let d = tmp();
    let out = kdc(&d)
        .args(["plan", "--json", "--num-nodes", "many"])
        .env("IP_MODE", "ipv5")
        .env("CLUSTER_ID", "300")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["IP_MODE=ipv5", "CLUSTER_ID=300", "--num-nodes many"] {
        assert!(err.contains(needle), "missing {needle} in {err}");
    }
}

#[test]
fn invalid_plan_exits_1_with_all_problems_on_stderr() {
    let d = tmp();
    let out = kdc(&d)
        .args(["plan"])
        .env("IP_MODE", "ipv6")
        .env("CLUSTER_ID", "14")
        .env("DNS64_PREFIX", "64:ff9b::")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NAT64_V4_SUBNET_PREFIX"), "{err}");
    assert!(err.contains("DNS64_PREFIX"), "{err}");
    assert!(err.contains("well-known"), "{err}");
}

#[test]
fn invalid_file_exits_1_naming_the_key() {
    let d = tmp();
    std::fs::write(
        d.path().join("kdc.toml"),
        "colour = \"blue\"\nnum_nodes = 2.5\n",
    )
    .unwrap();
    let out = kdc(&d).arg("plan").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("colour"), "{err}");
    assert!(err.contains("num_nodes"), "{err}");
}
