//! `kdc image build`: kdc's node and support images, built offline.
//!
//! The recipes in `images/` are compiled into the binary, so an installed kdc builds the same
//! images as `ci/setup-host.sh` does from a checkout: mmdebstrap + `docker import`, then a
//! Dockerfile that only adds files; each image is labelled with the hash of its inputs and
//! rebuilt only when they change. With `--from-registry` the plain `Dockerfile.registry`
//! (`FROM debian:bookworm` + apt-get) is used instead, for hosts that reach Docker Hub.

use std::path::Path;
use std::process::Command;

/// kdc's node image: Debian with systemd, what `DIND_IMAGE` defaults to.
pub const NODE_IMAGE: &str = "kdc/node:bookworm";
/// The repository of kdc's node images: `kdc/node:bookworm` (machines only) and
/// `kdc/node:<Kubernetes release>` (`images/kube/build.sh`).
pub const NODE_REPOSITORY: &str = "kdc/node";
/// kdc's support image: bind9 (DNS64) and tayga (NAT64).
pub const SUPPORT_IMAGE: &str = "kdc/support:bookworm";

/// (path under `images/`, contents, executable)
const FILES: &[(&str, &str, bool)] = &[
    ("build.sh", include_str!("../images/build.sh"), true),
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
    Node,
    Support,
    All,
}

impl Which {
    /// (recipe directory under `images/`, image tag)
    fn images(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Which::Node => &[("node", NODE_IMAGE)],
            Which::Support => &[("support", SUPPORT_IMAGE)],
            Which::All => &[("node", NODE_IMAGE), ("support", SUPPORT_IMAGE)],
        }
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot write the image recipes to {dir}")]
    Write {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}); its output is above")]
    Failed { command: String, status: String },
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

/// Builds the images, streaming the tools' output to stderr.
pub fn build(which: Which, force: bool, from_registry: bool) -> Result<(), ImageError> {
    let dir = std::env::temp_dir().join(format!("kdc-images-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_recipes(&dir)?;
    let result = which.images().iter().try_for_each(|(name, tag)| {
        let mut cmd = if from_registry {
            let mut c = Command::new("docker");
            let ctx = dir.join(name);
            c.args(["build", "-f"])
                .arg(ctx.join("Dockerfile.registry"))
                .args(["-t", tag])
                .arg(&ctx);
            c
        } else {
            let mut c = Command::new("bash");
            c.arg(dir.join("build.sh")).arg(name);
            if force {
                c.env("KDC_IMAGE_FORCE", "1");
            }
            c
        };
        let command = format!("{cmd:?}");
        let status = cmd.status().map_err(|e| ImageError::Failed {
            command: command.clone(),
            status: e.to_string(),
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(ImageError::Failed {
                command,
                status: status.to_string(),
            })
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recipe tags its images `kdc/<dir>:<suite>`; the constants must name those.
    #[test]
    fn image_names_match_the_recipe() {
        let (_, build, _) = FILES.iter().find(|(p, _, _)| *p == "build.sh").unwrap();
        assert!(build.contains(r#"suite="bookworm""#));
        assert!(build.contains(r#"image="kdc/$name:$suite""#));
        for (dir, tag) in Which::All.images() {
            assert_eq!(*tag, format!("kdc/{dir}:bookworm"));
        }
    }

    /// Every file under images/ that the build reads is embedded, byte for byte.
    #[test]
    fn embedded_recipes_match_the_tree() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
        let mut on_disk = Vec::new();
        for sub in ["", "node", "support"] {
            for e in std::fs::read_dir(root.join(sub)).unwrap() {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                if e.file_type().unwrap().is_file() && name != "NOTES.md" {
                    on_disk.push(if sub.is_empty() {
                        name
                    } else {
                        format!("{sub}/{name}")
                    });
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "add new image files to FILES");
        let dir = tempfile::tempdir().unwrap();
        write_recipes(dir.path()).unwrap();
        for (p, text, _) in FILES {
            assert_eq!(std::fs::read_to_string(dir.path().join(p)).unwrap(), *text);
            assert_eq!(std::fs::read_to_string(root.join(p)).unwrap(), *text);
        }
    }
}
