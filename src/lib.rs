//! kdc: multi-node Kubernetes clusters in Docker for CI and local work — the successor of
//! kubeadm-dind-cluster.
//!
//! The binary is a thin shell around [`run`]. One module per concern: [`config`] turns flags,
//! environment and config file into a validated [`config::Config`]; [`plan`] derives everything
//! about a cluster from it; the commands in [`commands`] do the work.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod dump;
pub mod error;
pub mod events;
pub mod images;
pub mod kubeconfig;
pub mod node;
pub mod plan;
pub mod report;
pub mod runtime;
pub mod signal;
pub mod text;

use std::process::ExitCode;

pub use error::KdcError;

/// What a command needs from the process: taken once in `main`, never read again.
#[derive(Debug, Clone)]
pub struct Env {
    pub vars: Vec<(String, String)>,
    pub cwd: std::path::PathBuf,
}

impl Env {
    /// The real process environment and working directory.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars().collect(),
            cwd: std::env::current_dir().unwrap_or_default(),
        }
    }
}

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> Result<ExitCode, KdcError> {
    commands::run(cli, &Env::from_process())
}
