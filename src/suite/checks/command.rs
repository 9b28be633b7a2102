//! `command = ["argv", …]`: a command in a node (argv as shell words) or a pod (the same under
//! `ip netns exec pod`, or `kubectl exec` on Kubernetes). Never on the host: kdc runs no local
//! commands for suites.

use toml::Spanned;
use toml::de::DeValue;

use crate::runtime::shell_quote;
use crate::suite::SuiteError;
use crate::suite::expand::{Facts, OutputMatch, ResolvedExpect, Run, Where, resolve_text};
use crate::suite::judge::{Raw, summary};
use crate::suite::model::{Action, Expect};
use crate::suite::parse::Cx;
use crate::suite::template::Template;

pub(super) const EXPECTS: &[&str] = &["exit", "output_contains", "output_equals"];
pub(super) const DEFAULT: Expect = Expect::Exit {
    code: 0,
    output: None,
};
pub(super) const ON_HOST: &str = "a command cannot run on the host; run it on nodes or pods";

pub(super) fn parse(v: &Spanned<DeValue>, cx: &Cx) -> Result<Action, SuiteError> {
    let argv = cx
        .strings(v, "command", "[\"systemctl\", \"is-system-running\"]")?
        .into_iter()
        .map(|(text, span)| Template::parse(text).map_err(|m| cx.err(&span, "command", m)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Action::Command { argv })
}

pub(super) fn resolve(argv: &[Template], facts: &Facts) -> (Run, Option<String>) {
    let mut skip = None;
    let argv = argv
        .iter()
        .map(|t| resolve_text(t, facts, &mut skip))
        .collect();
    (Run::Command { argv }, skip)
}

pub(super) fn shell(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn describe(argv: &[String], place: &Where) -> String {
    format!("`{}` {}", shell(argv), place.phrase())
}

/// Output in messages: one line, at most 300 characters.
fn quoted(output: &str) -> String {
    format!("{:?}", summary(output))
}

pub(super) fn judge(expect: &ResolvedExpect, raw: &Raw) -> Result<(), String> {
    let ResolvedExpect::Exit { code, output } = expect else {
        unreachable!("the parser allows only exit and output_* on a command")
    };
    if raw.code != *code {
        let out = summary(&raw.output);
        let tail = if out.is_empty() {
            String::new()
        } else {
            format!(": {out}")
        };
        return Err(format!("expected exit {code}, got exit {}{tail}", raw.code));
    }
    let text = raw.output.trim();
    match output {
        Some(OutputMatch::Equals(want)) if text != want => {
            Err(format!("expected output {want:?}, got {}", quoted(text)))
        }
        Some(OutputMatch::Contains(want)) if !text.contains(want.as_str()) => Err(format!(
            "expected output containing {want:?}, got {}",
            quoted(text)
        )),
        _ => Ok(()),
    }
}
