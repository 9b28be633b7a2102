//! The kubeadm documents checked by a real kubeadm: `kubeadm config validate --config FILE`
//! (strict decoding of every document, kubeadm's own validation; no cluster needed) for every
//! IP mode and role of each supported release the binary can deploy (its own minor and the
//! one below), with and without feature gates and `failCgroupV1`.
//!
//! Runs only when `KDC_KUBEADM` names kubeadm binaries (`:`-separated), for example
//! `KDC_KUBEADM=/root/kbuild/k8s/out/kubeadm cargo test --test kubeadm_validate`; it fails,
//! not skips, when a named file is missing.

use std::path::Path;
use std::process::Command;

use kdc::config::{Inputs, resolve};
use kdc::kube::kubeadm::{KubeadmInputs, WELL_KNOWN_TOKEN, render};
use kdc::kube::{Release, SUPPORTED_K8S};

/// `kubeadm version -o short` of `kubeadm`: its minor version.
fn kubeadm_minor(kubeadm: &Path) -> (String, u32) {
    let out = Command::new(kubeadm)
        .args(["version", "-o", "short"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kubeadm.display()));
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{} printed no version: {version:?}", kubeadm.display()));
    (version, minor)
}

/// Validates every node's documents for `release`; returns how many files and the failures.
fn validate(kubeadm: &Path, release: &Release, dir: &Path) -> (usize, Vec<String>) {
    let mut files = 0;
    let mut failures = Vec::new();
    for mode in ["ipv4", "ipv6", "dual-stack"] {
        let env = [("IP_MODE", mode), ("NUM_NODES", "1")];
        let config = resolve(&Inputs::default().with_env(env.iter().copied()))
            .expect("valid configuration")
            .config;
        let plan = kdc::plan::plan(&config).expect("valid plan");
        for (gates, kubelet_gates, cgroup_v1) in [
            (None, None, false),
            (
                Some("MutatingAdmissionPolicy=true,UserNamespacesSupport=false"),
                Some("UserNamespacesSupport=false"),
                true,
            ),
        ] {
            let inputs = KubeadmInputs {
                plan: &plan,
                release,
                feature_gates: gates,
                kubelet_feature_gates: kubelet_gates,
                cgroup_v1,
                token: WELL_KNOWN_TOKEN,
                published_host: Some(plan.apiserver.host),
            };
            for node in &plan.nodes {
                let text = render(&inputs, node);
                let file = dir.join(format!(
                    "{}-{mode}-{}-cgroup{}.yaml",
                    release.minor,
                    node.name,
                    if cgroup_v1 { 1 } else { 2 }
                ));
                std::fs::write(&file, &text).unwrap();
                files += 1;
                let out = Command::new(kubeadm)
                    .args(["config", "validate", "--config"])
                    .arg(&file)
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                if !out.status.success() || stdout.trim() != "ok" {
                    failures.push(format!(
                        "{} ({}): {}\n{}{}",
                        file.display(),
                        out.status,
                        String::from_utf8_lossy(&out.stderr),
                        stdout,
                        text
                    ));
                }
            }
        }
    }
    (files, failures)
}

#[test]
fn kubeadm_accepts_every_document() {
    let Some(list) = std::env::var_os("KDC_KUBEADM") else {
        eprintln!("KDC_KUBEADM is not set: no kubeadm binary to validate against");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for kubeadm in std::env::split_paths(&list) {
        assert!(
            kubeadm.is_file(),
            "KDC_KUBEADM names {}, which is not a file: build kubeadm (kdc image build node) or correct the path",
            kubeadm.display()
        );
        let (version, minor) = kubeadm_minor(&kubeadm);
        let releases: Vec<&Release> = SUPPORTED_K8S
            .iter()
            .filter(|r| r.minor_number() == minor || r.minor_number() + 1 == minor)
            .collect();
        assert!(
            releases.iter().any(|r| r.minor_number() == minor),
            "kubeadm {version} ({}) is not of a supported release",
            kubeadm.display()
        );
        for release in releases {
            let (files, failed) = validate(&kubeadm, release, dir.path());
            eprintln!(
                "kubeadm {version}: {} of {files} files of {} valid",
                files - failed.len(),
                release.version
            );
            failures.extend(failed);
        }
    }
    assert!(
        failures.is_empty(),
        "kubeadm config validate refused:\n{}",
        failures.join("\n")
    );
}
