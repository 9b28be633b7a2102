//! Live tests of the kubeadm bootstrapper: real Kubernetes (the default release) on 1 master and
//! 2 workers in every IP mode, read by the host's real kubectl through the kubeconfig kdc wrote;
//! down + up restores without kubeadm; clean leaves nothing, kubeconfig entries included.
//! The machine suites' pod checks run in real pods on such a cluster. Each test has its own
//! CLUSTER_ID (30-39) and its own kubeconfig file.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// One Kubernetes cluster at a time: four 3-node clusters at once are too much for 2 cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Kubernetes node image of the default release.
fn kube_image() -> String {
    let release = kdc::kube::default_release().version;
    format!("kdc/node:{release}")
}

/// What every test here starts with: the daemon check (`None`: skipped on request), the turn
/// of this test, the node image, a temp dir and the kubeconfig file in it.
fn kube_test() -> Option<(
    std::sync::MutexGuard<'static, ()>,
    String,
    tempfile::TempDir,
    std::path::PathBuf,
)> {
    if !docker_ready() {
        return None;
    }
    let one = serial();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    Some((one, kube_image(), dir, kubeconfig))
}

/// The host's kubectl on `kubeconfig`'s `context`; its stdout, which must be a success.
fn kubectl(kubeconfig: &Path, context: &str, args: &[&str]) -> String {
    let o = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--context", context, "--request-timeout", "20s"])
        .args(args)
        .output()
        .expect("run the host's kubectl (/usr/bin/kubectl)");
    assert!(o.status.success(), "kubectl {args:?}: {}", text(&o.stderr));
    text(&o.stdout)
}

/// `kubectl get nodes` lines as (name, status, internal IP).
fn nodes(kubeconfig: &Path, context: &str) -> Vec<(String, String, String)> {
    kubectl(
        kubeconfig,
        context,
        &["get", "nodes", "-o", "wide", "--no-headers"],
    )
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f[0].to_string(), f[1].to_string(), f[5].to_string())
    })
    .collect()
}

/// Brings a cluster up in `mode`, checks it with the host's kubectl, and cleans it.
fn up_ready_and_clean(id: &str, mode: &str, family: fn(&str) -> bool) {
    let Some((_one, image, _dir, kubeconfig)) = kube_test() else {
        return;
    };
    let kc = kubeconfig.to_str().unwrap();
    let vars = [
        ("CLUSTER_ID", id),
        ("IP_MODE", mode),
        // 172.18 + the cluster ID would leave 172.16.0.0/12.
        ("NAT64_V4_SUBNET_PREFIX", "10.100"),
        ("DIND_IMAGE", image.as_str()),
        ("KUBECONFIG", kc),
    ];
    let context = format!("dind-cluster-{id}");
    let out = ok(kdc(&vars, &["up"]));
    assert!(out.contains("Bootstrapper: kubeadm"), "{out}");
    let listed = nodes(&kubeconfig, &context);
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (name, status, ip) in &listed {
        assert_eq!(status, "Ready", "{name}");
        assert!(family(ip), "{name} has internal IP {ip} in {mode}");
    }
    let version = kubectl(&kubeconfig, &context, &["version", "-o", "json"]);
    assert!(
        version.contains(kdc::kube::default_release().version),
        "{version}"
    );
    ok(kdc(&vars, &["clean"]));
    assert!(labelled(&format!("cluster-{id}")).is_empty());
    let left = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(!left.contains(&context), "clean leaves the context: {left}");
}

#[test]
fn ipv4_cluster_is_ready_for_the_hosts_kubectl() {
    up_ready_and_clean("31", "ipv4", |ip| ip.parse::<std::net::Ipv4Addr>().is_ok());
}

#[test]
fn ipv6_cluster_is_ready_for_the_hosts_kubectl() {
    up_ready_and_clean("32", "ipv6", |ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
}

#[test]
fn dual_stack_cluster_is_ready_for_the_hosts_kubectl() {
    // Dual stack's primary family is the service network's: IPv6 by default.
    up_ready_and_clean("33", "dual-stack", |ip| {
        ip.parse::<std::net::Ipv6Addr>().is_ok()
    });
}

/// The kubeconfig kdc merges into keeps what was there to the letter, is 0600 when kdc
/// creates it, and `down` + `up` restores the cluster from its volumes without kubeadm.
#[test]
fn restore_keeps_the_cluster_and_the_users_kubeconfig() {
    let Some((_one, image, dir, kubeconfig)) = kube_test() else {
        return;
    };
    let foreign = "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://other.example:6443\n    extensions:\n    - name: big\n      extension:\n        n: 18446744073709551615\ncontexts:\n- name: other\n  context:\n    cluster: other\n    user: other\nusers:\n- name: other\n  user:\n    token: abc\ncurrent-context: other\npreferences: {}\n";
    std::fs::write(&kubeconfig, foreign).unwrap();
    let kc = kubeconfig.to_str().unwrap();
    let vars = [
        ("CLUSTER_ID", "34"),
        ("DIND_IMAGE", image.as_str()),
        ("KUBECONFIG", kc),
    ];
    let context = "dind-cluster-34";
    ok(kdc(&vars, &["up"]));
    let merged = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(merged.contains("18446744073709551615"), "{merged}");
    assert!(merged.contains("https://other.example:6443"), "{merged}");
    assert!(
        merged.contains("current-context: dind-cluster-34"),
        "{merged}"
    );
    let uid = kubectl(
        &kubeconfig,
        context,
        &["get", "ns", "kube-system", "-o", "jsonpath={.metadata.uid}"],
    );

    ok(kdc(&vars, &["down"]));
    let o = kdc(&vars, &["up"]);
    let stderr = text(&o.stderr);
    ok(o);
    assert!(
        stderr.contains("keeps its control plane from its volume: no kubeadm init"),
        "{stderr}"
    );
    assert!(nodes(&kubeconfig, context).iter().all(|n| n.1 == "Ready"));
    // The same cluster, not a new one.
    assert_eq!(
        kubectl(
            &kubeconfig,
            context,
            &["get", "ns", "kube-system", "-o", "jsonpath={.metadata.uid}"]
        ),
        uid
    );

    ok(kdc(&vars, &["clean"]));
    let after = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(!after.contains(context), "{after}");
    assert!(after.contains("18446744073709551615"), "{after}");
    assert!(labelled("cluster-34").is_empty());

    // A kubeconfig kdc creates is private to the user.
    let fresh = dir.path().join("new/config");
    let vars = [
        ("CLUSTER_ID", "34"),
        ("DIND_IMAGE", image.as_str()),
        ("KUBECONFIG", fresh.to_str().unwrap()),
        ("NUM_NODES", "0"),
    ];
    ok(kdc(&vars, &["up"]));
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    ok(kdc(&vars, &["clean"]));
    assert_eq!(mode, 0o600);
}

/// Brings up cluster `id`, breaks its node-1 with `breakage` (a shell command in the node), runs
/// the kubernetes cell on it, which must fail on that node's pod check, and gives `check` the
/// cell's stderr and the directory its blob splits into; the cluster is cleaned afterwards.
fn broken_worker_cell(id: &str, breakage: &str, check: impl Fn(&str, &Path)) {
    let Some((_one, image, dir, kubeconfig)) = kube_test() else {
        return;
    };
    let vars = [
        ("CLUSTER_ID", id),
        ("DIND_IMAGE", image.as_str()),
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
    ];
    ok(kdc(&vars, &["up"]));
    docker(&[
        "exec",
        &format!("kube-node-1-cluster-{id}"),
        "sh",
        "-c",
        breakage,
    ]);
    let artifacts = dir.path().join("artifacts");
    let o = kdc(
        &vars,
        &[
            "test",
            "run",
            "kubernetes",
            "--use-existing",
            "--artifacts",
            artifacts.to_str().unwrap(),
        ],
    );
    let stdout = text(&o.stdout);
    let stderr = fails(o);
    assert!(
        stderr.contains(&format!(
            "FAIL kubernetes/service-by-name on kube-master-cluster-{id}"
        )),
        "{stderr}"
    );
    let log = dir.path().join("job.log");
    std::fs::write(&log, &stdout).unwrap();
    let split = dir.path().join("split");
    ok(kdc(
        &[],
        &[
            "split-dump64",
            "-o",
            split.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
    ));
    check(&stderr, &split);
    ok(kdc(&vars, &["clean"]));
    assert!(labelled(&format!("cluster-{id}")).is_empty());
}

/// A worker whose kubelet is stopped fails the kubernetes cell: the pod checks on it fail,
/// and the blob in the log carries that node's kubelet journal, which says it was stopped.
#[test]
fn a_stopped_kubelet_fails_the_cell_and_the_blob_names_it() {
    broken_worker_cell("35", "systemctl stop kubelet", |stderr, split| {
        assert!(stderr.contains("PASS kubernetes/coredns"), "{stderr}");
        let journal =
            std::fs::read_to_string(split.join("service-kube-node-1-cluster-35-kubelet.log"))
                .unwrap();
        assert!(journal.contains("Stopped kubelet.service"), "{journal}");
    });
}

/// A worker whose CNI configuration is gone fails the kubernetes cell: its pods get no
/// network, and the blob in the log carries the node's description, which says why
/// (NetworkPluginNotReady, from kubelet through the API).
#[test]
fn a_broken_cni_fails_the_cell_and_the_blob_names_it() {
    broken_worker_cell("36", "rm -f /etc/cni/net.d/*", |_, split| {
        let nodes = std::fs::read_to_string(split.join("nodes.txt")).unwrap();
        let node1 = &nodes[nodes
            .find("Name:               kube-node-1-cluster-36")
            .unwrap_or_else(|| panic!("{nodes}"))..];
        assert!(node1.contains("NetworkPluginNotReady"), "{node1}");
        // The node's CNI section shows the directory empty.
        let cni = std::fs::read_to_string(split.join("cni-kube-node-1-cluster-36.txt")).unwrap();
        assert!(!cni.contains("kdc.conf"), "{cni}");
    });
}

/// `(name, classname, system-out)` of every test case of a JUnit file kdc wrote (its own
/// escaping: `&apos;`, `&quot;`, `&lt;`, `&gt;`, `&amp;`).
fn junit_cases(xml: &str) -> Vec<(String, String, String)> {
    let unescape = |s: &str| {
        s.replace("&apos;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attr = |tag: &str, key: &str| {
        let from = tag.find(&format!("{key}=\""))? + key.len() + 2;
        let len = tag[from..].find('"')?;
        Some(unescape(&tag[from..from + len]))
    };
    xml.split("<testcase ")
        .skip(1)
        .map(|case| {
            let tag = &case[..case.find('>').unwrap()];
            let out = case
                .split_once("<system-out>")
                .and_then(|(_, rest)| rest.split_once("</system-out>"))
                .map(|(o, _)| unescape(o))
                .unwrap_or_default();
            (
                attr(tag, "name").unwrap(),
                attr(tag, "classname").unwrap(),
                out,
            )
        })
        .collect()
}

/// The ipv6 suite on a kubeadm cluster runs its pod checks in real pods, `kdc-pod-on-<node>`,
/// through `kubectl exec` on the master (the JUnit shows it), all passing; the pods' start is
/// the `Pods` step; the cell removes the cluster.
#[test]
fn the_ipv6_suites_pod_checks_run_in_real_pods() {
    let Some((_one, image, dir, kubeconfig)) = kube_test() else {
        return;
    };
    let id = "37";
    let vars = [
        ("CLUSTER_ID", id),
        // 172.18 + the cluster ID would leave 172.16.0.0/12.
        ("NAT64_V4_SUBNET_PREFIX", "10.100"),
        ("DIND_IMAGE", image.as_str()),
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
    ];
    let artifacts = dir.path().join("artifacts");
    let out = ok(kdc(
        &vars,
        &[
            "test",
            "run",
            "ipv6",
            "--bootstrapper",
            "kubeadm",
            "--artifacts",
            artifacts.to_str().unwrap(),
        ],
    ));
    assert!(
        out.contains("ipv6: 39 passed, 0 failed, 8 skipped"),
        "{out}"
    );
    let junit = std::fs::read_to_string(artifacts.join("junit_kdc.xml")).unwrap();
    let cases = junit_cases(&junit);
    let master = format!("kube-master-cluster-{id}");
    let pods_step = cases
        .iter()
        .find(|c| c.0 == "Pods" && c.1 == "kdc")
        .expect("a Pods step");
    let workers = [1, 2].map(|n| format!("kube-node-{n}-cluster-{id}"));
    for n in [&master, &workers[0], &workers[1]] {
        assert!(
            pods_step
                .2
                .contains(&format!("kdc-pod-on-{n}: Ready, fd00:")),
            "{}",
            pods_step.2
        );
    }
    let mut ran = 0;
    for (name, class, output) in &cases {
        let Some(node) = name.split(" on pod on ").nth(1) else {
            continue;
        };
        assert_eq!(class, "ipv6");
        if output.is_empty() {
            // Skipped (DIND_ALLOW_AAAA_USE): nothing ran.
            continue;
        }
        let exec = format!(
            "$ docker exec {master} bash -c 'kubectl --kubeconfig /etc/kubernetes/admin.conf -n default exec kdc-pod-on-{node} -- bash -c "
        );
        assert!(output.starts_with(&exec), "{name}: {output}");
        assert!(output.contains("\n(exit "), "{name}: {output}");
        ran += 1;
    }
    // dns64 (3 checks), pod-to-pod (2), pod-to-node, nat64 (2 checks), external-dualstack.
    assert_eq!(ran, 3 * 3 + 2 + 1 + 2 * 3 + 3, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    assert!(labelled(&format!("cluster-{id}")).is_empty());
}
