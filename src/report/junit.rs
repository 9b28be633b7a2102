//! The JUnit reporter: one XML file that CI systems (GitLab, Jenkins, CircleCI, TestGrid) turn
//! into per-test results.
//!
//! # Layout
//!
//! In kubetest2's spirit (`junit_runner.xml`, where Up/Test/Down are cases of one suite): one
//! `<testsuites name="kdc">` holding one `<testsuite>` per case `class` — a test suite's name,
//! or `kdc` for the Up/Dump/Down steps the runner emits as cases. Suites keep the order in which
//! their first case finished, and cases the order in which they finished. Each case carries
//! `classname`, `name` and `time` (seconds), and by outcome:
//! - failed: `<failure message="…">` whose text is the message and then the output, because
//!   Jenkins and GitLab show that text and the bare message is rarely enough (kubetest2#58:
//!   "exit status 255");
//! - skipped: `<skipped message="reason"/>`;
//! - any outcome: `<system-out>` with the case's captured output, when there is some.
//!
//! **Several scopes.** When the run has cases from more than one scope (matrix cells, clusters),
//! the scope prefixes both the suite name and the `classname` (`ipv6-ptp/ipv6`): the suite name
//! keeps the cells apart in tools that group by suite, the `classname` in those that group by it
//! (GitLab's "Suite" column is the `classname`, and GitLab collapses cases with the same
//! `classname` and `name` into one). With one scope, names stay as the runner gave them.
//! Suites are then ordered by scope.
//!
//! **Times.** A suite's `time` is the sum of its cases' times and its `timestamp` is when its
//! scope's run started (`RunStarted`; else its first case). The root's `time` is the run's
//! elapsed time (`RunFinished`); with several scopes, the longest one, since cells run at once.
//!
//! # Schema
//!
//! The file validates against Jenkins xunit-plugin's `junit-10.xsd`, the strictest schema in
//! use (`ci/check-junit.sh` checks it; a unit test runs that script). It is written with
//! [quick-junit](https://crates.io/crates/quick-junit), nextest's JUnit model and serializer,
//! chosen over junit-report because it is maintained with a widely used runner, strips ANSI
//! escapes and control characters from every string, indents (a reviewer can read the file)
//! and writes times with three decimals — junit-report writes full `f64` precision, which
//! junit-10.xsd's `SUREFIRE_TIME` pattern (at most three decimals) rejects. quick-junit's one
//! deviation from the schema is a `skipped` count on the root `<testsuites>`, which junit-10.xsd
//! does not allow: [`render`] removes that attribute (every `<testsuite>` keeps its own
//! `skipped`, which the schema allows). No other nextest extension (uuid, root timestamp,
//! case timestamps) is set.
//!
//! Characters XML cannot carry are removed from names, messages and output: ANSI escape
//! sequences, carriage returns, NUL and the other C0 controls, U+FFFE/U+FFFF; tabs become
//! spaces up to the next multiple of eight, since quick-junit would drop them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, FixedOffset, Utc};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::{Event, EventKind, Outcome, ReportError, Reporter, Scope};

/// The class of the cases the runner emits for its own steps (Up, Dump, Down).
pub const KDC_CLASS: &str = "kdc";

/// Collects finished cases and writes the JUnit file in [`Reporter::finish`].
pub struct Junit {
    path: PathBuf,
    runs: BTreeMap<Scope, Run>,
}

/// What one scope (job) reported.
#[derive(Default)]
struct Run {
    started: Option<SystemTime>,
    elapsed: Option<Duration>,
    /// Suites in the order their first case finished.
    suites: Vec<Suite>,
}

struct Suite {
    class: String,
    cases: Vec<Case>,
}

struct Case {
    name: String,
    elapsed: Duration,
    outcome: Outcome,
    output: String,
}

impl Junit {
    /// A reporter that writes `path` when the command finishes (kubetest2 and Prow use
    /// `$ARTIFACTS/junit_*.xml`). Missing parent directories are created then.
    pub fn new(path: impl Into<PathBuf>) -> Junit {
        Junit {
            path: path.into(),
            runs: BTreeMap::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run(&mut self, scope: &Scope) -> &mut Run {
        self.runs.entry(scope.clone()).or_default()
    }

    /// The report as it would be written now.
    pub fn render(&self) -> Result<String, ReportError> {
        render(&self.runs).map_err(|e| ReportError {
            what: format!(
                "cannot serialize the JUnit report {}: {e}",
                self.path.display()
            ),
            source: None,
        })
    }
}

impl Reporter for Junit {
    fn report(&mut self, event: &Event) {
        // Every kind is named, so a new kind is a compile error here until someone decides
        // whether JUnit needs it.
        match &event.kind {
            EventKind::RunStarted { .. } => {
                self.run(&event.scope).started = Some(SystemTime::now());
            }
            EventKind::RunFinished { elapsed, .. } => {
                self.run(&event.scope).elapsed = Some(*elapsed);
            }
            EventKind::CaseFinished {
                class,
                name,
                elapsed,
                outcome,
                output,
            } => {
                let run = self.run(&event.scope);
                run.started.get_or_insert_with(SystemTime::now);
                let case = Case {
                    name: name.clone(),
                    elapsed: *elapsed,
                    outcome: outcome.clone(),
                    output: output.clone(),
                };
                match run.suites.iter_mut().find(|s| s.class == *class) {
                    Some(suite) => suite.cases.push(case),
                    None => run.suites.push(Suite {
                        class: class.clone(),
                        cases: vec![case],
                    }),
                }
            }
            EventKind::CaseStarted { .. }
            | EventKind::ActionStarted { .. }
            | EventKind::ActionProgress { .. }
            | EventKind::ActionFinished { .. }
            | EventKind::Note { .. }
            | EventKind::Warning { .. }
            | EventKind::Debug { .. } => {}
        }
    }

    /// Writes the file: to a temporary name beside it, then renamed, so an interrupted write
    /// never leaves half a report for CI to choke on.
    fn finish(&mut self) -> Result<(), ReportError> {
        let xml = self.render()?;
        write_atomically(&self.path, xml.as_bytes())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let fail = |what: String| {
        move |source: std::io::Error| ReportError {
            what,
            source: Some(source),
        }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(fail(format!(
        "cannot create the directory {} for the JUnit report (choose a writable path)",
        dir.display()
    )))?;
    let file_name = path
        .file_name()
        .map_or_else(|| "junit.xml".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let what = format!(
        "cannot write the JUnit report {} (choose a writable path)",
        path.display()
    );
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(fail(what))
}

/// The XML for the collected runs (see the module docs for the layout).
fn render(runs: &BTreeMap<Scope, Run>) -> Result<String, quick_junit::SerializeError> {
    let scoped = runs.iter().filter(|(_, r)| !r.suites.is_empty()).count() > 1;
    let mut report = Report::new(KDC_CLASS);
    let mut longest: Option<Duration> = None;
    for (scope, run) in runs {
        let timestamp = run.started.map(timestamp);
        let mut run_time = Duration::ZERO;
        for suite in &run.suites {
            let class = if scoped && !scope.is_empty() {
                format!("{}/{}", scope.0, suite.class)
            } else {
                suite.class.clone()
            };
            let mut ts = TestSuite::new(clean(&class));
            if let Some(t) = timestamp {
                ts.set_timestamp(t);
            }
            let time: Duration = suite.cases.iter().map(|c| c.elapsed).sum();
            ts.set_time(time);
            run_time += time;
            for case in &suite.cases {
                ts.add_test_case(test_case(&class, case));
            }
            report.add_test_suite(ts);
        }
        let elapsed = run.elapsed.unwrap_or(run_time);
        if !run.suites.is_empty() || run.elapsed.is_some() {
            longest = Some(longest.map_or(elapsed, |l| l.max(elapsed)));
        }
    }
    if let Some(t) = longest {
        report.set_time(t);
    }
    Ok(drop_root_skipped(report.to_string()?))
}

fn test_case(classname: &str, case: &Case) -> TestCase {
    let output = clean(&case.output);
    let status = match &case.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Failed { message } => {
            let message = clean(message);
            let text = if output.trim().is_empty() {
                message.clone()
            } else {
                format!("{message}\n\n{output}")
            };
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(message).set_description(text);
            s
        }
        Outcome::Skipped { reason } => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(clean(reason));
            s
        }
        // Surefire's and nextest's form: a passed case with a `flakyFailure` per failed attempt.
        Outcome::Flaky { failures } => {
            let mut s = TestCaseStatus::success();
            for message in failures {
                let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                // junit-10.xsd requires a type; Surefire puts the exception class there.
                rerun
                    .set_type("check")
                    .set_message(clean(message))
                    .set_description(clean(message));
                s.add_rerun(rerun);
            }
            s
        }
    };
    let mut tc = TestCase::new(clean(&case.name), status);
    tc.set_classname(clean(classname)).set_time(case.elapsed);
    if !output.is_empty() {
        tc.set_system_out(output);
    }
    tc
}

/// `t` as the suite's timestamp, in UTC.
fn timestamp(t: SystemTime) -> DateTime<FixedOffset> {
    DateTime::<Utc>::from(t).fixed_offset()
}

/// Removes the `skipped` attribute from the root `<testsuites>` tag, the one attribute
/// quick-junit writes that junit-10.xsd rejects. The root tag is the first `<testsuites` up to
/// the first `>`: attribute values are escaped (`"` as `&quot;`, `>` as `&gt;`), so neither a
/// `>` nor a literal ` skipped="` can occur inside one.
fn drop_root_skipped(mut xml: String) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml;
    };
    let Some(len) = xml[start..].find('>') else {
        return xml;
    };
    let tag = &xml[start..start + len];
    if let Some(at) = tag.find(" skipped=\"") {
        let value = at + " skipped=\"".len();
        if let Some(close) = tag[value..].find('"') {
            xml.replace_range(start + at..start + value + close + 1, "");
        }
    }
    xml
}

/// `s` without what XML 1.0 cannot carry or CI pages cannot show: ANSI escapes and carriage
/// returns ([`crate::text::strip_ansi`]), C0 controls other than newline and tab, U+FFFE and
/// U+FFFF. Tabs become spaces to the next multiple of eight (quick-junit drops tabs).
fn clean(s: &str) -> String {
    let stripped = crate::text::strip_ansi(s);
    let mut out = String::with_capacity(stripped.len());
    let mut column = 0;
    for c in stripped.chars() {
        match c {
            '\n' => {
                out.push(c);
                column = 0;
            }
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\0'..='\x1f' | '\u{fffe}' | '\u{ffff}' => {}
            _ => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(scope: &str, kind: EventKind) -> Event {
        Event {
            scope: Scope(scope.into()),
            kind,
        }
    }

    fn case(scope: &str, class: &str, name: &str, ms: u64, outcome: Outcome, out: &str) -> Event {
        ev(
            scope,
            EventKind::CaseFinished {
                class: class.into(),
                name: name.into(),
                elapsed: Duration::from_millis(ms),
                outcome,
                output: out.into(),
            },
        )
    }

    fn failed(message: &str) -> Outcome {
        Outcome::Failed {
            message: message.into(),
        }
    }

    fn skipped(reason: &str) -> Outcome {
        Outcome::Skipped {
            reason: reason.into(),
        }
    }

    /// The events of one cell: Up, three checks of a suite (passed, failed, skipped), Down.
    fn cell(scope: &str) -> Vec<Event> {
        vec![
            ev(
                scope,
                EventKind::RunStarted {
                    name: "kdc up".into(),
                },
            ),
            ev(
                scope,
                EventKind::CaseStarted {
                    class: "kdc".into(),
                    name: "Up".into(),
                },
            ),
            case(scope, "kdc", "Up", 61_234, Outcome::Passed, ""),
            case(
                scope,
                "ipv6",
                "node-ping6-nat64",
                2_500,
                Outcome::Passed,
                "PING 64:ff9b::c612:1 56 data bytes\n1 packets transmitted, 1 received\n",
            ),
            case(
                scope,
                "ipv6",
                "pod-dns64",
                5_004,
                failed(
                    "kdc-node-1: dig AAAA ipv4only.kdc.test @fd00::53: expected 64:ff9b::c612:1, got nothing",
                ),
                "\x1b[31m;; connection timed out; no servers could be reached\x1b[0m\r\n",
            ),
            case(
                scope,
                "ipv6",
                "pod-ping",
                0,
                skipped("CNI_PLUGIN=calico needs Kubernetes"),
                "",
            ),
            ev(
                scope,
                EventKind::Note {
                    message: "ignored".into(),
                },
            ),
            case(scope, "kdc", "Down", 3_000, Outcome::Passed, ""),
            ev(
                scope,
                EventKind::RunFinished {
                    elapsed: Duration::from_millis(72_000),
                    ok: false,
                },
            ),
        ]
    }

    fn xml(events: &[Event]) -> String {
        let mut j = Junit::new("/nonexistent/junit.xml");
        for e in events {
            j.report(e);
        }
        let xml = j.render().unwrap();
        let ts = regex::Regex::new(r#"timestamp="[^"]+""#).unwrap();
        assert_eq!(
            ts.find_iter(&xml).count(),
            xml.matches("<testsuite ").count(),
            "every suite has a timestamp: {xml}"
        );
        ts.replace_all(&xml, r#"timestamp="T""#).into_owned()
    }

    #[test]
    fn golden_passed_failed_and_skipped_cases() {
        let got = xml(&cell(""));
        let want = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="kdc" tests="5" failures="1" errors="0" time="72.000">
    <testsuite name="kdc" tests="2" skipped="0" errors="0" failures="0" timestamp="T" time="64.234">
        <testcase name="Up" classname="kdc" time="61.234"/>
        <testcase name="Down" classname="kdc" time="3.000"/>
    </testsuite>
    <testsuite name="ipv6" tests="3" skipped="1" errors="0" failures="1" timestamp="T" time="7.504">
        <testcase name="node-ping6-nat64" classname="ipv6" time="2.500">
            <system-out>PING 64:ff9b::c612:1 56 data bytes
1 packets transmitted, 1 received
</system-out>
        </testcase>
        <testcase name="pod-dns64" classname="ipv6" time="5.004">
            <failure message="kdc-node-1: dig AAAA ipv4only.kdc.test @fd00::53: expected 64:ff9b::c612:1, got nothing">kdc-node-1: dig AAAA ipv4only.kdc.test @fd00::53: expected 64:ff9b::c612:1, got nothing

;; connection timed out; no servers could be reached
</failure>
            <system-out>;; connection timed out; no servers could be reached
</system-out>
        </testcase>
        <testcase name="pod-ping" classname="ipv6" time="0.000">
            <skipped message="CNI_PLUGIN=calico needs Kubernetes"/>
        </testcase>
    </testsuite>
</testsuites>
"#;
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn two_scopes_keep_their_cells_apart() {
        let mut events = Vec::new();
        // Cells run at once: their events interleave.
        for (a, b) in cell("ipv6-ptp").into_iter().zip(cell("ipv4-bridge")) {
            events.push(a);
            events.push(b);
        }
        let got = xml(&events);
        let suites: Vec<&str> = got
            .lines()
            .filter(|l| l.trim_start().starts_with("<testsuite "))
            .collect();
        assert_eq!(
            suites,
            vec![
                r#"    <testsuite name="ipv4-bridge/kdc" tests="2" skipped="0" errors="0" failures="0" timestamp="T" time="64.234">"#,
                r#"    <testsuite name="ipv4-bridge/ipv6" tests="3" skipped="1" errors="0" failures="1" timestamp="T" time="7.504">"#,
                r#"    <testsuite name="ipv6-ptp/kdc" tests="2" skipped="0" errors="0" failures="0" timestamp="T" time="64.234">"#,
                r#"    <testsuite name="ipv6-ptp/ipv6" tests="3" skipped="1" errors="0" failures="1" timestamp="T" time="7.504">"#,
            ]
        );
        assert!(
            got.contains(r#"<testcase name="pod-dns64" classname="ipv6-ptp/ipv6" time="5.004">"#),
            "{got}"
        );
        assert!(
            got.contains(
                r#"<testsuites name="kdc" tests="10" failures="2" errors="0" time="72.000">"#
            ),
            "the cells ran at once: the longest is the run's time\n{got}"
        );
    }

    #[test]
    fn one_named_scope_keeps_plain_names() {
        let got = xml(&cell("ipv6-ptp"));
        assert!(got.contains(r#"<testsuite name="ipv6" "#), "{got}");
        assert!(got.contains(r#"classname="ipv6""#), "{got}");
    }

    #[test]
    fn a_flaky_case_passes_with_a_flaky_failure_per_failed_attempt() {
        let got = xml(&[case(
            "",
            "ipv6",
            "nat64 on kube-master",
            5,
            Outcome::Flaky {
                failures: vec!["ping: expected a reply, got none".into()],
            },
            "",
        )]);
        assert!(
            got.contains(r#"<testsuites name="kdc" tests="1" failures="0" errors="0""#),
            "{got}"
        );
        assert!(
            got.contains(
                r#"<flakyFailure message="ping: expected a reply, got none" type="check">"#
            ),
            "{got}"
        );
    }

    #[test]
    fn an_empty_run_is_an_empty_report() {
        assert_eq!(
            xml(&[]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kdc\" tests=\"0\" failures=\"0\" errors=\"0\">\n</testsuites>\n"
        );
    }

    #[test]
    fn what_xml_cannot_carry_is_removed_and_markup_escaped() {
        let got = xml(&[case(
            "",
            "dns",
            "a<b>&\"c\"",
            1,
            failed("bad\0 \x1b[1mbold\x1b[0m \u{ffff}"),
            "col1\tcol2\x07\r\nnext\x1b]0;title\x07\n",
        )]);
        assert!(
            got.contains(
                r#"<testcase name="a&lt;b&gt;&amp;&quot;c&quot;" classname="dns" time="0.001">"#
            ),
            "{got}"
        );
        assert!(got.contains(r#"<failure message="bad bold ">"#), "{got}");
        assert!(
            got.contains("<system-out>col1    col2\nnext\n</system-out>"),
            "{got}"
        );
        for bad in ['\0', '\x1b', '\x07', '\r', '\u{ffff}'] {
            assert!(!got.contains(bad), "{bad:?} in {got}");
        }
    }

    #[test]
    fn only_the_root_loses_its_skipped_count() {
        let xml = r#"<testsuites name="a skipped=&quot;1" tests="1" skipped="1" failures="0"><testsuite skipped="1">"#;
        assert_eq!(
            drop_root_skipped(xml.into()),
            r#"<testsuites name="a skipped=&quot;1" tests="1" failures="0"><testsuite skipped="1">"#
        );
    }

    #[test]
    fn finish_writes_the_file_and_creates_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("artifacts/junit_kdc.xml");
        let mut j = Junit::new(&path);
        for e in cell("") {
            j.report(&e);
        }
        j.finish().unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.contains(r#"<testcase name="pod-ping" classname="ipv6""#));
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("junit_kdc.xml")]);
    }

    #[test]
    fn an_unwritable_path_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("junit.xml");
        let err = Junit::new(&path).finish().unwrap_err();
        assert!(
            err.to_string().contains(&blocker.display().to_string()),
            "{err}"
        );
        assert!(err.source.is_some());
    }

    /// The file passes junit-10.xsd and a real consumer (`ci/check-junit.sh`: xmllint and
    /// PyPI junitparser). Those tools are required, not optional: a missing one fails here.
    #[test]
    fn the_file_validates_against_junit_10_xsd_and_junitparser_reads_it() {
        let missing: Vec<&str> = ["xmllint", "python3"]
            .into_iter()
            .filter(|tool| {
                std::process::Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .map_or(true, |o| !o.status.success())
            })
            .collect();
        assert!(
            missing.is_empty(),
            "{} not found: the JUnit check needs xmllint (Debian libxml2-utils) and python3 \
             with venv (python3-venv); run `sudo bash ci/setup-host.sh` to install them",
            missing.join(" and ")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        let mut j = Junit::new(&path);
        let mut events = cell("ipv6-ptp");
        events.extend(cell("ipv4-bridge"));
        events.push(case(
            "ipv4-bridge",
            "dns",
            "control <chars>",
            1,
            failed("nul\0 esc\x1b[31m tab\t"),
            "\u{fffe}",
        ));
        events.push(case(
            "ipv4-bridge",
            "dns",
            "flaky",
            1,
            Outcome::Flaky {
                failures: vec!["first try failed".into()],
            },
            "",
        ));
        for e in &events {
            j.report(e);
        }
        j.finish().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/check-junit.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg(&path)
            .args(["12", "3", "2"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} failed:\n{}{}\nthe file:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&path).unwrap()
        );
    }
}
