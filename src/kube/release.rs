//! The Kubernetes releases kdc supports, in one table: the exact release of each minor version,
//! and the versions of everything built with it. `kdc image build node`, the kubeadm
//! configuration, `kdc version` and the CI matrix all read it from here.

use serde::Serialize;

/// Which `kubeadm.k8s.io` API version kdc writes, as kind does: `v1beta3` below 1.36,
/// `v1beta4` from 1.36 (where `extraArgs` and `kubeletExtraArgs` become lists of
/// `{name, value}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KubeadmApi {
    V1beta3,
    V1beta4,
}

impl KubeadmApi {
    pub fn as_str(self) -> &'static str {
        match self {
            KubeadmApi::V1beta3 => "kubeadm.k8s.io/v1beta3",
            KubeadmApi::V1beta4 => "kubeadm.k8s.io/v1beta4",
        }
    }
}

/// One supported Kubernetes release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Release {
    /// `1.36`
    pub minor: &'static str,
    /// The exact release built: `v1.36.3` (the newest patch the Go module proxy serves).
    pub version: &'static str,
    /// etcd, as kubeadm of this release asks for it (`kubeadm config images list`): the image
    /// tag, `3.6.8-0`.
    pub etcd: &'static str,
    /// CoreDNS image tag, `v1.14.2`.
    pub coredns: &'static str,
    /// pause image tag, `3.10.2`.
    pub pause: &'static str,
    /// containerd (`github.com/containerd/containerd/v2`), runc and crictl built into the
    /// node image for this release.
    pub containerd: &'static str,
    pub runc: &'static str,
    pub crictl: &'static str,
}

/// The supported releases, oldest first. The newest patch of each minor version that the Go
/// module proxy serves; etcd, CoreDNS and pause as kubeadm of that release asks for them
/// (`SupportedEtcdVersion`/`DefaultEtcdVersion`, `CoreDNSVersion` and `PauseVersion` in its
/// `cmd/kubeadm/app/constants`); containerd v2.2.1 and runc v1.3.3 for all (Debian's
/// containerd 1.6 is too old for the CRI the newer kubelets speak); crictl of the same minor
/// where the proxy serves it (it has no v1.35.0: 1.35 gets v1.36.0, whose CRI v1 calls are the
/// same). `images/kube/releases` holds the same rows for the recipe; a test keeps them equal.
pub const SUPPORTED_K8S: &[Release] = &[
    Release {
        minor: "1.34",
        version: "v1.34.4",
        etcd: "3.6.5-0",
        coredns: "v1.12.1",
        pause: "3.10.1",
        containerd: "v2.2.1",
        runc: "v1.3.3",
        crictl: "v1.34.0",
    },
    Release {
        minor: "1.35",
        version: "v1.35.4",
        etcd: "3.6.6-0",
        coredns: "v1.13.1",
        pause: "3.10.1",
        containerd: "v2.2.1",
        runc: "v1.3.3",
        crictl: "v1.36.0",
    },
    Release {
        minor: "1.36",
        version: "v1.36.3",
        etcd: "3.6.8-0",
        coredns: "v1.14.2",
        pause: "3.10.2",
        containerd: "v2.2.1",
        runc: "v1.3.3",
        crictl: "v1.36.0",
    },
    Release {
        minor: "1.37",
        version: "v1.37.2",
        etcd: "3.7.0-0",
        coredns: "v1.14.6",
        pause: "3.10.2",
        containerd: "v2.2.1",
        runc: "v1.3.3",
        crictl: "v1.37.0",
    },
];

/// The default release: the newest that passes the live tests on kdc's CI hosts.
pub const DEFAULT_K8S: &str = "v1.36";

impl Release {
    /// The minor version as a number: 36 for `1.36`.
    pub fn minor_number(&self) -> u32 {
        self.minor
            .rsplit('.')
            .next()
            .and_then(|m| m.parse().ok())
            .expect("SUPPORTED_K8S holds 1.N minors")
    }

    /// The staging modules' version that matches: `v0.36.3` for `v1.36.3`.
    pub fn staging(&self) -> String {
        format!("v0{}", &self.version[2..])
    }

    pub fn kubeadm_api(&self) -> KubeadmApi {
        if self.minor_number() >= 36 {
            KubeadmApi::V1beta4
        } else {
            KubeadmApi::V1beta3
        }
    }

    /// kubelet from 1.35 refuses cgroup v1 hosts unless told not to (`failCgroupV1: false`,
    /// KEP 5573).
    pub fn refuses_cgroup_v1(&self) -> bool {
        self.minor_number() >= 35
    }

    /// The images kubeadm of this release runs, under exactly the names it asks for.
    pub fn images(&self) -> Vec<String> {
        let r = "registry.k8s.io";
        let v = self.version;
        vec![
            format!("{r}/kube-apiserver:{v}"),
            format!("{r}/kube-controller-manager:{v}"),
            format!("{r}/kube-scheduler:{v}"),
            format!("{r}/kube-proxy:{v}"),
            format!("{r}/coredns/coredns:{}", self.coredns),
            format!("{r}/pause:{}", self.pause),
            format!("{r}/etcd:{}", self.etcd),
        ]
    }
}

/// The release a `DIND_K8S_VERSION` names: `v1.36`, `1.36` or the exact `v1.36.3`. An
/// unsupported version is an error that lists the supported ones.
pub fn release_for(version: &str) -> Result<&'static Release, String> {
    let bare = version.trim().trim_start_matches('v');
    SUPPORTED_K8S
        .iter()
        .find(|r| r.minor == bare || &r.version[1..] == bare)
        .ok_or_else(|| {
            let known: Vec<String> = SUPPORTED_K8S
                .iter()
                .map(|r| format!("v{} ({})", r.minor, r.version))
                .collect();
            format!(
                "Kubernetes {version} is not supported; kdc builds {}",
                known.join(", ")
            )
        })
}

/// The release of [`DEFAULT_K8S`].
pub fn default_release() -> &'static Release {
    release_for(DEFAULT_K8S).expect("the default is in the table")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_select_by_minor_or_exact_release() {
        assert_eq!(release_for("v1.36").unwrap().version, "v1.36.3");
        assert_eq!(release_for("1.34.4").unwrap().version, "v1.34.4");
        let err = release_for("v1.34.1").unwrap_err();
        assert!(err.contains("v1.34 (v1.34.4)"), "{err}");
        assert_eq!(release_for("v1.36.3").unwrap().staging(), "v0.36.3");
    }

    #[test]
    fn the_table_is_ordered_and_its_api_versions_follow_kind() {
        let minors: Vec<u32> = SUPPORTED_K8S.iter().map(Release::minor_number).collect();
        assert!(minors.windows(2).all(|w| w[0] < w[1]), "{minors:?}");
        assert_eq!(
            release_for("1.35").unwrap().kubeadm_api(),
            KubeadmApi::V1beta3
        );
        assert_eq!(
            release_for("1.36").unwrap().kubeadm_api(),
            KubeadmApi::V1beta4
        );
        for r in SUPPORTED_K8S {
            assert!(r.version.starts_with(&format!("v{}.", r.minor)), "{r:?}");
        }
    }

    /// `images/kube/releases` is what the recipe (a shell script) builds from; it must say
    /// exactly what the table says, field by field, or kubeadm would ask for images the node
    /// image does not carry.
    #[test]
    fn the_recipe_releases_file_equals_the_table() {
        let file = include_str!("../../images/kube/releases");
        let rows: Vec<Vec<&str>> = file
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let table: Vec<Vec<&str>> = SUPPORTED_K8S
            .iter()
            .map(|r| {
                vec![
                    r.minor,
                    r.version,
                    r.etcd,
                    r.coredns,
                    r.pause,
                    r.containerd,
                    r.runc,
                    r.crictl,
                ]
            })
            .collect();
        assert_eq!(
            rows, table,
            "images/kube/releases (minor release etcd coredns pause containerd runc crictl) and SUPPORTED_K8S differ"
        );
    }
}
