//! Live: the dump of a real Kubernetes cluster carries what the API server knows, every
//! container's log, and each node's kubelet and containerd journals and container runtime.
//!
//! It fails, not skips, when no daemon answers (`KDC_SKIP_LIVE=1` opts out) and when the
//! Kubernetes node image of the default release is missing (`kdc up` then names
//! `kdc image build node`).

mod common;

use std::path::Path;
use std::time::Instant;

use common::{docker_ready, kdc, labelled, ok, text};

const NODES: [&str; 3] = [
    "kube-master-cluster-23",
    "kube-node-1-cluster-23",
    "kube-node-2-cluster-23",
];

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Removes the cluster however the test ends.
struct Clean<'a>(&'a [(&'a str, &'a str)]);

impl Drop for Clean<'_> {
    fn drop(&mut self) {
        let _ = kdc(self.0, &["clean"]);
    }
}

#[test]
fn live_dump_of_a_kubernetes_cluster_has_objects_container_logs_and_journals() {
    if !docker_ready() {
        return;
    }
    let image = format!("kdc/node:{}", kdc::kube::default_release().version);
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    let vars = [
        ("CLUSTER_ID", "23"),
        ("DIND_IMAGE", image.as_str()),
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
    ];
    ok(kdc(&vars, &["clean"]));
    let clean = Clean(&vars);
    ok(kdc(&vars, &["up"]));

    let start = Instant::now();
    let blob = ok(kdc(&vars, &["dump64"]));
    let took = start.elapsed();
    let log = tmp.path().join("job.log");
    std::fs::write(&log, format!("job output\n{blob}more output\n")).unwrap();
    let dir = tmp.path().join("dump");
    ok(kdc(
        &vars,
        &[
            "split-dump64",
            "-o",
            dir.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
    ));
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let size: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    eprintln!(
        "dump64 of 3 nodes: {took:.1?}, blob {} bytes, {} files, {size} bytes split",
        blob.len(),
        files.len()
    );
    assert!(
        !files.iter().any(|f| f == "errors.txt"),
        "a healthy cluster's dump has no errors: {}",
        read(&dir, "errors.txt")
    );

    // The API's view.
    let nodes = read(&dir, "nodes.txt");
    for node in NODES {
        assert!(
            nodes.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 1 && f[0] == node && f[1] == "Ready"
            }),
            "{node} is not Ready in nodes.txt:\n{nodes}"
        );
        assert!(
            nodes.contains(&format!("Name:               {node}")),
            "{nodes}"
        );
    }
    assert!(read(&dir, "kubectl-all.txt").contains("service/kubernetes"));
    assert!(read(&dir, "describe-all.txt").contains("Namespace:"));
    assert!(read(&dir, "events.txt").contains("Starting"));

    // Container logs, through kubectl on the master.
    let master = NODES[0];
    let coredns = files
        .iter()
        .find(|f| {
            f.starts_with(&format!("pod-{master}-kube-system-coredns-"))
                && f.ends_with("--coredns.log")
        })
        .unwrap_or_else(|| panic!("no coredns log in {files:?}"));
    assert!(read(&dir, coredns).contains("CoreDNS-"), "{coredns}");
    let apiserver = read(
        &dir,
        &format!("pod-{master}-kube-system-kube-apiserver-{master}--kube-apiserver.log"),
    );
    assert!(apiserver.contains("Serving securely"), "{apiserver}");
    for node in NODES {
        assert!(
            files
                .iter()
                .any(|f| f.starts_with(&format!("pod-{node}-kube-system-kube-proxy-"))),
            "no kube-proxy log of {node}: {files:?}"
        );
    }

    // Each node: journals, runtime, kubeadm configuration with its token redacted.
    for node in NODES {
        let kubelet = read(&dir, &format!("service-{node}-kubelet.log"));
        assert!(
            kubelet.contains(&format!("{node} kubelet[")),
            "{node}: no kubelet journal line"
        );
        let containerd = read(&dir, &format!("service-{node}-containerd.log"));
        assert!(
            containerd.contains(&format!("{node} containerd[")),
            "{node}"
        );
        let ps = read(&dir, &format!("crictl-ps-a-{node}.txt"));
        assert!(ps.contains("kube-proxy") && ps.contains("Running"), "{ps}");
        assert!(read(&dir, &format!("crictl-images-{node}.txt")).contains("registry.k8s.io/pause"));
        let conf = read(&dir, &format!("kubeadm-conf-{node}.yaml"));
        assert!(conf.contains("token: [REDACTED]"), "{conf}");
    }
    let token = regex::Regex::new(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b").unwrap();
    for f in &files {
        let content = text(&std::fs::read(dir.join(f)).unwrap());
        assert!(!token.is_match(&content), "{f} holds a bootstrap token");
        assert!(!content.contains("client-key-data: LS0"), "{f}");
        assert!(!content.contains("PRIVATE KEY-----\nMII"), "{f}");
    }

    drop(clean);
    assert!(
        labelled("cluster-23").is_empty(),
        "{:?}",
        labelled("cluster-23")
    );
}
