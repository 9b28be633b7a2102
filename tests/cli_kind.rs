//! The command line kind and kubeadm-dind-cluster users know, without Docker: kind's verbs route
//! to kdc's commands (same flags, same errors), `--name` selects what `get clusters` prints,
//! `reup`'s refusal, `version`, `completion`, and clap's suggestion for a mistyped command.
//! What needs an engine (`get clusters`, `get nodes`, `export logs`) is in live_docker.rs.

use std::process::Output;

use assert_cmd::Command;
use serde_json::{Value, json};
use tempfile::TempDir;

/// `kdc` with an empty environment, run in a fresh empty directory (so no stray kdc.toml).
fn kdc(dir: &TempDir) -> Command {
    let mut c = Command::cargo_bin("kdc").expect("binary kdc");
    c.env_clear().current_dir(dir.path());
    c
}

fn tmp() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    let d = tmp();
    let mut c = kdc(&d);
    c.args(args).envs(env.iter().copied());
    c.output().expect("run kdc")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "kdc failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn plan_json(env: &[(&str, &str)], args: &[&str]) -> Value {
    let mut all = vec!["plan", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&stdout(&run(env, &all))).expect("stdout is JSON")
}

// ------------------------------------------------------------------------------------------
// --name and what `get clusters` prints

#[test]
fn name_and_n_select_the_label() {
    for flag in ["--name", "-n", "--label"] {
        let p = plan_json(&[], &[flag, "foo"]);
        // FNV-1a("foo") = 0xa9f37ed7, % 12 + 1 = 4 (README, "What kdc fixes").
        assert_eq!(
            p["cluster"],
            json!({"label": "foo", "id": 4, "suffix": "-foo", "context": "dind-foo"}),
            "{flag}"
        );
    }
}

/// `get clusters` prints each cluster's label; `--name <that>` must select the very same
/// cluster (same names, same subnets), however it was first named: the default cluster,
/// `CLUSTER_ID` alone, `DIND_LABEL`, both.
#[test]
fn the_name_get_clusters_prints_selects_the_same_cluster() {
    let made_with: [&[(&str, &str)]; 5] = [
        &[],
        &[("CLUSTER_ID", "20")],
        &[("DIND_LABEL", "third")],
        &[("DIND_LABEL", "foo"), ("CLUSTER_ID", "3")],
        &[("DIND_LABEL", "bar-7")],
    ];
    let labels: Vec<String> = made_with
        .iter()
        .map(|env| {
            let original = plan_json(env, &[]);
            let label = original["cluster"]["label"].as_str().unwrap().to_string();
            let by_name = plan_json(&[], &["--name", &label]);
            for key in ["cluster", "network", "nodes"] {
                assert_eq!(
                    by_name[key], original[key],
                    "{env:?}: --name {label}: {key}"
                );
            }
            label
        })
        .collect();
    assert_eq!(
        labels,
        [
            "mirantis.kubeadm_dind_cluster_runtime",
            "cluster-20",
            "third",
            "foo-3",
            "bar-7"
        ]
    );
}

// ------------------------------------------------------------------------------------------
// kind's verbs run kdc's commands

/// The same invalid configuration through kind's verb and kdc's command: the same error on
/// stderr, nothing on stdout, exit 1 (a configuration error, not a usage error).
#[test]
fn kind_verbs_fail_exactly_like_the_commands_they_stand_for() {
    for (kind, kdc_cmd) in [
        (&["create", "cluster"][..], &["up"][..]),
        (&["delete", "cluster"][..], &["clean"][..]),
        (&["export", "logs"][..], &["dump", "--dir", "x"][..]),
        (&["get", "nodes"][..], &["plan"][..]),
        (&["reup"][..], &["up"][..]),
    ] {
        let bogus = ["--ip-mode", "bogus", "--name", "x"];
        let a = run(&[], &[kind, &bogus[..]].concat());
        let b = run(&[], &[kdc_cmd, &bogus[..]].concat());
        assert_eq!(a.status.code(), Some(1), "{kind:?}");
        assert_eq!(b.status.code(), Some(1), "{kdc_cmd:?}");
        assert!(a.stdout.is_empty() && b.stdout.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&a.stderr),
            "error: invalid configuration: 1 problem\n  - --ip-mode bogus: not an IP mode; use ipv4, ipv6 or dual-stack\n",
            "{kind:?}"
        );
        assert_eq!(a.stderr, b.stderr, "{kind:?} vs {kdc_cmd:?}");
    }
}

/// Everything after the usage line of `--help`: the flags.
fn flags_help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let help = stdout(&run(&[], &all));
    help.split_once("\nOptions:\n")
        .unwrap_or_else(|| panic!("{args:?} --help has no Options:\n{help}"))
        .1
        .to_string()
}

#[test]
fn kind_verbs_take_the_same_flags() {
    assert_eq!(flags_help(&["create", "cluster"]), flags_help(&["up"]));
    assert_eq!(flags_help(&["reup"]), flags_help(&["up"]));
    assert_eq!(flags_help(&["delete", "cluster"]), flags_help(&["clean"]));
    let up = flags_help(&["up"]);
    assert!(
        up.contains("  -n, --label <VALUE>") && up.contains("[alias: --name]"),
        "{up}"
    );
    let nodes = flags_help(&["get", "nodes"]);
    assert!(nodes.contains("  -A, --all-clusters"), "{nodes}");
}

#[test]
fn reup_refuses_skip_snapshot_before_touching_docker() {
    // DOCKER_HOST points nowhere: reaching the engine would be a different error.
    let o = run(
        &[("DOCKER_HOST", "tcp://127.0.0.1:1")],
        &["reup", "--skip-snapshot"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: kdc reup restarts cluster mirantis.kubeadm_dind_cluster_runtime from its volumes, but SKIP_SNAPSHOT (--skip-snapshot) asks for a fresh start; use `kdc up`, or unset SKIP_SNAPSHOT\n"
    );
}

// ------------------------------------------------------------------------------------------
// version

const VERSION: &str = env!("CARGO_PKG_VERSION");
const COMMIT: &str = env!("KDC_GIT_COMMIT");

#[test]
fn version_prints_version_commit_and_kubernetes_versions() {
    let want = format!(
        "kdc {VERSION} (commit {COMMIT})\nKubernetes versions: v1.34.4, v1.35.4, v1.36.3, v1.37.2 (default v1.36.3)\n"
    );
    for args in [&["version"][..], &["--version"], &["-V"]] {
        assert_eq!(stdout(&run(&[], args)), want, "{args:?}");
    }
    let got: Value = serde_json::from_str(&stdout(&run(&[], &["version", "--json"]))).unwrap();
    assert_eq!(
        got,
        json!({
            "version": VERSION,
            "commit": COMMIT,
            "kubernetes": {
                "supported": ["v1.34.4", "v1.35.4", "v1.36.3", "v1.37.2"],
                "default": "v1.36.3",
            },
        })
    );
}

/// build.rs records `git rev-parse --short HEAD` of this checkout; outside one, `unknown`.
#[test]
fn the_commit_is_this_checkouts() {
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match git {
        Ok(o) if o.status.success() => {
            assert_eq!(COMMIT, String::from_utf8_lossy(&o.stdout).trim())
        }
        _ => assert_eq!(COMMIT, "unknown"),
    }
}

// ------------------------------------------------------------------------------------------
// completion

#[test]
fn completion_scripts_cover_every_command() {
    for (shell, marker) in [
        ("bash", "complete -F _kdc"),
        ("zsh", "#compdef kdc"),
        ("fish", "complete -c kdc"),
    ] {
        let script = stdout(&run(&[], &["completion", shell]));
        assert!(script.contains(marker), "{shell}: no {marker}");
        for word in [
            "split-dump64",
            "create",
            "reup",
            "export",
            "all-clusters",
            "ip-mode",
        ] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    let o = run(&[], &["completion", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .starts_with("error: invalid value 'tcsh' for '<SHELL>'\n  [possible values: bash, elvish, fish, powershell, zsh]\n"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

// ------------------------------------------------------------------------------------------
// suggestions for mistyped commands

fn usage_error(args: &[&str]) -> String {
    let o = run(&[], args);
    assert_eq!(o.status.code(), Some(2), "{args:?}");
    assert!(o.stdout.is_empty());
    String::from_utf8(o.stderr).unwrap()
}

#[test]
fn a_mistyped_create_suggests_create_only() {
    // clap alone answered `kdc creat` with "some similar subcommands exist: 'clean', 'create'".
    for typo in ["craete", "creat", "ceate", "cretae"] {
        assert_eq!(
            usage_error(&[typo, "cluster"]),
            format!(
                "error: unrecognized subcommand '{typo}'\n\n  tip: a similar subcommand exists: 'create'\n\nUsage: kdc [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
            )
        );
    }
    assert_eq!(
        usage_error(&["delte", "cluster"]),
        "error: unrecognized subcommand 'delte'\n\n  tip: a similar subcommand exists: 'delete'\n\nUsage: kdc [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
    );
    assert_eq!(
        usage_error(&["get", "cluster"]),
        "error: unrecognized subcommand 'cluster'\n\n  tip: a similar subcommand exists: 'clusters'\n\nUsage: kdc get [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
    );
}
