//! What `kdc version` and `kdc --version` print: kdc's version, the commit it was built from
//! (recorded by `build.rs`, `unknown` for a build outside a git checkout) and the Kubernetes
//! versions the kubeadm bootstrapper supports ([`SUPPORTED_K8S`]).

use std::sync::LazyLock;

use crate::kube::{SUPPORTED_K8S, default_release};

/// kdc's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit kdc was built from, or `unknown`.
pub const COMMIT: &str = env!("KDC_GIT_COMMIT");

/// `kdc version --json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VersionInfo {
    pub version: &'static str,
    pub commit: &'static str,
    pub kubernetes: Kubernetes,
}

/// The Kubernetes versions kdc can bring up, oldest first, and the one it brings up by default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Kubernetes {
    /// The exact releases, oldest first.
    pub supported: Vec<&'static str>,
    pub default: &'static str,
}

/// This build's version information.
pub fn info() -> VersionInfo {
    VersionInfo {
        version: VERSION,
        commit: COMMIT,
        kubernetes: Kubernetes {
            supported: SUPPORTED_K8S.iter().map(|r| r.version).collect(),
            default: default_release().version,
        },
    }
}

/// Everything after `kdc ` in `kdc version` (and clap's `--version`, which prints the program
/// name first), without the final newline:
///
/// ```text
/// 0.1.0 (commit 1922c5b)
/// Kubernetes versions: v1.34.4, v1.35.4, v1.36.3, v1.37.2 (default v1.36.3)
/// ```
///
/// A `&'static str` because clap takes the version as one.
pub fn text() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{VERSION} (commit {COMMIT})\nKubernetes versions: {} (default {})",
            info().kubernetes.supported.join(", "),
            default_release().version
        )
    });
    &TEXT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_names_version_commit_and_kubernetes() {
        assert_eq!(
            text(),
            format!(
                "{VERSION} (commit {COMMIT})\nKubernetes versions: v1.34.4, v1.35.4, v1.36.3, v1.37.2 (default v1.36.3)"
            )
        );
    }

    #[test]
    fn json_shape() {
        assert_eq!(
            serde_json::to_value(info()).unwrap(),
            serde_json::json!({
                "version": VERSION,
                "commit": COMMIT,
                "kubernetes": {
                    "supported": ["v1.34.4", "v1.35.4", "v1.36.3", "v1.37.2"],
                    "default": "v1.36.3",
                },
            })
        );
    }
}
