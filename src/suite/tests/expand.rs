//! Expansion on real plans: which cases exist in each IP mode, which are skipped and why, the
//! values templates take, and the exact commands nodes and pods run.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::Ipv6Net;

use super::*;
use crate::config::IpMode;

/// Pod sandbox addresses as kdc's CNI config gives them (RECIPE.md §3.6): the node's pod
/// subnet's host 2, canonical form (`fd00:40:0:0:2::/80` → `fd00:40::2:0:0:2`).
fn pods_of(plan: &Plan) -> BTreeMap<String, Result<Vec<IpAddr>, String>> {
    plan.nodes
        .iter()
        .map(|n| {
            let id = n.node_id;
            let mut v: Vec<IpAddr> = Vec::new();
            if plan.ip_mode != IpMode::Ipv6 {
                v.push(format!("10.244.{id}.2").parse().unwrap());
            }
            if plan.ip_mode != IpMode::Ipv4 {
                v.push(format!("fd00:40::{id}:0:0:2").parse().unwrap());
            }
            (n.name.clone(), Ok(v))
        })
        .collect()
}

fn facts(plan: &Plan, allow_aaaa: bool) -> Facts<'_> {
    let mut f = Facts::new(plan, allow_aaaa);
    f.pods = pods_of(plan);
    f
}

/// `(check, cases, skipped)` in suite order.
fn per_check(cases: &[Case]) -> Vec<(String, usize, usize)> {
    let mut out: Vec<(String, usize, usize)> = Vec::new();
    for c in cases {
        if out.last().is_none_or(|(id, _, _)| *id != c.check) {
            out.push((c.check.clone(), 0, 0));
        }
        let last = out.last_mut().unwrap();
        last.1 += 1;
        last.2 += usize::from(c.skip.is_some());
    }
    out
}

fn rows(expected: &[(&str, usize, usize)]) -> Vec<(String, usize, usize)> {
    expected
        .iter()
        .map(|(id, n, s)| (id.to_string(), *n, *s))
        .collect()
}

/// `name: reason` of every skipped case.
fn skips(cases: &[Case]) -> Vec<String> {
    cases
        .iter()
        .filter_map(|c| Some(format!("{}: {}", c.name(), c.skip.as_ref()?)))
        .collect()
}

fn find<'c>(cases: &'c [Case], name: &str) -> &'c Case {
    cases
        .iter()
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// Why the host's NAT64 check is skipped without `--host-routes`.
const HOST_ROUTES: &str =
    "needs --host-routes (the host's route to the DNS64 prefix through tayga)";

#[test]
fn ipv6_suite_in_an_ipv6_cluster() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6")]);
    assert!(!aaaa);
    let cases = expand(&embedded_suite("ipv6"), &[], &facts(&plan, aaaa));
    assert_eq!(
        per_check(&cases),
        rows(&[
            ("dns64-ipv4only", 6, 0),
            ("dns64-ipv4only-pod-getent", 3, 0),
            ("dns64-ipv4only-host", 1, 0),
            ("dns64-always", 6, 0),
            ("aaaa-dualstack-host", 1, 0),
            ("real-aaaa", 6, 6),
            ("real-aaaa-as-host", 1, 1),
            ("pod-to-pod", 2, 0),
            ("pod-to-node", 1, 0),
            ("nat64-ipv4only", 6, 0),
            ("nat64-by-address", 3, 0),
            ("nat64-host", 1, 1),
            ("external-dualstack", 6, 0),
            ("no-ipv4-path", 3, 0),
            ("host-to-master", 1, 0),
        ])
    );
    let why = "needs DIND_ALLOW_AAAA_USE=true: without it every AAAA record is synthesised (DNS64)";
    let mut want: Vec<String> = [
        "real-aaaa on kube-master",
        "real-aaaa on kube-node-1",
        "real-aaaa on kube-node-2",
        "real-aaaa on pod on kube-master",
        "real-aaaa on pod on kube-node-1",
        "real-aaaa on pod on kube-node-2",
        "real-aaaa-as-host on kube-node-1",
    ]
    .map(|n| format!("{n}: {why}"))
    .into();
    want.push(format!("nat64-host on host: {HOST_ROUTES}"));
    assert_eq!(skips(&cases), want);
    // With `--host-routes` the host's NAT64 check runs, pinging the synthesised address.
    let mut f = facts(&plan, aaaa);
    f.host_routes = true;
    let routed = expand(&embedded_suite("ipv6"), &["nat64-host".into()], &f);
    assert_eq!(routed.len(), 1);
    assert_eq!(routed[0].skip, None);
    assert_eq!(
        routed[0].run,
        Run::Ping {
            to: "fd00:10:64:ff9b::c612:a".into(),
            family: Family::V6
        }
    );
    // RFC 6052 /96: 198.18.0.10 = c6.12.00.0a.
    let c = find(&cases, "dns64-ipv4only on pod on kube-node-1");
    assert_eq!(
        c.expect,
        ResolvedExpect::Equals(vec!["fd00:10:64:ff9b::c612:a".parse().unwrap()])
    );
    assert_eq!(
        c.run,
        Run::Lookup {
            name: "ipv4only.kdc.test".into(),
            family: Family::V6,
            via: Via::Dig
        }
    );
    assert_eq!(
        find(&cases, "dns64-always on kube-node-2").expect,
        ResolvedExpect::StartsWith("fd00:10:64:ff9b::".into())
    );
    assert_eq!(
        find(&cases, "aaaa-dualstack-host on host").run,
        Run::Lookup {
            name: "dualstack.kdc.test".into(),
            family: Family::V6,
            via: Via::Native
        }
    );
    assert_eq!(
        find(&cases, "pod-to-pod on pod on kube-node-2").run,
        Run::Ping {
            to: "fd00:40::2:0:0:2".into(),
            family: Family::V6
        }
    );
    assert_eq!(
        find(&cases, "no-ipv4-path on kube-node-1").run,
        Run::Ping {
            to: "198.18.0.10".into(),
            family: Family::V4
        }
    );
    assert_eq!(
        find(&cases, "host-to-master on host").run,
        Run::Ping {
            to: "fd00:20::2".into(),
            family: Family::V6
        }
    );
}

#[test]
fn ipv6_suite_with_aaaa_allowed() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6"), ("DIND_ALLOW_AAAA_USE", "true")]);
    assert!(aaaa);
    let cases = expand(&embedded_suite("ipv6"), &[], &facts(&plan, aaaa));
    let why = "DIND_ALLOW_AAAA_USE is set: real AAAA records win (the original skipped this too)";
    assert_eq!(
        skips(&cases),
        [
            "dns64-always on kube-master",
            "dns64-always on kube-node-1",
            "dns64-always on kube-node-2",
            "dns64-always on pod on kube-master",
            "dns64-always on pod on kube-node-1",
            "dns64-always on pod on kube-node-2",
        ]
        .map(|n| format!("{n}: {why}"))
        .into_iter()
        .chain([format!("nat64-host on host: {HOST_ROUTES}")])
        .collect::<Vec<_>>()
    );
    assert_eq!(
        find(&cases, "real-aaaa on pod on kube-node-2").expect,
        ResolvedExpect::Equals(vec!["fd00:198:18::11".parse().unwrap()])
    );
    let c = find(&cases, "real-aaaa-as-host on kube-node-1");
    assert_eq!(
        c.expect,
        ResolvedExpect::SameAs {
            check: "aaaa-dualstack-host".into(),
            place: Where::Host
        }
    );
    assert_eq!(c.depends_on(), Some(("aaaa-dualstack-host", &Where::Host)));
}

#[test]
fn ipv4_and_dual_stack_suites_in_their_clusters() {
    let (plan, aaaa) = cluster(&[]);
    let cases = expand(&embedded_suite("ipv4"), &[], &facts(&plan, aaaa));
    assert_eq!(
        per_check(&cases),
        rows(&[
            ("a-ipv4only", 7, 0),
            ("a-ipv4only-pod-getent", 3, 0),
            ("node-names", 6, 0),
            ("pod-to-pod", 2, 0),
            ("pod-to-node", 1, 0),
            ("external-ipv4only", 6, 0),
            ("external-dualstack", 3, 0),
            ("host-to-master", 1, 0),
        ])
    );
    assert_eq!(
        find(&cases, "node-names on pod on kube-master").expect,
        ResolvedExpect::Equals(vec!["10.192.0.3".parse().unwrap()])
    );

    let (plan, aaaa) = cluster(&[("IP_MODE", "dual-stack")]);
    assert!(aaaa, "dual-stack always allows AAAA");
    let cases = expand(&embedded_suite("dual-stack"), &[], &facts(&plan, aaaa));
    assert_eq!(
        per_check(&cases),
        rows(&[
            ("a-ipv4only", 7, 0),
            ("a-ipv4only-pod-getent", 3, 0),
            ("node-names", 6, 0),
            ("aaaa-dualstack", 7, 0),
            ("aaaa-as-host", 1, 0),
            ("no-dns64", 7, 0),
            ("pod-to-pod-4", 2, 0),
            ("pod-to-pod-6", 2, 0),
            ("pod-to-node-4", 1, 0),
            ("pod-to-node-6", 1, 0),
            ("external-ipv4only", 6, 0),
            ("external-dualstack-4", 3, 0),
            ("external-dualstack-6", 6, 0),
            ("external-dualstack-6-by-address", 3, 0),
            ("host-to-master-4", 1, 0),
            ("host-to-master-6", 1, 0),
        ])
    );
    // Several places: the answer at the same node is the one to compare with.
    assert_eq!(
        find(&cases, "aaaa-as-host on kube-node-1").expect,
        ResolvedExpect::SameAs {
            check: "aaaa-dualstack".into(),
            place: Where::Node("kube-node-1".into())
        }
    );
    assert_eq!(
        find(&cases, "no-dns64 on kube-node-2").run,
        Run::Lookup {
            name: "ipv4only.kdc.test".into(),
            family: Family::V6,
            via: Via::Dig
        }
    );
}

#[test]
fn smoke_follows_the_ip_mode() {
    let checks_in = |env: &[(&str, &str)]| {
        let (plan, aaaa) = cluster(env);
        let cases = expand(&embedded_suite("smoke"), &[], &facts(&plan, aaaa));
        per_check(&cases)
    };
    assert_eq!(
        checks_in(&[]),
        rows(&[
            ("systemd", 3, 0),
            ("ping-master-4", 3, 0),
            ("name-server", 3, 0),
            ("pods-4", 1, 0)
        ])
    );
    assert_eq!(
        checks_in(&[("IP_MODE", "ipv6")]),
        rows(&[
            ("systemd", 3, 0),
            ("ping-master-6", 3, 0),
            ("name-server", 3, 0),
            ("pods-6", 1, 0)
        ])
    );
    assert_eq!(
        checks_in(&[("IP_MODE", "dual-stack")]),
        rows(&[
            ("systemd", 3, 0),
            ("ping-master-4", 3, 0),
            ("ping-master-6", 3, 0),
            ("name-server", 3, 0),
            ("pods-4", 1, 0),
            ("pods-6", 1, 0)
        ])
    );
}

#[test]
fn a_missing_worker_is_a_skip() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6"), ("NUM_NODES", "1")]);
    let cases = expand(
        &embedded_suite("ipv6"),
        &["pod-to-pod".into()],
        &facts(&plan, aaaa),
    );
    assert_eq!(
        skips(&cases),
        ["pod-to-pod on pod on kube-node-2: needs kube-node-2; the cluster has 1 worker"]
    );
    assert_eq!(find(&cases, "pod-to-pod on pod on kube-master").skip, None);

    // Labelled clusters name their nodes with the suffix; a template that names a missing
    // worker is a skip too.
    let (plan, aaaa) = cluster(&[("CLUSTER_ID", "5"), ("NUM_NODES", "0")]);
    let cases = expand(
        &embedded_suite("ipv4"),
        &["pod-to-pod".into(), "pod-to-node".into()],
        &facts(&plan, aaaa),
    );
    assert_eq!(
        skips(&cases),
        [
            "pod-to-pod on pod on kube-node-2-cluster-5: needs kube-node-2-cluster-5; the cluster has 0 workers",
            "pod-to-pod on pod on kube-master-cluster-5: needs kube-node-1-cluster-5; the cluster has 0 workers",
            "pod-to-node on pod on kube-master-cluster-5: needs kube-node-1-cluster-5; the cluster has 0 workers",
        ]
    );
    // A skipped case keeps its templates as written.
    assert_eq!(
        find(&cases, "pod-to-node on pod on kube-master-cluster-5").run,
        Run::Ping {
            to: "{node.node-1.ipv4}".into(),
            family: Family::V4
        }
    );
}

#[test]
fn pods_need_kdcs_cni_plugins() {
    let (plan, aaaa) = cluster(&[("CNI_PLUGIN", "flannel")]);
    let mut f = Facts::new(&plan, aaaa);
    f.pods_possible = Err("CNI_PLUGIN=flannel needs Kubernetes to run pods".into());
    let cases = expand(&embedded_suite("ipv4"), &[], &f);
    let pod = "CNI_PLUGIN=flannel needs Kubernetes to run pods";
    let mut want: Vec<String> = ["a-ipv4only", "a-ipv4only-pod-getent", "node-names"]
        .iter()
        .flat_map(|c| {
            ["kube-master", "kube-node-1", "kube-node-2"]
                .map(|n| format!("{c} on pod on {n}: {pod}"))
        })
        .collect();
    want.extend([
        "pod-to-pod on pod on kube-node-2: needs CNI_PLUGIN bridge or ptp (the cluster has flannel)".to_string(),
        "pod-to-pod on pod on kube-master: needs CNI_PLUGIN bridge or ptp (the cluster has flannel)".to_string(),
        format!("pod-to-node on pod on kube-master: {pod}"),
    ]);
    want.extend(
        ["kube-master", "kube-node-1", "kube-node-2"]
            .map(|n| format!("external-ipv4only on pod on {n}: {pod}")),
    );
    want.extend(
        ["kube-master", "kube-node-1", "kube-node-2"]
            .map(|n| format!("external-dualstack on pod on {n}: {pod}")),
    );
    assert_eq!(skips(&cases), want);
    assert_eq!(find(&cases, "external-ipv4only on kube-node-1").skip, None);
}

#[test]
fn a_remote_engine_skips_the_host_and_what_compares_with_it() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6"), ("DIND_ALLOW_AAAA_USE", "1")]);
    let mut f = facts(&plan, aaaa);
    let remote = "the engine is remote (tcp://docker:2376): kdc cannot reach the cluster's networks from here";
    f.host_possible = Err(remote.into());
    let cases = expand(&embedded_suite("ipv6"), &[], &f);
    assert_eq!(
        skips(&cases),
        [
            format!("dns64-ipv4only-host on host: {remote}"),
            "dns64-always on kube-master: DIND_ALLOW_AAAA_USE is set: real AAAA records win (the original skipped this too)".into(),
            "dns64-always on kube-node-1: DIND_ALLOW_AAAA_USE is set: real AAAA records win (the original skipped this too)".into(),
            "dns64-always on kube-node-2: DIND_ALLOW_AAAA_USE is set: real AAAA records win (the original skipped this too)".into(),
            "dns64-always on pod on kube-master: DIND_ALLOW_AAAA_USE is set: real AAAA records win (the original skipped this too)".into(),
            "dns64-always on pod on kube-node-1: DIND_ALLOW_AAAA_USE is set: real AAAA records win (the original skipped this too)".into(),
            "dns64-always on pod on kube-node-2: DIND_ALLOW_AAAA_USE is set: real AAAA records win (the original skipped this too)".into(),
            format!("aaaa-dualstack-host on host: {remote}"),
            format!("real-aaaa-as-host on kube-node-1: the answer to compare with, of aaaa-dualstack-host on host, is not taken: {remote}"),
            format!("nat64-host on host: {HOST_ROUTES}"),
            format!("host-to-master on host: {remote}"),
        ]
    );
}

#[test]
fn selected_checks_bring_the_checks_they_compare_with() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "dual-stack")]);
    let cases = expand(
        &embedded_suite("dual-stack"),
        &["aaaa-as-host".into()],
        &facts(&plan, aaaa),
    );
    let names: Vec<String> = cases.iter().map(Case::name).collect();
    assert_eq!(
        names,
        [
            "aaaa-dualstack on kube-master",
            "aaaa-dualstack on kube-node-1",
            "aaaa-dualstack on kube-node-2",
            "aaaa-dualstack on pod on kube-master",
            "aaaa-dualstack on pod on kube-node-1",
            "aaaa-dualstack on pod on kube-node-2",
            "aaaa-dualstack on host",
            "aaaa-as-host on kube-node-1",
        ]
    );
}

const MINE: &str = "description = \"mine\"\n\n[[check]]\nid = \"v6\"\nwhat = \"w\"\non = [\"nodes\", \"pods\"]\nlookup = { name = \"{target.dualstack}\", type = \"AAAA\" }\nmodes = [\"ipv6\"]\n\n[[check]]\nid = \"cmp\"\nwhat = \"w\"\non = [\"host\"]\nlookup = { name = \"{target.dualstack}\", type = \"AAAA\" }\nexpect = { same_as = \"v6\" }\n\n[[check]]\nid = \"tpl\"\nwhat = \"w\"\non = [\"node:master\"]\ncommand = [\"echo\", \"{dns64.prefix}\", \"{node.master.ipv4}\", \"{pod.node-1.ipv4}\", \"{dns.ipv6}\", \"{{literal}}\"]\n";

#[test]
fn same_as_that_cannot_be_placed_is_a_skip() {
    let (plan, aaaa) = cluster(&[]);
    let cases = expand(&suite(MINE), &["cmp".into()], &facts(&plan, aaaa));
    assert_eq!(
        skips(&cases),
        ["cmp on host: same_as v6: that check does not run in ipv4 mode"]
    );
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6")]);
    let cases = expand(&suite(MINE), &["cmp".into()], &facts(&plan, aaaa));
    assert_eq!(
        skips(&cases),
        [
            "cmp on host: same_as v6: it runs at kube-master, kube-node-1, kube-node-2, pod on kube-master, pod on kube-node-1, pod on kube-node-2, and none of them is host or on its node"
        ]
    );
}

#[test]
fn templates_the_cluster_cannot_fill_are_skips() {
    let tpl = |env: &[(&str, &str)]| {
        let (plan, aaaa) = cluster(env);
        let f = facts(&plan, aaaa);
        let case = expand(&suite(MINE), &["tpl".into()], &f).remove(0);
        (case.skip, case.run)
    };
    let (skip, run) = tpl(&[("IP_MODE", "dual-stack")]);
    // Only the template without a value keeps its text.
    assert_eq!(skip.as_deref(), Some("the cluster has no DNS64"));
    assert_eq!(
        run,
        Run::Command {
            argv: [
                "echo",
                "{dns64.prefix}",
                "10.192.0.2",
                "10.244.2.2",
                "fd00:20::100",
                "{literal}"
            ]
            .map(String::from)
            .to_vec()
        }
    );
    assert_eq!(
        tpl(&[("IP_MODE", "ipv6")]).0.as_deref(),
        Some("the cluster has no IPv4")
    );
    // Pod addresses come from the runner: unknown, failed, or without the family.
    let dual = [("IP_MODE", "dual-stack")];
    let mut mine = suite(MINE);
    if let Action::Command { argv } = &mut mine.checks[2].action {
        argv.remove(1);
    }
    let run_tpl = |pods: BTreeMap<String, Result<Vec<IpAddr>, String>>| {
        let (plan, aaaa) = cluster(&dual);
        let mut f = Facts::new(&plan, aaaa);
        f.pods = pods;
        let case = expand(&mine, &["tpl".into()], &f).remove(0);
        (case.skip, case.run)
    };
    assert_eq!(
        run_tpl(BTreeMap::new()).0.as_deref(),
        Some("the address of the pod on kube-node-1 is not known")
    );
    let failed = BTreeMap::from([(
        "kube-node-1".to_string(),
        Err("the sandbox on kube-node-1 failed: CNI ADD exited 1".to_string()),
    )]);
    assert_eq!(
        run_tpl(failed).0.as_deref(),
        Some("the sandbox on kube-node-1 failed: CNI ADD exited 1")
    );
    let v6_only = BTreeMap::from([(
        "kube-node-1".to_string(),
        Ok(vec!["fd00:40::2:0:0:2".parse().unwrap()]),
    )]);
    assert_eq!(
        run_tpl(v6_only).0.as_deref(),
        Some("the pod on kube-node-1 has no IPv4 address")
    );
    let (skip, run) = run_tpl(pods_of(&cluster(&dual).0));
    assert_eq!(skip, None);
    assert_eq!(
        run,
        Run::Command {
            argv: [
                "echo",
                "10.192.0.2",
                "10.244.2.2",
                "fd00:20::100",
                "{literal}"
            ]
            .map(String::from)
            .to_vec()
        }
    );
}

#[test]
fn internet_targets() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6")]);
    let mut f = facts(&plan, aaaa);
    f.targets = TargetsKind::Internet;
    f.target_addresses = BTreeMap::from([
        (
            "ipv4.test-ipv6.noroutetohost.net".to_string(),
            Ok(vec![IpAddr::V4(Ipv4Addr::new(216, 218, 228, 119))]),
        ),
        (
            "ds.test-ipv6.noroutetohost.net".to_string(),
            Err("no answer from the host's resolver".to_string()),
        ),
    ]);
    let cases = expand(&embedded_suite("ipv6"), &[], &f);
    let c = find(&cases, "nat64-by-address on pod on kube-node-1");
    // 216.218.228.119 = d8.da.e4.77
    assert_eq!(
        c.run,
        Run::Ping {
            to: "fd00:10:64:ff9b::d8da:e477".into(),
            family: Family::V6
        }
    );
    assert_eq!(c.skip, None);
    assert_eq!(
        find(&cases, "nat64-ipv4only on kube-node-1").run,
        Run::Ping {
            to: "ipv4.test-ipv6.noroutetohost.net".into(),
            family: Family::V6
        }
    );
    assert_eq!(
        find(&cases, "dns64-always on kube-node-1").run,
        Run::Lookup {
            name: "ds.test-ipv6.noroutetohost.net".into(),
            family: Family::V6,
            via: Via::Getent
        }
    );
    assert_eq!(
        find(&cases, "no-ipv4-path on kube-node-1").run,
        Run::Ping {
            to: "216.218.228.119".into(),
            family: Family::V4
        }
    );
    // real-aaaa wants the dual-stack target's address, which the host could not resolve
    // (its own skip reason, allow-AAAA, comes first here).
    f.allow_aaaa = true;
    let cases = expand(&embedded_suite("ipv6"), &["real-aaaa".into()], &f);
    assert_eq!(
        cases[0].skip.as_deref(),
        Some(
            "the address of ds.test-ipv6.noroutetohost.net is not known: no answer from the host's resolver"
        )
    );
    f.target_addresses.clear();
    let cases = expand(&embedded_suite("ipv6"), &["nat64-by-address".into()], &f);
    assert_eq!(
        cases[0].skip.as_deref(),
        Some("the address of ipv4.test-ipv6.noroutetohost.net is not known: it was not looked up")
    );
}

#[test]
fn the_commands_nodes_and_pods_run() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6")]);
    let f = facts(&plan, aaaa);
    let ipv6 = expand(&embedded_suite("ipv6"), &[], &f);
    let smoke = expand(&embedded_suite("smoke"), &[], &f);
    let sh = |cases: &[Case], name: &str| shell(find(cases, name));
    assert_eq!(
        sh(&ipv6, "dns64-ipv4only on kube-node-1").as_deref(),
        Some("set -o pipefail; getent ahostsv6 ipv4only.kdc.test | awk '$2==\"STREAM\"{print $1}'")
    );
    assert_eq!(
        sh(&ipv6, "dns64-ipv4only on pod on kube-node-1").as_deref(),
        Some("ip netns exec pod bash -c 'dig +short +time=2 +tries=1 ipv4only.kdc.test AAAA'")
    );
    assert_eq!(
        sh(&ipv6, "dns64-ipv4only-pod-getent on pod on kube-node-2").as_deref(),
        Some(
            r#"ip netns exec pod bash -c 'set -o pipefail; getent ahostsv6 ipv4only.kdc.test | awk '\''$2=="STREAM"{print $1}'\'''"#
        )
    );
    assert_eq!(
        sh(&ipv6, "nat64-ipv4only on pod on kube-node-1").as_deref(),
        Some("ip netns exec pod bash -c 'ping -n -c1 -W2 -6 ipv4only.kdc.test'")
    );
    // One second is enough to wait for a reply that must not come.
    assert_eq!(
        sh(&ipv6, "no-ipv4-path on kube-node-1").as_deref(),
        Some("ping -n -c1 -W1 -4 198.18.0.10")
    );
    assert_eq!(sh(&ipv6, "host-to-master on host"), None);
    assert_eq!(sh(&ipv6, "dns64-ipv4only-host on host"), None);
    assert_eq!(
        sh(&smoke, "systemd on kube-master").as_deref(),
        Some("systemctl is-system-running")
    );
    assert_eq!(
        sh(&smoke, "name-server on kube-node-2").as_deref(),
        Some("dig +short +time=2 +tries=1 ipv4only.kdc.test A")
    );
    // Arguments are quoted as shell words, and again inside the pod's bash -c.
    let odd = suite(
        "description = \"d\"\n[[check]]\nid = \"c\"\nwhat = \"w\"\non = [\"node:node-1\", \"pod:node-1\"]\ncommand = [\"sh\", \"-c\", \"echo 'it''s' $HOME\"]\n",
    );
    let cases = expand(&odd, &[], &f);
    assert_eq!(
        shell(&cases[0]).as_deref(),
        Some(r#"sh -c 'echo '\''it'\'''\''s'\'' $HOME'"#)
    );
    assert_eq!(
        shell(&cases[1]).as_deref(),
        Some(
            r#"ip netns exec pod bash -c 'sh -c '\''echo '\''\'\'''\''it'\''\'\'''\'''\''\'\'''\''s'\''\'\'''\'' $HOME'\'''"#
        )
    );
}

#[test]
fn case_names_and_places() {
    assert_eq!(Where::Host.to_string(), "host");
    assert_eq!(Where::Node("kube-node-1".into()).to_string(), "kube-node-1");
    assert_eq!(
        Where::Pod("kube-node-1".into()).to_string(),
        "pod on kube-node-1"
    );
    assert_eq!(
        Where::Pod("kube-node-1".into()).phrase(),
        "from the pod on kube-node-1"
    );
    assert_eq!(Where::Node("kube-master".into()).phrase(), "on kube-master");
    assert_eq!(Where::Host.phrase(), "from the host");
}

/// RFC 6052 §2.4's table (192.0.2.33 under each prefix length), and the recipe's example.
#[test]
fn dns64_synthesis_follows_rfc_6052() {
    let v4 = Ipv4Addr::new(192, 0, 2, 33);
    let rows = [
        ("2001:db8::/32", "2001:db8:c000:221::"),
        ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
        ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
        ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
        ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
        ("2001:db8:122:344::/96", "2001:db8:122:344::c000:221"),
    ];
    for (prefix, want) in rows {
        let prefix: Ipv6Net = prefix.parse().unwrap();
        assert_eq!(
            synthesize(prefix, v4),
            want.parse::<Ipv6Addr>().unwrap(),
            "{prefix}"
        );
    }
    assert_eq!(
        synthesize(
            "fd00:10:64:ff9b::/96".parse().unwrap(),
            Ipv4Addr::new(10, 192, 230, 10)
        )
        .to_string(),
        "fd00:10:64:ff9b::ac0:e60a"
    );
}

/// DNS64_PREFIX_SIZE=64: the template follows the plan's prefix length (u octet skipped).
#[test]
fn dns64_templates_follow_the_prefix_length() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6"), ("DNS64_PREFIX_SIZE", "64")]);
    let cases = expand(
        &embedded_suite("ipv6"),
        &["dns64-ipv4only".into(), "dns64-always".into()],
        &facts(&plan, aaaa),
    );
    // 198.18.0.10 after the u octet: fd00:10:64:ff9b:00c6:1200:0a00:0000.
    assert_eq!(
        cases[0].expect,
        ResolvedExpect::Equals(vec!["fd00:10:64:ff9b:c6:1200:a00:0".parse().unwrap()])
    );
    assert_eq!(
        find(&cases, "dns64-always on kube-node-1").expect,
        ResolvedExpect::StartsWith("fd00:10:64:ff9b::".into())
    );
}
