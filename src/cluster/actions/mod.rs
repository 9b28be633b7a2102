//! The steps of `up`, one file each, in the order [`super::up`] runs them.

mod host_routes;
mod image;
mod network;
pub mod node_network;
mod nodes;
mod remove_old_nodes;
pub mod sandboxes;
mod support;
pub(crate) mod support_ready;
mod systemd;
mod volumes;

pub use host_routes::HostRoutes;
pub use image::Image;
pub use network::Network;
pub use node_network::NodeNetwork;
pub use nodes::{ENGINE_VOLUME, Nodes};
pub use remove_old_nodes::RemoveOldNodes;
pub use sandboxes::Sandboxes;
pub use support::Support;
pub use support_ready::SupportReady;
pub use systemd::Systemd;
pub use volumes::Volumes;
