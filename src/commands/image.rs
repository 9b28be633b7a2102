//! `kdc image build|save|load`: kdc's images, built offline from the embedded recipes, and a
//! built Kubernetes node image moved as a file (a CI cache).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use super::Ctx;
use crate::KdcError;
use crate::images::{self, Which};
use crate::kube::Release;

/// The release a command works on: `--k8s-version`, else `DIND_K8S_VERSION`, else the default.
/// An unsupported version names where it came from and the supported ones.
fn release(cx: &Ctx<'_>, flag: Option<&str>) -> Result<&'static Release, KdcError> {
    let env = cx
        .env
        .vars
        .iter()
        .find(|(k, v)| k == "DIND_K8S_VERSION" && !v.trim().is_empty())
        .map(|(_, v)| v.as_str());
    let (source, version) = match (flag, env) {
        (Some(v), _) => ("--k8s-version", v),
        (None, Some(v)) => ("DIND_K8S_VERSION", v),
        (None, None) => return Ok(crate::kube::default_release()),
    };
    crate::kube::release_for(version).map_err(|e| KdcError::Failed(format!("{source}: {e}")))
}

/// `kdc image build [node|bare|support|all]`.
pub fn build(
    cx: &Ctx<'_>,
    which: Which,
    k8s_version: Option<&str>,
    force: bool,
    from_registry: bool,
) -> Result<ExitCode, KdcError> {
    let release = release(cx, k8s_version)?;
    images::build(which, release, force, from_registry)?;
    Ok(ExitCode::SUCCESS)
}

/// `kdc image save [--k8s-version V | --image REF] -o FILE`.
pub fn save(
    cx: &Ctx<'_>,
    k8s_version: Option<&str>,
    image: Option<&str>,
    output: &Path,
) -> Result<ExitCode, KdcError> {
    let (image, release, with_bases) = match image {
        Some(i) => (i.to_string(), None, false),
        None => {
            let r = release(cx, k8s_version)?;
            (
                format!("{}:{}", images::NODE_REPOSITORY, r.version),
                Some(r.version),
                true,
            )
        }
    };
    if images::image_labels(&image)?.is_none() {
        let fix = match release {
            Some(r) => format!(
                "build it with `kdc image build node --k8s-version {r}` (or load it with `kdc image load FILE`)"
            ),
            None => "build or pull it first (`docker image ls` lists what the engine has)".into(),
        };
        return Err(images::ImageError::Missing { image, fix }.into());
    }
    let set = images::save_set(&image, with_bases)?;
    let t0 = Instant::now();
    let saved = images::save(&set, output, images::gzip_by_name(output))?;
    cx.events.note(format!(
        "saved {} to {} ({:.0} MB) in {:.0} s",
        saved.images.join(", "),
        output.display(),
        saved.bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `kdc image load FILE`: loads it, prints the Kubernetes node image's name on stdout.
pub fn load(cx: &Ctx<'_>, file: &Path) -> Result<ExitCode, KdcError> {
    let t0 = Instant::now();
    let loaded = images::load(file)?;
    let mut node = None;
    for l in &loaded {
        let inputs = l
            .labels
            .get(crate::runtime::labels::IMAGE_INPUTS)
            .map(|h| format!(", inputs {}", &h[..h.len().min(12)]))
            .unwrap_or_default();
        let what = match l.labels.get(images::KUBERNETES_LABEL) {
            Some(k) => {
                node.get_or_insert(l.image.clone());
                format!(" (Kubernetes {k}{inputs})")
            }
            None if !inputs.is_empty() => format!(" ({})", &inputs[2..]),
            None => String::new(),
        };
        cx.events.note(format!("loaded {}{what}", l.image));
    }
    cx.events.note(format!(
        "loaded {} in {:.0} s",
        file.display(),
        t0.elapsed().as_secs_f64()
    ));
    if let Some(n) = node {
        cx.print(&format!("{n}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}
