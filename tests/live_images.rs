//! Live tests of `kdc image save` and `kdc image load`: a node image moves through a file with
//! its labels (the input hash the recipe compares, the Kubernetes release `up` checks), and every
//! failure names the file or image and the fix.
//!
//! They fail, not skip, when no daemon answers (`KDC_SKIP_LIVE=1` opts out). The scratch images
//! are `kdc-test/live-images-<pid>-*`, created and removed here; kdc's own images are only read
//! and loaded over with identical content.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::*;

/// One test at a time: the real image's test reads labels the recipe compares while the others
/// import, save and remove images, and a `docker image inspect` that fails under that load reads
/// as "not built" (seen once: the recipe rebuilt the image).
static ENGINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A tiny image this test creates (one file, kdc's labels) and removes when dropped.
struct Scratch(String);

impl Scratch {
    fn new(suffix: &str, labels: &[(&str, &str)], dir: &Path) -> Scratch {
        let name = format!("kdc-test/live-images-{}-{suffix}:v1", std::process::id());
        let root = dir.join(format!("root-{suffix}"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("hello"), suffix).unwrap();
        let tar = dir.join(format!("{suffix}.rootfs.tar"));
        let st = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        let mut args = vec!["import".to_string()];
        for (k, v) in labels {
            args.push("--change".into());
            args.push(format!("LABEL {k}={v}"));
        }
        args.push(tar.to_string_lossy().into_owned());
        args.push(name.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&args);
        Scratch(name)
    }

    fn remove(&self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove();
    }
}

fn labels(image: &str) -> serde_json::Value {
    serde_json::from_str(&docker(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        image,
    ]))
    .unwrap()
}

fn exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn a_node_image_moves_through_a_file_with_its_labels_gzip_or_not() {
    let _serial = serial();
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hash = "5ca1ab1e".repeat(8);
    let node = Scratch::new(
        "node",
        &[
            ("io.kdc.image", "node"),
            ("io.kdc.kubernetes", "v1.36.3"),
            ("io.kdc.image.inputs", &hash),
        ],
        dir.path(),
    );
    let before = labels(&node.0);
    for file in ["node.tar.gz", "node.tar"] {
        let path = dir.path().join(file);
        let p = path.to_str().unwrap();
        let o = kdc(&[], &["image", "save", "--image", &node.0, "-o", p]);
        let err = text(&o.stderr);
        assert_eq!(ok(o), "");
        assert!(err.contains(&format!("saved {} to {p}", node.0)), "{err}");
        let head = std::fs::read(&path).unwrap();
        assert_eq!(head[..2] == [0x1f, 0x8b], file.ends_with(".gz"), "{file}");
        // Nothing half-written stays beside it.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.contains("kdc-partial")),
            "{names:?}"
        );

        node.remove();
        assert!(!exists(&node.0));
        let o = kdc(&[], &["image", "load", p]);
        let err = text(&o.stderr);
        assert_eq!(
            ok(o),
            format!("{}\n", node.0),
            "stdout names the node image"
        );
        assert!(
            err.contains(&format!(
                "loaded {} (Kubernetes v1.36.3, inputs {})",
                node.0,
                &hash[..12]
            )),
            "{err}"
        );
        assert_eq!(labels(&node.0), before, "{file}: labels kept");
    }
}

#[test]
fn save_and_load_failures_name_the_image_or_file_and_the_fix() {
    let _serial = serial();
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("kdc-test/live-images-{}-missing:v1", std::process::id());
    let out = dir.path().join("x.tar");
    let o = fails(kdc(
        &[],
        &[
            "image",
            "save",
            "--image",
            &missing,
            "-o",
            out.to_str().unwrap(),
        ],
    ));
    assert!(
        o.contains(&format!("{missing} is not there to save")),
        "{o}"
    );
    assert!(!out.exists());

    // A release whose node image this engine lacks names the build command.
    if let Some(r) = ["1.34", "1.35", "1.37", "1.36"]
        .iter()
        .find(|r| !exists(&format!("kdc/node:{}", release_of(r))))
    {
        let o = fails(kdc(
            &[],
            &[
                "image",
                "save",
                "--k8s-version",
                r,
                "-o",
                out.to_str().unwrap(),
            ],
        ));
        assert!(
            o.contains(&format!(
                "kdc/node:{} is not there to save; build it with `kdc image build node --k8s-version {}`",
                release_of(r),
                release_of(r)
            )),
            "{o}"
        );
    }
    let o = fails(kdc(
        &[],
        &["image", "save", "--k8s-version", "1.20", "-o", "x.tar"],
    ));
    assert!(
        o.contains("--k8s-version: Kubernetes 1.20 is not supported"),
        "{o}"
    );

    let absent = dir.path().join("absent.tar");
    let o = fails(kdc(&[], &["image", "load", absent.to_str().unwrap()]));
    assert!(
        o.contains(&format!("cannot read {}: No such file", absent.display())),
        "{o}"
    );
    for (name, bytes) in [
        ("garbage.tar", b"not an archive".to_vec()),
        ("garbage.tar.gz", vec![0x1f, 0x8b, 8, 0, 1, 2, 3]),
    ] {
        let f = dir.path().join(name);
        std::fs::write(&f, bytes).unwrap();
        let o = fails(kdc(&[], &["image", "load", f.to_str().unwrap()]));
        assert!(
            o.contains(&format!(
                "{} is not an image archive written by `kdc image save`",
                f.display()
            )),
            "{o}"
        );
    }

    // A valid archive of an image that is no Kubernetes node image.
    let plain = Scratch::new("plain", &[("io.kdc.test", "yes")], dir.path());
    let f = dir.path().join("plain.tar");
    docker(&["save", "-o", f.to_str().unwrap(), &plain.0]);
    let o = fails(kdc(&[], &["image", "load", f.to_str().unwrap()]));
    assert!(
        o.contains(&format!(
            "{} holds no Kubernetes node image (it loaded {})",
            f.display(),
            plain.0
        )),
        "{o}"
    );
}

/// The exact release of a minor version (`"default"`: the default one), as `kdc version --json`
/// lists them.
fn release_of(minor: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&ok(kdc(&[], &["version", "--json"]))).unwrap();
    let k = &v["kubernetes"];
    if minor == "default" {
        return k["default"].as_str().unwrap().to_string();
    }
    k["supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .find(|r| r.starts_with(&format!("v{minor}.")))
        .unwrap_or_else(|| panic!("{minor} in {k}"))
        .to_string()
}

/// The real default node image: save, load over itself, and the recipe still finds it up to
/// date (the input hash travelled with it). Needs that image (`ci/setup-host.sh` builds it) and
/// the Go that built it (its version is one of the inputs).
#[test]
fn the_real_node_image_is_up_to_date_after_save_and_load() {
    let _serial = serial();
    if !docker_ready() {
        return;
    }
    let release = release_of("default");
    let image = format!("kdc/node:{release}");
    assert!(
        exists(&image),
        "{image} is missing: `bash ci/setup-host.sh` builds it (or `kdc image build node`)"
    );
    let inputs = labels(&image)["io.kdc.image.inputs"].clone();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("node.tar");
    let t0 = Instant::now();
    ok(kdc(&[], &["image", "save", "-o", f.to_str().unwrap()]));
    let saved = t0.elapsed();
    let t1 = Instant::now();
    assert_eq!(
        ok(kdc(&[], &["image", "load", f.to_str().unwrap()])),
        format!("{image}\n")
    );
    eprintln!(
        "saved {} MB in {saved:?}, loaded in {:?}",
        std::fs::metadata(&f).unwrap().len() / 1_000_000,
        t1.elapsed()
    );
    assert_eq!(labels(&image)["io.kdc.image.inputs"], inputs);
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/kube/build.sh");
    let o = Command::new("bash")
        .arg(recipe)
        .arg(&release)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("{image} up to date")), "{err}");
}
