//! Kubernetes on the nodes: the supported releases and what each is built from
//! ([`release`]), the kubeadm configuration kdc writes into each node ([`kubeadm`]), and the
//! host's cgroup version that configuration depends on ([`cgroup`]).

pub mod cgroup;
pub mod kubeadm;
pub mod release;

pub use cgroup::host_cgroup_v1;

pub use release::{DEFAULT_K8S, KubeadmApi, Release, SUPPORTED_K8S, default_release, release_for};
