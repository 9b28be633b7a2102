//! Live: Kubernetes' own conformance specs of sig-network (DNS, Networking, Services) on a
//! 3-node cluster of the default release, run by `kdc e2e --up` with e2e.test and the test
//! images built offline (images/e2e/build.sh). Every selected spec passes or is skipped with its
//! reason; e2e.test's junit_01.xml and kdc's JUnit are both read back, kdc's through
//! ci/check-junit.sh; the cluster is gone afterwards. CLUSTER_IDs 40-49.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The focused run every push gets (ci/matrix.toml's k8s-e2e-network cells).
const NETWORK: &str = r"\[sig-network\] (DNS|Networking|Services) .*\[Conformance\]";

fn kube_image() -> String {
    format!("kdc/node:{}", kdc::kube::default_release().version)
}

#[test]
fn focused_network_conformance_passes_on_a_three_node_cluster() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("art");
    let image = kube_image();
    let vars = [
        ("CLUSTER_ID", "41"),
        ("IP_MODE", "ipv4"),
        ("DIND_IMAGE", image.as_str()),
        ("KUBECONFIG", "/nonexistent/never-written"),
    ];
    let o = kdc(
        &vars,
        &[
            "e2e",
            "--up",
            "--regex",
            NETWORK,
            "--artifacts",
            art.to_str().unwrap(),
        ],
    );
    let out = text(&o.stdout);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{out}\n{err}");
    // The summary: every selected spec passed or was skipped with a reason.
    let line = out.lines().find(|l| l.starts_with("e2e: ")).expect(&out);
    let counts: Vec<usize> = line["e2e: ".len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (passed, failed, skipped) = (counts[0], counts[1], counts[2]);
    assert_eq!(failed, 0, "{out}");
    // v1.36.3's e2e.test has 27 conformance specs in sig-network's DNS, Networking and
    // Services (the default release's: update with it).
    assert_eq!(
        passed + skipped,
        27,
        "the focus selects the sig-network conformance specs: {out}"
    );

    // e2e.test's own JUnit agrees.
    let junit = art.join("e2e/junit_01.xml");
    let run = kdc::e2e::junit::parse(std::io::BufReader::new(
        std::fs::File::open(&junit).unwrap(),
    ))
    .unwrap();
    assert!(run.complete, "{:?}", run.problems);
    let selected: Vec<_> = run.selected().collect();
    // Nothing in this focus needs an image kdc does not build, or a registry: every case of
    // kdc's is a spec e2e.test ran.
    assert!(!err.contains("which kdc does not build"), "{err}");
    assert_eq!(selected.len(), passed + skipped, "{out}");
    let re = regex::Regex::new(NETWORK).unwrap();
    for s in &selected {
        assert!(re.is_match(&s.text), "outside the focus: {}", s.text);
        assert_eq!(s.sig.as_deref(), Some("sig-network"), "{}", s.text);
        assert_eq!(s.status, kdc::e2e::junit::Status::Passed, "{}", s.text);
    }
    assert!(art.join("e2e/e2e.log").is_file());

    // kdc's JUnit: one case per spec of class sig-network, plus kdc's own steps.
    let kdc_junit = art.join("junit_kdc.xml");
    let xml = std::fs::read_to_string(&kdc_junit).unwrap();
    assert_eq!(
        xml.matches("classname=\"sig-network\"").count(),
        passed + skipped,
        "{xml}"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/check-junit.sh");
    let c = Command::new("bash")
        .arg(script)
        .arg(&kdc_junit)
        .output()
        .unwrap();
    assert!(c.status.success(), "{}{}", text(&c.stdout), text(&c.stderr));

    assert_eq!(labelled("cluster-41"), Vec::<String>::new());
}

#[test]
fn e2e_without_a_cluster_names_the_command_that_makes_one() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = kube_image();
    let vars = [("CLUSTER_ID", "42"), ("DIND_IMAGE", image.as_str())];
    let err = fails(kdc(
        &vars,
        &["e2e", "--artifacts", dir.path().to_str().unwrap()],
    ));
    assert!(
        err.contains("Up: cluster cluster-42 has no node containers; run `CLUSTER_ID=42 kdc up`"),
        "{err}"
    );
    assert_eq!(labelled("cluster-42"), Vec::<String>::new());
}
