//! `ping = { to = T, family = 4 | 6 }`: one ICMP echo, `ping -n -c1 -W<w> -4|-6 <to>` in a node
//! or pod (kdc's own ICMP on the host). `-n` avoids reverse lookups, which time out where
//! nothing answers them.

use toml::Spanned;
use toml::de::DeValue;

use crate::runtime::shell_quote;
use crate::suite::SuiteError;
use crate::suite::expand::{Facts, ResolvedExpect, Run, Where, resolve_text};
use crate::suite::judge::{Raw, summary};
use crate::suite::model::{Action, Expect, Family};
use crate::suite::parse::Cx;
use crate::suite::template::Template;

pub(super) const EXPECTS: &[&str] = &["reachable", "unreachable"];
pub(super) const DEFAULT: Expect = Expect::Reachable;

pub(super) fn parse(v: &Spanned<DeValue>, cx: &Cx) -> Result<Action, SuiteError> {
    let example = "{ to = \"{target.ipv4only}\", family = 6 }";
    let keys = cx.table(v, "ping", &["to", "family"], example)?;
    let (mut to, mut family) = (None, None);
    for (key, value) in keys {
        match key {
            "to" => to = Some((cx.template(value, "ping.to")?, value.span())),
            _ => {
                family = Some(match cx.integer(value, "ping.family")? {
                    4 => Family::V4,
                    6 => Family::V6,
                    n => {
                        return Err(cx.err(
                            &value.span(),
                            "ping.family",
                            format!("{n} is not an IP family; use 4 or 6"),
                        ));
                    }
                })
            }
        }
    }
    let (to, span) = to.ok_or_else(|| {
        cx.err(
            &v.span(),
            "ping",
            "missing key \"to\" (a name or an address)",
        )
    })?;
    let family =
        family.ok_or_else(|| cx.err(&v.span(), "ping", "missing key \"family\" (4 or 6)"))?;
    if let Some(f) = to.single_var().and_then(|var| var.address_family())
        && f != family
    {
        return Err(cx.err(
            &span,
            "ping.to",
            format!(
                "{} is an {} address, but family is {}",
                to.text(),
                f.name(),
                &family.flag()[1..]
            ),
        ));
    }
    Ok(Action::Ping { to, family })
}

pub(super) fn resolve(to: &Template, family: Family, facts: &Facts) -> (Run, Option<String>) {
    let mut skip = None;
    let to = resolve_text(to, facts, &mut skip);
    (Run::Ping { to, family }, skip)
}

/// Waits 2 s for the reply, 1 s when none is expected: negative checks set a round's length.
pub(super) fn shell(to: &str, family: Family, expect: &ResolvedExpect) -> String {
    let wait = if *expect == ResolvedExpect::Unreachable {
        1
    } else {
        2
    };
    format!("ping -n -c1 -W{wait} {} {}", family.flag(), shell_quote(to))
}

pub(super) fn describe(to: &str, family: Family, place: &Where) -> String {
    format!("ping {} {to} {}", family.flag(), place.phrase())
}

/// ping's verdict line (`1 packets transmitted, 0 received, 100% packet loss`, without the
/// varying time), else the output in one line.
fn detail(output: &str) -> String {
    match output.lines().find(|l| l.contains("packets transmitted")) {
        Some(line) => {
            let line = line.trim();
            line.find(", time ")
                .map_or(line, |i| &line[..i])
                .to_string()
        }
        None => summary(output),
    }
}

/// Exit 0 is a reply, 1 is none; anything else means ping could not try (a name that does not
/// resolve: exit 2), except that "Network is unreachable" is a clear no.
pub(super) fn judge(expect: &ResolvedExpect, raw: &Raw) -> Result<(), String> {
    let detail = detail(&raw.output);
    let tail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    match expect {
        ResolvedExpect::Reachable if raw.code == 0 => Ok(()),
        ResolvedExpect::Reachable => Err(format!(
            "expected a reply, got none (exit {}){tail}",
            raw.code
        )),
        ResolvedExpect::Unreachable => match raw.code {
            1 => Ok(()),
            2 if raw.output.contains("Network is unreachable") => Ok(()),
            0 => {
                let reply = raw
                    .output
                    .lines()
                    .find(|l| l.contains("bytes from"))
                    .map(str::trim);
                Err(format!(
                    "expected no reply, got one{}",
                    reply.map(|r| format!(": {r}")).unwrap_or_default()
                ))
            }
            code => Err(format!(
                "expected no reply, but ping failed (exit {code}){tail}"
            )),
        },
        other => unreachable!("the parser allows no {other:?} on a ping"),
    }
}
