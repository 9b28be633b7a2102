//! The steps of `up`, one file each, in the order [`super::up`] runs them.

mod image;
mod network;
mod nodes;
mod remove_old_nodes;
mod systemd;
mod volumes;

pub use image::Image;
pub use network::Network;
pub use nodes::{ENGINE_VOLUME, Nodes};
pub use remove_old_nodes::RemoveOldNodes;
pub use systemd::Systemd;
pub use volumes::Volumes;
