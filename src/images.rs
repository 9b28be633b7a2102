//! `kdc image build`: kdc's node and support images, built offline.
//!
//! The recipes in `images/` are compiled into the binary, so an installed kdc builds the same
//! images as `ci/setup-host.sh` does from a checkout: mmdebstrap + `docker import`, then a
//! Dockerfile that only adds files; each image is labelled with the hash of its inputs and
//! rebuilt only when they change. With `--from-registry` the plain `Dockerfile.registry`
//! (`FROM debian:bookworm` + apt-get) is used instead, for hosts that reach Docker Hub.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::kube::Release;

/// kdc's node image: Debian with systemd, what `DIND_IMAGE` defaults to.
pub const NODE_IMAGE: &str = "kdc/node:bookworm";
/// The repository of kdc's node images: `kdc/node:bookworm` (machines only) and
/// `kdc/node:<Kubernetes release>` (`images/kube/build.sh`).
pub const NODE_REPOSITORY: &str = "kdc/node";
/// kdc's support image: bind9 (DNS64) and tayga (NAT64).
pub const SUPPORT_IMAGE: &str = "kdc/support:bookworm";
/// The base of the kube-proxy image the Kubernetes recipe makes (iptables, conntrack, ipset).
pub const PROXY_BASE_IMAGE: &str = "kdc/proxy-base:bookworm";
/// The label a Kubernetes node image carries: its release, `v1.36.3`.
pub const KUBERNETES_LABEL: &str = "io.kdc.kubernetes";

/// (path under `images/`, contents, executable): every file of the recipes but NOTES.md.
const FILES: &[(&str, &str, bool)] = &[
    ("build.sh", include_str!("../images/build.sh"), true),
    (
        "e2e-base/Dockerfile",
        include_str!("../images/e2e-base/Dockerfile"),
        false,
    ),
    (
        "e2e-base/packages",
        include_str!("../images/e2e-base/packages"),
        false,
    ),
    (
        "e2e/build.sh",
        include_str!("../images/e2e/build.sh"),
        false,
    ),
    (
        "e2e/sh/main.go",
        include_str!("../images/e2e/sh/main.go"),
        false,
    ),
    (
        "kube/build-go.sh",
        include_str!("../images/kube/build-go.sh"),
        false,
    ),
    (
        "kube/build.sh",
        include_str!("../images/kube/build.sh"),
        false,
    ),
    (
        "kube/files/10-kubeadm.conf",
        include_str!("../images/kube/files/10-kubeadm.conf"),
        false,
    ),
    (
        "kube/files/containerd.service",
        include_str!("../images/kube/files/containerd.service"),
        false,
    ),
    (
        "kube/files/containerd.toml",
        include_str!("../images/kube/files/containerd.toml"),
        false,
    ),
    (
        "kube/files/crictl.yaml",
        include_str!("../images/kube/files/crictl.yaml"),
        false,
    ),
    (
        "kube/files/kdc-node-fixups.service",
        include_str!("../images/kube/files/kdc-node-fixups.service"),
        false,
    ),
    (
        "kube/files/kdc-pod-run",
        include_str!("../images/kube/files/kdc-pod-run"),
        false,
    ),
    (
        "kube/files/kubelet.service",
        include_str!("../images/kube/files/kubelet.service"),
        false,
    ),
    (
        "kube/files/node-fixups.sh",
        include_str!("../images/kube/files/node-fixups.sh"),
        false,
    ),
    (
        "kube/node.Dockerfile",
        include_str!("../images/kube/node.Dockerfile"),
        false,
    ),
    (
        "kube/pause/main.go",
        include_str!("../images/kube/pause/main.go"),
        false,
    ),
    (
        "kube/releases",
        include_str!("../images/kube/releases"),
        false,
    ),
    (
        "node/Dockerfile",
        include_str!("../images/node/Dockerfile"),
        false,
    ),
    (
        "node/Dockerfile.registry",
        include_str!("../images/node/Dockerfile.registry"),
        false,
    ),
    (
        "node/packages",
        include_str!("../images/node/packages"),
        false,
    ),
    (
        "node/setup.sh",
        include_str!("../images/node/setup.sh"),
        false,
    ),
    (
        "proxy-base/Dockerfile",
        include_str!("../images/proxy-base/Dockerfile"),
        false,
    ),
    (
        "proxy-base/packages",
        include_str!("../images/proxy-base/packages"),
        false,
    ),
    (
        "support/Dockerfile",
        include_str!("../images/support/Dockerfile"),
        false,
    ),
    (
        "support/Dockerfile.registry",
        include_str!("../images/support/Dockerfile.registry"),
        false,
    ),
    (
        "support/entrypoint.sh",
        include_str!("../images/support/entrypoint.sh"),
        true,
    ),
    (
        "support/packages",
        include_str!("../images/support/packages"),
        false,
    ),
    (
        "support/setup.sh",
        include_str!("../images/support/setup.sh"),
        false,
    ),
];

/// Which image to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// The Kubernetes node image `kdc/node:<release>` (of --k8s-version, DIND_K8S_VERSION or
    /// the default release), built from the Go module proxy on top of `kdc/node:bookworm`.
    Node,
    /// `kdc/node:bookworm` alone: the machines without Kubernetes (`--bootstrapper none`).
    Bare,
    /// `kdc/support:bookworm`: bind9 (DNS64) and tayga (NAT64).
    Support,
    /// The conformance bundle of the release (`kdc e2e`): e2e.test, ginkgo, kubectl and the
    /// test images, in `<cache>/e2e/<release>` (builds the node image first).
    E2e,
    /// bare, support and the Kubernetes node image.
    All,
}

/// One build step: a recipe run with its image's name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// `images/build.sh <dir>`, or `images/<dir>/Dockerfile.registry` with --from-registry.
    Debian {
        dir: &'static str,
        image: &'static str,
    },
    /// `images/kube/build.sh <release>`.
    Kube { release: &'static str },
    /// `images/e2e/build.sh <release>`.
    E2e { release: &'static str },
}

impl Step {
    fn image(&self) -> String {
        match self {
            Step::Debian { image, .. } => image.to_string(),
            Step::Kube { release } => format!("{NODE_REPOSITORY}:{release}"),
            Step::E2e { release } => format!("the e2e bundle of {release}"),
        }
    }
}

impl Which {
    /// The recipes to run, in order. The Kubernetes recipe builds `kdc/node:bookworm` and
    /// `kdc/proxy-base:bookworm` itself first (their input hashes are part of its own).
    fn steps(self, release: &Release) -> Vec<Step> {
        let bare = Step::Debian {
            dir: "node",
            image: NODE_IMAGE,
        };
        let support = Step::Debian {
            dir: "support",
            image: SUPPORT_IMAGE,
        };
        let kube = Step::Kube {
            release: release.version,
        };
        match self {
            Which::Node => vec![kube],
            Which::Bare => vec![bare],
            Which::Support => vec![support],
            Which::E2e => vec![Step::E2e {
                release: release.version,
            }],
            Which::All => vec![bare, support, kube],
        }
    }
}

/// Why a build, a save or a load failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot write the image recipes to {dir}")]
    Write {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run `{program}` for {image}: {reason}; {fix}")]
    Spawn {
        program: &'static str,
        image: String,
        fix: &'static str,
        reason: std::io::Error,
    },
    #[error(
        "building {image} failed ({status}): the lines above name the failing component and show its error"
    )]
    Failed { image: String, status: String },
    #[error(
        "--from-registry builds only `bare` and `support` (from Dockerfile.registry); the Kubernetes node image is built from the Go module proxy: run `kdc image build node` without --from-registry"
    )]
    RegistryKube,
    #[error("{image} is not there to save; {fix}")]
    Missing { image: String, fix: String },
    #[error("cannot save {images} to {file}: {message}")]
    Save {
        images: String,
        file: String,
        message: String,
    },
    #[error("cannot read {file}: {reason}; give the path of a file written by `kdc image save`")]
    Unreadable {
        file: String,
        reason: std::io::Error,
    },
    #[error(
        "{file} is not an image archive written by `kdc image save` (docker load: {message}); write it again with `kdc image save -o {file}`"
    )]
    Invalid { file: String, message: String },
    #[error(
        "{file} holds no Kubernetes node image (it loaded {loaded}); write one with `kdc image save --k8s-version V -o {file}`"
    )]
    NoNodeImage { file: String, loaded: String },
}

/// Writes the embedded recipes into `dir` (a fresh directory), keeping file modes.
pub fn write_recipes(dir: &Path) -> Result<(), ImageError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |source| ImageError::Write {
        dir: dir.display().to_string(),
        source,
    };
    for (path, text, exec) in FILES {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("has parent")).map_err(fail)?;
        std::fs::write(&p, text).map_err(fail)?;
        let mode = if *exec { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).map_err(fail)?;
    }
    Ok(())
}

/// Builds the images, streaming the recipes' progress lines (and on failure the failing
/// component's error) to stderr. `release` is the Kubernetes release of `node` and `all`.
pub fn build(
    which: Which,
    release: &Release,
    force: bool,
    from_registry: bool,
) -> Result<(), ImageError> {
    let steps = which.steps(release);
    if from_registry
        && steps
            .iter()
            .any(|s| matches!(s, Step::Kube { .. } | Step::E2e { .. }))
    {
        return Err(ImageError::RegistryKube);
    }
    let dir = tempfile::Builder::new()
        .prefix("kdc-images-")
        .tempdir()
        .map_err(|source| ImageError::Write {
            dir: std::env::temp_dir().display().to_string(),
            source,
        })?;
    write_recipes(dir.path())?;
    steps
        .iter()
        .try_for_each(|step| run_step(dir.path(), step, force, from_registry))
}

fn run_step(dir: &Path, step: &Step, force: bool, from_registry: bool) -> Result<(), ImageError> {
    let image = step.image();
    let (program, mut cmd) = match step {
        Step::Debian { dir: name, .. } if from_registry => {
            let mut c = Command::new("docker");
            let ctx = dir.join(name);
            c.args(["build", "-f"])
                .arg(ctx.join("Dockerfile.registry"))
                .args(["-t", &image])
                .arg(&ctx);
            ("docker", c)
        }
        Step::Debian { dir: name, .. } => {
            let mut c = Command::new("bash");
            c.arg(dir.join("build.sh")).arg(name);
            ("bash", c)
        }
        Step::Kube { release } => {
            let mut c = Command::new("bash");
            c.arg(dir.join("kube/build.sh")).arg(release);
            ("bash", c)
        }
        Step::E2e { release } => {
            let mut c = Command::new("bash");
            c.arg(dir.join("e2e/build.sh")).arg(release);
            ("bash", c)
        }
    };
    if force {
        cmd.env("KDC_IMAGE_FORCE", "1");
    }
    let status = cmd.status().map_err(|reason| ImageError::Spawn {
        program,
        image: image.clone(),
        fix: "install it (ci/setup-host.sh installs what the builds need)",
        reason,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(ImageError::Failed {
            image,
            status: status.to_string(),
        })
    }
}

/// Labels of a local image (`docker image inspect`), `None` when there is no such image.
pub fn image_labels(image: &str) -> Result<Option<BTreeMap<String, String>>, ImageError> {
    let out = Command::new("docker")
        .args(["image", "inspect", "-f", "{{json .Config.Labels}}", image])
        .output()
        .map_err(|reason| ImageError::Spawn {
            program: "docker",
            image: image.to_string(),
            fix: "install the Docker CLI (ci/setup-host.sh)",
            reason,
        })?;
    if !out.status.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(Some(
        serde_json::from_str::<Option<BTreeMap<String, String>>>(text.trim())
            .ok()
            .flatten()
            .unwrap_or_default(),
    ))
}

/// Whether `file` is written gzip-compressed: by its name, `.gz` or `.tgz`.
pub fn gzip_by_name(file: &Path) -> bool {
    let name = file.to_string_lossy();
    name.ends_with(".gz") || name.ends_with(".tgz")
}

/// What `kdc image save` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub images: Vec<String>,
    pub bytes: u64,
}

/// The images to save for a node image: it, and the bases whose input hashes its own hash
/// covers (`kdc/node:bookworm` shares its layers; `kdc/proxy-base:bookworm` adds its own), so
/// that after `load` the recipe finds everything up to date without mmdebstrap.
pub fn save_set(image: &str, with_bases: bool) -> Result<Vec<String>, ImageError> {
    let mut images = vec![image.to_string()];
    if with_bases {
        for base in [NODE_IMAGE, PROXY_BASE_IMAGE] {
            if image_labels(base)?.is_some() {
                images.push(base.to_string());
            }
        }
    }
    Ok(images)
}

/// `docker save` of `images` into `file` (through `gzip` when `gzip`), written beside it
/// first and renamed, so that an interrupted save leaves no truncated archive for a CI cache.
pub fn save(images: &[String], file: &Path, gzip: bool) -> Result<Saved, ImageError> {
    use std::process::Stdio;
    let fail = |message: String| ImageError::Save {
        images: images.join(", "),
        file: file.display().to_string(),
        message,
    };
    let tmp = file.with_file_name(format!(
        ".{}.kdc-partial",
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into())
    ));
    let out = std::fs::File::create(&tmp).map_err(|e| fail(e.to_string()))?;
    let result = (|| {
        let mut docker = Command::new("docker");
        docker.arg("save").args(images).stderr(Stdio::piped());
        let (docker_out, gzip_status) = if gzip {
            docker.stdout(Stdio::piped());
            let mut d = docker
                .spawn()
                .map_err(|e| fail(format!("cannot run docker: {e}")))?;
            let pipe = d.stdout.take().expect("piped");
            let g = Command::new("gzip")
                .arg("-c")
                .stdin(pipe)
                .stdout(out)
                .status()
                .map_err(|e| fail(format!("cannot run gzip: {e}")))?;
            (d.wait_with_output(), Some(g))
        } else {
            docker.stdout(out);
            (
                docker
                    .spawn()
                    .map_err(|e| fail(format!("cannot run docker: {e}")))?
                    .wait_with_output(),
                None,
            )
        };
        let d = docker_out.map_err(|e| fail(e.to_string()))?;
        if !d.status.success() {
            return Err(fail(format!(
                "docker save: {}",
                String::from_utf8_lossy(&d.stderr).trim()
            )));
        }
        if let Some(g) = gzip_status.filter(|g| !g.success()) {
            return Err(fail(format!("gzip failed ({g})")));
        }
        std::fs::rename(&tmp, file).map_err(|e| fail(e.to_string()))?;
        let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        Ok(Saved {
            images: images.to_vec(),
            bytes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// An image `kdc image load` loaded, with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub image: String,
    pub labels: BTreeMap<String, String>,
}

/// `docker load` of a file `kdc image save` wrote (gzip-compressed or not: told by its first
/// bytes). Fails naming the file when it cannot be read, is not an image archive, or holds no
/// Kubernetes node image (`io.kdc.kubernetes`).
pub fn load(file: &Path) -> Result<Vec<Loaded>, ImageError> {
    use std::io::Read;
    use std::process::Stdio;
    let name = file.display().to_string();
    let unreadable = |reason| ImageError::Unreadable {
        file: name.clone(),
        reason,
    };
    let mut f = std::fs::File::open(file).map_err(unreadable)?;
    if f.metadata().map_err(unreadable)?.is_dir() {
        return Err(unreadable(std::io::Error::other("it is a directory")));
    }
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(unreadable)?;
    let gzipped = n == 2 && magic == [0x1f, 0x8b];
    let invalid = |message: String| ImageError::Invalid {
        file: name.clone(),
        message,
    };
    let spawn = |program, reason| ImageError::Spawn {
        program,
        image: name.clone(),
        fix: "install it (ci/setup-host.sh)",
        reason,
    };
    let mut docker = Command::new("docker");
    docker
        .args(["load", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut gunzip = None;
    if gzipped {
        let mut g = Command::new("gzip")
            .arg("-dc")
            .stdin(std::fs::File::open(file).map_err(unreadable)?)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn("gzip", e))?;
        docker.stdin(g.stdout.take().expect("piped"));
        gunzip = Some(g);
    } else {
        docker.stdin(std::fs::File::open(file).map_err(unreadable)?);
    }
    let out = docker
        .spawn()
        .map_err(|e| spawn("docker", e))?
        .wait_with_output()
        .map_err(|e| spawn("docker", e))?;
    if let Some(g) = gunzip {
        let g = g.wait_with_output().map_err(|e| spawn("gzip", e))?;
        if !g.status.success() {
            return Err(invalid(
                String::from_utf8_lossy(&g.stderr).trim().to_string(),
            ));
        }
    }
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(invalid(stderr.trim().to_string()));
    }
    let refs = loaded_refs(&String::from_utf8_lossy(&out.stdout));
    let mut loaded = Vec::new();
    for image in refs {
        let labels = image_labels(&image)?.unwrap_or_default();
        loaded.push(Loaded { image, labels });
    }
    if !loaded
        .iter()
        .any(|l| l.labels.contains_key(KUBERNETES_LABEL))
    {
        let names: Vec<&str> = loaded.iter().map(|l| l.image.as_str()).collect();
        return Err(ImageError::NoNodeImage {
            file: name,
            loaded: if names.is_empty() {
                "nothing".into()
            } else {
                names.join(", ")
            },
        });
    }
    Ok(loaded)
}

/// The images `docker load` names on stdout: `Loaded image: kdc/node:v1.36.3` (and
/// `Loaded image ID: sha256:…` for untagged ones).
fn loaded_refs(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("Loaded image: ")
                .or_else(|| l.trim().strip_prefix("Loaded image ID: "))
        })
        .map(|r| r.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recipe tags its images `kdc/<dir>:<suite>` and `kdc/node:<release>`; the constants
    /// and steps must name those.
    #[test]
    fn image_names_match_the_recipes() {
        let text = |path: &str| FILES.iter().find(|(p, _, _)| *p == path).unwrap().1;
        let build = text("build.sh");
        assert!(build.contains(r#"suite="bookworm""#));
        assert!(build.contains(r#"image="kdc/$name:$suite""#));
        assert!(text("kube/build.sh").contains(r#"image="kdc/node:$release""#));
        assert!(text("kube/build.sh").contains("io.kdc.kubernetes=$release"));
        let release = crate::kube::release_for("1.34").unwrap();
        let images: Vec<String> = Which::All.steps(release).iter().map(Step::image).collect();
        assert_eq!(
            images,
            [NODE_IMAGE, SUPPORT_IMAGE, "kdc/node:v1.34.4"].map(String::from)
        );
        for step in Which::All.steps(release) {
            if let Step::Debian { dir, image } = step {
                assert_eq!(image, format!("kdc/{dir}:bookworm"));
            }
        }
        assert_eq!(PROXY_BASE_IMAGE, "kdc/proxy-base:bookworm");
        assert_eq!(
            Which::Node.steps(release),
            vec![Step::Kube { release: "v1.34.4" }]
        );
        assert_eq!(Which::Bare.steps(release)[0].image(), NODE_IMAGE);
    }

    #[test]
    fn the_registry_recipes_do_not_build_kubernetes() {
        let release = crate::kube::default_release();
        for which in [Which::Node, Which::All] {
            let e = build(which, release, false, true).unwrap_err();
            assert!(matches!(e, ImageError::RegistryKube), "{e}");
            assert!(e.to_string().contains("without --from-registry"), "{e}");
        }
    }

    /// Every file under images/ is embedded, byte for byte and with its executable bit, so
    /// the recipes an installed kdc runs hash to the same inputs as a checkout's.
    #[test]
    fn embedded_recipes_match_the_tree() {
        use std::os::unix::fs::PermissionsExt;
        fn walk(root: &Path, sub: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(root.join(sub)).unwrap() {
                let e = e.unwrap();
                let rel = sub.join(e.file_name());
                if e.file_type().unwrap().is_dir() {
                    walk(root, &rel, out);
                } else if rel != Path::new("NOTES.md") {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
        let mut on_disk = Vec::new();
        walk(&root, Path::new(""), &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "add new image files to FILES");
        let dir = tempfile::tempdir().unwrap();
        write_recipes(dir.path()).unwrap();
        for (p, text, exec) in FILES {
            assert_eq!(std::fs::read_to_string(dir.path().join(p)).unwrap(), *text);
            assert_eq!(std::fs::read_to_string(root.join(p)).unwrap(), *text);
            let mode = std::fs::metadata(root.join(p))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o100 != 0, *exec, "{p}: executable bit");
        }
    }

    #[test]
    fn docker_loads_answer_is_read_and_gzip_is_chosen_by_name() {
        let out = "Loaded image: kdc/node:v1.36.3\nLoaded image: kdc/node:bookworm\nLoaded image ID: sha256:abc\n";
        assert_eq!(
            loaded_refs(out),
            ["kdc/node:v1.36.3", "kdc/node:bookworm", "sha256:abc"]
        );
        assert!(loaded_refs("open /x: no such file\n").is_empty());
        assert!(gzip_by_name(Path::new("/c/node.tar.gz")));
        assert!(gzip_by_name(Path::new("node.tgz")));
        assert!(!gzip_by_name(Path::new("node.tar")));
    }
}
