//! The steps of `up`, one file each, in the order [`super::up`] runs them.

mod host_routes;
mod image;
mod kube_images;
mod kubeadm_config;
pub(crate) mod kubeadm_init;
mod kubeadm_join;
pub(crate) mod kubeconfig;
mod network;
pub mod node_network;
mod nodes;
mod remove_old_nodes;
pub mod sandboxes;
mod storage_class;
mod support;
pub(crate) mod support_ready;
mod systemd;
mod volumes;
mod wait_ready;

pub use host_routes::HostRoutes;
pub use image::Image;
pub use kube_images::{KubeImages, POD_IMAGE};
pub use kubeadm_config::{KubeadmConfig, POD_RESOLV_CONF};
pub use kubeadm_init::{ADMIN_CONF, KubeadmInit};
pub use kubeadm_join::KubeadmJoin;
pub use kubeconfig::{Kubeconfig, server};
pub use network::Network;
pub use node_network::NodeNetwork;
pub use nodes::{ENGINE_VOLUME, Nodes};
pub use remove_old_nodes::RemoveOldNodes;
pub use sandboxes::Sandboxes;
pub use storage_class::StorageClass;
pub use support::Support;
pub use support_ready::SupportReady;
pub use systemd::Systemd;
pub use volumes::Volumes;
pub use wait_ready::{WaitReady, not_ready};
