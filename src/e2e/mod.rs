//! Kubernetes' own end-to-end tests against a kdc cluster (`kdc e2e`, `kdc e2e-serial`): the
//! bundle `images/e2e/build.sh` makes for a release (e2e.test, ginkgo, kubectl and the test
//! images), what a run selects ([`Selection`]), the run itself ([`run`]) and the JUnit file
//! e2e.test writes ([`junit`]), folded into kdc's report, one case per spec.

pub mod junit;
pub mod run;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `kdc e2e` / `kdc e2e-serial` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E2eOptions {
    /// The specs to run: literal text as the original took it, or a regex with `regex`.
    pub focus: Option<String>,
    /// The specs to leave out, as `focus`.
    pub skip: Option<String>,
    /// `focus` and `skip` are ginkgo regexes, not literal text.
    pub regex: bool,
    /// `kdc e2e-serial`: only `[Serial]` specs, one at a time.
    pub serial: bool,
    /// Ginkgo processes of a parallel run.
    pub parallel: usize,
    /// Where the bundles are (`<cache>/e2e`; each release in its own directory).
    pub bundles: PathBuf,
    /// The whole run's limit (ginkgo's `--timeout`).
    pub timeout: Duration,
}

/// The default of `--parallel`, measured on 2 cores (README, "Conformance e2e").
pub const DEFAULT_PARALLEL: usize = 4;

impl E2eOptions {
    pub fn new(bundles: PathBuf) -> E2eOptions {
        E2eOptions {
            focus: None,
            skip: None,
            regex: false,
            serial: false,
            parallel: DEFAULT_PARALLEL,
            bundles,
            timeout: Duration::from_secs(24 * 3600),
        }
    }
}

/// `$KDC_CACHE`, else `$XDG_CACHE_HOME/kdc`, else `~/.cache/kdc`: where the image recipes keep
/// their builds (the same rule as `images/kube/build.sh`).
pub fn cache_dir(var: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(d) = var("KDC_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Path::new(&d).join("kdc");
    }
    Path::new(&var("HOME").unwrap_or_else(|| "/root".into())).join(".cache/kdc")
}

/// The original's escaping of a literal focus or skip: `] \ $ * . ^ ( ) [` get a backslash,
/// whitespace runs match any whitespace, newlines go.
pub fn escape(text: &str) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in text.chars().filter(|c| *c != '\n') {
        if c.is_whitespace() {
            if !space {
                out.push_str("\\s+");
            }
            space = true;
            continue;
        }
        space = false;
        if "]\\$*.^()[".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The ginkgo focus, skip and label filter of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub focus: String,
    /// Empty: nothing skipped.
    pub skip: String,
    /// ginkgo's `--label-filter`, which ANDs with the focus; empty: none.
    pub labels: String,
}

/// Conformance specs, as upstream marks them.
pub const CONFORMANCE: &str = r"\[Conformance\]";
/// What a parallel run never runs: specs that need the cluster to themselves.
pub const NOT_PARALLEL: &str = r"\[Serial\]|\[Disruptive\]";

impl Selection {
    /// The original's rules: focus `\[Conformance\]` by default; the parallel run skips
    /// `[Serial]` and `[Disruptive]` specs whatever else it skips; the serial run takes only
    /// `[Serial]` specs of its focus: e2e's `Serial` label, which ginkgo ANDs with the focus
    /// (a regex cannot, when the focus names `[Serial]` itself).
    pub fn of(opts: &E2eOptions) -> Selection {
        let given = |v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| if opts.regex { s.to_string() } else { escape(s) })
        };
        let focus = given(&opts.focus).unwrap_or_else(|| CONFORMANCE.to_string());
        let skip = given(&opts.skip);
        if opts.serial {
            Selection {
                focus,
                skip: skip.unwrap_or_default(),
                labels: "Serial".into(),
            }
        } else {
            Selection {
                focus,
                skip: match skip {
                    Some(s) => format!("{NOT_PARALLEL}|{s}"),
                    None => NOT_PARALLEL.to_string(),
                },
                labels: String::new(),
            }
        }
    }

    /// This selection, also skipping `more` (specs that need an image the bundle lacks).
    pub fn skipping(&self, more: &[&str]) -> Selection {
        let mut parts: Vec<&str> = more.to_vec();
        if !self.skip.is_empty() {
            parts.insert(0, &self.skip);
        }
        Selection {
            skip: parts.join("|"),
            ..self.clone()
        }
    }
}

/// Specs that run an image of the manifest kdc does not build, by a pattern of their names;
/// found by reading where test/e2e uses each image. A spec matching one is skipped with the
/// image's reason, never reported as a failure of the cluster. Images no spec of e2e.test runs
/// (node-perf, perl, ipc-utils) are not here.
pub const NEEDS_IMAGE: &[(&str, &str)] = &[
    ("/volume/nfs:", r"NFS|\[Driver: nfs\]"),
    ("/nfs-provisioner:", r"NFS|\[Driver: nfs\]"),
    ("/volume/iscsi:", r"\[Driver: iscsi\]"),
    // The drivers' specs, not the API-only "CSI Conformance" ones (CSIDriver, CSINode, …).
    ("/sig-storage/csi-", CSI_DRIVER_SPECS),
    ("/sig-storage/hostpathplugin:", CSI_DRIVER_SPECS),
    (
        "/resource-consumer:",
        r"\[Feature:HPA\]|Horizontal pod autoscaling|\[Feature:ClusterSizeAutoscalingScaleUp\]",
    ),
    ("/apparmor-loader:", r"AppArmor"),
    (
        "/regression-issue-74839:",
        r"should drop INVALID conntrack entries",
    ),
    (
        "/distroless-iptables:",
        r"should set TCP CLOSE_WAIT timeout",
    ),
];

/// Specs that deploy a CSI driver (hostpath, mock) and its sidecars.
const CSI_DRIVER_SPECS: &str =
    r"CSI Volumes|CSI Mock|CSI mock|\[Driver: csi-hostpath\]|\[Driver: pd\.csi";

/// A release's bundle, as `images/e2e/build.sh` left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub dir: PathBuf,
    pub release: String,
    /// The input hash (`inputs`): which image set is loaded into a node.
    pub inputs: String,
    /// Every image in `images.tar`.
    pub images: Vec<String>,
    /// The manifest's images not built, each with why.
    pub unbuilt: Vec<(String, String)>,
}

/// A spec pattern to skip and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub pattern: String,
    pub reason: String,
}

/// Specs that cannot pass on a cluster without a registry whatever the bundle holds, by a
/// pattern of their names, and why.
pub const NEEDS_REGISTRY: &[(&str, &str)] = &[(
    r"ImageVolume .*pull policy of Always",
    "pulls its image with imagePullPolicy Always: that needs a registry, and kdc's clusters are offline (the image is in every node, but Always pulls regardless)",
)];

impl Bundle {
    /// Reads `<bundles>/<release>`. The error says how to build it.
    pub fn open(bundles: &Path, release: &str) -> Result<Bundle, String> {
        let dir = bundles.join(release);
        let build = format!(
            "build it with `kdc image build e2e --k8s-version {release}` (images/e2e/build.sh)"
        );
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| {
                format!(
                    "no e2e bundle for Kubernetes {release} in {} ({name}: {e}); {build}",
                    dir.display()
                )
            })
        };
        let inputs = read("inputs")?.trim().to_string();
        let images: Vec<String> = read("images.txt")?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        let unbuilt = read("unbuilt.txt")?
            .lines()
            .filter_map(|l| {
                let (image, why) = l.split_once('\t')?;
                Some((image.to_string(), why.to_string()))
            })
            .collect();
        for f in ["bin/e2e.test", "bin/ginkgo", "bin/kubectl", "images.tar"] {
            if !dir.join(f).is_file() {
                return Err(format!(
                    "the e2e bundle in {} has no {f}; {build}",
                    dir.display()
                ));
            }
        }
        Ok(Bundle {
            dir,
            release: release.to_string(),
            inputs,
            images,
            unbuilt,
        })
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    /// The spec patterns to skip, with the reason: those that need an image not in the bundle,
    /// and those that need a registry.
    pub fn skips(&self) -> Vec<Skip> {
        let mut out: Vec<Skip> = NEEDS_REGISTRY
            .iter()
            .map(|(pattern, why)| Skip {
                pattern: pattern.to_string(),
                reason: why.to_string(),
            })
            .collect();
        for (needle, pattern) in NEEDS_IMAGE {
            if let Some((image, why)) = self.unbuilt.iter().find(|(i, _)| i.contains(needle))
                && !out.iter().any(|s| s.pattern == *pattern)
            {
                out.push(Skip {
                    pattern: pattern.to_string(),
                    reason: format!("needs {image}, which kdc does not build: {why}"),
                });
            }
        }
        out
    }
}

/// The sig of a spec (`sig-network`), the class of its JUnit case; `e2e` when it has none.
pub fn class_of(spec: &junit::Spec) -> String {
    spec.sig.clone().unwrap_or_else(|| "e2e".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> E2eOptions {
        E2eOptions::new(PathBuf::from("/nonexistent"))
    }

    #[test]
    fn literal_focus_is_escaped_as_the_original_did() {
        assert_eq!(
            escape("[sig-network] DNS  should\nprovide"),
            r"\[sig-network\]\s+DNS\s+shouldprovide"
        );
        assert_eq!(escape("a.b*c$(d)^e\\"), r"a\.b\*c\$\(d\)\^e\\");
    }

    #[test]
    fn parallel_run_skips_serial_and_disruptive_whatever_else() {
        let s = Selection::of(&opts());
        assert_eq!(s.focus, CONFORMANCE);
        assert_eq!(s.skip, NOT_PARALLEL);
        let s = Selection::of(&E2eOptions {
            focus: Some("[sig-network]".into()),
            skip: Some("Slow".into()),
            ..opts()
        });
        assert_eq!(s.focus, r"\[sig-network\]");
        assert_eq!(s.skip, r"\[Serial\]|\[Disruptive\]|Slow");
        let s = Selection::of(&E2eOptions {
            focus: Some(r"\[sig-network\].*\[Conformance\]".into()),
            regex: true,
            ..opts()
        });
        assert_eq!(s.focus, r"\[sig-network\].*\[Conformance\]");
    }

    #[test]
    fn serial_run_takes_only_serial_specs_of_its_focus() {
        let s = Selection::of(&E2eOptions {
            serial: true,
            ..opts()
        });
        assert_eq!((s.focus.as_str(), s.skip.as_str()), (CONFORMANCE, ""));
        assert_eq!(s.labels, "Serial");
        // A focus that names [Serial] itself stays as it is: the label does the AND.
        let s = Selection::of(&E2eOptions {
            serial: true,
            focus: Some("Daemon set [Serial] should rollback".into()),
            ..opts()
        });
        assert_eq!(s.focus, r"Daemon\s+set\s+\[Serial\]\s+should\s+rollback");
        assert_eq!(s.labels, "Serial");
        assert_eq!(Selection::of(&opts()).labels, "");
        assert_eq!(
            s.skipping(&["NFS"]).skip,
            "NFS",
            "an empty skip is not an alternative that matches everything"
        );
    }

    #[test]
    fn bundle_names_what_is_missing_and_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = Bundle::open(dir.path(), "v1.36.3").unwrap_err();
        assert!(
            e.starts_with("no e2e bundle for Kubernetes v1.36.3 in "),
            "{e}"
        );
        assert!(
            e.contains("kdc image build e2e --k8s-version v1.36.3"),
            "{e}"
        );
        let b = dir.path().join("v1.36.3");
        std::fs::create_dir_all(b.join("bin")).unwrap();
        std::fs::write(b.join("inputs"), "abc\n").unwrap();
        std::fs::write(
            b.join("images.txt"),
            "registry.k8s.io/e2e-test-images/agnhost:2.63.0\n",
        )
        .unwrap();
        std::fs::write(
            b.join("unbuilt.txt"),
            "registry.k8s.io/e2e-test-images/volume/nfs:1.6.0\tan NFS server\n\
             registry.k8s.io/sig-storage/nfs-provisioner:v4.0.8\tan NFS server\n",
        )
        .unwrap();
        let e = Bundle::open(dir.path(), "v1.36.3").unwrap_err();
        assert!(e.contains("has no bin/e2e.test"), "{e}");
        for f in ["bin/e2e.test", "bin/ginkgo", "bin/kubectl", "images.tar"] {
            std::fs::write(b.join(f), "").unwrap();
        }
        let bundle = Bundle::open(dir.path(), "v1.36.3").unwrap();
        assert_eq!(bundle.inputs, "abc");
        assert_eq!(bundle.images.len(), 1);
        let skips = bundle.skips();
        // The registry's, then the NFS pattern once, with the first image that needs it.
        assert_eq!(skips.len(), 2, "{skips:?}");
        assert_eq!(skips[0].pattern, NEEDS_REGISTRY[0].0);
        assert_eq!(skips[1].pattern, r"NFS|\[Driver: nfs\]");
        assert_eq!(
            skips[1].reason,
            "needs registry.k8s.io/e2e-test-images/volume/nfs:1.6.0, which kdc does not build: an NFS server"
        );
    }

    #[test]
    fn csi_api_conformance_specs_are_not_taken_for_driver_specs() {
        let re = regex::Regex::new(CSI_DRIVER_SPECS).unwrap();
        for api in [
            "[sig-storage] CSIInlineVolumes should run through the lifecycle of a CSIDriver [Conformance]",
            "[sig-storage] CSINodes CSI Conformance should run through the lifecycle of a csinode [Conformance]",
            "[sig-storage] CSIStorageCapacity should support CSIStorageCapacities API operations [Conformance]",
            "[sig-storage] PersistentVolumes CSI Conformance should apply changes to a pv/pvc status [Conformance]",
        ] {
            assert!(!re.is_match(api), "{api}");
        }
        for driver in [
            "[sig-storage] CSI Volumes [Driver: csi-hostpath] [Testpattern: Dynamic PV (default fs)] provisioning should provision storage",
            "[sig-storage] CSI Mock volume attach CSI attach test using mock driver should not require VolumeAttach",
        ] {
            assert!(re.is_match(driver), "{driver}");
        }
    }

    #[test]
    fn cache_dir_follows_the_recipes_rule() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            cache_dir(env(&[("KDC_CACHE", "/c"), ("HOME", "/h")])),
            PathBuf::from("/c")
        );
        assert_eq!(
            cache_dir(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            PathBuf::from("/x/kdc")
        );
        assert_eq!(
            cache_dir(env(&[("HOME", "/h")])),
            PathBuf::from("/h/.cache/kdc")
        );
    }
}
