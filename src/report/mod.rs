//! Events from the runners (cluster actions, test suites, later matrix cells) to the reporters.
//!
//! A runner never formats output: it emits [`Event`]s through an [`Emitter`], and each reporter
//! renders what it needs — the [`terminal`] lines on stderr, a JUnit file, the record of
//! failures that decides whether a dump is printed. [`Fanout`] sends every event to several
//! reporters. Every event names its [`Scope`] (which cluster or which matrix cell), so reporters
//! can follow several jobs running at once.

pub mod html;
pub mod junit;
pub mod terminal;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use junit::Junit;
pub use terminal::{Style, Terminal};

/// Which job an event belongs to: empty when a command runs one job (the usual case), else the
/// cluster or matrix cell that reporters show as a prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(pub String);

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Something that happened in a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub scope: Scope,
    pub kind: EventKind,
}

/// How a test case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// What ran where, what was expected and what came back.
    Failed {
        message: String,
    },
    /// The case could not run; the reason says why (never counted as passed).
    Skipped {
        reason: String,
    },
    /// The case failed, was run again (`kdc ci run --retries`) and then passed: it counts as
    /// passed, and `failures` keeps each failed attempt's message (JUnit `flakyFailure`).
    Flaky {
        failures: Vec<String>,
    },
}

/// The events of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A job began (`kdc up`, a suite run, a matrix cell).
    RunStarted { name: String },
    /// The job ended.
    RunFinished { elapsed: Duration, ok: bool },
    /// An action began; `detail` is the progress line ("Creating network kubeadm-dind-net").
    ActionStarted { name: String, detail: String },
    /// Progress inside a long action: `done` of `total` (nodes ready, checks run).
    ActionProgress {
        name: String,
        done: usize,
        total: usize,
    },
    /// The action ended, successfully or with the error message.
    ActionFinished {
        name: String,
        detail: String,
        elapsed: Duration,
        error: Option<String>,
    },
    /// A test case began. `class` groups cases as JUnit's classname does (a suite, or `kdc`
    /// for the Up/Dump/Down steps).
    CaseStarted { class: String, name: String },
    /// A test case ended, with what it printed.
    CaseFinished {
        class: String,
        name: String,
        elapsed: Duration,
        outcome: Outcome,
        output: String,
    },
    /// A notice worth showing (a privilege fallback, a degraded node).
    Note { message: String },
    /// Something the user should fix but that does not stop the command.
    Warning { message: String },
    /// Detail shown with `-v` (level 1) or `-vv` (level 2).
    Debug { level: u8, message: String },
}

/// Why a reporter could not do its job (a JUnit file that cannot be written).
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct ReportError {
    pub what: String,
    #[source]
    pub source: Option<std::io::Error>,
}

/// Consumes events.
pub trait Reporter: Send {
    fn report(&mut self, event: &Event);
    /// Called once at the end: write files, flush; an error fails the command.
    fn finish(&mut self) -> Result<(), ReportError> {
        Ok(())
    }
}

/// Sends each event to every reporter, in order.
#[derive(Default)]
pub struct Fanout(pub Vec<Box<dyn Reporter>>);

impl Reporter for Fanout {
    fn report(&mut self, event: &Event) {
        for r in &mut self.0 {
            r.report(event);
        }
    }

    /// Finishes every reporter; the first error is returned after all had their turn.
    fn finish(&mut self) -> Result<(), ReportError> {
        let mut first = Ok(());
        for r in &mut self.0 {
            let result = r.finish();
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

/// Passes on only the events of one job: its scope, or a scope inside it (`cell/cluster-2`).
/// A matrix cell's own JUnit file is a [`Junit`] behind one.
pub struct OnlyScope<R> {
    pub scope: String,
    pub inner: R,
}

impl<R: Reporter> Reporter for OnlyScope<R> {
    fn report(&mut self, event: &Event) {
        let s = &event.scope.0;
        if *s == self.scope
            || s.strip_prefix(&self.scope)
                .is_some_and(|rest| rest.starts_with('/'))
        {
            self.inner.report(event);
        }
    }

    fn finish(&mut self) -> Result<(), ReportError> {
        self.inner.finish()
    }
}

/// The runners' handle for emitting events: cheap to clone into concurrent tasks, bound to a
/// scope.
#[derive(Clone)]
pub struct Emitter {
    scope: Scope,
    sink: Arc<Mutex<Fanout>>,
}

impl Emitter {
    pub fn new(reporter: impl Reporter + 'static) -> Emitter {
        Emitter {
            scope: Scope::default(),
            sink: Arc::new(Mutex::new(Fanout(vec![Box::new(reporter)]))),
        }
    }

    /// Adds a reporter (a command that writes JUnit adds it to the terminal's); it sees the
    /// events emitted from now on.
    pub fn attach(&self, reporter: impl Reporter + 'static) {
        self.sink().0.push(Box::new(reporter));
    }

    /// An emitter for a job of its own (a matrix cell), sharing the reporters.
    pub fn scoped(&self, scope: impl Into<String>) -> Emitter {
        Emitter {
            scope: Scope(scope.into()),
            sink: self.sink.clone(),
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    fn sink(&self) -> MutexGuard<'_, Fanout> {
        // A reporter that panicked mid-event left nothing half-done worth protecting.
        self.sink.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn emit(&self, kind: EventKind) {
        let event = Event {
            scope: self.scope.clone(),
            kind,
        };
        self.sink().report(&event);
    }

    pub fn note(&self, message: impl Into<String>) {
        self.emit(EventKind::Note {
            message: message.into(),
        });
    }

    pub fn warn(&self, message: impl Into<String>) {
        self.emit(EventKind::Warning {
            message: message.into(),
        });
    }

    pub fn debug(&self, level: u8, message: impl Into<String>) {
        self.emit(EventKind::Debug {
            level,
            message: message.into(),
        });
    }

    /// Finishes the reporters (see [`Reporter::finish`]).
    pub fn finish(&self) -> Result<(), ReportError> {
        self.sink().finish()
    }
}

/// A reporter that keeps events, for tests.
#[derive(Debug, Default, Clone)]
pub struct Recorder(pub Arc<Mutex<Vec<Event>>>);

impl Recorder {
    /// An emitter that records into the returned recorder.
    pub fn emitter() -> (Emitter, Recorder) {
        let rec = Recorder::default();
        (Emitter::new(rec.clone()), rec)
    }

    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The names of the actions started, in order.
    pub fn actions_started(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::ActionStarted { name, .. } => Some(name),
                _ => None,
            })
            .collect()
    }

    /// The notes emitted, in order.
    pub fn notes(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Note { message } => Some(message),
                _ => None,
            })
            .collect()
    }
}

impl Reporter for Recorder {
    fn report(&mut self, event: &Event) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_gives_every_reporter_every_event_with_its_scope() {
        let (a, b) = (Recorder::default(), Recorder::default());
        let root = Emitter::new(Fanout(vec![Box::new(a.clone()), Box::new(b.clone())]));
        root.note("one");
        root.scoped("ipv6-ptp").note("two");
        for r in [&a, &b] {
            let e = r.events();
            assert_eq!(e.len(), 2);
            assert_eq!(e[0].scope, Scope::default());
            assert_eq!(e[1].scope, Scope("ipv6-ptp".into()));
            assert_eq!(r.notes(), vec!["one", "two"]);
        }
    }

    struct Failing;
    impl Reporter for Failing {
        fn report(&mut self, _: &Event) {}
        fn finish(&mut self) -> Result<(), ReportError> {
            Err(ReportError {
                what: "cannot write junit.xml".into(),
                source: None,
            })
        }
    }

    #[test]
    fn only_scope_passes_the_jobs_events_and_those_inside_it() {
        let rec = Recorder::default();
        let root = Emitter::new(OnlyScope {
            scope: "multi".into(),
            inner: rec.clone(),
        });
        root.note("none");
        root.scoped("multi").note("cell");
        root.scoped("multi/cluster-2").note("cluster");
        root.scoped("multi-cluster").note("another cell");
        assert_eq!(rec.notes(), vec!["cell", "cluster"]);
    }

    #[test]
    fn fanout_finishes_all_and_returns_the_first_error() {
        let rec = Recorder::default();
        let mut f = Fanout(vec![Box::new(Failing), Box::new(rec)]);
        assert_eq!(
            f.finish().unwrap_err().to_string(),
            "cannot write junit.xml"
        );
    }
}
