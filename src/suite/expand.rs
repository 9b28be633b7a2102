//! Expanding a suite's checks into cases for one cluster: one case per check and place, with
//! every template resolved, or a skip reason saying why the case cannot run there.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::IpMode;
use crate::plan::{Node, Plan};

use super::checks;
use super::model::{Check, Expect, Family, NodeRef, OutputExpect, Place, Suite, Via};
use super::template::Template;

/// Which targets the suites use (`kdc test run --targets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TargetsKind {
    /// kdc's own (ipv4only.kdc.test, dualstack.kdc.test), on the shared targets network: no
    /// internet needed.
    #[default]
    Local,
    /// The original's internet hosts (ipv4.test-ipv6.noroutetohost.net, …), for hosts with egress.
    Internet,
}

/// What the runner knows about the cluster when it expands the suites.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub plan: &'a Plan,
    /// `DIND_ALLOW_AAAA_USE` as resolved (`Config::allow_aaaa_use`: always true in dual-stack
    /// mode, false in ipv4 mode). The plan does not carry it, so the runner passes it.
    pub allow_aaaa: bool,
    pub targets: TargetsKind,
    /// Internet targets only: name → the addresses the runner resolved on the host, or why not.
    pub target_addresses: BTreeMap<String, Result<Vec<IpAddr>, String>>,
    /// Node container name → its pod's addresses (the CNI sandbox's, or on Kubernetes kdc's
    /// pod's), or why there are none.
    pub pods: BTreeMap<String, Result<Vec<IpAddr>, String>>,
    /// Whether pods exist at all (`Err("CNI_PLUGIN=calico needs Kubernetes to run
    /// pods")`): every pod case is skipped with this reason.
    pub pods_possible: Result<(), String>,
    /// Whether kdc can check from the host (`Err("the engine is remote: …")`): every host case
    /// is skipped with this reason.
    pub host_possible: Result<(), String>,
    /// Whether the cluster holds host routes (`--host-routes`).
    pub host_routes: bool,
}

impl<'a> Facts<'a> {
    /// Facts for local targets with everything possible, no pod addresses yet and no host
    /// routes.
    pub fn new(plan: &'a Plan, allow_aaaa: bool) -> Facts<'a> {
        Facts {
            plan,
            allow_aaaa,
            targets: TargetsKind::Local,
            target_addresses: BTreeMap::new(),
            pods: BTreeMap::new(),
            pods_possible: Ok(()),
            host_possible: Ok(()),
            host_routes: false,
        }
    }
}

/// Where one case runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Where {
    Host,
    /// A node, by container name.
    Node(String),
    /// A node's pod (its CNI sandbox, or on Kubernetes kdc's pod on it), by the node's
    /// container name.
    Pod(String),
}

impl Where {
    /// The node's container name, for node and pod places.
    pub fn node(&self) -> Option<&str> {
        match self {
            Where::Host => None,
            Where::Node(n) | Where::Pod(n) => Some(n),
        }
    }

    /// As failure messages say it: `from the host`, `on kube-node-1`, `from the pod on kube-node-1`.
    pub fn phrase(&self) -> String {
        match self {
            Where::Host => "from the host".into(),
            Where::Node(n) => format!("on {n}"),
            Where::Pod(n) => format!("from the pod on {n}"),
        }
    }
}

/// As case names say it: `host`, `kube-node-1`, `pod on kube-node-1`.
impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Where::Host => f.write_str("host"),
            Where::Node(n) => f.write_str(n),
            Where::Pod(n) => write!(f, "pod on {n}"),
        }
    }
}

/// What a case runs, with templates resolved (or, in a skipped case, left as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    Lookup {
        name: String,
        family: Family,
        /// [`Via::Native`] on the host.
        via: Via,
    },
    Ping {
        to: String,
        family: Family,
    },
    Command {
        argv: Vec<String>,
    },
}

/// An expectation with its templates resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedExpect {
    StartsWith(String),
    NotStartsWith(String),
    Equals(Vec<IpAddr>),
    /// The answer of `check` at `place`, from the same suite.
    SameAs {
        check: String,
        place: Where,
    },
    Empty,
    Nonempty,
    Reachable,
    Unreachable,
    Exit {
        code: i64,
        output: Option<OutputMatch>,
    },
}

/// A resolved expectation on a command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputMatch {
    Contains(String),
    Equals(String),
}

/// One check at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub suite: String,
    pub check: String,
    pub what: String,
    pub place: Where,
    pub run: Run,
    pub expect: ResolvedExpect,
    pub timeout: Duration,
    /// Why the case cannot run in this cluster; the runner reports it as skipped.
    pub skip: Option<String>,
}

impl Case {
    /// The JUnit test case name: `dns64-ipv4only on pod on kube-node-1`.
    pub fn name(&self) -> String {
        format!("{} on {}", self.check, self.place)
    }

    /// The case whose answer this one compares with (`same_as`): judge that one first.
    pub fn depends_on(&self) -> Option<(&str, &Where)> {
        match &self.expect {
            ResolvedExpect::SameAs { check, place } => Some((check, place)),
            _ => None,
        }
    }
}

/// The node a suite means by `r`, or why the cluster has none: "needs kube-node-2; the
/// cluster has 1 worker".
pub fn node(plan: &Plan, r: NodeRef) -> Result<&Node, String> {
    let workers = plan.nodes.len() - 1;
    match r {
        NodeRef::Master => Ok(plan.master()),
        NodeRef::Worker(n) => plan.nodes.get(usize::from(n)).ok_or_else(|| {
            format!(
                "needs {}; the cluster has {workers} worker{}",
                node_name(plan, r),
                if workers == 1 { "" } else { "s" }
            )
        }),
    }
}

/// The container name of `r` in this cluster, whether or not it exists.
fn node_name(plan: &Plan, r: NodeRef) -> String {
    match r {
        NodeRef::Master => plan.master().name.clone(),
        NodeRef::Worker(n) => format!("kube-node-{n}{}", plan.cluster.suffix),
    }
}

/// The cases of `suite` for this cluster: the checks named in `checks` (all when empty), plus
/// the checks their `same_as` refers to; in suite order, then by place. A check whose `modes`
/// leave out the cluster's IP mode makes no cases.
pub fn expand(suite: &Suite, checks: &[String], facts: &Facts) -> Vec<Case> {
    let mut wanted: BTreeSet<&str> = if checks.is_empty() {
        suite.checks.iter().map(|c| c.id.as_str()).collect()
    } else {
        checks.iter().map(String::as_str).collect()
    };
    // same_as chains are short; repeat until nothing is added.
    loop {
        let more: Vec<&str> = suite
            .checks
            .iter()
            .filter(|c| wanted.contains(c.id.as_str()))
            .filter_map(|c| match &c.expect {
                Expect::SameAs(other) if !wanted.contains(other.as_str()) => Some(other.as_str()),
                _ => None,
            })
            .collect();
        if more.is_empty() {
            break;
        }
        wanted.extend(more);
    }

    let mut cases = Vec::new();
    for check in suite
        .checks
        .iter()
        .filter(|c| wanted.contains(c.id.as_str()))
    {
        if !applies(check, facts.plan.ip_mode) {
            continue;
        }
        for (place, missing) in places(check, facts.plan) {
            cases.push(case(suite, check, place, missing, facts));
        }
    }
    // A comparison with a case that does not run cannot run either.
    let skipped: BTreeMap<(String, Where), String> = cases
        .iter()
        .filter_map(|c| Some(((c.check.clone(), c.place.clone()), c.skip.clone()?)))
        .collect();
    for c in &mut cases {
        if c.skip.is_some() {
            continue;
        }
        if let Some((check, place)) = c.depends_on()
            && let Some(why) = skipped.get(&(check.to_string(), place.clone()))
        {
            c.skip = Some(format!(
                "the answer to compare with, of {check} on {place}, is not taken: {why}"
            ));
        }
    }
    cases
}

fn applies(check: &Check, mode: IpMode) -> bool {
    check.modes.as_ref().is_none_or(|m| m.contains(&mode))
}

/// The check's places in this cluster, in `on` order without repeats, each with the reason it
/// is missing (a worker the cluster does not have).
fn places(check: &Check, plan: &Plan) -> Vec<(Where, Option<String>)> {
    let mut out: Vec<(Where, Option<String>)> = Vec::new();
    let mut add = |w: Where, missing: Option<String>| {
        if !out.iter().any(|(o, _)| *o == w) {
            out.push((w, missing));
        }
    };
    for place in &check.on {
        match place {
            Place::Host => add(Where::Host, None),
            Place::Nodes => plan
                .nodes
                .iter()
                .for_each(|n| add(Where::Node(n.name.clone()), None)),
            Place::Pods => plan
                .nodes
                .iter()
                .for_each(|n| add(Where::Pod(n.name.clone()), None)),
            Place::Node(r) => add(Where::Node(node_name(plan, *r)), node(plan, *r).err()),
            Place::Pod(r) => add(Where::Pod(node_name(plan, *r)), node(plan, *r).err()),
        }
    }
    out
}

fn case(
    suite: &Suite,
    check: &Check,
    place: Where,
    missing: Option<String>,
    facts: &Facts,
) -> Case {
    let mut skip = when_unmet(check, facts).or(missing);
    if skip.is_none() {
        skip = match &place {
            Where::Host => facts.host_possible.clone().err(),
            Where::Pod(_) => facts.pods_possible.clone().err(),
            Where::Node(_) => None,
        };
    }
    let (run, run_skip) = checks::resolve_run(&check.action, &place, facts);
    skip = skip.or(run_skip);
    let (expect, expect_skip) = resolve_expect(suite, check, &place, facts);
    skip = skip.or(expect_skip);
    Case {
        suite: suite.name.clone(),
        check: check.id.clone(),
        what: check.what.clone(),
        place,
        run,
        expect,
        timeout: check.timeout,
        skip,
    }
}

/// Why the check's `when` conditions are not met in this cluster.
fn when_unmet(check: &Check, facts: &Facts) -> Option<String> {
    let plan = facts.plan;
    if let Some(want) = check.when.allow_aaaa
        && want != facts.allow_aaaa
    {
        return Some(match (want, plan.ip_mode) {
            (false, IpMode::DualStack) => {
                "dual-stack clusters always use real AAAA records (DIND_ALLOW_AAAA_USE is forced on)".into()
            }
            (false, _) => {
                "DIND_ALLOW_AAAA_USE is set: real AAAA records win (the original skipped this too)".into()
            }
            (true, IpMode::Ipv4) => "ipv4 clusters do not use AAAA records".into(),
            (true, _) => {
                "needs DIND_ALLOW_AAAA_USE=true: without it every AAAA record is synthesised (DNS64)".into()
            }
        });
    }
    if let Some(plugins) = &check.when.cni
        && !plugins.contains(&plan.cni_plugin)
    {
        let names: Vec<&str> = plugins.iter().map(|p| p.as_str()).collect();
        return Some(format!(
            "needs CNI_PLUGIN {} (the cluster has {})",
            or_list(&names),
            plan.cni_plugin.as_str()
        ));
    }
    match check.when.host_routes {
        Some(true) if !facts.host_routes => {
            Some("needs --host-routes (the host's route to the DNS64 prefix through tayga)".into())
        }
        Some(false) if facts.host_routes => {
            Some("the cluster holds host routes (--host-routes)".into())
        }
        _ => None,
    }
}

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Resolves a template, keeping its text as written when the cluster lacks a value.
pub(crate) fn resolve_text(t: &Template, facts: &Facts, skip: &mut Option<String>) -> String {
    match t.resolve(facts) {
        Ok(v) => v,
        Err(why) => {
            skip.get_or_insert(why);
            t.text().to_string()
        }
    }
}

fn resolve_expect(
    suite: &Suite,
    check: &Check,
    place: &Where,
    facts: &Facts,
) -> (ResolvedExpect, Option<String>) {
    let mut skip = None;
    let expect = match &check.expect {
        Expect::StartsWith(t) => {
            ResolvedExpect::StartsWith(prefix_text(&resolve_text(t, facts, &mut skip)))
        }
        Expect::NotStartsWith(t) => {
            ResolvedExpect::NotStartsWith(prefix_text(&resolve_text(t, facts, &mut skip)))
        }
        Expect::Equals(t) => {
            let text = resolve_text(t, facts, &mut skip);
            let mut addrs = Vec::new();
            if skip.is_none() {
                for piece in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match piece.parse::<IpAddr>() {
                        Ok(a) => addrs.push(a),
                        Err(_) => {
                            skip = Some(format!("expect.equals: {piece:?} is not an address"));
                        }
                    }
                }
            }
            ResolvedExpect::Equals(addrs)
        }
        Expect::SameAs(other) => {
            let place = match same_as_place(suite, other, place, facts) {
                Ok(p) => p,
                Err(why) => {
                    skip = Some(why);
                    place.clone()
                }
            };
            ResolvedExpect::SameAs {
                check: other.clone(),
                place,
            }
        }
        Expect::Empty => ResolvedExpect::Empty,
        Expect::Nonempty => ResolvedExpect::Nonempty,
        Expect::Reachable => ResolvedExpect::Reachable,
        Expect::Unreachable => ResolvedExpect::Unreachable,
        Expect::Exit { code, output } => ResolvedExpect::Exit {
            code: *code,
            output: output.as_ref().map(|o| match o {
                OutputExpect::Contains(t) => {
                    OutputMatch::Contains(resolve_text(t, facts, &mut skip))
                }
                OutputExpect::Equals(t) => OutputMatch::Equals(resolve_text(t, facts, &mut skip)),
            }),
        },
    };
    (expect, skip)
}

/// An address prefix in canonical form (RFC 5952): `fd00:10:64:ff9b:0::` → `fd00:10:64:ff9b::`;
/// any other text as it is.
fn prefix_text(t: &str) -> String {
    match t.parse::<IpAddr>() {
        Ok(a) if t.ends_with("::") => a.to_string(),
        _ => t.to_string(),
    }
}

/// The place whose answer a `same_as` case compares with: the referenced check's only place,
/// else the same place, else the same node (node or pod).
fn same_as_place(
    suite: &Suite,
    other: &str,
    place: &Where,
    facts: &Facts,
) -> Result<Where, String> {
    let check = suite
        .check(other)
        .expect("the parser checks that same_as names a check of the suite");
    if !applies(check, facts.plan.ip_mode) {
        return Err(format!(
            "same_as {other}: that check does not run in {} mode",
            facts.plan.ip_mode
        ));
    }
    let theirs: Vec<Where> = places(check, facts.plan)
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    if let [only] = theirs.as_slice() {
        return Ok(only.clone());
    }
    if theirs.contains(place) {
        return Ok(place.clone());
    }
    theirs
        .iter()
        .find(|w| w.node().is_some() && w.node() == place.node())
        .cloned()
        .ok_or_else(|| {
            let list: Vec<String> = theirs.iter().map(ToString::to_string).collect();
            format!(
                "same_as {other}: it runs at {}, and none of them is {place} or on its node",
                list.join(", ")
            )
        })
}
