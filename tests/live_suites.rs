//! `kdc test run` on a real engine: the embedded suites pass in every IP mode and with the
//! original's options (real AAAA, a 10.x NAT64 prefix, the ptp plugin); a stopped tayga or
//! bind9 fails exactly the checks that need it, and the failed run leaves its dump in the log
//! (split back by `kdc split-dump64`) and in the artifacts; `--host-routes` lets the host reach
//! NAT64 and takes its route away again; two cells run at once; Ctrl-C during `up` or the
//! checks still removes the cluster; the JUnit passes `ci/check-junit.sh`; nothing is left
//! behind.
//!
//! Cluster IDs 1, 2, 7, 9, 10, 12 and 31-33 are this file's (IPv6 clusters with the default
//! NAT64 prefix 172.18 need an ID of at most 13).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{docker, docker_ready, fails, kdc, kdc_command, labelled, ok, text};

/// `ci/check-junit.sh FILE TESTS FAILURES SKIPPED` must pass.
fn check_junit(file: &Path, tests: usize, failures: usize, skipped: usize) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/check-junit.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(file)
        .args([tests, failures, skipped].map(|n| n.to_string()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check-junit: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The check IDs (suite/check) of the `FAIL` lines on stderr.
fn failed_checks(stderr: &str) -> BTreeSet<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("kdc: FAIL "))
        .filter_map(|l| l.split(' ').next())
        .filter(|id| !id.starts_with("kdc/"))
        .map(String::from)
        .collect()
}

/// Runs SUITE on a fresh cluster with `vars`: it must pass with the given summary line, its
/// JUnit must be valid and hold every case plus Up and Down, and the cluster must be gone.
fn suite_passes(
    vars: &[(&str, &str)],
    args: &[&str],
    summary: &str,
    (passed, skipped): (usize, usize),
) {
    let label = vars
        .iter()
        .find(|(k, _)| *k == "CLUSTER_ID")
        .map(|(_, id)| format!("cluster-{id}"))
        .unwrap();
    ok(kdc(vars, &["clean"]));
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let mut all = vec!["test", "run", "--artifacts", artifacts.to_str().unwrap()];
    all.extend(args);
    let o = kdc(vars, &all);
    let stdout = ok(o);
    let junit = artifacts.join("junit_kdc.xml");
    assert_eq!(
        stdout,
        format!("{summary}\nJUnit: {}\n", junit.display()),
        "a passing run prints its summary and nothing else on stdout"
    );
    check_junit(&junit, passed + skipped + 2, 0, skipped);
    assert!(!artifacts.join("dump").exists(), "no dump of a passing run");
    assert_eq!(
        labelled(&label),
        Vec::<String>::new(),
        "the cell removes its cluster"
    );
}

#[test]
fn live_ipv4_suite_passes() {
    if !docker_ready() {
        return;
    }
    suite_passes(
        &[("CLUSTER_ID", "1")],
        &["ipv4"],
        "ipv4: 29 passed, 0 failed, 0 skipped",
        (29, 0),
    );
}

#[test]
fn live_ipv6_suite_passes_without_internet() {
    if !docker_ready() {
        return;
    }
    // IP_MODE=ipv6 comes from the suite's [cluster] table. Seven checks need real AAAA
    // records (DIND_ALLOW_AAAA_USE) and one needs --host-routes, and say so.
    suite_passes(
        &[("CLUSTER_ID", "2")],
        &["ipv6"],
        "ipv6: 39 passed, 0 failed, 8 skipped",
        (39, 8),
    );
}

#[test]
fn live_dual_stack_suite_passes() {
    if !docker_ready() {
        return;
    }
    suite_passes(
        &[("CLUSTER_ID", "7")],
        &["dual-stack"],
        "dual-stack: 57 passed, 0 failed, 0 skipped",
        (57, 0),
    );
}

/// The original's ipv6 variants: real AAAA records used, NAT64 from 10.100.x, the ptp plugin.
#[test]
fn live_ipv6_suite_passes_with_real_aaaa_a_10_prefix_and_ptp() {
    if !docker_ready() {
        return;
    }
    suite_passes(
        &[
            ("CLUSTER_ID", "31"),
            ("DIND_ALLOW_AAAA_USE", "true"),
            ("NAT64_V4_SUBNET_PREFIX", "10.100"),
            ("CNI_PLUGIN", "ptp"),
        ],
        &["ipv6"],
        "ipv6: 40 passed, 0 failed, 7 skipped",
        (40, 7),
    );
}

/// `--host-routes`: the host reaches NAT64 during the run (the check that needs it passes),
/// and after the cell the host has no route left.
#[test]
fn live_ipv6_suite_with_host_routes_reaches_nat64_from_the_host() {
    if !docker_ready() {
        return;
    }
    let prefix = "fd00:10:64:ff9b::/96";
    let route = || {
        docker(&[
            "run",
            "--rm",
            "--net",
            "host",
            "kdc/support:bookworm",
            "ip",
            "-6",
            "route",
            "show",
            prefix,
        ])
    };
    assert_eq!(
        route(),
        "",
        "no route to {prefix} on this host before the test"
    );
    suite_passes(
        &[("CLUSTER_ID", "32"), ("NAT64_V4_SUBNET_PREFIX", "10.100")],
        &["ipv6", "--host-routes"],
        "ipv6: 40 passed, 0 failed, 7 skipped",
        (40, 7),
    );
    assert_eq!(route(), "", "the cell's down removed the route");
}

/// Faults injected into a running ipv6 cluster: with tayga stopped exactly the checks that go
/// through it fail, and the failed run's blob on stdout splits back into the dump (tayga's
/// inspect, and why nothing ran in it); with bind9 stopped every lookup fails and the pings by
/// address still pass.
#[test]
fn live_stopped_tayga_or_bind9_fails_exactly_the_checks_that_need_it() {
    if !docker_ready() {
        return;
    }
    let vars = [("CLUSTER_ID", "9"), ("IP_MODE", "ipv6")];
    ok(kdc(&vars, &["clean"]));
    ok(kdc(&vars, &["up", "--bootstrapper", "none"]));
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let run = || {
        kdc(
            &vars,
            &[
                "test",
                "run",
                "ipv6",
                "--use-existing",
                "--artifacts",
                artifacts.to_str().unwrap(),
            ],
        )
    };

    docker(&["stop", "-t", "1", "tayga-cluster-9"]);
    let o = run();
    let stdout = text(&o.stdout);
    let stderr = fails(o);
    assert_eq!(
        failed_checks(&stderr),
        [
            "ipv6/external-dualstack",
            "ipv6/nat64-by-address",
            "ipv6/nat64-ipv4only"
        ]
        .map(String::from)
        .into(),
        "{stderr}"
    );
    assert!(stderr.ends_with("error: 15 checks failed\n"), "{stderr}");
    assert!(
        stdout.ends_with(&format!(
            "ipv6: 24 passed, 15 failed, 8 skipped\nJUnit: {}\ndump: {}\n",
            artifacts.join("junit_kdc.xml").display(),
            artifacts.join("dump").display()
        )),
        "{stdout}"
    );
    // Up is not run (--use-existing), so the cases are the checks and the Dump step.
    check_junit(&artifacts.join("junit_kdc.xml"), 24 + 15 + 8 + 1, 15, 8);
    let log = dir.path().join("job.log");
    std::fs::write(&log, &stdout).unwrap();
    let split = dir.path().join("split");
    ok(kdc(
        &[],
        &[
            "split-dump64",
            "-o",
            split.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
    ));
    let read = |root: &Path, f: &str| {
        std::fs::read_to_string(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
    };
    for root in [&split, &artifacts.join("dump")] {
        assert_eq!(
            read(root, "errors.txt"),
            "tayga-cluster-9 is exited: no command was run in it; its inspect and console log are here\n"
        );
        assert!(read(root, "inspect-tayga-cluster-9.json").contains("\"Status\": \"exited\""));
        assert!(read(root, "zone-bind9-cluster-9.txt").contains("ipv4only"));
        assert!(read(root, "pod-kube-master-cluster-9.txt").contains("\"ips\""));
    }
    assert!(
        labelled("cluster-9").len() > 3,
        "--use-existing leaves the cluster"
    );

    docker(&["start", "tayga-cluster-9"]);
    // The restarted router has a new MAC address; the nodes' neighbour entries for it take a
    // few seconds to be probed again. Wait until NAT64 works, as a user restarting it would.
    let waiting = dir.path().join("waiting");
    let back = (0..30).any(|_| {
        let o = kdc(
            &vars,
            &[
                "test",
                "run",
                "ipv6/nat64-by-address",
                "--use-existing",
                "--artifacts",
                waiting.to_str().unwrap(),
            ],
        );
        o.status.success() || {
            std::thread::sleep(std::time::Duration::from_secs(1));
            false
        }
    });
    assert!(
        back,
        "NAT64 did not come back within 30 s of starting tayga"
    );
    docker(&["stop", "-t", "1", "bind9-cluster-9"]);
    let stderr = fails(run());
    let failed = failed_checks(&stderr);
    for id in [
        "ipv6/dns64-ipv4only",
        "ipv6/dns64-ipv4only-host",
        "ipv6/dns64-always",
        "ipv6/nat64-ipv4only",
    ] {
        assert!(failed.contains(id), "{id} should fail: {stderr}");
    }
    for id in [
        "ipv6/nat64-by-address",
        "ipv6/pod-to-pod",
        "ipv6/host-to-master",
    ] {
        assert!(!failed.contains(id), "{id} should pass: {stderr}");
        assert!(stderr.contains(&format!("kdc: PASS {id} on ")), "{stderr}");
    }
    assert!(
        artifacts.join("dump-2").is_dir(),
        "the second failed run's dump goes beside the first"
    );
    ok(kdc(&vars, &["clean"]));
    assert_eq!(labelled("cluster-9"), Vec::<String>::new());
}

/// Two ipv6 cells at once (as two CI jobs on one machine): both pass, sharing the targets,
/// and neither leaves anything.
#[test]
fn live_two_ipv6_cells_at_once() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cells: Vec<_> = ["10", "12"]
        .into_iter()
        .map(|id| {
            ok(kdc(&[("CLUSTER_ID", id)], &["clean"]));
            let artifacts = dir.path().join(id);
            kdc_command(
                &[("CLUSTER_ID", id), ("NUM_NODES", "1")],
                &[
                    "test",
                    "run",
                    "ipv6",
                    "--artifacts",
                    artifacts.to_str().unwrap(),
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for (c, id) in cells.into_iter().zip(["10", "12"]) {
        let o = c.wait_with_output().unwrap();
        let stdout = ok(o);
        assert_eq!(
            stdout,
            format!(
                "ipv6: 27 passed, 0 failed, 7 skipped\nJUnit: {}\n",
                dir.path().join(id).join("junit_kdc.xml").display()
            )
        );
        assert_eq!(labelled(&format!("cluster-{id}")), Vec::<String>::new());
    }
}

/// Ctrl-C while the cluster comes up, and while the checks run: the cell still removes its
/// cluster, writes its JUnit, and exits 130.
#[test]
fn live_interrupted_cell_removes_its_cluster() {
    if !docker_ready() {
        return;
    }
    let vars = [("CLUSTER_ID", "33"), ("NUM_NODES", "1")];
    for when in ["Starting 2 node containers", "Running "] {
        ok(kdc(&vars, &["clean"]));
        let dir = tempfile::tempdir().unwrap();
        let mut child = kdc_command(
            &vars,
            &[
                "test",
                "run",
                "ipv4",
                "--artifacts",
                dir.path().to_str().unwrap(),
            ],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        common::read_until(&mut err, &mut seen, |line| {
            line.starts_with(&format!("kdc: {when}"))
        });
        // SAFETY: kill(2) on our own child, which has not been waited for.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
        std::io::Read::read_to_string(&mut err, &mut seen).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "interrupted at {when:?}: {seen}");
        assert!(seen.ends_with("error: interrupted\n"), "{seen}");
        assert_eq!(labelled("cluster-33"), Vec::<String>::new(), "{seen}");
        assert!(dir.path().join("junit_kdc.xml").is_file());
    }
}
