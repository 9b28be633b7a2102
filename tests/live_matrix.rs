//! Live tests of `kdc ci run` against the Docker engine: four bare cells at once pass with
//! per-cell artifacts and a merged JUnit that ci/check-junit.sh accepts, and their report
//! renders in headless Chromium with every cell; a cell made to fail prints its diagnosis and
//! blob and fails the run while the other finishes; a run interrupted by a signal to its
//! process group leaves nothing behind. Clusters take IDs 60-79 (`--cluster-ids`), apart from
//! a developer's default cluster and the other live tests; each test its own part, since the
//! tests of one file run at once.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{docker_ready, kdc_command, labelled, text};

const CELLS: [&str; 4] = [
    "ipv4_bridge",
    "ipv6-nat64_bridge",
    "dual-stack_bridge",
    "dual-stack-v4-svc-net_bridge",
];

fn matrix() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("ci/matrix.toml")
        .display()
        .to_string()
}

/// Nothing labelled for clusters `ids` (`FIRST-LAST`) is left on the engine.
fn nothing_left(ids: &str) {
    let (a, b) = ids.split_once('-').unwrap();
    for id in a.parse::<u8>().unwrap()..=b.parse().unwrap() {
        assert_eq!(
            labelled(&format!("cluster-{id}")),
            Vec::<String>::new(),
            "cluster-{id}"
        );
    }
}

fn check_junit(file: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/check-junit.sh");
    let o = Command::new("bash").arg(script).arg(file).output().unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
}

#[test]
fn live_four_bare_cells_two_at_once_pass_and_their_report_renders_in_chromium() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let m = matrix();
    let mut args = vec![
        "ci",
        "run",
        "--matrix",
        &m,
        "--jobs",
        "2",
        "--cluster-ids",
        "60-67",
    ];
    args.extend(CELLS);
    let o_str = out.to_str().unwrap();
    args.extend(["--artifacts", o_str]);
    let o = kdc_command(&[], &args).output().unwrap();
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", text(&o.stderr));
    assert!(
        stdout.starts_with("4 cells: 4 passed, 0 flaky, 0 failed (2 at once, "),
        "{stdout}"
    );
    for cell in CELLS {
        assert!(
            stdout.contains(&format!("  PASSED      {cell} ")),
            "{stdout}"
        );
        let own = out.join(cell).join("junit_kdc.xml");
        check_junit(&own);
        let xml = std::fs::read_to_string(&own).unwrap();
        assert!(
            xml.contains(r#"<testcase name="Up" classname="kdc""#),
            "{xml}"
        );
    }
    let merged = out.join("junit_kdc.xml");
    check_junit(&merged);
    let xml = std::fs::read_to_string(&merged).unwrap();
    for cell in CELLS {
        assert!(
            xml.contains(&format!(r#"<testsuite name="{cell}/kdc""#)),
            "{cell}"
        );
    }
    nothing_left("60-67");

    // The report, offline in headless Chromium: every cell is in the DOM with its status.
    let o = kdc_command(&[], &["report", o_str]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let page = out.join("report.html");
    let chromium = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .stderr(Stdio::null())
        .output()
        .expect("headless Chromium is needed: apt-get install -y chromium");
    let dom = text(&chromium.stdout);
    for cell in CELLS {
        assert!(
            dom.contains(&format!(r#"data-cell="{cell}" data-status="passed""#)),
            "{cell}: {dom}"
        );
    }
    let shot = dir.path().join("grid.png");
    let o = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1000,420",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        o.status.success() && std::fs::metadata(&shot).unwrap().len() > 1000,
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn live_a_failing_cell_prints_its_diagnosis_and_blob_and_fails_the_run_while_the_other_finishes() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "description = \"a name that does not exist\"\n[[check]]\nid = \"no-such-name\"\nwhat = \"looks up a name nobody serves\"\non = [\"nodes\"]\nlookup = { name = \"nosuch.kdc.test\", type = \"A\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("matrix.toml"),
        "[[cell]]\nname = \"good\"\nsuites = [\"smoke\"]\nset = { NUM_NODES = 1 }\n\n[[cell]]\nname = \"broken\"\nsuites = [\"smoke\", \"broken\"]\nset = { NUM_NODES = 1 }\n",
    )
    .unwrap();
    let m = dir.path().join("matrix.toml");
    let suite = dir.path().join("broken.toml");
    let out = dir.path().join("out");
    let o = kdc_command(
        &[("KDC_DUMP_MAX_BYTES", "60000")],
        &[
            "ci",
            "run",
            "--matrix",
            m.to_str().unwrap(),
            "--suite-file",
            suite.to_str().unwrap(),
            "--jobs",
            "2",
            "--cluster-ids",
            "68-73",
            "--retries",
            "1",
            "--artifacts",
            out.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    let stdout = text(&o.stdout);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.ends_with("error: 1 of 2 cells failed\n"), "{stderr}");
    // The diagnosis first, then the blob, then the command that reproduces the cell.
    let start = stdout.find("=== cell broken failed ===\n").expect(&stdout);
    let failure = &stdout[start..];
    let diag = failure
        .find("diagnosis: 2 failed cases of 1 check: broken/no-such-name (2)\n")
        .expect(failure);
    let hint = failure
        .find("diagnosis: every failure is a lookup: look at the name server bind9-cluster-")
        .expect(failure);
    let blob = failure.find("%%% start-base64 %%%\n").expect(failure);
    let end = failure.find("%%% end-base64 %%%\n").expect(failure);
    let again = failure
        .find(&format!(
            "reproduce: kdc ci run --matrix {} broken\n",
            m.display()
        ))
        .expect(failure);
    assert!(
        diag < hint && hint < blob && blob < end && end < again,
        "{failure}"
    );
    assert!(end - blob < 60_000, "the blob fits KDC_DUMP_MAX_BYTES");
    assert!(
        stdout.contains("  PASSED      good "),
        "the other cell finished: {stdout}"
    );
    assert!(stdout.contains("  FAILED      broken "), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "reproduce a failed cell here with:\n  kdc ci run --matrix {} broken\n",
            m.display()
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains("kdc: [broken] note: retrying 2 failed cases (retry 1 of 1)"),
        "{stderr}"
    );
    // The blob in the log splits back into the dump the artifacts hold.
    let log = dir.path().join("job.log");
    std::fs::write(&log, &stdout).unwrap();
    let split = dir.path().join("split");
    let o = kdc_command(
        &[],
        &[
            "split-dump64",
            "-o",
            split.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(split.join("kdc-dump.json").is_file());
    assert!(
        out.join("broken/dump/kdc-dump.json").is_file(),
        "the whole dump in the artifacts"
    );
    check_junit(&out.join("junit_kdc.xml"));
    let xml = std::fs::read_to_string(out.join("junit_kdc.xml")).unwrap();
    assert!(
        xml.contains(r#"<testcase name="no-such-name on kube-master-cluster-"#),
        "{xml}"
    );
    nothing_left("68-73");
}

#[test]
fn live_a_run_interrupted_through_its_process_group_leaves_nothing_behind() {
    use std::os::unix::process::CommandExt;
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = matrix();
    let mut child = kdc_command(
        &[],
        &[
            "ci",
            "run",
            "--matrix",
            &m,
            "ipv4_bridge",
            "dual-stack_bridge",
            "--jobs",
            "2",
            "--cluster-ids",
            "74-79",
            "--artifacts",
            dir.path().to_str().unwrap(),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0)
    .spawn()
    .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    common::read_until(&mut err, &mut seen, |line| {
        line.contains("Starting ") && line.contains("node containers")
    });
    let pid = child.id() as i32;
    // As `timeout` and CI runners do: the process and its group, at once.
    // SAFETY: kill(2) on our own child and its group.
    unsafe {
        assert_eq!(libc::kill(pid, libc::SIGTERM), 0);
        assert_eq!(libc::kill(-pid, libc::SIGTERM), 0);
    }
    std::io::Read::read_to_string(&mut err, &mut seen).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(!seen.contains("interrupted again"), "{seen}");
    nothing_left("74-79");
}
