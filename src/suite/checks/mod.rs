//! The action kinds, one file each: how a kind is parsed, which expectations fit it, its
//! command line in a node or pod, how it is described in messages, and how its result is judged.
//!
//! This file only dispatches on the kind. To add a kind: a variant in [`Action`] and in
//! [`Run`], a file here with the same functions as `ping.rs` (`parse`, `EXPECTS`, `DEFAULT`,
//! `resolve`, `shell`, `describe`, `judge`), its key in [`ACTIONS`], and one arm in each
//! function below. The parser, expansion and judging need no other change.

mod command;
mod lookup;
mod ping;

use std::net::IpAddr;

use toml::Spanned;
use toml::de::DeValue;

use super::SuiteError;
use super::expand::{Case, Facts, Run, Where};
use super::judge::{Answers, Raw};
use super::model::{Action, Expect};
use super::parse::Cx;

/// The keys that introduce an action in a check, in the order error messages list them.
pub const ACTIONS: [&str; 3] = ["lookup", "ping", "command"];

/// Parses the value of the action key `kind` (one of [`ACTIONS`]).
pub(crate) fn parse(kind: &str, v: &Spanned<DeValue>, cx: &Cx) -> Result<Action, SuiteError> {
    match kind {
        "lookup" => lookup::parse(v, cx),
        "ping" => ping::parse(v, cx),
        "command" => command::parse(v, cx),
        _ => unreachable!("the parser passes only ACTIONS"),
    }
}

/// The expectation keys that fit the action.
pub(crate) fn expectations(a: &Action) -> &'static [&'static str] {
    match a {
        Action::Lookup { .. } => lookup::EXPECTS,
        Action::Ping { .. } => ping::EXPECTS,
        Action::Command { .. } => command::EXPECTS,
    }
}

/// The expectation when a check gives none.
pub(crate) fn default_expect(a: &Action) -> Expect {
    match a {
        Action::Lookup { .. } => lookup::DEFAULT,
        Action::Ping { .. } => ping::DEFAULT,
        Action::Command { .. } => command::DEFAULT,
    }
}

/// Why the action cannot run on the host, if it cannot.
pub(crate) fn host_refusal(a: &Action) -> Option<&'static str> {
    match a {
        Action::Command { .. } => Some(command::ON_HOST),
        Action::Lookup { .. } | Action::Ping { .. } => None,
    }
}

/// What the action runs at `place`, with templates resolved; the second value is why a template
/// has no value in this cluster (the run then keeps the template's text).
pub(crate) fn resolve_run(a: &Action, place: &Where, facts: &Facts) -> (Run, Option<String>) {
    match a {
        Action::Lookup { name, family, via } => lookup::resolve(name, *family, *via, place, facts),
        Action::Ping { to, family } => ping::resolve(to, *family, facts),
        Action::Command { argv } => command::resolve(argv, facts),
    }
}

/// The `bash -c` command line of a node or pod case as it runs in a node: a pod case wrapped
/// in `ip netns exec pod` (the node's CNI sandbox; on Kubernetes the runner runs [`command`] in
/// kdc's pod instead). `None` for host cases, which kdc runs itself.
pub fn shell(case: &Case) -> Option<String> {
    let cmd = command(case)?;
    match &case.place {
        Where::Host => None,
        Where::Node(_) => Some(cmd),
        Where::Pod(_) => Some(format!(
            "ip netns exec pod bash -c {}",
            crate::runtime::shell_quote(&cmd)
        )),
    }
}

/// The command of a node or pod case itself, as it runs where the case is (a node, a pod);
/// `None` for host cases.
pub fn command(case: &Case) -> Option<String> {
    if case.place == Where::Host {
        return None;
    }
    Some(match &case.run {
        Run::Lookup { name, family, via } => lookup::shell(name, *family, *via),
        Run::Ping { to, family } => ping::shell(to, *family, &case.expect),
        Run::Command { argv } => command::shell(argv),
    })
}

/// What ran where, as failure messages begin.
pub fn describe(case: &Case) -> String {
    match &case.run {
        Run::Lookup { name, family, via } => lookup::describe(name, *family, *via, &case.place),
        Run::Ping { to, family } => ping::describe(to, *family, &case.place),
        Run::Command { argv } => command::describe(argv, &case.place),
    }
}

/// Judges a finished (not timed out) case: `Err` is what was expected and what came back.
pub(crate) fn judge(case: &Case, raw: &Raw, answers: &Answers) -> Result<(), String> {
    match &case.run {
        Run::Lookup { family, via, .. } => lookup::judge(case, *family, *via, raw, answers),
        Run::Ping { .. } => ping::judge(&case.expect, raw),
        Run::Command { .. } => command::judge(&case.expect, raw),
    }
}

/// The addresses a lookup case got, `None` when it got no answer (see [`super::answer`]).
pub(crate) fn answer(case: &Case, raw: &Raw) -> Option<Vec<IpAddr>> {
    match &case.run {
        Run::Lookup { family, via, .. } => lookup::answer(*family, *via, raw),
        Run::Ping { .. } | Run::Command { .. } => None,
    }
}
