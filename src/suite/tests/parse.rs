//! Parse errors name the file, line:column and field, and say what would fix them.

use std::time::Duration;

use super::*;
use crate::config::{CniPlugin, IpMode};

fn err(text: &str) -> String {
    match parse(
        "mine",
        Source::File(PathBuf::from("suites/mine.toml")),
        text,
    ) {
        Ok(s) => panic!("should fail: {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// A check without its action, ending on line 6.
const HEAD: &str =
    "description = \"d\"\n\n[[check]]\nid = \"ping-x\"\nwhat = \"w\"\non = [\"nodes\"]\n";
/// Line 7.
const PING: &str = "ping = { to = \"{target.ipv4only}\", family = 6 }\n";
const LOOKUP_A: &str = "lookup = { name = \"x\", type = \"A\" }\n";

#[test]
fn invalid_toml_names_the_position() {
    assert_eq!(
        err("description = \"d\n"),
        "suites/mine.toml:1:17: not valid TOML: invalid basic string, expected `\"`"
    );
}

#[test]
fn unknown_top_level_key() {
    assert_eq!(
        err("description = \"d\"\nname = \"x\"\n"),
        "suites/mine.toml:2:1: unknown key \"name\"; known: description, cluster, check"
    );
}

#[test]
fn unknown_check_key_is_the_specs_example() {
    assert_eq!(
        err(&format!("{HEAD}{PING}expct = {{ reachable = true }}\n")),
        "suites/mine.toml:8:1: check \"ping-x\": unknown key \"expct\"; known: id, what, on, lookup, ping, command, expect, modes, when, timeout"
    );
}

#[test]
fn missing_id_points_at_the_header() {
    assert_eq!(
        err(&format!(
            "description = \"d\"\n\n[[check]]\nwhat = \"w\"\non = [\"nodes\"]\n{PING}"
        )),
        "suites/mine.toml:3:1: check #1: missing key \"id\" (unique in the suite: lowercase letters, digits and dashes)"
    );
}

#[test]
fn malformed_and_duplicate_ids() {
    assert_eq!(
        err("description = \"d\"\n\n[[check]]\nid = \"Ping_X\"\n"),
        "suites/mine.toml:4:6: check #1: id: \"Ping_X\" is not an id; use lowercase letters, digits and dashes ([a-z0-9-]+)"
    );
    assert_eq!(
        err(&format!("{HEAD}{PING}\n[[check]]\nid = \"ping-x\"\n")),
        "suites/mine.toml:10:6: check \"ping-x\": id: duplicate; the first check with this id is at line 4"
    );
}

#[test]
fn missing_what_and_on() {
    assert_eq!(
        err(&format!("{HEAD}{PING}\n[[check]]\nid = \"b\"\n")),
        "suites/mine.toml:9:1: check \"b\": missing key \"what\" (one line, shown by `kdc test list` and in JUnit)"
    );
    assert_eq!(
        err("description = \"d\"\n[[check]]\nid = \"b\"\nwhat = \"w\"\n"),
        "suites/mine.toml:2:1: check \"b\": missing key \"on\" (where it runs: host, nodes, pods, node:master, node:node-N, pod:master, pod:node-N)"
    );
}

#[test]
fn zero_or_two_actions() {
    assert_eq!(
        err(HEAD),
        "suites/mine.toml:3:1: check \"ping-x\": no action; give exactly one of lookup, ping, command"
    );
    assert_eq!(
        err(&format!("{HEAD}{PING}{LOOKUP_A}")),
        "suites/mine.toml:8:10: check \"ping-x\": two actions (ping and lookup); give exactly one of lookup, ping, command"
    );
}

#[test]
fn unknown_place() {
    assert_eq!(
        err(&format!(
            "description = \"d\"\n[[check]]\nid = \"a\"\nwhat = \"w\"\non = [\"nodes\", \"node:worker-1\"]\n{PING}"
        )),
        "suites/mine.toml:5:16: check \"a\": on: unknown place \"node:worker-1\"; known: host, nodes, pods, node:master, node:node-N, pod:master, pod:node-N"
    );
    assert_eq!(
        err("description = \"d\"\n[[check]]\nid = \"a\"\nwhat = \"w\"\non = [\"pod:node-0\"]\n"),
        "suites/mine.toml:5:7: check \"a\": on: unknown place \"pod:node-0\"; known: host, nodes, pods, node:master, node:node-N, pod:master, pod:node-N"
    );
}

#[test]
fn unknown_expectation_or_two_of_them() {
    assert_eq!(
        err(&format!("{HEAD}{PING}expect = {{ reachble = true }}\n")),
        "suites/mine.toml:8:12: check \"ping-x\": expect: unknown key \"reachble\"; known: starts_with, not_starts_with, equals, same_as, empty, nonempty, reachable, unreachable, exit, output_contains, output_equals"
    );
    assert_eq!(
        err(&format!(
            "{HEAD}{LOOKUP_A}expect = {{ empty = true, nonempty = true }}\n"
        )),
        "suites/mine.toml:8:37: check \"ping-x\": expect: two expectations (empty and nonempty); give exactly one"
    );
    assert_eq!(
        err(&format!(
            "{HEAD}command = [\"echo\"]\nexpect = {{ output_equals = \"a\", output_contains = \"b\" }}\n"
        )),
        "suites/mine.toml:8:51: check \"ping-x\": expect: two expectations (output_equals and output_contains); give exactly one (exit may go with one of output_contains, output_equals)"
    );
    assert_eq!(
        err(&format!("{HEAD}{PING}expect = {{}}\n")),
        "suites/mine.toml:8:10: check \"ping-x\": expect: empty; give one of reachable, unreachable"
    );
}

#[test]
fn expectation_that_does_not_fit_the_action() {
    assert_eq!(
        err(&format!(
            "{HEAD}{LOOKUP_A}expect = {{ reachable = true }}\n"
        )),
        "suites/mine.toml:8:24: check \"ping-x\": expect.reachable: does not fit a lookup; use one of starts_with, not_starts_with, equals, same_as, empty, nonempty"
    );
    assert_eq!(
        err(&format!("{HEAD}{PING}expect = {{ exit = 0 }}\n")),
        "suites/mine.toml:8:19: check \"ping-x\": expect.exit: does not fit a ping; use one of reachable, unreachable"
    );
    assert_eq!(
        err(&format!("{HEAD}{PING}expect = {{ reachable = false }}\n")),
        "suites/mine.toml:8:24: check \"ping-x\": expect.reachable: must be true; for the opposite write unreachable = true"
    );
}

#[test]
fn unknown_or_unclosed_template() {
    assert_eq!(
        err(&format!(
            "{HEAD}ping = {{ to = \"{{target.ipv6only}}\", family = 6 }}\n"
        )),
        "suites/mine.toml:7:15: check \"ping-x\": ping.to: unknown template {target.ipv6only}; known: {target.ipv4only}, {target.dualstack}, {target.ipv4only.ipv4}, {target.dualstack.ipv4}, {target.dualstack.ipv6}, {dns64.prefix}, {dns64.ipv4only}, {dns.ipv4}, {dns.ipv6}, {node.<master|node-N>.<ipv4|ipv6|name>}, {pod.<master|node-N>.<ipv4|ipv6>}"
    );
    assert_eq!(
        err(&format!(
            "{HEAD}ping = {{ to = \"{{dns64.prefix\", family = 6 }}\n"
        )),
        "suites/mine.toml:7:15: check \"ping-x\": ping.to: unclosed template \"{dns64.prefix\"; write {{ for a literal brace"
    );
}

#[test]
fn bad_timeout() {
    assert_eq!(
        err(&format!("{HEAD}{PING}timeout = \"10\"\n")),
        "suites/mine.toml:8:11: check \"ping-x\": timeout: \"10\" is not a duration; use a whole number with ms, s or m, such as \"10s\" or \"500ms\""
    );
}

#[test]
fn same_as_to_a_missing_check_or_a_ping() {
    assert_eq!(
        err(&format!(
            "{HEAD}{LOOKUP_A}expect = {{ same_as = \"nope\" }}\n"
        )),
        "suites/mine.toml:8:22: check \"ping-x\": expect.same_as: no check \"nope\" in this suite; known: ping-x"
    );
    assert_eq!(
        err(&format!(
            "{HEAD}{PING}\n[[check]]\nid = \"l\"\nwhat = \"w\"\non = [\"host\"]\n{LOOKUP_A}expect = {{ same_as = \"ping-x\" }}\n"
        )),
        "suites/mine.toml:14:22: check \"l\": expect.same_as: \"ping-x\" is a ping; same_as compares with the answer of a lookup"
    );
    assert_eq!(
        err(&format!(
            "{HEAD}{LOOKUP_A}expect = {{ same_as = \"ping-x\" }}\n"
        )),
        "suites/mine.toml:8:22: check \"ping-x\": expect.same_as: a check cannot compare with itself"
    );
}

#[test]
fn cluster_variable_that_is_not_a_setting() {
    assert_eq!(
        err("description = \"d\"\n\n[cluster]\nIP_MODE = \"ipv6\"\nIP_MOD = \"ipv4\"\n"),
        "suites/mine.toml:5:1: [cluster]: IP_MOD is not a kdc setting; known: IP_MODE, CLUSTER_ID, DIND_LABEL, NUM_NODES, MGMT_CIDRS, DIND_SUBNET, DIND_SUBNET_SIZE, SERVICE_CIDR, POD_NETWORK_CIDR, DNS64_PREFIX, DNS64_PREFIX_SIZE, NAT64_V4_SUBNET_PREFIX, REMOTE_DNS64_V4SERVER, DIND_ALLOW_AAAA_USE, CNI_PLUGIN, APISERVER_PORT, DIND_IMAGE, DIND_K8S_VERSION, SKIP_SNAPSHOT, FEATURE_GATES, KUBELET_FEATURE_GATES, DIND_PORT_FORWARDER"
    );
    assert_eq!(
        err("description = \"d\"\n\n[cluster]\nNUM_NODES = [1]\n"),
        "suites/mine.toml:4:13: [cluster] NUM_NODES: must be a string, whole number or boolean, not an array"
    );
}

#[test]
fn a_command_cannot_run_on_the_host() {
    assert_eq!(
        err(
            "description = \"d\"\n[[check]]\nid = \"c\"\nwhat = \"w\"\non = [\"nodes\", \"host\"]\ncommand = [\"true\"]\n"
        ),
        "suites/mine.toml:5:16: check \"c\": on: a command cannot run on the host; run it on nodes or pods"
    );
}

#[test]
fn description_and_checks_are_required() {
    assert_eq!(
        err(&format!(
            "[[check]]\nid = \"a\"\nwhat = \"w\"\non = [\"nodes\"]\n{PING}"
        )),
        "suites/mine.toml:1:1: missing key \"description\" (one line saying what the suite checks)"
    );
    assert_eq!(
        err("description = \"d\"\n"),
        "suites/mine.toml:1:1: no checks; add at least one [[check]] table"
    );
}

#[test]
fn equals_takes_addresses_of_the_lookups_family() {
    assert_eq!(
        err(&format!(
            "{HEAD}{LOOKUP_A}expect = {{ equals = \"{{target.ipv4only}}\" }}\n"
        )),
        "suites/mine.toml:8:21: check \"ping-x\": expect.equals: \"{target.ipv4only}\" is not an address; give addresses or address templates such as {target.ipv4only.ipv4}, separated by commas"
    );
    assert_eq!(
        err(&format!(
            "{HEAD}lookup = {{ name = \"x\", type = \"AAAA\" }}\nexpect = {{ equals = \"fd00::1, {{target.ipv4only.ipv4}}\" }}\n"
        )),
        "suites/mine.toml:8:21: check \"ping-x\": expect.equals: {target.ipv4only.ipv4} is an IPv4 address, but the lookup asks for AAAA records"
    );
}

#[test]
fn action_fields() {
    assert_eq!(
        err(&format!(
            "{HEAD}ping = {{ to = \"{{pod.node-1.ipv6}}\", family = 4 }}\n"
        )),
        "suites/mine.toml:7:15: check \"ping-x\": ping.to: {pod.node-1.ipv6} is an IPv6 address, but family is 4"
    );
    assert_eq!(
        err(&format!("{HEAD}ping = {{ to = \"x\", family = 5 }}\n")),
        "suites/mine.toml:7:29: check \"ping-x\": ping.family: 5 is not an IP family; use 4 or 6"
    );
    assert_eq!(
        err(&format!(
            "{HEAD}lookup = {{ name = \"x\", type = \"TXT\" }}\n"
        )),
        "suites/mine.toml:7:31: check \"ping-x\": lookup.type: \"TXT\" is not a record type; use \"A\" or \"AAAA\""
    );
    assert_eq!(
        err(&format!("{HEAD}lookup = {{ type = \"A\" }}\n")),
        "suites/mine.toml:7:10: check \"ping-x\": lookup: missing key \"name\" (the name to look up)"
    );
    assert_eq!(
        err(&format!(
            "{HEAD}lookup = {{ name = \"x\", type = \"A\", via = \"nslookup\" }}\n"
        )),
        "suites/mine.toml:7:42: check \"ping-x\": lookup.via: \"nslookup\" is not a way to look up; use \"getent\" or \"dig\""
    );
    assert_eq!(
        err(&format!("{HEAD}command = []\n")),
        "suites/mine.toml:7:11: check \"ping-x\": command: must be a non-empty list such as [\"systemctl\", \"is-system-running\"]"
    );
}

#[test]
fn modes_and_when() {
    assert_eq!(
        err(&format!("{HEAD}{PING}modes = [\"ipv5\"]\n")),
        "suites/mine.toml:8:10: check \"ping-x\": modes: unknown IP mode \"ipv5\"; known: ipv4, ipv6, dual-stack"
    );
    assert_eq!(
        err(&format!("{HEAD}{PING}when = {{ cni = [\"cilium\"] }}\n")),
        "suites/mine.toml:8:17: check \"ping-x\": when.cni: unknown CNI plugin \"cilium\"; known: bridge, ptp, flannel, calico, calico-kdd, weave, kube-router"
    );
    assert_eq!(
        err(&format!("{HEAD}{PING}when = {{ aaaa = true }}\n")),
        "suites/mine.toml:8:10: check \"ping-x\": when: unknown key \"aaaa\"; known: allow_aaaa, cni, host_routes"
    );
}

#[test]
fn a_full_check_parses_into_the_model() {
    let s = suite(
        "description = \"mine\"\n[cluster]\nIP_MODE = \"ipv6\"\nNUM_NODES = 3\n\n[[check]]\nid = \"x\"\nwhat = \"w\"\non = [\"node:node-1\", \"pod:master\", \"host\"]\nlookup = { name = \"{target.ipv4only}\", type = \"AAAA\", via = \"dig\" }\nexpect = { starts_with = \"{dns64.prefix}\" }\nmodes = [\"ipv6\"]\nwhen = { allow_aaaa = false, cni = [\"bridge\", \"ptp\"], host_routes = true }\ntimeout = \"500ms\"\n\n[[check]]\nid = \"c\"\nwhat = \"w\"\non = [\"nodes\"]\ncommand = [\"echo\", \"{{x}}\"]\nexpect = { exit = 3, output_contains = \"x\" }\n",
    );
    assert_eq!(s.name, "mine");
    assert_eq!(s.source, Source::File(PathBuf::from("mine.toml")));
    assert_eq!(
        s.cluster,
        vec![
            ("IP_MODE".to_string(), "ipv6".to_string()),
            ("NUM_NODES".to_string(), "3".to_string())
        ]
    );
    let c = &s.checks[0];
    assert_eq!(
        c.on,
        vec![
            Place::Node(NodeRef::Worker(1)),
            Place::Pod(NodeRef::Master),
            Place::Host
        ]
    );
    let Action::Lookup { name, family, via } = &c.action else {
        panic!("{:?}", c.action)
    };
    assert_eq!(
        (name.text(), *family, *via),
        ("{target.ipv4only}", Family::V6, Some(Via::Dig))
    );
    assert_eq!(
        c.expect,
        Expect::StartsWith(Template::parse("{dns64.prefix}").unwrap())
    );
    assert_eq!(c.modes, Some(vec![IpMode::Ipv6]));
    assert_eq!(
        c.when,
        When {
            allow_aaaa: Some(false),
            cni: Some(vec![CniPlugin::Bridge, CniPlugin::Ptp]),
            host_routes: Some(true),
        }
    );
    assert_eq!(c.timeout, Duration::from_millis(500));
    let Action::Command { argv } = &s.checks[1].action else {
        panic!()
    };
    assert_eq!(argv[1].text(), "{{x}}");
    assert_eq!(
        s.checks[1].expect,
        Expect::Exit {
            code: 3,
            output: Some(OutputExpect::Contains(Template::parse("x").unwrap()))
        }
    );
    assert_eq!(s.checks[1].timeout, DEFAULT_TIMEOUT);
    // The layer a suite adds to the configuration.
    let layer = s.layer();
    assert_eq!(
        layer.source,
        crate::config::Source::Named {
            kind: "suite",
            name: "mine".into()
        }
    );
    assert_eq!(layer.values.len(), 2);
}

#[test]
fn defaults_per_action() {
    let s = suite(&format!(
        "{HEAD}{PING}\n[[check]]\nid = \"l\"\nwhat = \"w\"\non = [\"host\"]\n{LOOKUP_A}\n[[check]]\nid = \"c\"\nwhat = \"w\"\non = [\"pods\"]\ncommand = [\"true\"]\n"
    ));
    let expects: Vec<&Expect> = s.checks.iter().map(|c| &c.expect).collect();
    assert_eq!(
        expects,
        [
            &Expect::Reachable,
            &Expect::Nonempty,
            &Expect::Exit {
                code: 0,
                output: None
            }
        ]
    );
}

#[test]
fn durations() {
    assert_eq!(model::parse_duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(model::parse_duration("1m"), Some(Duration::from_secs(60)));
    assert_eq!(
        model::parse_duration("500ms"),
        Some(Duration::from_millis(500))
    );
    for bad in ["10", "s", "0s", "1.5s", "-1s", "10 s", "1h"] {
        assert_eq!(model::parse_duration(bad), None, "{bad}");
    }
    assert_eq!(show_duration(Duration::from_secs(10)), "10s");
    assert_eq!(show_duration(Duration::from_secs(120)), "2m");
    assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
}

#[test]
fn every_embedded_suite_parses() {
    let names: Vec<String> = embedded().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["smoke", "ipv4", "ipv6", "dual-stack", "kubernetes"]);
}

/// Every file under suites/ is embedded, byte for byte, and nothing else is.
#[test]
fn embedded_suites_match_the_tree() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    let mut on_disk: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = EMBEDDED.iter().map(|(n, _)| format!("{n}.toml")).collect();
    embedded.sort();
    assert_eq!(embedded, on_disk, "add new suite files to EMBEDDED");
    for (name, text) in EMBEDDED {
        let file = std::fs::read_to_string(root.join(format!("{name}.toml"))).unwrap();
        assert_eq!(file, text, "{name}");
    }
}

#[test]
fn user_files_may_not_reuse_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEAD}{PING}");
    let clash = dir.path().join("ipv6.toml");
    std::fs::write(&clash, &text).unwrap();
    assert_eq!(
        load(std::slice::from_ref(&clash)).unwrap_err().to_string(),
        format!(
            "the suite file {} is named ipv6, like the embedded suite suites/ipv6.toml; rename the file",
            clash.display()
        )
    );
    std::fs::create_dir(dir.path().join("b")).unwrap();
    let (a, b) = (dir.path().join("x.toml"), dir.path().join("b/x.toml"));
    std::fs::write(&a, &text).unwrap();
    std::fs::write(&b, &text).unwrap();
    assert_eq!(
        load(&[a.clone(), b.clone()]).unwrap_err().to_string(),
        format!(
            "the suite files {} and {} are both named x; rename one of them",
            a.display(),
            b.display()
        )
    );
    let missing = dir.path().join("nope.toml");
    assert_eq!(
        load(std::slice::from_ref(&missing))
            .unwrap_err()
            .to_string(),
        format!(
            "cannot read the suite file {} (No such file or directory (os error 2)); check the path given to --suite-file",
            missing.display()
        )
    );
    let suites = load(std::slice::from_ref(&a)).unwrap();
    assert_eq!(suites.len(), 6);
    assert_eq!(suites[5].name, "x");
    assert_eq!(suites[5].source, Source::File(a));
}

#[test]
fn select_suites_and_checks() {
    let suites = embedded();
    let picked = select(
        &suites,
        &[
            "ipv6/nat64-ipv4only",
            "smoke",
            "ipv6/no-ipv4-path",
            "ipv6/nat64-ipv4only",
        ],
    )
    .unwrap();
    let got: Vec<(&str, Vec<String>)> = picked
        .iter()
        .map(|(s, c)| (s.name.as_str(), c.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "ipv6",
                vec!["nat64-ipv4only".to_string(), "no-ipv4-path".to_string()]
            ),
            ("smoke", vec![])
        ]
    );
    let whole = select(&suites, &["ipv4/pod-to-pod", "ipv4"]).unwrap();
    assert_eq!(whole[0].1, Vec::<String>::new());
    assert_eq!(
        select(&suites, &["ipv7"]).unwrap_err().to_string(),
        "unknown suite \"ipv7\"; known: smoke, ipv4, ipv6, dual-stack, kubernetes"
    );
    assert_eq!(
        select(&suites, &["smoke/nope"]).unwrap_err().to_string(),
        "suite smoke has no check \"nope\"; known: systemd, ping-master-4, ping-master-6, name-server, pods-4, pods-6"
    );
}
