//! Declarative test suites: files that say what to check in a cluster's network, where, and what
//! to expect, so that kubeadm-dind-cluster's connectivity checks (seed-spec §6) and new ones are
//! data rather than shell code.
//!
//! This module is the pure part: the suite files ([`EMBEDDED`], `--suite-file`), their parser
//! ([`parse()`], errors with file:line:column and field), the model ([`Suite`], [`Check`]),
//! expanding checks into cases for one cluster ([`expand()`]), the command line each node or
//! pod case runs ([`shell()`]) and judging its result ([`judge()`], [`answer()`]). It touches no
//! engine; the runner (`kdc test run`) executes the cases and reports them.
//!
//! The format is documented in the README, "Test suites".

pub mod cell;
mod checks;
mod expand;
mod judge;
mod list;
pub(crate) mod model;
pub(crate) mod parse;
pub mod pods;
pub mod runner;
mod template;

use std::path::PathBuf;

pub use checks::{ACTIONS, describe};
pub use expand::{Case, Facts, OutputMatch, ResolvedExpect, Run, TargetsKind, Where, expand};
pub use judge::{Answers, Raw, answer, judge, shell};
pub use list::{listing, render_text};
pub use model::{
    Action, Check, DEFAULT_TIMEOUT, Expect, Family, NodeRef, OutputExpect, Place, Source, Suite,
    Via, When, show_duration,
};
pub use parse::parse;
pub use template::{INTERNET_DUALSTACK, INTERNET_IPV4ONLY, Template, Var, synthesize};

/// The suites compiled into kdc, `(name, text)`: `suites/<name>.toml` of the repository.
pub const EMBEDDED: [(&str, &str); 5] = [
    ("smoke", include_str!("../../suites/smoke.toml")),
    ("ipv4", include_str!("../../suites/ipv4.toml")),
    ("ipv6", include_str!("../../suites/ipv6.toml")),
    ("dual-stack", include_str!("../../suites/dual-stack.toml")),
    ("kubernetes", include_str!("../../suites/kubernetes.toml")),
];

/// Why suites could not be loaded or selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuiteError {
    /// A malformed suite file: where, and what is wrong with which field.
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read the suite file {path} ({message}); check the path given to --suite-file")]
    Read { path: String, message: String },
    #[error(
        "the suite file {path} is named {name:?}; a suite name (the file stem) may have only letters, digits, '-', '_' and '.'; rename the file"
    )]
    BadName { path: String, name: String },
    #[error(
        "the suite file {path} is named {name}, like the embedded suite suites/{name}.toml; rename the file"
    )]
    NameTaken { path: String, name: String },
    #[error("the suite files {first} and {second} are both named {name}; rename one of them")]
    SameName {
        first: String,
        second: String,
        name: String,
    },
    #[error("unknown suite {name:?}; known: {known}")]
    UnknownSuite { name: String, known: String },
    #[error("suite {suite} has no check {check:?}; known: {known}")]
    UnknownCheck {
        suite: String,
        check: String,
        known: String,
    },
}

/// The embedded suites, parsed. They are part of kdc, so a parse error is a bug (a test parses
/// them all).
pub fn embedded() -> Vec<Suite> {
    EMBEDDED
        .iter()
        .map(|(name, text)| match parse(name, Source::Embedded, text) {
            Ok(s) => s,
            Err(e) => panic!("embedded suite {name} is invalid: {e}"),
        })
        .collect()
}

/// The embedded suites and the user's files, in that order. A user file may not reuse a name.
pub fn load(extra: &[PathBuf]) -> Result<Vec<Suite>, SuiteError> {
    let mut suites = embedded();
    for path in extra {
        let shown = path.display().to_string();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(SuiteError::BadName { path: shown, name });
        }
        if let Some(other) = suites.iter().find(|s| s.name == name) {
            return Err(match &other.source {
                Source::Embedded => SuiteError::NameTaken { path: shown, name },
                Source::File(first) => SuiteError::SameName {
                    first: first.display().to_string(),
                    second: shown,
                    name,
                },
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| SuiteError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        suites.push(parse(&name, Source::File(path.clone()), &text)?);
    }
    Ok(suites)
}

/// The suites and checks named by `wanted`: `ipv6` (every check) or `ipv6/dns64-ipv4only` (one
/// check; repeat for more). Suites come in the order first named; a check list is empty for
/// "every check". Nothing named selects nothing.
pub fn select(suites: &[Suite], wanted: &[&str]) -> Result<Vec<(Suite, Vec<String>)>, SuiteError> {
    let mut out: Vec<(Suite, Option<Vec<String>>)> = Vec::new();
    for item in wanted {
        let (name, check) = match item.split_once('/') {
            Some((n, c)) => (n, Some(c)),
            None => (*item, None),
        };
        let Some(suite) = suites.iter().find(|s| s.name == name) else {
            let known: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
            return Err(SuiteError::UnknownSuite {
                name: name.to_string(),
                known: known.join(", "),
            });
        };
        if let Some(check) = check
            && suite.check(check).is_none()
        {
            let known: Vec<&str> = suite.checks.iter().map(|c| c.id.as_str()).collect();
            return Err(SuiteError::UnknownCheck {
                suite: name.to_string(),
                check: check.to_string(),
                known: known.join(", "),
            });
        }
        let at = match out.iter().position(|(s, _)| s.name == name) {
            Some(i) => i,
            None => {
                out.push((suite.clone(), Some(Vec::new())));
                out.len() - 1
            }
        };
        let checks = &mut out[at].1;
        match (check, checks.as_mut()) {
            // `None` means the whole suite was named: it stays whole.
            (None, _) => *checks = None,
            (Some(c), Some(list)) if !list.iter().any(|x| x == c) => list.push(c.to_string()),
            _ => {}
        }
    }
    Ok(out
        .into_iter()
        .map(|(s, checks)| (s, checks.unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests;
