//! Kubernetes on the nodes: the supported releases and what each is built from
//! ([`release`]), and the kubeadm configuration kdc writes into each node ([`kubeadm`]).

pub mod release;

pub use release::{DEFAULT_K8S, KubeadmApi, Release, SUPPORTED_K8S, default_release, release_for};
