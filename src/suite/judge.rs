//! Judging a case from its raw result, and the lookup answers that `same_as` compares.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::report::Outcome;

use super::checks;
use super::expand::{Case, Where};
use super::model::show_duration;

/// What running a case gave.
///
/// Node and pod cases: the exit code of [`super::shell`]'s command and its output (stdout and
/// stderr). Host cases, which kdc runs itself, report the same way: a lookup is code 0 with one
/// address per line (none for "no such name" and "no such record"), or code 1 with the error
/// text when no answer came; a ping is code 0 on a reply, 1 on none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub code: i64,
    pub output: String,
    pub elapsed: Duration,
    /// Killed by the case's timeout.
    pub timed_out: bool,
}

/// The lookups' answers so far, by suite, check and place, for `same_as`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers(BTreeMap<(String, String, Where), Vec<IpAddr>>);

impl Answers {
    /// Records what a finished case answered, if it is a lookup that got an answer.
    pub fn record(&mut self, case: &Case, raw: &Raw) {
        if let Some(addrs) = answer(case, raw) {
            self.insert(case, addrs);
        }
    }

    pub fn insert(&mut self, case: &Case, addrs: Vec<IpAddr>) {
        self.0.insert(
            (case.suite.clone(), case.check.clone(), case.place.clone()),
            addrs,
        );
    }

    pub fn get(&self, suite: &str, check: &str, place: &Where) -> Option<&[IpAddr]> {
        self.0
            .get(&(suite.to_string(), check.to_string(), place.clone()))
            .map(Vec::as_slice)
    }
}

/// The addresses a lookup case got, in order, without repeats; `None` when it got no answer (a
/// timeout, a name server that did not reply) and for pings and commands.
pub fn answer(case: &Case, raw: &Raw) -> Option<Vec<IpAddr>> {
    if case.skip.is_some() {
        return None;
    }
    checks::answer(case, raw)
}

/// The `bash -c` command line of a node or pod case, which the runner runs under `timeout`;
/// `None` for host cases.
pub fn shell(case: &Case) -> Option<String> {
    checks::shell(case)
}

/// Passed, or Failed with what ran where, what was expected and what came back. A skipped case
/// is Skipped with its reason (it should not have run). `same_as` cases need the answers of the
/// cases they compare with ([`Case::depends_on`]) recorded first.
pub fn judge(case: &Case, raw: &Raw, answers: &Answers) -> Outcome {
    if let Some(reason) = &case.skip {
        return Outcome::Skipped {
            reason: reason.clone(),
        };
    }
    let what = checks::describe(case);
    if raw.timed_out {
        let out = summary(&raw.output);
        let tail = if out.is_empty() {
            String::new()
        } else {
            format!(": {out}")
        };
        return Outcome::Failed {
            message: format!(
                "{what}: timed out after {}{tail}",
                show_duration(case.timeout)
            ),
        };
    }
    match checks::judge(case, raw, answers) {
        Ok(()) => Outcome::Passed,
        Err(m) => Outcome::Failed {
            message: format!("{what}: {m}"),
        },
    }
}

/// Output for a message: its non-empty lines joined with "; ", at most 300 characters.
pub(crate) fn summary(output: &str) -> String {
    const MAX: usize = 300;
    let joined = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match joined.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}
