//! Templates: `{…}` in names, addresses, argv and expectations, so that one suite works for any
//! cluster (label, CLUSTER_ID, subnets, DNS64 prefix) and for both kinds of targets.
//!
//! Names are checked when the file is parsed (an unknown one is a parse error); values are
//! resolved per cluster by [`Template::resolve`], and a value the cluster does not have (no
//! DNS64, no IPv4, a missing worker, an unknown pod address) is the reason the case is skipped.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::Ipv6Net;

use super::expand::{Facts, TargetsKind, node};
use super::model::{Family, NodeRef};

/// Every template name, for the "unknown template" error.
pub const KNOWN: &str = "{target.ipv4only}, {target.dualstack}, {target.ipv4only.ipv4}, \
{target.dualstack.ipv4}, {target.dualstack.ipv6}, {dns64.prefix}, {dns64.ipv4only}, {dns.ipv4}, \
{dns.ipv6}, {node.<master|node-N>.<ipv4|ipv6|name>}, {pod.<master|node-N>.<ipv4|ipv6>}";

/// The legacy internet targets of kubeadm-dind-cluster's suite (`--targets internet`).
pub const INTERNET_IPV4ONLY: &str = "ipv4.test-ipv6.noroutetohost.net";
pub const INTERNET_DUALSTACK: &str = "ds.test-ipv6.noroutetohost.net";

/// Text with `{name}` placeholders; `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

/// One of the two test targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetId {
    Ipv4only,
    Dualstack,
}

impl TargetId {
    fn key(self) -> &'static str {
        match self {
            TargetId::Ipv4only => "ipv4only",
            TargetId::Dualstack => "dualstack",
        }
    }
}

/// A template name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// `{target.ipv4only}`: the target's DNS name.
    TargetName(TargetId),
    /// `{target.dualstack.ipv6}`: the target's address of a family.
    TargetAddr(TargetId, Family),
    /// `{dns64.prefix}`: the DNS64 prefix's address text, `fd00:10:64:ff9b::`.
    Dns64Prefix,
    /// `{dns64.ipv4only}`: the IPv4-only target's address synthesised with the DNS64 prefix.
    Dns64Ipv4only,
    /// `{node.master.ipv6}`: a node's management address.
    NodeAddr(NodeRef, Family),
    /// `{node.node-1.name}`: a node's container (and host) name.
    NodeName(NodeRef),
    /// `{pod.node-1.ipv4}`: the address of a node's pod (known at run time).
    PodAddr(NodeRef, Family),
    /// `{dns.ipv4}`: bind9's address.
    DnsAddr(Family),
}

impl Var {
    fn parse(name: &str) -> Option<Var> {
        let parts: Vec<&str> = name.split('.').collect();
        let family = |s: &str| match s {
            "ipv4" => Some(Family::V4),
            "ipv6" => Some(Family::V6),
            _ => None,
        };
        Some(match parts.as_slice() {
            ["target", "ipv4only"] => Var::TargetName(TargetId::Ipv4only),
            ["target", "dualstack"] => Var::TargetName(TargetId::Dualstack),
            ["target", "ipv4only", "ipv4"] => Var::TargetAddr(TargetId::Ipv4only, Family::V4),
            ["target", "dualstack", f] => Var::TargetAddr(TargetId::Dualstack, family(f)?),
            ["dns64", "prefix"] => Var::Dns64Prefix,
            ["dns64", "ipv4only"] => Var::Dns64Ipv4only,
            ["dns", f] => Var::DnsAddr(family(f)?),
            ["node", r, "name"] => Var::NodeName(NodeRef::parse(r)?),
            ["node", r, f] => Var::NodeAddr(NodeRef::parse(r)?, family(f)?),
            ["pod", r, f] => Var::PodAddr(NodeRef::parse(r)?, family(f)?),
            _ => return None,
        })
    }

    /// The family of the address this name stands for; `None` for names and the prefix.
    pub fn address_family(&self) -> Option<Family> {
        match self {
            Var::TargetAddr(_, f) | Var::NodeAddr(_, f) | Var::PodAddr(_, f) | Var::DnsAddr(f) => {
                Some(*f)
            }
            Var::Dns64Ipv4only => Some(Family::V6),
            Var::TargetName(_) | Var::Dns64Prefix | Var::NodeName(_) => None,
        }
    }

    /// The value for this cluster, or why it has none (the case's skip reason).
    pub fn resolve(&self, facts: &Facts) -> Result<String, String> {
        let plan = facts.plan;
        let of_family =
            |addrs: &[IpAddr], f: Family| addrs.iter().find(|a| Family::of(a) == f).copied();
        let no_family = |f: Family| format!("the cluster has no {}", f.name());
        match *self {
            Var::TargetName(t) => Ok(target_name(facts, t)),
            Var::TargetAddr(t, f) => target_address(facts, t, f).map(|a| a.to_string()),
            Var::Dns64Prefix => dns64_prefix(facts).map(|p| p.network().to_string()),
            Var::Dns64Ipv4only => {
                let prefix = dns64_prefix(facts)?;
                match target_address(facts, TargetId::Ipv4only, Family::V4)? {
                    IpAddr::V4(v4) => Ok(synthesize(prefix, v4).to_string()),
                    IpAddr::V6(_) => unreachable!("an IPv4 address was asked for"),
                }
            }
            Var::NodeName(r) => Ok(node(plan, r)?.name.clone()),
            Var::NodeAddr(r, f) => of_family(&node(plan, r)?.addresses, f)
                .map(|a| a.to_string())
                .ok_or_else(|| no_family(f)),
            Var::PodAddr(r, f) => {
                let name = &node(plan, r)?.name;
                facts.pods_possible.clone()?;
                match facts.pods.get(name) {
                    None => Err(format!("the address of the pod on {name} is not known")),
                    Some(Err(why)) => Err(why.clone()),
                    Some(Ok(addrs)) => of_family(addrs, f)
                        .map(|a| a.to_string())
                        .ok_or_else(|| format!("the pod on {name} has no {} address", f.name())),
                }
            }
            Var::DnsAddr(f) => of_family(&plan.dns.addresses, f)
                .map(|a| a.to_string())
                .ok_or_else(|| no_family(f)),
        }
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::TargetName(t) => write!(f, "{{target.{}}}", t.key()),
            Var::TargetAddr(t, fam) => write!(f, "{{target.{}.{}}}", t.key(), fam.key()),
            Var::Dns64Prefix => f.write_str("{dns64.prefix}"),
            Var::Dns64Ipv4only => f.write_str("{dns64.ipv4only}"),
            Var::NodeAddr(r, fam) => write!(f, "{{node.{r}.{}}}", fam.key()),
            Var::NodeName(r) => write!(f, "{{node.{r}.name}}"),
            Var::PodAddr(r, fam) => write!(f, "{{pod.{r}.{}}}", fam.key()),
            Var::DnsAddr(fam) => write!(f, "{{dns.{}}}", fam.key()),
        }
    }
}

fn target_name(facts: &Facts, t: TargetId) -> String {
    match (facts.targets, t) {
        (TargetsKind::Local, TargetId::Ipv4only) => facts.plan.targets.ipv4only.name.clone(),
        (TargetsKind::Local, TargetId::Dualstack) => facts.plan.targets.dualstack.name.clone(),
        (TargetsKind::Internet, TargetId::Ipv4only) => INTERNET_IPV4ONLY.to_string(),
        (TargetsKind::Internet, TargetId::Dualstack) => INTERNET_DUALSTACK.to_string(),
    }
}

/// A target's address of a family: from the plan for kdc's own targets; for internet targets
/// what the runner resolved on the host.
fn target_address(facts: &Facts, t: TargetId, f: Family) -> Result<IpAddr, String> {
    let name = target_name(facts, t);
    let addrs = match facts.targets {
        TargetsKind::Local => match t {
            TargetId::Ipv4only => facts.plan.targets.ipv4only.addresses.clone(),
            TargetId::Dualstack => facts.plan.targets.dualstack.addresses.clone(),
        },
        TargetsKind::Internet => match facts.target_addresses.get(&name) {
            None => {
                return Err(format!(
                    "the address of {name} is not known: it was not looked up"
                ));
            }
            Some(Err(why)) => return Err(format!("the address of {name} is not known: {why}")),
            Some(Ok(addrs)) => addrs.clone(),
        },
    };
    addrs
        .into_iter()
        .find(|a| Family::of(a) == f)
        .ok_or_else(|| {
            format!(
                "the address of {name} is not known: it has no {} address",
                f.name()
            )
        })
}

fn dns64_prefix(facts: &Facts) -> Result<Ipv6Net, String> {
    facts
        .plan
        .dns
        .dns64
        .ok_or_else(|| "the cluster has no DNS64".to_string())
}

/// The IPv4-embedded IPv6 address of RFC 6052 §2.2: the IPv4 address follows the prefix, skipping
/// bits 64-71 (the "u" octet, always zero), and the rest is zero. For /96 that is the last 32 bits.
/// The prefix length must be one of RFC 6052's (32, 40, 48, 56, 64, 96), which the configuration
/// enforces for `DNS64_PREFIX_SIZE`.
pub fn synthesize(prefix: Ipv6Net, v4: Ipv4Addr) -> Ipv6Addr {
    let mut bytes = prefix.network().octets();
    let mut at = usize::from(prefix.prefix_len() / 8);
    for octet in v4.octets() {
        if at == 8 {
            at = 9; // the u octet
        }
        bytes[at] = octet;
        at += 1;
    }
    Ipv6Addr::from(bytes)
}

impl Template {
    /// Parses the placeholders of `text`; the error is the message (the caller adds where).
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if tail.starts_with('}') {
                return Err("a lone \"}\"; write }} for a literal brace".into());
            } else {
                let Some(end) = tail.find('}') else {
                    return Err(format!(
                        "unclosed template \"{tail}\"; write {{{{ for a literal brace"
                    ));
                };
                let name = &tail[1..end];
                let var = Var::parse(name)
                    .ok_or_else(|| format!("unknown template {{{name}}}; known: {KNOWN}"))?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Var(var));
                rest = &tail[end + 1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template {
            text: text.to_string(),
            parts,
        })
    }

    /// The text as written in the suite file.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The template's names, in order.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Text(_) => None,
        })
    }

    /// The name, when the template is exactly one placeholder (`"{pod.node-1.ipv6}"`).
    pub fn single_var(&self) -> Option<&Var> {
        match self.parts.as_slice() {
            [Part::Var(v)] => Some(v),
            _ => None,
        }
    }

    /// The text with every placeholder replaced by its value for this cluster, or the reason
    /// one has none.
    pub fn resolve(&self, facts: &Facts) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&v.resolve(facts)?),
            }
        }
        Ok(out)
    }
}
