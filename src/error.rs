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
    /// The command line could not be parsed: clap's own code, never a [`super::KdcError`]'s.
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
    /// The Docker engine to use cannot be chosen (a malformed DOCKER_HOST, a missing context).
    #[error(transparent)]
    Endpoint(#[from] crate::runtime::endpoint::EndpointError),
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
    /// A suite file is malformed, or a suite or check named on the command line does not exist.
    #[error(transparent)]
    Suite(#[from] crate::suite::SuiteError),
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
    /// The cluster a command needs is not there, or not up.
    #[error(transparent)]
    NotUp(#[from] crate::cluster::NotUp),
    /// The command cannot do what was asked in the state found (a cluster without volumes to
    /// restart from); the message says what to do instead. Exit 1, like every runtime failure.
    #[error("{0}")]
    Failed(String),
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

impl From<crate::dump::live::LiveDumpError> for KdcError {
    fn from(e: crate::dump::live::LiveDumpError) -> Self {
        use crate::dump::live::LiveDumpError;
        match e {
            LiveDumpError::NotUp(e) => KdcError::NotUp(e),
            LiveDumpError::Provider(e) => KdcError::Provider(e),
            LiveDumpError::Section(e) => KdcError::Dump(crate::dump::Problems(vec![e])),
        }
    }
}

impl KdcError {
    /// The process exit code for this error. Every error here happens at run time, so it is a
    /// failure (1); usage errors (2) are clap's, reported before a command runs.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            KdcError::Interrupted => exit::INTERRUPTED,
            _ => exit::FAILURE,
        })
    }

    /// Prints `error: <message>`, the chain of causes and a hint to stderr.
    pub fn print_to_stderr(&self) {
        let mut err = anstream::stderr();
        let hint = self
            .hint()
            .map(|h| format!("hint: {h}\n"))
            .unwrap_or_default();
        let _ = std::io::Write::write_fmt(&mut err, format_args!("{}{hint}", DisplayChain(self)));
    }

    /// The runtime failure at the root of this error, if there is one.
    pub fn provider_error(&self) -> Option<&crate::runtime::ProviderError> {
        use crate::cluster::{ActionError, ClusterError};
        match self {
            KdcError::Provider(e) => Some(e),
            KdcError::Cluster(ClusterError::Action {
                source: ActionError::Provider(e),
                ..
            }) => Some(e),
            _ => None,
        }
    }

    /// What to do about a runtime failure, in kdc's terms. The runtime reports only the kind
    /// of failure; which kdc setting or command fixes it is known here.
    pub fn hint(&self) -> Option<&'static str> {
        use crate::runtime::ErrorKind;
        Some(match self.provider_error()?.kind {
            ErrorKind::Unavailable => {
                "is the Docker daemon running? Start it (`systemctl start docker`, or `dockerd &` as root), or point DOCKER_HOST at a running engine; `kdc doctor` checks the host"
            }
            ErrorKind::SubnetOverlap => {
                "another Docker network already uses these subnets: pick another CLUSTER_ID or MGMT_CIDRS, or remove that network (`kdc status` lists kdc's clusters)"
            }
            ErrorKind::PortInUse => {
                "the API server's host port is taken: unset APISERVER_PORT for a free one, or choose another"
            }
            ErrorKind::Ipv6Unavailable => {
                "IPv6 networks need an engine whose host has IPv6 and ip6tables enabled; `kdc doctor` checks it"
            }
            ErrorKind::PrivilegedRefused => {
                "the runtime refuses privileged containers and the capability fallback failed too; see `kdc doctor`"
            }
            ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::InUse | ErrorKind::Other => {
                return None;
            }
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{ActionError, ClusterError};
    use crate::runtime::{ErrorKind, ProviderError};

    fn provider(kind: ErrorKind) -> ProviderError {
        ProviderError {
            op: "docker network create",
            object: "kubeadm-dind-net".into(),
            kind,
            message: "Pool overlaps with other one on this address space (HTTP 403)".into(),
        }
    }

    #[test]
    fn a_runtime_failure_deep_in_an_action_gets_the_hint_for_its_kind() {
        let err = KdcError::from(ClusterError::Action {
            detail: "creating network kubeadm-dind-net".into(),
            source: ActionError::Provider(provider(ErrorKind::SubnetOverlap)),
        });
        assert_eq!(
            DisplayChain(&err).to_string(),
            "error: creating network kubeadm-dind-net failed\ncaused by:\n  - docker network create kubeadm-dind-net: Pool overlaps with other one on this address space (HTTP 403)\n"
        );
        assert!(
            err.hint()
                .unwrap()
                .starts_with("another Docker network already uses these subnets")
        );
        assert_eq!(err.exit_code(), ExitCode::from(exit::FAILURE));
    }

    #[test]
    fn a_cluster_that_is_not_up_is_a_failure_naming_it_and_the_fix() {
        use crate::cluster::{Absence, NotUp};
        let err = KdcError::from(NotUp {
            cluster: "nosuch".into(),
            why: Absence::NoNodes,
        });
        assert_eq!(err.exit_code(), ExitCode::from(exit::FAILURE));
        assert_eq!(
            DisplayChain(&err).to_string(),
            "error: cluster nosuch has no node containers to dump; run `kdc up`\n"
        );
        let err = KdcError::from(crate::dump::live::LiveDumpError::NotUp(NotUp {
            cluster: "cluster-13".into(),
            why: Absence::Nothing,
        }));
        assert!(matches!(&err, KdcError::NotUp(n) if n.why == Absence::Nothing));
        assert_eq!(
            err.to_string(),
            "cluster cluster-13 is not up and has no volumes: nothing to tell; run `kdc up`"
        );
        assert_eq!(err.exit_code(), ExitCode::from(exit::FAILURE));
    }

    #[test]
    fn only_an_interrupt_exits_with_another_code_than_1() {
        assert_eq!(
            KdcError::Interrupted.exit_code(),
            ExitCode::from(exit::INTERRUPTED)
        );
        assert_eq!(
            KdcError::Io {
                what: "stdout".into(),
                source: std::io::Error::other("closed"),
            }
            .exit_code(),
            ExitCode::from(exit::FAILURE)
        );
    }

    #[test]
    fn no_hint_where_none_helps() {
        assert_eq!(KdcError::Provider(provider(ErrorKind::Other)).hint(), None);
        assert!(
            KdcError::Provider(provider(ErrorKind::Unavailable))
                .hint()
                .unwrap()
                .contains("DOCKER_HOST")
        );
    }
}
