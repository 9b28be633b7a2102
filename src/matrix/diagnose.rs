//! What failed, first: a few lines per failed cell, printed above its blob, so a reader of a
//! CI log knows where to look before splitting the blob. Pure: it reads what the cell recorded
//! (its failed cases, and its containers' states when the failure was seen).

use std::collections::BTreeMap;

use crate::cluster::support::{ROLE_DNS, ROLE_ROUTER};
use crate::report::junit::KDC_CLASS;
use crate::suite::cell::CellResult;

/// The diagnosis of one cluster of a cell; empty when nothing failed.
pub fn diagnose(label: &str, r: &CellResult) -> Vec<String> {
    let mut out = Vec::new();
    if r.interrupted {
        out.push(format!("cluster {label}: interrupted"));
        return out;
    }
    for f in r.failures.iter().filter(|f| f.class == KDC_CLASS) {
        let first = f.message.lines().next().unwrap_or_default();
        out.push(match f.name.as_str() {
            "Up" => format!("cluster {label} did not come up: {first}"),
            step => format!("the {step} step failed: {first}"),
        });
    }
    let stopped: Vec<_> = r
        .containers
        .iter()
        .filter(|c| c.state != "running")
        .collect();
    for c in &stopped {
        let what = if c.role.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.role)
        };
        out.push(format!("{}{what} is {}, not running", c.name, c.state));
    }
    let checks: Vec<_> = r.failures.iter().filter(|f| f.class != KDC_CLASS).collect();
    if checks.is_empty() {
        return out;
    }
    // check → places it failed on
    let mut by_check: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for f in &checks {
        let (id, place) = f.name.split_once(" on ").unwrap_or((&f.name, ""));
        by_check
            .entry(format!("{}/{id}", f.class))
            .or_default()
            .push(place);
    }
    let listed: Vec<String> = by_check
        .iter()
        .take(6)
        .map(|(id, places)| format!("{id} ({})", places.len()))
        .collect();
    out.push(format!(
        "{} failed case{} of {} check{}: {}{}",
        checks.len(),
        crate::text::plural(checks.len()),
        by_check.len(),
        crate::text::plural(by_check.len()),
        listed.join(", "),
        if by_check.len() > 6 { ", …" } else { "" }
    ));
    let support = |role: &str| {
        r.containers
            .iter()
            .find(|c| c.role == role)
            .map_or_else(|| format!("the {role} container"), |c| c.name.clone())
    };
    let all = |p: &dyn Fn(&crate::suite::cell::Failure) -> bool| checks.iter().all(|f| p(f));
    let hint = if stopped
        .iter()
        .any(|c| c.role == ROLE_ROUTER || c.role == ROLE_DNS)
    {
        None
    } else if all(&|f| f.name.contains("nat64") || f.message.contains("ff9b")) {
        Some(format!(
            "every failure is on the NAT64 path: look at the router {} (tayga.conf, its map and log in the dump)",
            support(ROLE_ROUTER)
        ))
    } else if all(&|f| f.message.starts_with("lookup ")) {
        Some(format!(
            "every failure is a lookup: look at the name server {} (named.conf, the zone, its log in the dump)",
            support(ROLE_DNS)
        ))
    } else if all(&|f| f.name.contains(" on pod ") || f.message.contains("from the pod")) {
        Some("only pod checks failed: look at the pod sandboxes and CNI configs (pod-<node>.txt, cni-<node>.txt in the dump)".to_string())
    } else {
        let nodes: std::collections::BTreeSet<&str> = checks
            .iter()
            .filter_map(|f| f.name.rsplit(" on ").next())
            .collect();
        (nodes.len() == 1 && checks.len() > 1).then(|| {
            format!(
                "every failure is on {}: look at its files in the dump",
                nodes.iter().next().unwrap()
            )
        })
    };
    out.extend(hint);
    out
}
