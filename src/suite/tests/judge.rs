//! Judging raw results into outcomes, with outputs as measured in RECIPE.md §4 and §6 (the
//! research cluster's addresses replaced by this plan's).

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::report::Outcome;

fn raw(code: i64, output: &str) -> Raw {
    Raw {
        code,
        output: output.to_string(),
        elapsed: Duration::from_millis(40),
        timed_out: false,
    }
}

fn timed_out(output: &str) -> Raw {
    Raw {
        code: 124,
        output: output.to_string(),
        elapsed: Duration::from_secs(10),
        timed_out: true,
    }
}

fn failed(message: &str) -> Outcome {
    Outcome::Failed {
        message: message.to_string(),
    }
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

/// The cases of an embedded suite in a cluster with pods, by name.
struct Cases(Vec<Case>);

impl Cases {
    fn of(suite: &str, env: &[(&str, &str)]) -> Cases {
        let (plan, aaaa) = cluster(env);
        let mut f = Facts::new(&plan, aaaa);
        for n in &plan.nodes {
            let id = n.node_id;
            f.pods.insert(
                n.name.clone(),
                Ok(ips(&[
                    &format!("10.244.{id}.2"),
                    &format!("fd00:40::{id}:0:0:2"),
                ])),
            );
        }
        Cases(expand(&embedded_suite(suite), &[], &f))
    }

    fn get(&self, name: &str) -> &Case {
        self.0
            .iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("no case {name}"))
    }

    fn judge(&self, name: &str, raw: &Raw) -> Outcome {
        judge(self.get(name), raw, &Answers::default())
    }
}

const PING_OK: &str = "PING ipv4only.kdc.test (fd00:10:64:ff9b::c612:a) 56 data bytes
64 bytes from fd00:10:64:ff9b::c612:a: icmp_seq=1 ttl=61 time=0.160 ms

--- ipv4only.kdc.test ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time 0ms
rtt min/avg/max/mdev = 0.160/0.160/0.160/0.000 ms
";

const PING_LOST: &str = "PING ipv4only.kdc.test (fd00:10:64:ff9b::c612:a) 56 data bytes

--- ipv4only.kdc.test ping statistics ---
1 packets transmitted, 0 received, 100% packet loss, time 0ms
";

const DIG_DOWN: &str = ";; communications error to fd00:20::100#53: timed out
;; no servers could be reached
";

/// The spec's two examples, word for word.
#[test]
fn the_specs_failure_messages() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6")]);
    let s = suite(
        "description = \"d\"\n[[check]]\nid = \"x\"\nwhat = \"w\"\non = [\"node:node-1\"]\nlookup = { name = \"{target.ipv4only}\", type = \"AAAA\" }\nexpect = { starts_with = \"{dns64.prefix}\" }\n",
    );
    let case = &expand(&s, &[], &Facts::new(&plan, aaaa))[0];
    assert_eq!(
        judge(case, &raw(2, ""), &Answers::default()),
        failed(
            "lookup AAAA ipv4only.kdc.test on kube-node-1 (getent): expected addresses starting with fd00:10:64:ff9b::, got none (exit 2)"
        )
    );
    let c = Cases::of("ipv6", &[("IP_MODE", "ipv6")]);
    assert_eq!(
        c.judge("nat64-ipv4only on pod on kube-node-1", &raw(1, PING_LOST)),
        failed(
            "ping -6 ipv4only.kdc.test from the pod on kube-node-1: expected a reply, got none (exit 1): 1 packets transmitted, 0 received, 100% packet loss"
        )
    );
}

#[test]
fn ipv6_lookups() {
    let c = Cases::of("ipv6", &[("IP_MODE", "ipv6")]);
    // getent | awk prints one line per address.
    assert_eq!(
        c.judge(
            "dns64-ipv4only on kube-node-1",
            &raw(0, "fd00:10:64:ff9b::c612:a\n")
        ),
        Outcome::Passed
    );
    assert_eq!(
        c.judge(
            "dns64-ipv4only on pod on kube-node-1",
            &raw(0, "fd00:10:64:ff9b::c612:a\n")
        ),
        Outcome::Passed
    );
    assert_eq!(
        c.judge(
            "dns64-ipv4only on pod on kube-node-1",
            &raw(0, "fd00:10:64:ff9b::c612:b\n")
        ),
        failed(
            "lookup AAAA ipv4only.kdc.test from the pod on kube-node-1 (dig): expected fd00:10:64:ff9b::c612:a, got fd00:10:64:ff9b::c612:b"
        )
    );
    // bind9 stopped (RECIPE.md §6.2): dig exits 9 after its 2 s.
    assert_eq!(
        c.judge("dns64-ipv4only on pod on kube-node-2", &raw(9, DIG_DOWN)),
        failed(
            "lookup AAAA ipv4only.kdc.test from the pod on kube-node-2 (dig): expected fd00:10:64:ff9b::c612:a, got no answer (exit 9): communications error to fd00:20::100#53: timed out; no servers could be reached"
        )
    );
    // ... and the node's resolver is killed by the 10 s timeout.
    assert_eq!(
        c.judge("dns64-ipv4only on kube-node-1", &timed_out("")),
        failed("lookup AAAA ipv4only.kdc.test on kube-node-1 (getent): timed out after 10s")
    );
    // The host is left out of DNS64: no AAAA for the IPv4-only name.
    assert_eq!(
        c.judge("dns64-ipv4only-host on host", &raw(0, "")),
        Outcome::Passed
    );
    assert_eq!(
        c.judge(
            "dns64-ipv4only-host on host",
            &raw(0, "fd00:10:64:ff9b::c612:a\n")
        ),
        failed(
            "lookup AAAA ipv4only.kdc.test from the host: expected no addresses, got fd00:10:64:ff9b::c612:a"
        )
    );
    assert_eq!(
        c.judge("dns64-ipv4only-host on host", &raw(1, "timed out")),
        failed(
            "lookup AAAA ipv4only.kdc.test from the host: expected no addresses, got no answer (exit 1): timed out"
        )
    );
    // "Always DNS64": every address must carry the prefix.
    assert_eq!(
        c.judge(
            "dns64-always on kube-node-2",
            &raw(0, "fd00:10:64:ff9b::c612:b\n")
        ),
        Outcome::Passed
    );
    assert_eq!(
        c.judge(
            "dns64-always on pod on kube-master",
            &raw(0, "fd00:10:64:ff9b::c612:b\nfd00:198:18::11\n")
        ),
        failed(
            "lookup AAAA dualstack.kdc.test from the pod on kube-master (dig): expected addresses starting with fd00:10:64:ff9b::, got fd00:10:64:ff9b::c612:b, fd00:198:18::11"
        )
    );
    // The host sees the real record.
    assert_eq!(
        c.judge("aaaa-dualstack-host on host", &raw(0, "fd00:198:18::11\n")),
        Outcome::Passed
    );
    assert_eq!(
        c.judge(
            "aaaa-dualstack-host on host",
            &raw(0, "fd00:10:64:ff9b::c612:b\n")
        ),
        failed(
            "lookup AAAA dualstack.kdc.test from the host: expected addresses not starting with fd00:10:64:ff9b::, got fd00:10:64:ff9b::c612:b"
        )
    );
    assert_eq!(
        c.judge("aaaa-dualstack-host on host", &raw(0, "")),
        failed(
            "lookup AAAA dualstack.kdc.test from the host: expected addresses not starting with fd00:10:64:ff9b::, got none"
        )
    );
}

#[test]
fn ipv6_pings() {
    let c = Cases::of("ipv6", &[("IP_MODE", "ipv6")]);
    assert_eq!(
        c.judge("nat64-ipv4only on kube-node-1", &raw(0, PING_OK)),
        Outcome::Passed
    );
    assert_eq!(
        c.judge(
            "nat64-ipv4only on kube-node-1",
            &raw(
                2,
                "ping: ipv4only.kdc.test: Temporary failure in name resolution\n"
            )
        ),
        failed(
            "ping -6 ipv4only.kdc.test on kube-node-1: expected a reply, got none (exit 2): ping: ipv4only.kdc.test: Temporary failure in name resolution"
        )
    );
    assert_eq!(
        c.judge(
            "pod-to-pod on pod on kube-node-2",
            &timed_out("PING fd00:40::2:0:0:2(fd00:40::2:0:0:2) 56 data bytes\n")
        ),
        failed(
            "ping -6 fd00:40::2:0:0:2 from the pod on kube-node-2: timed out after 10s: PING fd00:40::2:0:0:2(fd00:40::2:0:0:2) 56 data bytes"
        )
    );
    // The negative check: no IPv4 path from an IPv6 node.
    let lost4 = "PING 198.18.0.10 (198.18.0.10) 56(84) bytes of data.\n\n--- 198.18.0.10 ping statistics ---\n1 packets transmitted, 0 received, 100% packet loss, time 0ms\n";
    assert_eq!(
        c.judge("no-ipv4-path on kube-node-1", &raw(1, lost4)),
        Outcome::Passed
    );
    assert_eq!(
        c.judge(
            "no-ipv4-path on kube-node-1",
            &raw(2, "ping: connect: Network is unreachable\n")
        ),
        Outcome::Passed
    );
    let reply4 = "PING 198.18.0.10 (198.18.0.10) 56(84) bytes of data.\n64 bytes from 198.18.0.10: icmp_seq=1 ttl=62 time=0.101 ms\n\n--- 198.18.0.10 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\n";
    assert_eq!(
        c.judge("no-ipv4-path on kube-node-1", &raw(0, reply4)),
        failed(
            "ping -4 198.18.0.10 on kube-node-1: expected no reply, got one: 64 bytes from 198.18.0.10: icmp_seq=1 ttl=62 time=0.101 ms"
        )
    );
    assert_eq!(
        c.judge(
            "no-ipv4-path on kube-node-1",
            &raw(
                2,
                "ping: 198.18.0.10: Address family for hostname not supported\n"
            )
        ),
        failed(
            "ping -4 198.18.0.10 on kube-node-1: expected no reply, but ping failed (exit 2): ping: 198.18.0.10: Address family for hostname not supported"
        )
    );
    // Host pings are kdc's own: 0 is a reply, 1 is none.
    assert_eq!(
        c.judge("host-to-master on host", &raw(0, "")),
        Outcome::Passed
    );
    assert_eq!(
        c.judge("host-to-master on host", &raw(1, "no reply within 2s")),
        failed(
            "ping -6 fd00:20::2 from the host: expected a reply, got none (exit 1): no reply within 2s"
        )
    );
}

#[test]
fn ipv4_and_dual_stack_lookups() {
    let c = Cases::of("ipv4", &[]);
    assert_eq!(
        c.judge("a-ipv4only on kube-node-1", &raw(0, "198.18.0.10\n")),
        Outcome::Passed
    );
    assert_eq!(
        c.judge("a-ipv4only on host", &raw(0, "198.18.0.10\n")),
        Outcome::Passed
    );
    assert_eq!(
        c.judge("a-ipv4only on pod on kube-node-2", &raw(0, "198.18.0.11\n")),
        failed(
            "lookup A ipv4only.kdc.test from the pod on kube-node-2 (dig): expected 198.18.0.10, got 198.18.0.11"
        )
    );
    // A CNAME line of dig +short is not an address; repeats count once.
    assert_eq!(
        c.judge(
            "node-names on pod on kube-master",
            &raw(0, "kube-node-1.alias.\n10.192.0.3\n10.192.0.3\n")
        ),
        Outcome::Passed
    );
    // bind9 stopped in ipv4 mode (RECIPE.md §6.3): Docker's resolver does not answer at all.
    assert_eq!(
        c.judge("a-ipv4only on kube-node-1", &timed_out("")),
        failed("lookup A ipv4only.kdc.test on kube-node-1 (getent): timed out after 10s")
    );

    let c = Cases::of("dual-stack", &[("IP_MODE", "dual-stack")]);
    assert_eq!(
        c.judge(
            "aaaa-dualstack on kube-node-1",
            &raw(0, "fd00:198:18::11\n")
        ),
        Outcome::Passed
    );
    // No DNS64: dig prints nothing and exits 0.
    assert_eq!(
        c.judge("no-dns64 on pod on kube-node-1", &raw(0, "")),
        Outcome::Passed
    );
    assert_eq!(
        c.judge("no-dns64 on kube-node-1", &raw(9, DIG_DOWN)),
        failed(
            "lookup AAAA ipv4only.kdc.test on kube-node-1 (dig): expected no addresses, got no answer (exit 9): communications error to fd00:20::100#53: timed out; no servers could be reached"
        )
    );
}

/// `getent ahostsv6` answers an A-only name with IPv4-mapped addresses; they are no AAAA.
#[test]
fn mapped_addresses_are_not_aaaa_answers() {
    let c = Cases::of("ipv6", &[("IP_MODE", "ipv6")]);
    let case = c.get("dns64-ipv4only on kube-node-1");
    assert_eq!(answer(case, &raw(0, "::ffff:198.18.0.10\n")), Some(vec![]));
    assert_eq!(
        judge(case, &raw(0, "::ffff:198.18.0.10\n"), &Answers::default()),
        failed(
            "lookup AAAA ipv4only.kdc.test on kube-node-1 (getent): expected fd00:10:64:ff9b::c612:a, got none"
        )
    );
    // getent's "not found" (exit 2) is an empty answer; dig failing is no answer.
    assert_eq!(answer(case, &raw(2, "")), Some(vec![]));
    assert_eq!(
        answer(
            c.get("dns64-ipv4only on pod on kube-master"),
            &raw(9, DIG_DOWN)
        ),
        None
    );
    assert_eq!(answer(case, &timed_out("")), None);
    assert_eq!(
        answer(c.get("nat64-ipv4only on kube-node-1"), &raw(0, PING_OK)),
        None
    );
}

#[test]
fn same_as_compares_with_the_recorded_answer() {
    let c = Cases::of("dual-stack", &[("IP_MODE", "dual-stack")]);
    let cmp = c.get("aaaa-as-host on kube-node-1");
    assert_eq!(
        cmp.depends_on(),
        Some(("aaaa-dualstack", &Where::Node("kube-node-1".into())))
    );
    let mut answers = Answers::default();
    assert_eq!(
        judge(cmp, &raw(0, "fd00:198:18::11\n"), &answers),
        failed(
            "lookup AAAA dualstack.kdc.test on kube-node-1 (getent): the answer of aaaa-dualstack on kube-node-1 to compare with is missing"
        )
    );
    // A failed lookup records nothing.
    answers.record(c.get("aaaa-dualstack on kube-node-1"), &timed_out(""));
    assert_eq!(answers, Answers::default());
    answers.record(
        c.get("aaaa-dualstack on kube-node-1"),
        &raw(0, "fd00:198:18::11\n"),
    );
    assert_eq!(
        answers.get(
            "dual-stack",
            "aaaa-dualstack",
            &Where::Node("kube-node-1".into())
        ),
        Some(&ips(&["fd00:198:18::11"])[..])
    );
    assert_eq!(
        judge(cmp, &raw(0, "fd00:198:18::11\n"), &answers),
        Outcome::Passed
    );
    assert_eq!(
        judge(cmp, &raw(0, "fd00:10:64:ff9b::c612:b\n"), &answers),
        failed(
            "lookup AAAA dualstack.kdc.test on kube-node-1 (getent): expected the answer of aaaa-dualstack on kube-node-1 (fd00:198:18::11), got fd00:10:64:ff9b::c612:b"
        )
    );

    // ipv6 with AAAA allowed: node-1 against the host's view.
    let c = Cases::of(
        "ipv6",
        &[("IP_MODE", "ipv6"), ("DIND_ALLOW_AAAA_USE", "true")],
    );
    let mut answers = Answers::default();
    answers.record(
        c.get("aaaa-dualstack-host on host"),
        &raw(0, "fd00:198:18::11\n"),
    );
    assert_eq!(
        judge(
            c.get("real-aaaa-as-host on kube-node-1"),
            &raw(0, "fd00:198:18::11\n"),
            &answers
        ),
        Outcome::Passed
    );
}

#[test]
fn commands() {
    let c = Cases::of("smoke", &[]);
    assert_eq!(
        c.judge("systemd on kube-master", &raw(0, "running\n")),
        Outcome::Passed
    );
    assert_eq!(
        c.judge("systemd on kube-node-1", &raw(1, "degraded\n")),
        failed(
            "`systemctl is-system-running` on kube-node-1: expected exit 0, got exit 1: degraded"
        )
    );
    assert_eq!(
        c.judge("systemd on kube-node-1", &raw(0, "starting\n")),
        failed(
            "`systemctl is-system-running` on kube-node-1: expected output \"running\", got \"starting\""
        )
    );
    let s = suite(
        "description = \"d\"\n[[check]]\nid = \"c\"\nwhat = \"w\"\non = [\"pod:master\"]\ncommand = [\"ip\", \"-6\", \"route\"]\nexpect = { exit = 0, output_contains = \"default via\" }\ntimeout = \"2s\"\n",
    );
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6")]);
    let case = &expand(&s, &[], &Facts::new(&plan, aaaa))[0];
    assert_eq!(
        judge(
            case,
            &raw(
                0,
                "fd00:40::1:0:0:0/80 dev eth0 proto kernel metric 256 pref medium\ndefault via fd00:40::1:0:0:1 dev eth0 metric 1024 pref medium\n"
            ),
            &Answers::default()
        ),
        Outcome::Passed
    );
    assert_eq!(
        judge(
            case,
            &raw(
                0,
                "fd00:40::1:0:0:0/80 dev eth0 proto kernel metric 256 pref medium\n"
            ),
            &Answers::default()
        ),
        failed(
            "`ip -6 route` from the pod on kube-master: expected output containing \"default via\", got \"fd00:40::1:0:0:0/80 dev eth0 proto kernel metric 256 pref medium\""
        )
    );
    assert_eq!(
        judge(case, &timed_out(""), &Answers::default()),
        failed("`ip -6 route` from the pod on kube-master: timed out after 2s")
    );
}

#[test]
fn a_skipped_case_is_skipped() {
    let c = Cases::of("ipv6", &[("IP_MODE", "ipv6")]);
    assert_eq!(
        c.judge("real-aaaa on kube-node-1", &raw(0, "")),
        Outcome::Skipped {
            reason: "needs DIND_ALLOW_AAAA_USE=true: without it every AAAA record is synthesised (DNS64)".into()
        }
    );
    assert_eq!(
        answer(
            c.get("real-aaaa on kube-node-1"),
            &raw(0, "fd00:198:18::11")
        ),
        None
    );
}

/// Prefix texts compare as networks: a /64-synthesised address's text does not begin with the
/// prefix's text, yet it is in the prefix.
#[test]
fn starts_with_is_by_network_for_ipv6_prefixes() {
    let (plan, aaaa) = cluster(&[("IP_MODE", "ipv6"), ("DNS64_PREFIX_SIZE", "64")]);
    let cases = expand(
        &embedded_suite("ipv6"),
        &["dns64-always".into()],
        &Facts::new(&plan, aaaa),
    );
    let case = &cases[0];
    assert_eq!(
        judge(
            case,
            &raw(0, "fd00:10:64:ff9b:c6:1200:b00:0\n"),
            &Answers::default()
        ),
        Outcome::Passed
    );
    assert_eq!(
        judge(
            case,
            &raw(0, "fd00:10:64:ff9c::c612:b\n"),
            &Answers::default()
        ),
        failed(
            "lookup AAAA dualstack.kdc.test on kube-master (getent): expected addresses starting with fd00:10:64:ff9b::, got fd00:10:64:ff9c::c612:b"
        )
    );
}

#[test]
fn long_output_is_cut_in_messages() {
    let c = Cases::of("smoke", &[]);
    let long = "x".repeat(400);
    let Outcome::Failed { message } = c.judge("systemd on kube-master", &raw(3, &long)) else {
        panic!("should fail")
    };
    assert_eq!(
        message,
        format!(
            "`systemctl is-system-running` on kube-master: expected exit 0, got exit 3: {}…",
            "x".repeat(300)
        )
    );
}
