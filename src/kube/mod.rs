//! Kubernetes on the nodes: the supported releases and what each is built from
//! ([`release`]), and the kubeadm configuration kdc writes into each node ([`kubeadm`]).

pub mod kubeadm;
pub mod release;

/// Whether this host runs cgroup v1 (no unified hierarchy at /sys/fs/cgroup).
pub fn host_cgroup_v1() -> bool {
    !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

pub use release::{DEFAULT_K8S, KubeadmApi, Release, SUPPORTED_K8S, default_release, release_for};
