//! `lookup = { name = T, type = "A" | "AAAA", via = "getent" | "dig" }`: a name's addresses of one
//! family, as a node (getent: its resolv.conf, what applications get), a pod (dig: its name
//! server directly: bind9 in a CNI sandbox, CoreDNS in a Kubernetes pod) or the host (kdc asks
//! the cluster's bind9) sees them.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};
use toml::Spanned;
use toml::de::DeValue;

use crate::runtime::shell_quote;
use crate::suite::SuiteError;
use crate::suite::expand::{Case, Facts, ResolvedExpect, Run, Where, resolve_text};
use crate::suite::judge::{Answers, Raw, summary};
use crate::suite::model::{Action, Expect, Family, Via};
use crate::suite::parse::Cx;
use crate::suite::template::Template;

pub(super) const EXPECTS: &[&str] = &[
    "starts_with",
    "not_starts_with",
    "equals",
    "same_as",
    "empty",
    "nonempty",
];
pub(super) const DEFAULT: Expect = Expect::Nonempty;

pub(super) fn parse(v: &Spanned<DeValue>, cx: &Cx) -> Result<Action, SuiteError> {
    let example = "{ name = \"{target.ipv4only}\", type = \"AAAA\" }";
    let keys = cx.table(v, "lookup", &["name", "type", "via"], example)?;
    let (mut name, mut family, mut via) = (None, None, None);
    for (key, value) in keys {
        match key {
            "name" => name = Some(cx.template(value, "lookup.name")?),
            "type" => {
                family = Some(match cx.string(value, "lookup.type")? {
                    "A" => Family::V4,
                    "AAAA" => Family::V6,
                    other => {
                        return Err(cx.err(
                            &value.span(),
                            "lookup.type",
                            format!("{other:?} is not a record type; use \"A\" or \"AAAA\""),
                        ));
                    }
                })
            }
            _ => {
                via = Some(match cx.string(value, "lookup.via")? {
                    "getent" => Via::Getent,
                    "dig" => Via::Dig,
                    other => {
                        return Err(cx.err(
                            &value.span(),
                            "lookup.via",
                            format!("{other:?} is not a way to look up; use \"getent\" or \"dig\""),
                        ));
                    }
                })
            }
        }
    }
    let name = name.ok_or_else(|| {
        cx.err(
            &v.span(),
            "lookup",
            "missing key \"name\" (the name to look up)",
        )
    })?;
    let family = family.ok_or_else(|| {
        cx.err(
            &v.span(),
            "lookup",
            "missing key \"type\" (\"A\" or \"AAAA\")",
        )
    })?;
    Ok(Action::Lookup { name, family, via })
}

/// getent on nodes and dig in pods unless the check says; on the host kdc looks up itself.
pub(super) fn resolve(
    name: &Template,
    family: Family,
    via: Option<Via>,
    place: &Where,
    facts: &Facts,
) -> (Run, Option<String>) {
    let via = match place {
        Where::Host => Via::Native,
        Where::Node(_) => via.unwrap_or(Via::Getent),
        Where::Pod(_) => via.unwrap_or(Via::Dig),
    };
    let mut skip = None;
    let name = resolve_text(name, facts, &mut skip);
    (Run::Lookup { name, family, via }, skip)
}

/// getent prints every address three times (STREAM, DGRAM, RAW): keep one. Without pipefail a
/// failed getent would make the pipeline exit 0.
pub(super) fn shell(name: &str, family: Family, via: Via) -> String {
    let name = shell_quote(name);
    match via {
        Via::Dig => format!("dig +short +time=2 +tries=1 {name} {}", family.record()),
        Via::Getent | Via::Native => {
            let db = match family {
                Family::V4 => "ahostsv4",
                Family::V6 => "ahostsv6",
            };
            format!("set -o pipefail; getent {db} {name} | awk '$2==\"STREAM\"{{print $1}}'")
        }
    }
}

pub(super) fn describe(name: &str, family: Family, via: Via, place: &Where) -> String {
    let how = match via {
        Via::Native => String::new(),
        other => format!(" ({})", other.as_str()),
    };
    format!("lookup {} {name} {}{how}", family.record(), place.phrase())
}

/// The addresses in the output: the first word of each line that is an address of the family,
/// in order, without repeats. CNAME lines of `dig +short` and error text are not addresses;
/// IPv4-mapped addresses, which `getent ahostsv6` returns for names with only an A record, do
/// not count as AAAA answers.
///
/// `None` when there was no answer: a timeout, dig failing (exit 9: no server answered), or
/// getent failing otherwise than "not found" (exit 2, which is also what a resolver that gets no
/// reply says, so an `empty` expectation should use dig).
pub(super) fn answer(family: Family, via: Via, raw: &Raw) -> Option<Vec<IpAddr>> {
    let answered = match via {
        Via::Getent => raw.code == 0 || raw.code == 2,
        Via::Dig | Via::Native => raw.code == 0,
    };
    if raw.timed_out || !answered {
        return None;
    }
    let mut out = Vec::new();
    for line in raw.output.lines() {
        let Some(word) = line.split_whitespace().next() else {
            continue;
        };
        let Ok(ip) = word.parse::<IpAddr>() else {
            continue;
        };
        let mapped = matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        if Family::of(&ip) == family && !mapped && !out.contains(&ip) {
            out.push(ip);
        }
    }
    Some(out)
}

/// Whether an address starts with a prefix text. An IPv6 prefix text (`fd00:10:64:ff9b::`) or a
/// CIDR is compared as a network, hextet by hextet, since the canonical text of an address in
/// it need not begin with the prefix's text (RFC 6052 /64: `fd00:10:64:ff9b:c6:1200:a00:0`);
/// any other text is compared with the address's canonical text.
pub(crate) fn starts_with(ip: &IpAddr, prefix: &str) -> bool {
    if let Ok(net) = prefix.parse::<IpNet>() {
        return net.contains(ip);
    }
    if prefix.ends_with("::")
        && let Ok(p) = prefix.parse::<Ipv6Addr>()
    {
        let hextets = p.segments();
        let len = hextets
            .iter()
            .rposition(|h| *h != 0)
            .map_or(0, |i| (i + 1) * 16);
        let net = Ipv6Net::new(p, len as u8).expect("at most 128");
        return matches!(ip, IpAddr::V6(v6) if net.contains(v6));
    }
    ip.to_string().starts_with(prefix)
}

fn list(addrs: &[IpAddr]) -> String {
    if addrs.is_empty() {
        "none".into()
    } else {
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What came back: the addresses (`none`), or `no answer`; with the exit code and output when
/// the lookup failed.
fn got(answer: &Option<Vec<IpAddr>>, raw: &Raw) -> String {
    let mut text = match answer {
        Some(addrs) => list(addrs),
        None => "no answer".into(),
    };
    if raw.code != 0 {
        text.push_str(&format!(" (exit {})", raw.code));
        // dig's messages begin with its comment marker ";;".
        let lines: Vec<&str> = raw
            .output
            .lines()
            .map(|l| l.trim_start_matches([';', ' ']))
            .collect();
        let out = summary(&lines.join("\n"));
        if !out.is_empty() {
            text.push_str(&format!(": {out}"));
        }
    }
    text
}

fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

pub(super) fn judge(
    case: &Case,
    family: Family,
    via: Via,
    raw: &Raw,
    answers: &Answers,
) -> Result<(), String> {
    let answer = answer(family, via, raw);
    let addrs = answer.as_deref().unwrap_or_default();
    let got = got(&answer, raw);
    let (ok, expected) = match &case.expect {
        ResolvedExpect::StartsWith(p) => (
            !addrs.is_empty() && addrs.iter().all(|a| starts_with(a, p)),
            format!("addresses starting with {p}"),
        ),
        ResolvedExpect::NotStartsWith(p) => (
            !addrs.is_empty() && !addrs.iter().any(|a| starts_with(a, p)),
            format!("addresses not starting with {p}"),
        ),
        ResolvedExpect::Equals(want) => (answer.is_some() && same_set(addrs, want), list(want)),
        ResolvedExpect::SameAs { check, place } => {
            let Some(theirs) = answers.get(&case.suite, check, place) else {
                return Err(format!(
                    "the answer of {check} on {place} to compare with is missing"
                ));
            };
            (
                answer.is_some() && same_set(addrs, theirs),
                format!("the answer of {check} on {place} ({})", list(theirs)),
            )
        }
        ResolvedExpect::Empty => (answer.is_some() && addrs.is_empty(), "no addresses".into()),
        ResolvedExpect::Nonempty => (!addrs.is_empty(), "addresses".into()),
        other => unreachable!("the parser allows no {other:?} on a lookup"),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {got}"))
    }
}
