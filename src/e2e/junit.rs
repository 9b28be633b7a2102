//! A streaming reader for the JUnit file that Kubernetes' e2e suite writes with ginkgo v2
//! (`e2e.test --report-dir DIR` → `DIR/junit_01.xml`), so that kdc can fold each spec into its
//! own report. The files are megabytes (6,700 testcases for a conformance run), so the reader
//! keeps only the specs it has read, never the document.
//!
//! # The format
//!
//! As ginkgo's `reporters/junit_report.go` writes it, with the options Kubernetes passes
//! (`OmitFailureMessageAttr`, `OmitSpecLabels`, no timeline for passed and skipped specs):
//!
//! - one `<testsuites>` root holding one `<testsuite name tests skipped disabled errors failures
//!   time timestamp>`. Its counts cover suite nodes too; `disabled` is pending specs, `failures`
//!   failed and timed-out ones, `errors` panicked, interrupted and aborted ones.
//! - `<properties>`: the suite's configuration and result as name/value pairs (`SuiteSucceeded`,
//!   `FocusStrings`, `SkipStrings`, `LabelFilter`, `ParallelTotal`, `RandomSeed`, …).
//! - one `<testcase name classname status time>` per spec, filtered-out specs included, and per
//!   suite node: in the order they ran up to Kubernetes v1.33 at least, sorted by spec text in
//!   later `test/e2e/framework` versions. `name` is `[LeafNodeType] full text`:
//!   `[It] [sig-network] DNS should …` for a spec, `[SynchronizedBeforeSuite]` or
//!   `[ReportAfterSuite] Kubernetes e2e suite report` for a suite node. `status` is the spec
//!   state (see [`Status`]); `time` is seconds.
//! - failed, timed-out and aborted specs carry `<failure type="{status}" message="…">`,
//!   panicked and interrupted ones `<error type="{status}" message="…">`. The text is ginkgo's
//!   rendering of the failure: `[FAILED] message` (or `[TIMEDOUT]`, `[PANICKED] Test Panicked`,
//!   …), `In [It] at: file:line @ time`, then a panic's value and stack or a progress report.
//!   Kubernetes leaves `message` empty: the message is only in the text.
//! - `<skipped message="…">`: `skipped` for a spec that did not run, `skipped - REASON` for one
//!   that ran and called `Skip(REASON)` (e2eskipper's "Only supported for providers …"),
//!   `pending` for a pending spec. See [`Spec::selected`] for what plain `skipped` hides.
//! - `<system-err>`: the spec's timeline (GinkgoWriter output, steps, failures), `<system-out>`:
//!   what the spec printed to stdout/stderr. Later Kubernetes versions also add a spec's report
//!   entries as `<properties>` inside its testcase; this reader skips those.
//!
//! **Several failures.** Ginkgo writes at most one `<failure>` or `<error>` per testcase. When a
//! later node fails too (an `[AfterEach]` after a failed `[It]`), it appends "There were
//! additional failures detected after the initial failure. These are visible in the timeline"
//! to that text, and the timeline in `<system-err>` shows every failure as a block from
//! `[FAILED] message` to `In [AfterEach] at: …`. [`parse`] turns the blocks that are not the
//! first failure into further [`Failure`]s. (A follow-on failure inside the same node, after a
//! timeout or an interrupt, is already part of the first failure's text and stays there.)
//! Other writers' testcases with several `<failure>`/`<error>` elements keep them all, in order.
//!
//! Entities and character references are decoded; anything else (ANSI escapes, if a writer
//! left some in) is kept as it is.

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use quick_xml::errors::IllFormedError;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// The name [`parse`] uses for its input in errors and problems: the file e2e writes.
pub const FILE_NAME: &str = "junit_01.xml";

/// What ginkgo appends to the first failure's text when later nodes failed too.
const MORE_FAILURES: &str = "There were additional failures detected after the initial failure";

/// Leaf node types of testcases that are suite nodes, not specs.
const SUITE_NODES: [&str; 7] = [
    "BeforeSuite",
    "SynchronizedBeforeSuite",
    "AfterSuite",
    "SynchronizedAfterSuite",
    "ReportBeforeSuite",
    "ReportAfterSuite",
    "DeferCleanup (Suite)",
];

/// A ginkgo spec state, as in `<testcase status="…">`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Passed,
    /// Not run (filtered out, or never reached), or skipped at run time with a reason.
    Skipped,
    /// Marked pending in the code; never run.
    Pending,
    Failed,
    /// A node or the suite ran out of time.
    Timedout,
    Panicked,
    /// Interrupted (SIGINT/SIGTERM, or another process of a parallel run failed).
    Interrupted,
    /// `AbortSuite` was called: the spec failed and the rest of the suite was skipped.
    Aborted,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Passed,
        Status::Skipped,
        Status::Pending,
        Status::Failed,
        Status::Timedout,
        Status::Panicked,
        Status::Interrupted,
        Status::Aborted,
    ];

    /// The word ginkgo writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Skipped => "skipped",
            Status::Pending => "pending",
            Status::Failed => "failed",
            Status::Timedout => "timedout",
            Status::Panicked => "panicked",
            Status::Interrupted => "interrupted",
            Status::Aborted => "aborted",
        }
    }

    /// Whether ginkgo counts this state as a failure of the suite.
    pub fn is_failure(self) -> bool {
        !matches!(self, Status::Passed | Status::Skipped | Status::Pending)
    }
}

impl FromStr for Status {
    type Err = ();

    fn from_str(s: &str) -> Result<Status, ()> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(())
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The counts a `<testsuite>` declares in its attributes (0 when absent). They include suite
/// nodes; see the module doc for which states each one counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
    pub disabled: usize,
    pub time: Duration,
}

/// Testcases counted by [`Status`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub skipped: usize,
    pub pending: usize,
    pub failed: usize,
    pub timedout: usize,
    pub panicked: usize,
    pub interrupted: usize,
    pub aborted: usize,
}

impl Tally {
    pub fn of<'a>(specs: impl IntoIterator<Item = &'a Spec>) -> Tally {
        let mut tally = Tally::default();
        for spec in specs {
            *tally.slot(spec.status) += 1;
        }
        tally
    }

    pub fn get(mut self, status: Status) -> usize {
        *self.slot(status)
    }

    pub fn total(self) -> usize {
        Status::ALL.into_iter().map(|status| self.get(status)).sum()
    }

    fn slot(&mut self, status: Status) -> &mut usize {
        match status {
            Status::Passed => &mut self.passed,
            Status::Skipped => &mut self.skipped,
            Status::Pending => &mut self.pending,
            Status::Failed => &mut self.failed,
            Status::Timedout => &mut self.timedout,
            Status::Panicked => &mut self.panicked,
            Status::Interrupted => &mut self.interrupted,
            Status::Aborted => &mut self.aborted,
        }
    }
}

/// One `<failure>` or `<error>` of a testcase, or a further failure found in its timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// The `type` attribute: the status (`failed`, `timedout`, `panicked`, …).
    pub kind: String,
    /// The `message` attribute; empty in Kubernetes' files.
    pub message: String,
    /// The element's text: `[FAILED] message\nIn [It] at: …`.
    pub text: String,
}

/// One testcase: a spec or a suite node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The `name` attribute: `[It] [sig-network] DNS should …`.
    pub name: String,
    /// `name` without its leaf node type (`[It] `, `[SynchronizedBeforeSuite]`, …).
    pub text: String,
    /// The first `[sig-…]` tag, without brackets: `sig-network`.
    pub sig: Option<String>,
    pub status: Status,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
    /// The reason given to `Skip()` at run time; `None` for a spec that did not run.
    pub skip_reason: Option<String>,
    pub system_out: String,
    pub system_err: String,
}

impl Spec {
    /// Whether the run meant to run this spec: everything but pending specs and specs skipped
    /// without a reason. Ginkgo writes plain `skipped` for specs filtered out by focus, skip or
    /// labels, and also for specs it never reached because the suite was interrupted, hit its
    /// `--timeout`, failed fast or was skipped in a BeforeSuite: the file cannot tell these
    /// apart, so they count as not selected (e2e.log's "Will run N of M specs" can). A spec that
    /// called `Skip(REASON)` ran (`skipped - REASON`) and is selected. Pending specs are reported
    /// as pending whether or not the filter matched them, and never run.
    pub fn selected(&self) -> bool {
        match self.status {
            Status::Skipped => self.skip_reason.is_some(),
            Status::Pending => false,
            _ => true,
        }
    }
}

/// What [`parse`] read from one e2e JUnit file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct E2eRun {
    /// The `<testsuite name>`: `Kubernetes e2e suite`.
    pub suite: String,
    pub declared: Counts,
    pub properties: BTreeMap<String, String>,
    /// The specs (testcases that are not suite nodes), in file order.
    pub specs: Vec<Spec>,
    /// `[SynchronizedBeforeSuite]`, `[ReportAfterSuite] …` and the other suite nodes.
    pub suite_nodes: Vec<Spec>,
    /// Whether the file ran to its closing root tag. A cut-off file keeps the testcases that
    /// were complete, and a problem says where it ended.
    pub complete: bool,
    /// What is wrong with the file but did not stop reading it: where it was cut off, counts
    /// that disagree with the testcases, a second `<testsuite>`.
    pub problems: Vec<String>,
}

impl E2eRun {
    /// The specs counted by status (suite nodes not included).
    pub fn counted(&self) -> Tally {
        Tally::of(&self.specs)
    }

    /// The specs that failed in any way ([`Status::is_failure`]); suite nodes not included.
    pub fn failed(&self) -> impl Iterator<Item = &Spec> {
        self.specs.iter().filter(|spec| spec.status.is_failure())
    }

    /// The specs the run meant to run: see [`Spec::selected`].
    pub fn selected(&self) -> impl Iterator<Item = &Spec> {
        self.specs.iter().filter(|spec| spec.selected())
    }
}

/// Why a file could not be read as an e2e JUnit report.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("cannot read {label}")]
    Io {
        label: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "{label} holds no JUnit report ({bytes} bytes, no root element): expected a ginkgo \
         report starting with <testsuites> or <testsuite>"
    )]
    Empty { label: String, bytes: u64 },
    #[error(
        "{label} is not a JUnit report: expected <testsuites> or <testsuite> as its root \
         element, found {found}"
    )]
    NotJunit { label: String, found: String },
    #[error("{label} is not valid XML at byte {offset}: {message}")]
    Xml {
        label: String,
        offset: u64,
        message: String,
    },
    #[error(
        "{label} line {line}: <testcase name=\"{name}\"> has the unknown status \"{status}\" \
         (ginkgo writes passed, skipped, pending, failed, timedout, panicked, interrupted or \
         aborted)"
    )]
    UnknownStatus {
        label: String,
        line: usize,
        name: String,
        status: String,
    },
    #[error("{label} line {line}: <{element}> has no {attr} attribute")]
    MissingAttribute {
        label: String,
        line: usize,
        element: String,
        attr: String,
    },
    #[error("{label} line {line}: <{element} {attr}=\"{value}\">: not a count or a time")]
    BadNumber {
        label: String,
        line: usize,
        element: String,
        attr: String,
        value: String,
    },
}

/// Reads an e2e JUnit report, named [`FILE_NAME`] in errors and problems.
pub fn parse(reader: impl BufRead) -> Result<E2eRun, JunitError> {
    parse_named(FILE_NAME, reader)
}

/// Reads the e2e JUnit report at `path`, named by its path in errors and problems.
pub fn parse_file(path: &Path) -> Result<E2eRun, JunitError> {
    let label = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(file) => parse_named(&label, io::BufReader::new(file)),
        Err(source) => Err(JunitError::Io { label, source }),
    }
}

/// Reads an e2e JUnit report, naming it `label` in errors and problems.
pub fn parse_named(label: &str, reader: impl BufRead) -> Result<E2eRun, JunitError> {
    let mut parser = Parser {
        label,
        xml: Reader::from_reader(Counting {
            inner: reader,
            bytes: 0,
            newlines: 0,
        }),
        run: E2eRun::default(),
        open: Vec::new(),
        case: None,
        sink: None,
        root: false,
        suites: 0,
    };
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let before = parser.xml.buffer_position();
        let (step, at) = match parser.xml.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(event) => (parser.event(event), before),
            Err(err) => (Err(Fault::Xml(err)), parser.xml.error_position()),
        };
        match step {
            Ok(()) => {}
            Err(Fault::Xml(err)) if parser.cut_off(&err) => break,
            Err(fault) => return Err(parser.error(fault, at)),
        }
    }
    parser.finish()
}

/// The first meaningful line of the spec's first failure: its `message` attribute's first
/// non-empty line when there is one, else its text's (`[FAILED] Conformance requires at least
/// two nodes`).
pub fn first_error_line(spec: &Spec) -> Option<String> {
    let failure = spec.failures.first()?;
    let first = |s: &str| {
        s.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(String::from)
    };
    first(&failure.message).or_else(|| first(&failure.text))
}

/// A `BufRead` that counts the bytes and newlines its reader has consumed, for offsets and lines.
struct Counting<R> {
    inner: R,
    bytes: u64,
    newlines: usize,
}

impl<R: BufRead> io::Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // The bytes being consumed are still in the buffer: this fill_buf does no I/O.
        if let Ok(buf) = self.inner.fill_buf() {
            self.newlines += memchr::memchr_iter(b'\n', &buf[..amount.min(buf.len())]).count();
        }
        self.bytes += amount as u64;
        self.inner.consume(amount);
    }
}

/// Where character data goes.
#[derive(Clone, Copy)]
enum Sink {
    Failure,
    SystemOut,
    SystemErr,
}

/// Why reading stopped, before it is given the file's name and offset.
enum Fault {
    Xml(quick_xml::Error),
    Junit(JunitError),
}

impl From<quick_xml::Error> for Fault {
    fn from(err: quick_xml::Error) -> Fault {
        Fault::Xml(err)
    }
}

impl From<quick_xml::encoding::EncodingError> for Fault {
    fn from(err: quick_xml::encoding::EncodingError) -> Fault {
        Fault::Xml(err.into())
    }
}

impl From<quick_xml::events::attributes::AttrError> for Fault {
    fn from(err: quick_xml::events::attributes::AttrError) -> Fault {
        Fault::Xml(err.into())
    }
}

struct Parser<'l, R> {
    label: &'l str,
    xml: Reader<Counting<R>>,
    run: E2eRun,
    /// The open elements, innermost last, as a problem names them: `<testcase name="…">`.
    open: Vec<String>,
    /// The testcase being read; its `skip_reason` holds the raw `<skipped message>` until it ends.
    case: Option<Spec>,
    sink: Option<Sink>,
    root: bool,
    suites: usize,
}

impl<R: BufRead> Parser<'_, R> {
    fn event(&mut self, event: Event) -> Result<(), Fault> {
        match event {
            Event::Start(e) => {
                self.start(&e)?;
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                self.open.push(match attr(&e, "name")? {
                    Some(value) => format!("<{name} name=\"{value}\">"),
                    None => format!("<{name}>"),
                });
            }
            Event::Empty(e) => {
                self.start(&e)?;
                self.end(e.name().as_ref());
            }
            Event::End(e) => {
                self.open.pop();
                self.end(e.name().as_ref());
            }
            Event::Text(e) => {
                if self.sink.is_some() {
                    self.push(&e.xml10_content()?);
                } else if !self.root {
                    self.no_text_before_root(&e.decode()?)?;
                }
            }
            Event::CData(e) => {
                if self.sink.is_some() {
                    self.push(&e.decode()?);
                } else if !self.root {
                    self.no_text_before_root(&e.decode()?)?;
                }
            }
            Event::GeneralRef(e) => {
                let text = self.reference(&e)?;
                if !self.root {
                    self.no_text_before_root(&text)?;
                }
                self.push(&text);
            }
            _ => {}
        }
        Ok(())
    }

    fn start(&mut self, e: &BytesStart) -> Result<(), Fault> {
        let name = e.name();
        if !self.root {
            if !matches!(name.as_ref(), b"testsuites" | b"testsuite") {
                let found = format!("<{}>", String::from_utf8_lossy(name.as_ref()));
                return Err(self.not_junit(found));
            }
            self.root = true;
        }
        match (name.as_ref(), self.case.as_mut()) {
            (b"testsuite", _) => self.suite(e)?,
            (b"property", None) => {
                if let Some(key) = attr(e, "name")? {
                    let value = attr(e, "value")?.unwrap_or_default();
                    self.run.properties.insert(key, value);
                }
            }
            (b"testcase", _) => self.case = Some(self.testcase(e)?),
            (b"failure" | b"error", Some(case)) => {
                case.failures.push(Failure {
                    kind: attr(e, "type")?.unwrap_or_default(),
                    message: attr(e, "message")?.unwrap_or_default(),
                    text: String::new(),
                });
                self.sink = Some(Sink::Failure);
            }
            (b"skipped", Some(case)) => {
                case.skip_reason = Some(attr(e, "message")?.unwrap_or_default());
            }
            (b"system-out", Some(_)) => self.sink = Some(Sink::SystemOut),
            (b"system-err", Some(_)) => self.sink = Some(Sink::SystemErr),
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &[u8]) {
        match name {
            b"testcase" => {
                self.sink = None;
                if let Some(spec) = self.case.take() {
                    let spec = finish_spec(spec);
                    if is_suite_node(&spec.name) {
                        self.run.suite_nodes.push(spec);
                    } else {
                        self.run.specs.push(spec);
                    }
                }
            }
            b"failure" | b"error" | b"system-out" | b"system-err" => self.sink = None,
            _ => {}
        }
    }

    fn suite(&mut self, e: &BytesStart) -> Result<(), Fault> {
        let name = attr(e, "name")?.unwrap_or_default();
        let count = |attr| {
            self.number(e, "testsuite", attr)
                .map(Option::unwrap_or_default)
        };
        let counts = Counts {
            tests: count("tests")?,
            failures: count("failures")?,
            errors: count("errors")?,
            skipped: count("skipped")?,
            disabled: count("disabled")?,
            time: self.seconds(e, "testsuite")?,
        };
        self.suites += 1;
        if self.suites == 1 {
            self.run.suite = name;
            self.run.declared = counts;
            return Ok(());
        }
        let d = &mut self.run.declared;
        d.tests += counts.tests;
        d.failures += counts.failures;
        d.errors += counts.errors;
        d.skipped += counts.skipped;
        d.disabled += counts.disabled;
        d.time += counts.time;
        self.run.problems.push(format!(
            "{} line {}: a further <testsuite name=\"{name}\">: its testcases are read too and \
             its counts added to the first one's",
            self.label,
            self.line()
        ));
        Ok(())
    }

    fn testcase(&self, e: &BytesStart) -> Result<Spec, Fault> {
        let name = attr(e, "name")?.unwrap_or_default();
        let Some(status) = attr(e, "status")? else {
            return Err(Fault::Junit(JunitError::MissingAttribute {
                label: self.label.to_string(),
                line: self.line(),
                element: "testcase".into(),
                attr: "status".into(),
            }));
        };
        let Ok(status) = status.parse() else {
            return Err(Fault::Junit(JunitError::UnknownStatus {
                label: self.label.to_string(),
                line: self.line(),
                name,
                status,
            }));
        };
        let text = leaf(&name)
            .map_or(name.as_str(), |(_, rest)| rest)
            .to_string();
        Ok(Spec {
            sig: sig(&text),
            text,
            name,
            status,
            elapsed: self.seconds(e, "testcase")?,
            failures: Vec::new(),
            skip_reason: None,
            system_out: String::new(),
            system_err: String::new(),
        })
    }

    /// A numeric attribute, `None` when absent.
    fn number<T: FromStr>(
        &self,
        e: &BytesStart,
        element: &str,
        name: &str,
    ) -> Result<Option<T>, Fault> {
        let Some(value) = attr(e, name)? else {
            return Ok(None);
        };
        match value.trim().parse() {
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(Fault::Junit(JunitError::BadNumber {
                label: self.label.to_string(),
                line: self.line(),
                element: element.into(),
                attr: name.into(),
                value,
            })),
        }
    }

    /// The `time` attribute (seconds, `7.9354e-05` too); zero when absent.
    fn seconds(&self, e: &BytesStart, element: &str) -> Result<Duration, Fault> {
        let Some(secs) = self.number::<f64>(e, element, "time")? else {
            return Ok(Duration::ZERO);
        };
        Duration::try_from_secs_f64(secs).map_err(|_| {
            Fault::Junit(JunitError::BadNumber {
                label: self.label.to_string(),
                line: self.line(),
                element: element.into(),
                attr: "time".into(),
                value: secs.to_string(),
            })
        })
    }

    fn reference(&self, e: &BytesRef) -> Result<String, Fault> {
        if let Some(c) = e.resolve_char_ref()? {
            return Ok(c.to_string());
        }
        let name = e.decode()?;
        match resolve_predefined_entity(&name) {
            Some(text) => Ok(text.to_string()),
            None => Err(Fault::Xml(quick_xml::Error::Escape(
                quick_xml::escape::EscapeError::UnrecognizedEntity(0..name.len(), name.into()),
            ))),
        }
    }

    fn push(&mut self, text: &str) {
        let (Some(case), Some(sink)) = (self.case.as_mut(), self.sink) else {
            return;
        };
        let target = match sink {
            Sink::SystemOut => &mut case.system_out,
            Sink::SystemErr => &mut case.system_err,
            Sink::Failure => match case.failures.last_mut() {
                Some(failure) => &mut failure.text,
                None => return,
            },
        };
        target.push_str(text);
    }

    fn no_text_before_root(&self, text: &str) -> Result<(), Fault> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let start: String = text.chars().take(40).collect();
        Err(self.not_junit(format!("the text {start:?}")))
    }

    fn not_junit(&self, found: String) -> Fault {
        Fault::Junit(JunitError::NotJunit {
            label: self.label.to_string(),
            found,
        })
    }

    /// The line the reader has reached: the line of the tag just read, as ginkgo puts no line
    /// breaks inside tags.
    fn line(&self) -> usize {
        self.xml.get_ref().newlines + 1
    }

    /// Whether `err` only means the input ended early: markup, a reference or a UTF-8 sequence
    /// left unfinished at the end of the input.
    fn cut_off(&mut self, err: &quick_xml::Error) -> bool {
        use quick_xml::Error::*;
        matches!(
            err,
            Syntax(_) | Encoding(_) | IllFormed(IllFormedError::UnclosedReference)
        ) && self
            .xml
            .get_mut()
            .fill_buf()
            .is_ok_and(|rest| rest.is_empty())
    }

    fn error(&self, fault: Fault, offset: u64) -> JunitError {
        let label = self.label.to_string();
        match fault {
            Fault::Junit(err) => err,
            Fault::Xml(quick_xml::Error::Io(source)) => JunitError::Io {
                label,
                source: std::sync::Arc::try_unwrap(source)
                    .unwrap_or_else(|shared| io::Error::new(shared.kind(), shared.to_string())),
            },
            Fault::Xml(err) => JunitError::Xml {
                label,
                offset,
                message: err.to_string(),
            },
        }
    }

    fn finish(mut self) -> Result<E2eRun, JunitError> {
        let bytes = self.xml.get_ref().bytes;
        let label = self.label;
        if !self.root {
            return Err(JunitError::Empty {
                label: label.to_string(),
                bytes,
            });
        }
        let run = &mut self.run;
        run.complete = self.open.is_empty();
        if !run.complete {
            let inside = self
                .open
                .iter()
                .rev()
                .find(|tag| tag.starts_with("<testcase "));
            let inside = inside.or(self.open.last()).map_or("", String::as_str);
            run.problems
                .push(format!("{label} ends inside {inside} at byte {bytes}"));
        } else if self.suites == 0 {
            run.problems.push(format!("{label} has no <testsuite>"));
        } else {
            let all = Tally::of(run.specs.iter().chain(&run.suite_nodes));
            let d = &run.declared;
            let pairs = [
                ("tests", d.tests, all.total()),
                ("failures", d.failures, all.failed + all.timedout),
                (
                    "errors",
                    d.errors,
                    all.panicked + all.interrupted + all.aborted,
                ),
                ("skipped", d.skipped, all.skipped),
                ("disabled", d.disabled, all.pending),
            ];
            for (attr, declared, counted) in pairs {
                if declared != counted {
                    run.problems.push(format!(
                        "{label}: the testsuite declares {attr}=\"{declared}\" but {counted} \
                         such testcases were read"
                    ));
                }
            }
        }
        Ok(self.run)
    }
}

/// An attribute's value with entities decoded, `None` when absent.
fn attr(e: &BytesStart, name: &str) -> Result<Option<String>, Fault> {
    match e.try_get_attribute(name)? {
        Some(a) => Ok(Some(
            a.normalized_value(XmlVersion::Implicit1_0)?.into_owned(),
        )),
        None => Ok(None),
    }
}

/// Settles what a testcase's elements left: the skip reason from the raw `<skipped message>`,
/// and further failures from the timeline.
fn finish_spec(mut spec: Spec) -> Spec {
    spec.skip_reason = spec
        .skip_reason
        .as_deref()
        .and_then(|message| match message.trim() {
            "" | "skipped" | "pending" => None,
            m => Some(m.strip_prefix("skipped - ").unwrap_or(m).to_string()),
        });
    if let Some(first) = spec.failures.first()
        && first.text.contains(MORE_FAILURES)
    {
        let more = timeline_failures(first, &spec.system_err);
        spec.failures.extend(more);
    }
    spec
}

/// The failure blocks of a ginkgo timeline (`[FAILED] message…` to `In [Node] at: …`) that are
/// not already in the first failure's text.
fn timeline_failures(first: &Failure, timeline: &str) -> Vec<Failure> {
    let lines: Vec<&str> = timeline.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(kind) = failure_header(lines[i]) else {
            i += 1;
            continue;
        };
        let is_location = |l: &&str| l.starts_with("In [") && l.contains("] at: ");
        let Some(len) = lines[i..].iter().position(is_location) else {
            break;
        };
        let text = lines[i..=i + len].join("\n") + "\n";
        if !first.text.contains(&text) {
            found.push(Failure {
                kind,
                message: String::new(),
                text,
            });
        }
        i += len + 1;
    }
    found
}

/// `failed` for a line `[FAILED] …`, and so on for the other failure states.
fn failure_header(line: &str) -> Option<String> {
    let (state, _) = line.strip_prefix('[')?.split_once("] ")?;
    let status = Status::ALL
        .into_iter()
        .find(|s| s.is_failure() && s.as_str().eq_ignore_ascii_case(state))?;
    Some(status.as_str().to_string())
}

/// The leaf node type a testcase name starts with (`It` or a suite node's) and the rest of the
/// name. `None` for a name without one (ginkgo's `OmitLeafNodeType`): then `[sig-…]` comes first.
fn leaf(name: &str) -> Option<(&str, &str)> {
    let (leaf, rest) = name.strip_prefix('[')?.split_once(']')?;
    (leaf == "It" || SUITE_NODES.contains(&leaf)).then(|| (leaf, rest.trim_start()))
}

fn is_suite_node(name: &str) -> bool {
    leaf(name).is_some_and(|(leaf, _)| leaf != "It")
}

/// The first `[sig-…]` tag without its brackets.
fn sig(text: &str) -> Option<String> {
    let start = text.find("[sig-")? + 1;
    let len = text[start..].find(']')?;
    Some(text[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/e2e/");
    const KIND: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/recorded/conformance-v1.33-kind-junit_01.xml"
    );
    const PREVIDER: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/recorded/conformance-v1.32-previder-2failures-junit_01.xml"
    );
    const COMPLETE_FIXTURES: [&str; 5] = [
        "all-passed.xml",
        "one-failed.xml",
        "skips.xml",
        "several-failures.xml",
        "panicked-timedout.xml",
    ];

    fn bytes(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    fn fixture(name: &str) -> Result<E2eRun, JunitError> {
        parse(&bytes(&format!("{FIXTURES}{name}"))[..])
    }

    fn run(name: &str) -> E2eRun {
        fixture(name).unwrap_or_else(|err| panic!("{name}: {err}"))
    }

    fn names(specs: &[Spec]) -> Vec<&str> {
        specs.iter().map(|spec| spec.name.as_str()).collect()
    }

    fn failure(kind: &str, message: &str, text: &str) -> Failure {
        Failure {
            kind: kind.into(),
            message: message.into(),
            text: text.into(),
        }
    }

    #[test]
    fn all_passed() {
        let run = run("all-passed.xml");
        assert_eq!(run.suite, "Kubernetes e2e suite");
        let declared = Counts {
            tests: 6,
            failures: 0,
            errors: 0,
            skipped: 1,
            disabled: 0,
            time: Duration::from_millis(95_500),
        };
        assert_eq!(run.declared, declared);
        assert_eq!(run.properties.len(), 4);
        assert_eq!(run.properties["FocusStrings"], r"\[Conformance\]");
        assert_eq!(run.properties["SkipStrings"], r"\[Serial\]|\[Disruptive\]");
        assert_eq!(run.properties["ParallelTotal"], "2");
        assert_eq!(
            names(&run.suite_nodes),
            ["[SynchronizedBeforeSuite]", "[SynchronizedAfterSuite]"]
        );
        assert_eq!(run.suite_nodes[0].text, "");
        assert_eq!(run.suite_nodes[0].elapsed, Duration::from_millis(500));
        let weird = "[It] kubectl get --raw \"/api/v1/nodes/<node>/proxy\" works & says µs → \
                     [Conformance]";
        assert_eq!(
            names(&run.specs),
            [
                "[It] [sig-node] Pods should be submitted and removed [NodeConformance] \
                 [Conformance]",
                "[It] [sig-storage] Volumes NFSv4 should be mountable for NFSv4",
                "[It] [sig-network] DNS should provide DNS for services  [Conformance]",
                weird,
            ]
        );
        let pods = &run.specs[0];
        assert_eq!(
            pods.text,
            "[sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]"
        );
        assert_eq!(pods.sig.as_deref(), Some("sig-node"));
        assert_eq!(pods.status, Status::Passed);
        assert_eq!(pods.elapsed, Duration::from_millis(12_250));
        assert!(pods.failures.is_empty() && pods.system_err.is_empty());
        assert_eq!(run.specs[2].elapsed, Duration::from_micros(1_500));
        assert_eq!(run.specs[3].sig, None);
        assert_eq!(run.specs[1].status, Status::Skipped);
        assert_eq!(run.specs[1].skip_reason, None);
        let selected: Vec<_> = run.selected().map(|spec| spec.name.as_str()).collect();
        assert_eq!(
            selected,
            [names(&run.specs)[0], names(&run.specs)[2], weird]
        );
        let counted = Tally {
            passed: 3,
            skipped: 1,
            ..Tally::default()
        };
        assert_eq!(run.counted(), counted);
        assert_eq!(run.failed().count(), 0);
        assert!(run.complete);
        assert_eq!(run.problems, Vec::<String>::new());
    }

    #[test]
    fn one_failed() {
        let run = run("one-failed.xml");
        let failed: Vec<_> = run.failed().collect();
        assert_eq!(failed.len(), 1);
        let spec = failed[0];
        assert_eq!(
            spec.name,
            "[It] [sig-apps] ReplicaSet should serve a basic image on each replica with a public \
             image [Conformance]"
        );
        assert_eq!(spec.sig.as_deref(), Some("sig-apps"));
        assert_eq!(spec.status, Status::Failed);
        assert_eq!(spec.elapsed, Duration::from_millis(30_500));
        let text = "[FAILED] pod \"my-hostname-basic-1\" never became ready\nExpected\n    \
                    <int>: 0\nto equal\n    <int>: 1\nIn [It] at: \
                    k8s.io/kubernetes/test/e2e/apps/replica_set.go:210 @ 01/05/26 11:00:31.5\n";
        assert_eq!(spec.failures, [failure("failed", "", text)]);
        assert_eq!(
            first_error_line(spec).as_deref(),
            Some("[FAILED] pod \"my-hostname-basic-1\" never became ready")
        );
        // ANSI escapes are kept for the caller to strip.
        assert_eq!(spec.system_out, "\x1b[1mcolored stdout \x1b[0m\n");
        assert!(spec.system_err.starts_with("> Enter [It] should serve"));
        assert!(spec.system_err.contains(&format!("\n{text}< Exit [It]")));
        assert!(spec.system_err.ends_with("(30.5s)\n"));
        assert_eq!(
            names(&run.suite_nodes),
            [
                "[ReportBeforeSuite]",
                "[ReportAfterSuite] Kubernetes e2e suite report"
            ]
        );
        assert_eq!(run.suite_nodes[1].text, "Kubernetes e2e suite report");
        assert_eq!(run.specs[1].status, Status::Passed);
        assert_eq!(first_error_line(&run.specs[1]), None);
        assert_eq!(run.counted().passed, 1);
        assert_eq!(run.counted().failed, 1);
        assert_eq!(run.selected().count(), 2);
        assert_eq!(run.properties["SuiteSucceeded"], "false");
        assert!(run.complete);
        assert_eq!(run.problems, Vec::<String>::new());
    }

    #[test]
    fn runtime_skips_are_selected_filtered_and_pending_are_not() {
        let run = run("skips.xml");
        let seen: Vec<_> = run
            .specs
            .iter()
            .map(|spec| (spec.status, spec.skip_reason.as_deref(), spec.selected()))
            .collect();
        assert_eq!(
            seen,
            [
                (Status::Skipped, None, false),
                (
                    Status::Skipped,
                    Some("Only supported for providers [gce gke] (not kind)"),
                    true
                ),
                (Status::Passed, None, true),
                (Status::Pending, None, false),
                (
                    Status::Skipped,
                    Some("Requires at least 2 nodes (not 1)\nsee the e2e docs"),
                    true
                ),
            ]
        );
        assert_eq!(run.specs[1].elapsed, Duration::from_millis(750));
        let counted = Tally {
            passed: 1,
            skipped: 3,
            pending: 1,
            ..Tally::default()
        };
        assert_eq!(run.counted(), counted);
        assert_eq!(counted.total(), 5);
        assert_eq!(counted.get(Status::Skipped), 3);
        assert_eq!(run.problems, Vec::<String>::new());
    }

    #[test]
    fn several_failures_are_all_kept() {
        let run = run("several-failures.xml");
        let rollover = &run.specs[0];
        let first = "[FAILED] deployment \"test-rollover\" not ready: 0 of 1 replicas — µs\nIn \
                     [It] at: k8s.io/kubernetes/test/e2e/apps/deployment.go:120 @ 01/05/26 \
                     13:01:00.5\n\nThere were additional failures detected after the initial \
                     failure. These are visible in the timeline\n";
        assert_eq!(
            rollover.failures,
            [
                failure("failed", "", first),
                failure(
                    "failed",
                    "",
                    "[FAILED] failed to delete deployment test-rollover\nExpected\n    <bool>: \
                     false\nto be true\nIn [AfterEach] at: \
                     k8s.io/kubernetes/test/e2e/apps/deployment.go:85 @ 01/05/26 13:01:01\n"
                ),
                failure(
                    "timedout",
                    "",
                    "[TIMEDOUT] A node timeout occurred\nIn [DeferCleanup (Each)] at: \
                     k8s.io/kubernetes/test/e2e/framework/framework.go:215 @ 01/05/26 \
                     13:01:01.5\n"
                ),
            ]
        );
        assert_eq!(
            first_error_line(rollover).as_deref(),
            Some("[FAILED] deployment \"test-rollover\" not ready: 0 of 1 replicas — µs")
        );
        // Several elements (not ginkgo's way, but JUnit allows it): all kept, in order; the
        // message attribute wins for the first line.
        let logs = &run.specs[1];
        assert_eq!(logs.status, Status::Panicked);
        assert_eq!(
            logs.failures,
            [
                failure("failed", "expected 1 line", "logs.go:50\nfirst"),
                failure(
                    "panicked",
                    "runtime error: index out of range [1] with length 1",
                    "logs.go:52\nsecond"
                ),
            ]
        );
        assert_eq!(first_error_line(logs).as_deref(), Some("expected 1 line"));
        assert_eq!(run.failed().count(), 2);
        assert_eq!(run.problems, Vec::<String>::new());
    }

    #[test]
    fn panicked_timedout_interrupted() {
        let run = run("panicked-timedout.xml");
        let seen: Vec<_> = run
            .failed()
            .map(|spec| {
                let kinds: Vec<_> = spec.failures.iter().map(|f| f.kind.as_str()).collect();
                (spec.status, kinds, first_error_line(spec).unwrap())
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    Status::Panicked,
                    vec!["panicked"],
                    "[PANICKED] Test Panicked".to_string()
                ),
                (
                    Status::Timedout,
                    vec!["timedout"],
                    "[TIMEDOUT] A suite timeout occurred".to_string()
                ),
                (
                    Status::Interrupted,
                    vec!["interrupted"],
                    "[INTERRUPTED] Interrupted by User".to_string()
                ),
            ]
        );
        assert!(run.specs[0].failures[0].text.ends_with(
            "Full Stack Trace\n  k8s.io/kubernetes/test/e2e/common/node.init.func20.2()\n  \
             \tk8s.io/kubernetes/test/e2e/common/node/pods.go:205 +0x1d\n"
        ));
        assert_eq!(run.specs[1].elapsed, Duration::from_millis(3_540_500));
        let counted = Tally {
            panicked: 1,
            timedout: 1,
            interrupted: 1,
            ..Tally::default()
        };
        assert_eq!(run.counted(), counted);
        assert_eq!(run.selected().count(), 3);
        assert_eq!(run.problems, Vec::<String>::new());
    }

    #[test]
    fn cut_off_between_testcases() {
        let run = run("cut-between-testcases.xml");
        assert!(!run.complete);
        assert_eq!(run.suite, "Kubernetes e2e suite");
        assert_eq!(run.declared.tests, 4);
        assert_eq!(names(&run.suite_nodes), ["[SynchronizedBeforeSuite]"]);
        assert_eq!(run.specs.len(), 2);
        assert_eq!(run.counted().passed, 2);
        assert_eq!(
            run.problems,
            ["junit_01.xml ends inside <testsuite name=\"Kubernetes e2e suite\"> at byte 918"]
        );
    }

    #[test]
    fn cut_off_inside_a_testcase() {
        let run = run("cut-inside-testcase.xml");
        assert!(!run.complete);
        assert_eq!(
            names(&run.specs),
            [
                "[It] [sig-node] ConfigMap should be consumable via environment variable \
                 [NodeConformance] [Conformance]"
            ]
        );
        assert_eq!(run.failed().count(), 0);
        assert_eq!(
            run.problems,
            [
                "junit_01.xml ends inside <testcase name=\"[It] [sig-network] Proxy version v1 \
                 should proxy through a service and a pod [Conformance]\"> at byte 1525"
            ]
        );
    }

    /// Cut anywhere — inside a tag, an attribute, a reference, a UTF-8 character — a file
    /// yields the testcases before the cut, or, before its root tag is complete, `Empty`.
    #[test]
    fn every_prefix_is_cut_off_not_invalid() {
        for name in COMPLETE_FIXTURES {
            let whole = bytes(&format!("{FIXTURES}{name}"));
            let full = run(name);
            let root_end = whole.windows(2).position(|w| w == b"\">").unwrap() + 2;
            let closed = whole
                .windows(13)
                .position(|w| w == b"</testsuites>")
                .unwrap()
                + 13;
            for cut in 0..=whole.len() {
                let at = format!("{name} cut at {cut}");
                match parse(&whole[..cut]) {
                    Err(JunitError::Empty { bytes, .. }) => {
                        assert!(cut < root_end, "{at}");
                        assert_eq!(bytes, cut as u64, "{at}");
                    }
                    Err(err) => panic!("{at}: {err}"),
                    Ok(run) => {
                        assert!(cut >= root_end, "{at}");
                        assert_eq!(run.complete, cut >= closed, "{at}");
                        assert_eq!(run.specs[..], full.specs[..run.specs.len()], "{at}");
                        let nodes = &full.suite_nodes[..run.suite_nodes.len()];
                        assert_eq!(run.suite_nodes[..], nodes[..], "{at}");
                        if run.complete {
                            assert_eq!(run, full, "{at}");
                        } else {
                            assert_eq!(run.problems.len(), 1, "{at}");
                            let problem = &run.problems[0];
                            assert!(problem.starts_with("junit_01.xml ends inside <"), "{at}");
                            assert!(problem.ends_with(&format!("> at byte {cut}")), "{at}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn empty_file() {
        let err = fixture("empty.xml").unwrap_err();
        assert!(matches!(err, JunitError::Empty { bytes: 0, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "junit_01.xml holds no JUnit report (0 bytes, no root element): expected a ginkgo \
             report starting with <testsuites> or <testsuite>"
        );
        let err = parse(&b"<?xml version=\"1.0\"?>\n<!-- nothing -->\n"[..]).unwrap_err();
        assert!(
            matches!(err, JunitError::Empty { bytes: 39, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn not_junit() {
        let err = fixture("not-junit.xml").unwrap_err();
        assert!(
            matches!(&err, JunitError::NotJunit { found, .. } if found == "<checkstyle>"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "junit_01.xml is not a JUnit report: expected <testsuites> or <testsuite> as its \
             root element, found <checkstyle>"
        );
        let err = parse(&b"--- FAIL: TestE2E (5815.57s)\n"[..]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "junit_01.xml is not a JUnit report: expected <testsuites> or <testsuite> as its \
             root element, found the text \"--- FAIL: TestE2E (5815.57s)\""
        );
    }

    const HEAD: &str = "<testsuites>\n<testsuite name=\"s\" tests=\"1\">\n";

    #[test]
    fn unknown_status_names_value_and_line() {
        let xml = format!("{HEAD}<testcase name=\"[It] x\" status=\"flaky\" time=\"1\"/>\n");
        let err = parse(xml.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, JunitError::UnknownStatus { line: 3, status, .. } if status == "flaky"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "junit_01.xml line 3: <testcase name=\"[It] x\"> has the unknown status \"flaky\" \
             (ginkgo writes passed, skipped, pending, failed, timedout, panicked, interrupted or \
             aborted)"
        );
        let err = parse(format!("{HEAD}<testcase name=\"[It] x\" time=\"1\"/>").as_bytes());
        assert_eq!(
            err.unwrap_err().to_string(),
            "junit_01.xml line 3: <testcase> has no status attribute"
        );
        let err = parse(
            format!("{HEAD}\n<testcase name=\"x\" status=\"passed\" time=\"1s\"/>").as_bytes(),
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "junit_01.xml line 4: <testcase time=\"1s\">: not a count or a time"
        );
    }

    #[test]
    fn invalid_xml_names_the_byte() {
        let bad_end =
            format!("{HEAD}<testcase name=\"a\" status=\"passed\" time=\"1\"></testcasex>");
        let err = parse(bad_end.as_bytes()).unwrap_err();
        let offset = bad_end.find("</testcasex>").unwrap() as u64;
        assert!(
            matches!(err, JunitError::Xml { offset: o, .. } if o == offset),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("junit_01.xml is not valid XML at byte {offset}: ")),
            "{err}"
        );
        let entity = format!(
            "{HEAD}<testcase name=\"a\" status=\"failed\" time=\"1\"><failure>a&nbsp;b</failure>"
        );
        let err = parse(entity.as_bytes()).unwrap_err();
        let offset = entity.find("&nbsp;").unwrap() as u64;
        assert!(
            matches!(err, JunitError::Xml { offset: o, .. } if o == offset),
            "{err:?}"
        );
        // A wrong closing tag at the very end is not a cut-off file.
        let whole = bytes(&format!("{FIXTURES}all-passed.xml"));
        let text = String::from_utf8(whole)
            .unwrap()
            .replace("</testsuites>", "</testsuitez>");
        let err = parse(text.as_bytes()).unwrap_err();
        assert!(matches!(err, JunitError::Xml { .. }), "{err:?}");
    }

    #[test]
    fn declared_counts_that_disagree_are_problems() {
        let xml = "<testsuites><testsuite name=\"s\" tests=\"3\" failures=\"1\" skipped=\"0\">\
                   <testcase name=\"[It] a\" status=\"passed\" time=\"1\"/>\
                   <testcase name=\"[It] b\" status=\"passed\" time=\"1\"/>\
                   </testsuite></testsuites>";
        let run = parse(xml.as_bytes()).unwrap();
        assert!(run.complete);
        assert_eq!(
            run.problems,
            [
                "junit_01.xml: the testsuite declares tests=\"3\" but 2 such testcases were read",
                "junit_01.xml: the testsuite declares failures=\"1\" but 0 such testcases were \
                 read",
            ]
        );
    }

    #[test]
    fn testcase_properties_are_not_suite_properties() {
        let xml = "<testsuites><testsuite name=\"s\" tests=\"1\">\
                   <properties><property name=\"SuiteSucceeded\" value=\"true\"/></properties>\
                   <testcase name=\"[It] a\" status=\"passed\" time=\"1\">\
                   <properties><property name=\"SuiteSucceeded\" value=\"entry\"/>\
                   <property name=\"By\" value=\"step\"/></properties></testcase>\
                   </testsuite></testsuites>";
        let run = parse(xml.as_bytes()).unwrap();
        let expected = BTreeMap::from([("SuiteSucceeded".to_string(), "true".to_string())]);
        assert_eq!(run.properties, expected);
        assert_eq!(names(&run.specs), ["[It] a"]);
    }

    #[test]
    fn a_second_testsuite_is_read_and_reported() {
        let xml = "<testsuites>\n<testsuite name=\"a\" tests=\"1\">\
                   <testcase name=\"[It] a\" status=\"passed\" time=\"1\"/></testsuite>\n\
                   <testsuite name=\"b\" tests=\"1\">\
                   <testcase name=\"[It] b\" status=\"passed\" time=\"2\"/></testsuite>\n\
                   </testsuites>";
        let run = parse(xml.as_bytes()).unwrap();
        assert_eq!(run.suite, "a");
        assert_eq!(run.declared.tests, 2);
        assert_eq!(names(&run.specs), ["[It] a", "[It] b"]);
        assert_eq!(
            run.problems,
            [
                "junit_01.xml line 3: a further <testsuite name=\"b\">: its testcases are read \
                 too and its counts added to the first one's"
            ]
        );
    }

    #[test]
    fn parse_file_names_the_path() {
        let path = Path::new(FIXTURES).join("empty.xml");
        let err = parse_file(&path).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{} holds no", path.display()))
        );
        let missing = Path::new(FIXTURES).join("absent.xml");
        let err = parse_file(&missing).unwrap_err();
        assert!(matches!(err, JunitError::Io { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("cannot read {}", missing.display())
        );
    }

    #[test]
    fn recorded_kind_v1_33_all_passed() {
        let run = parse(&bytes(KIND)[..]).unwrap();
        assert!(run.complete);
        assert_eq!(run.problems, Vec::<String>::new());
        assert_eq!(run.suite, "Kubernetes e2e suite");
        let declared = Counts {
            tests: 6735,
            failures: 0,
            errors: 0,
            skipped: 6312,
            disabled: 0,
            time: Duration::from_secs_f64(7292.83137903),
        };
        assert_eq!(run.declared, declared);
        let counted = Tally {
            passed: 419,
            skipped: 6312,
            ..Tally::default()
        };
        assert_eq!(run.counted(), counted);
        // e2e.log: "Ran 419 of 6731 Specs"
        assert_eq!(run.specs.len(), 6731);
        assert_eq!(run.selected().count(), 419);
        assert!(run.selected().all(|spec| spec.status == Status::Passed));
        assert_eq!(
            names(&run.suite_nodes),
            [
                "[ReportBeforeSuite]",
                "[SynchronizedBeforeSuite]",
                "[SynchronizedAfterSuite]",
                "[ReportAfterSuite] Kubernetes e2e suite report",
            ]
        );
        assert_eq!(run.properties.len(), 18);
        assert_eq!(run.properties["FocusStrings"], r"\[Conformance\]");
        assert_eq!(run.properties["SuiteSucceeded"], "true");
        assert_eq!(run.properties["ParallelTotal"], "1");
        assert!(run.specs.iter().all(|spec| spec.name.starts_with("[It] ")));
        assert!(run.specs.iter().all(|spec| spec.sig.is_some()));
    }

    #[test]
    fn recorded_previder_v1_32_two_failures() {
        let whole = bytes(PREVIDER);
        let run = parse(&whole[..]).unwrap();
        assert!(run.complete);
        assert_eq!(run.problems, Vec::<String>::new());
        assert_eq!(
            (
                run.declared.tests,
                run.declared.failures,
                run.declared.skipped
            ),
            (6626, 2, 6211)
        );
        // The file's 413 passed testcases are e2e.log's "409 Passed" and 4 suite nodes.
        let counted = Tally {
            passed: 409,
            failed: 2,
            skipped: 6211,
            ..Tally::default()
        };
        assert_eq!(run.counted(), counted);
        assert_eq!(run.suite_nodes.len(), 4);
        assert!(run.suite_nodes.iter().all(|n| n.status == Status::Passed));
        // e2e.log: "Ran 411 of 6622 Specs"
        assert_eq!(run.specs.len(), 6622);
        assert_eq!(run.selected().count(), 411);
        assert_eq!(run.properties["FocusStrings"], r"\[Conformance\]");
        assert_eq!(run.properties["SuiteSucceeded"], "false");
        let failed: Vec<_> = run
            .failed()
            .map(|spec| {
                (
                    spec.name.as_str(),
                    spec.sig.as_deref().unwrap(),
                    first_error_line(spec).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            failed,
            [
                (
                    "[It] [sig-architecture] Conformance Tests should have at least two \
                     untainted nodes [Conformance]",
                    "sig-architecture",
                    "[FAILED] Conformance requires at least two nodes".to_string()
                ),
                (
                    "[It] [sig-apps] Daemon set [Serial] should rollback without unnecessary \
                     restarts [Conformance]",
                    "sig-apps",
                    "[FAILED] Conformance test suite needs a cluster with at least 2 nodes."
                        .to_string()
                ),
            ]
        );
        let daemon_set = run.failed().nth(1).unwrap();
        assert_eq!(
            daemon_set.failures,
            [failure(
                "failed",
                "",
                "[FAILED] Conformance test suite needs a cluster with at least 2 nodes.\n\
                 Expected\n    <int>: 1\nto be >\n    <int>: 1\nIn [It] at: \
                 k8s.io/kubernetes/test/e2e/apps/daemon_set.go:446 @ 12/13/24 12:49:02.844\n"
            )]
        );
        assert_eq!(daemon_set.elapsed, Duration::from_secs_f64(0.28832176));
        assert!(daemon_set.system_err.starts_with(
            "> Enter [BeforeEach] [sig-apps] Daemon set [Serial] - set up framework | \
             framework.go:200 @ 12/13/24 12:49:02.749\n"
        ));
        assert!(daemon_set.system_err.ends_with(
            "STEP: Destroying namespace \"daemonsets-9018\" for this suite. - \
             k8s.io/kubernetes/test/e2e/framework/framework.go:360 @ 12/13/24 12:49:03.031\n< \
             Exit [DeferCleanup (Each)] [sig-apps] Daemon set [Serial] - tear down framework | \
             framework.go:215 @ 12/13/24 12:49:03.037 (7ms)\n"
        ));
        let log_query = "[It] [sig-node] kubelet kubectl get --raw \
                         \"/api/v1/nodes/<insert-node-name-here>/proxy/logs/?query=/\
                         <insert-log-file-name-here> [Feature:NodeLogQuery] should return the \
                         error with an empty --query option";
        assert!(run.specs.iter().any(|spec| spec.name == log_query));

        // Cut inside the first failure's text: the specs before it, and where it ended.
        let cut = memchr::memmem::find(&whole, b"[FAILED] Conformance requires").unwrap() + 10;
        let before = &whole[..cut];
        let testcases = memchr::memmem::find_iter(before, b"<testcase ").count();
        let run = parse(before).unwrap();
        assert!(!run.complete);
        assert_eq!(run.specs.len() + run.suite_nodes.len(), testcases - 1);
        assert_eq!(run.suite_nodes.len(), 2);
        assert_eq!(
            run.problems,
            [format!(
                "junit_01.xml ends inside <testcase name=\"[It] [sig-architecture] Conformance \
                 Tests should have at least two untainted nodes [Conformance]\"> at byte {cut}"
            )]
        );
    }
}
