//! The top-level error, its exit codes and how it is shown.
//!
//! Each layer has its own error type ([`crate::config::Problems`] for configuration and plan,
//! [`crate::runtime::ProviderError`], [`crate::cluster::ClusterError`], [`crate::dump::Problems`],
//! …); `KdcError` gathers them for `main`, which prints the message and a "caused by:" chain and
//! exits with [`KdcError::exit_code`]. Messages are lowercase and never repeat their source.

use std::error::Error as StdError;
use std::fmt;
use std::process::ExitCode;

/// Documented exit codes (README, "Exit codes").
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The command failed: bad input, a failed Docker call, a failed check.
    pub const FAILURE: u8 = 1;
    /// The command line could not be parsed (clap's own code).
    pub const USAGE: u8 = 2;
    /// Interrupted by SIGINT/SIGTERM (128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
}

/// Any error that ends a `kdc` command.
#[derive(Debug, thiserror::Error)]
pub enum KdcError {
    /// The configuration or the plan derived from it is invalid; every problem is listed.
    #[error(transparent)]
    Invalid(#[from] crate::config::Problems),
    /// The container runtime refused or failed an operation.
    #[error(transparent)]
    Provider(#[from] crate::runtime::ProviderError),
    /// A cluster command failed in one of its actions.
    #[error(transparent)]
    Cluster(crate::cluster::ClusterError),
    /// Building an image failed.
    #[error(transparent)]
    Image(#[from] crate::images::ImageError),
    /// A dump, blob or log could not be read or split completely; every problem is listed.
    #[error(transparent)]
    Dump(#[from] crate::dump::Problems),
    /// The user's kubeconfig could not be updated.
    #[error(transparent)]
    Kubeconfig(#[from] crate::kubeconfig::KubeconfigError),
    /// Writing a result to stdout or a file failed.
    #[error("cannot write {what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A command-line combination that no flag parser can reject by itself.
    #[error("{0}")]
    Usage(String),
    /// The user interrupted the command.
    #[error("interrupted")]
    Interrupted,
}

impl From<crate::cluster::ClusterError> for KdcError {
    fn from(e: crate::cluster::ClusterError) -> Self {
        match e {
            crate::cluster::ClusterError::Interrupted => KdcError::Interrupted,
            other => KdcError::Cluster(other),
        }
    }
}

impl KdcError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            KdcError::Interrupted => exit::INTERRUPTED,
            KdcError::Usage(_) => exit::USAGE,
            _ => exit::FAILURE,
        })
    }

    /// Prints `error: <message>` and the chain of causes to stderr.
    pub fn print_to_stderr(&self) {
        let mut err = anstream::stderr();
        let _ = std::io::Write::write_fmt(&mut err, format_args!("{}", DisplayChain(self)));
    }
}

/// Renders an error as `error: <msg>` followed by an indented "caused by:" list.
pub struct DisplayChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.0)?;
        let mut source = self.0.source();
        if source.is_some() {
            writeln!(f, "caused by:")?;
        }
        while let Some(cause) = source {
            for (i, line) in cause.to_string().lines().enumerate() {
                let lead = if i == 0 { "  - " } else { "    " };
                writeln!(f, "{lead}{line}")?;
            }
            source = cause.source();
        }
        Ok(())
    }
}
