//! Events from the runner (cluster actions now, test suites later) to the reporters.
//!
//! The runner never formats output: it emits events, and each reporter (terminal, JUnit,
//! dump-on-failure) renders what it needs.

use std::time::Duration;

/// Something that happened while a command ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An action began; `detail` is the human description ("Creating network kubeadm-dind-net").
    ActionStarted { name: &'static str, detail: String },
    /// The action ended, successfully or with the error message.
    ActionFinished {
        name: &'static str,
        detail: String,
        elapsed: Duration,
        error: Option<String>,
    },
    /// A warning or notice worth showing (e.g. a privilege fallback).
    Note { message: String },
}

/// Consumes events.
pub trait Reporter: Send {
    fn report(&mut self, event: &Event);
}

/// A reporter that keeps events, for tests and for replay.
#[derive(Debug, Default)]
pub struct Recorder(pub Vec<Event>);

impl Reporter for Recorder {
    fn report(&mut self, event: &Event) {
        self.0.push(event.clone());
    }
}
