//! `kdc plan --kubeadm-config` end to end: every node's documents or one node's, the release
//! chosen by `--k8s-version` over `DIND_K8S_VERSION`, unknown nodes, and the cgroup v1 note.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// `kdc plan --kubeadm-config ARGS` with only `env`, in an empty directory: (exit code,
/// stdout, stderr).
fn run(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let dir = TempDir::new().expect("temp dir");
    let mut c = Command::cargo_bin("kdc").expect("binary kdc");
    c.env_clear()
        .current_dir(dir.path())
        .args(["plan", "--kubeadm-config"])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run kdc");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    )
}

fn ok(env: &[(&str, &str)], args: &[&str]) -> String {
    let (code, out, err) = run(env, args);
    assert_eq!(code, 0, "kdc plan --kubeadm-config {args:?} failed: {err}");
    out
}

/// The documents' kinds and apiVersions, in order.
fn kinds(text: &str) -> Vec<(String, String)> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).expect("a YAML stream");
    docs.iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["apiVersion"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The machine running the tests is cgroup v1 (as `kube::cgroup` decides it).
fn host_is_cgroup_v1() -> bool {
    let root = Path::new("/sys/fs/cgroup");
    root.is_dir() && !root.join("cgroup.controllers").exists()
}

#[test]
fn every_node_is_printed_with_its_path() {
    let out = ok(&[], &[]);
    let comments: Vec<&str> = out.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        comments,
        [
            "# kube-master: /kind/kubeadm.conf",
            "# kube-node-1: /kind/kubeadm.conf",
            "# kube-node-2: /kind/kubeadm.conf",
        ]
    );
    let kinds: Vec<String> = kinds(&out).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "InitConfiguration",
            "ClusterConfiguration",
            "KubeletConfiguration",
            "KubeProxyConfiguration",
            "JoinConfiguration",
            "KubeletConfiguration",
            "JoinConfiguration",
            "KubeletConfiguration",
        ]
    );
}

#[test]
fn one_node_with_node() {
    let out = ok(&[("IP_MODE", "ipv6")], &["--node", "kube-node-2"]);
    assert!(
        out.starts_with("# kube-node-2: /kind/kubeadm.conf\n"),
        "{out}"
    );
    assert!(out.contains("name: kube-node-2\n"), "{out}");
    assert!(out.contains("value: fd00:20::4\n"), "{out}");
    assert_eq!(out.matches("kind: JoinConfiguration").count(), 1, "{out}");
    assert!(!out.contains("kube-master"), "{out}");
}

#[test]
fn k8s_version_flag_overrides_the_environment() {
    let env = [("DIND_K8S_VERSION", "1.37")];
    let newest = ok(&env, &["--node", "kube-master"]);
    assert!(newest.contains("kubernetesVersion: v1.37.2\n"), "{newest}");
    let out = ok(&env, &["--k8s-version", "1.35", "--node", "kube-master"]);
    assert!(out.contains("kubernetesVersion: v1.35.4\n"), "{out}");
    assert_eq!(
        kinds(&out)[..2],
        [
            (
                "InitConfiguration".to_string(),
                "kubeadm.k8s.io/v1beta3".to_string()
            ),
            (
                "ClusterConfiguration".to_string(),
                "kubeadm.k8s.io/v1beta3".to_string()
            ),
        ]
    );
}

#[test]
fn unknown_node_names_the_valid_ones() {
    let (code, out, err) = run(&[("NUM_NODES", "1")], &["--node", "kube-node-7"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("--node kube-node-7"), "{err}");
    assert!(err.contains("kube-master, kube-node-1 "), "{err}");
}

#[test]
fn node_needs_kubeadm_config_and_json_is_refused() {
    let mut c = Command::cargo_bin("kdc").unwrap();
    c.env_clear().args(["plan", "--node", "kube-master"]);
    c.assert().code(2);
    let (code, _, err) = run(&[], &["--json"]);
    assert_eq!(code, 2, "{err}");
}

/// The output is the golden file of its release and mode, less `failCgroupV1` on a cgroup v2
/// machine; the note on stderr says when it is set.
#[test]
fn output_matches_the_golden_file_and_notes_cgroup_v1() {
    let golden = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kubeadm/1.36-dual-stack.yaml"),
    )
    .unwrap();
    let (code, out, err) = run(
        &[
            ("IP_MODE", "dual-stack"),
            ("NUM_NODES", "1"),
            ("DIND_K8S_VERSION", "v1.36"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    if host_is_cgroup_v1() {
        assert_eq!(out, golden);
        assert!(err.contains("failCgroupV1: false"), "{err}");
    } else {
        assert_eq!(out, golden.replace("failCgroupV1: false\n", ""));
        assert!(!err.contains("failCgroupV1"), "{err}");
    }
}
