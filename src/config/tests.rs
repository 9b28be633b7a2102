//! Configuration tests: defaults (seed-spec §3.1), CIDR list rules (§4.2), layering and
//! validation. Expected values are written by hand.

use super::*;

fn inputs(env: &[(&str, &str)]) -> Inputs {
    Inputs::default().with_env(env.iter().copied())
}

fn ok(env: &[(&str, &str)]) -> Resolved {
    resolve(&inputs(env)).unwrap_or_else(|e| panic!("{env:?} should be valid: {e}"))
}

fn cfg(env: &[(&str, &str)]) -> Config {
    ok(env).config
}

fn err(env: &[(&str, &str)]) -> Problems {
    match resolve(&inputs(env)) {
        Ok(r) => panic!("{env:?} should fail, got {:?}", r.config),
        Err(e) => e,
    }
}

fn texts(c: &[Cidr]) -> Vec<&str> {
    c.iter().map(|c| c.text.as_str()).collect()
}

/// Asserts that one problem names `what` (a substring of `Problem::what`) and `msg` (a substring
/// of the message).
pub(crate) fn has(p: &Problems, what: &str, msg: &str) {
    assert!(
        p.list
            .iter()
            .any(|x| x.what.contains(what) && x.message.contains(msg)),
        "no problem ({what}, {msg}) in {p}"
    );
}

// ------------------------------------------------------------------------------------------
// Defaults per mode

#[test]
fn ipv4_defaults() {
    let c = cfg(&[]);
    assert_eq!(c.ip_mode, IpMode::Ipv4);
    assert_eq!(c.cluster_id, None);
    assert_eq!(c.label, None);
    assert_eq!(c.num_nodes, 2);
    assert_eq!(texts(&c.mgmt_cidrs), ["10.192.0.0/24"]);
    assert_eq!(c.service_cidr.to_string(), "10.96.0.0/12");
    assert_eq!(texts(&c.pod_cidrs), ["10.244.0.0/16"]);
    assert_eq!(c.dns64_prefix.to_string(), "fd00:10:64:ff9b::");
    assert_eq!(c.dns64_prefix_size, 96);
    assert_eq!(c.nat64_v4_subnet_prefix, [172, 18]);
    assert_eq!(c.remote_dns64_v4server.to_string(), "8.8.8.8");
    assert!(!c.allow_aaaa_use);
    assert_eq!(c.cni_plugin, CniPlugin::Bridge);
    assert_eq!(c.apiserver_port, None);
    assert!(!c.skip_snapshot);
}

#[test]
fn ipv6_defaults() {
    let c = cfg(&[("IP_MODE", "ipv6")]);
    assert_eq!(c.ip_mode, IpMode::Ipv6);
    assert_eq!(texts(&c.mgmt_cidrs), ["fd00:20::/64"]);
    assert_eq!(c.service_cidr.to_string(), "fd00:30::/110");
    assert_eq!(texts(&c.pod_cidrs), ["fd00:40::/72"]);
    assert!(!c.allow_aaaa_use);
}

#[test]
fn dual_stack_defaults() {
    let r = ok(&[("IP_MODE", "dual-stack")]);
    let c = r.config;
    assert_eq!(texts(&c.mgmt_cidrs), ["10.192.0.0/24", "fd00:20::/64"]);
    assert_eq!(c.service_cidr.to_string(), "fd00:30::/110");
    assert_eq!(texts(&c.pod_cidrs), ["10.244.0.0/16", "fd00:40::/72"]);
    // Forced true in dual-stack.
    assert!(c.allow_aaaa_use);
    assert!(r.warnings.is_empty());
}

#[test]
fn calico_changes_the_ipv4_pod_default() {
    assert_eq!(
        texts(&cfg(&[("CNI_PLUGIN", "calico")]).pod_cidrs),
        ["192.168.0.0/16"]
    );
    assert_eq!(
        texts(&cfg(&[("IP_MODE", "dual-stack"), ("CNI_PLUGIN", "calico-kdd")]).pod_cidrs),
        ["192.168.0.0/16", "fd00:40::/72"]
    );
}

#[test]
fn default_label_counts_as_no_label() {
    assert_eq!(
        cfg(&[("DIND_LABEL", "mirantis.kubeadm_dind_cluster_runtime")]).label,
        None
    );
    assert_eq!(cfg(&[("DIND_LABEL", "foo")]).label.as_deref(), Some("foo"));
}

// ------------------------------------------------------------------------------------------
// CIDR lists

#[test]
fn single_family_modes_take_one_cidr_of_their_family() {
    assert_eq!(
        texts(&cfg(&[("MGMT_CIDRS", "10.50.0.0/24")]).mgmt_cidrs),
        ["10.50.0.0/24"]
    );
    let e = err(&[("MGMT_CIDRS", "10.50.0.0/24, 10.60.0.0/24")]);
    has(
        &e,
        "MGMT_CIDRS=10.50.0.0/24, 10.60.0.0/24",
        "takes one IPv4 CIDR, got 2",
    );
    let e = err(&[("MGMT_CIDRS", "fd00::/64")]);
    has(
        &e,
        "MGMT_CIDRS=fd00::/64",
        "must be an IPv4 CIDR in ipv4 mode",
    );
    let e = err(&[("IP_MODE", "ipv6"), ("POD_NETWORK_CIDR", "10.244.0.0/16")]);
    has(&e, "POD_NETWORK_CIDR", "must be an IPv6 CIDR in ipv6 mode");
    let e = err(&[("MGMT_CIDRS", "not-a-cidr")]);
    has(&e, "MGMT_CIDRS=not-a-cidr", "'not-a-cidr' is not a CIDR");
}

#[test]
fn dual_stack_completes_and_reorders() {
    let ds = |v: &str| cfg(&[("IP_MODE", "dual-stack"), ("MGMT_CIDRS", v)]).mgmt_cidrs;
    // One IPv6: the IPv4 default comes first.
    assert_eq!(
        texts(&ds("fd00:77::/64")),
        ["10.192.0.0/24", "fd00:77::/64"]
    );
    // One IPv4: the IPv6 default is added.
    assert_eq!(texts(&ds("10.50.0.0/24")), ["10.50.0.0/24", "fd00:20::/64"]);
    // Two: reordered IPv4 first; separated by commas and/or spaces.
    assert_eq!(
        texts(&ds("fd00:77::/64,10.50.0.0/24")),
        ["10.50.0.0/24", "fd00:77::/64"]
    );
    assert_eq!(
        texts(&ds("fd00:77::/64   10.50.0.0/24")),
        ["10.50.0.0/24", "fd00:77::/64"]
    );
    assert_eq!(
        texts(&ds(" 10.50.0.0/24 , fd00:77::/64 ")),
        ["10.50.0.0/24", "fd00:77::/64"]
    );
    let pods = cfg(&[
        ("IP_MODE", "dual-stack"),
        ("POD_NETWORK_CIDR", "fd00:10:20::/56"),
    ])
    .pod_cidrs;
    assert_eq!(texts(&pods), ["10.244.0.0/16", "fd00:10:20::/56"]);
}

#[test]
fn dual_stack_list_errors() {
    let e = err(&[
        ("IP_MODE", "dual-stack"),
        ("MGMT_CIDRS", "10.1.0.0/24,10.2.0.0/24,fd00::/64"),
    ]);
    has(&e, "MGMT_CIDRS", "at most two CIDRs");
    let e = err(&[
        ("IP_MODE", "dual-stack"),
        ("MGMT_CIDRS", "10.1.0.0/24,10.2.0.0/24"),
    ]);
    has(&e, "MGMT_CIDRS", "one IPv4 and one IPv6");
    let e = err(&[
        ("IP_MODE", "dual-stack"),
        ("POD_NETWORK_CIDR", "fd00:1::/72 fd00:2::/72"),
    ]);
    has(&e, "POD_NETWORK_CIDR", "one IPv4 and one IPv6");
}

#[test]
fn cidr_text_is_kept() {
    // The text matters for IPv6 cluster-ID injection (fd00:20::/64 vs fd00:20:0::/64).
    let c = cfg(&[("IP_MODE", "ipv6"), ("MGMT_CIDRS", "fd00:20:0::/64")]);
    assert_eq!(c.mgmt_cidrs[0].text, "fd00:20:0::/64");
    assert_eq!(c.mgmt_cidrs[0].net.to_string(), "fd00:20::/64");
}

#[test]
fn service_cidr_family() {
    let e = err(&[("SERVICE_CIDR", "fd00:30::/110")]);
    has(&e, "SERVICE_CIDR", "does not fit ipv4 mode");
    let e = err(&[("IP_MODE", "ipv6"), ("SERVICE_CIDR", "10.96.0.0/12")]);
    has(&e, "SERVICE_CIDR", "does not fit ipv6 mode");
    assert_eq!(
        cfg(&[("IP_MODE", "dual-stack"), ("SERVICE_CIDR", "10.96.0.0/12")])
            .service_cidr
            .to_string(),
        "10.96.0.0/12"
    );
    let e = err(&[("SERVICE_CIDR", "10.96.0.0/12,10.97.0.0/16")]);
    has(&e, "SERVICE_CIDR", "must be one CIDR");
}

// ------------------------------------------------------------------------------------------
// Legacy DIND_SUBNET / DIND_SUBNET_SIZE

#[test]
fn legacy_subnet_pair() {
    let c = cfg(&[("DIND_SUBNET", "10.50.0.0"), ("DIND_SUBNET_SIZE", "24")]);
    assert_eq!(texts(&c.mgmt_cidrs), ["10.50.0.0/24"]);
    // DIND_SUBNET alone is ignored.
    let c = cfg(&[("DIND_SUBNET", "10.50.0.0")]);
    assert_eq!(texts(&c.mgmt_cidrs), ["10.192.0.0/24"]);
    // DIND_SUBNET_SIZE alone in ipv4 mode: no DIND_SUBNET default, so ignored.
    let c = cfg(&[("DIND_SUBNET_SIZE", "24")]);
    assert_eq!(texts(&c.mgmt_cidrs), ["10.192.0.0/24"]);
    // Outside ipv4, config.sh defaults DIND_SUBNET to fd00:10::, so the size alone counts.
    let c = cfg(&[("IP_MODE", "ipv6"), ("DIND_SUBNET_SIZE", "64")]);
    assert_eq!(texts(&c.mgmt_cidrs), ["fd00:10::/64"]);
    let c = cfg(&[("IP_MODE", "dual-stack"), ("DIND_SUBNET_SIZE", "64")]);
    assert_eq!(texts(&c.mgmt_cidrs), ["10.192.0.0/24", "fd00:10::/64"]);
    // MGMT_CIDRS wins over the legacy pair.
    let c = cfg(&[
        ("MGMT_CIDRS", "10.60.0.0/24"),
        ("DIND_SUBNET", "10.50.0.0"),
        ("DIND_SUBNET_SIZE", "24"),
    ]);
    assert_eq!(texts(&c.mgmt_cidrs), ["10.60.0.0/24"]);
    // A bad legacy value names DIND_SUBNET.
    let e = err(&[("DIND_SUBNET", "fd00:10::"), ("DIND_SUBNET_SIZE", "64")]);
    has(&e, "DIND_SUBNET", "must be an IPv4 CIDR in ipv4 mode");
}

// ------------------------------------------------------------------------------------------
// Parsing of single values

#[test]
fn empty_env_values_are_unset() {
    let c = cfg(&[
        ("IP_MODE", ""),
        ("CLUSTER_ID", ""),
        ("NUM_NODES", "  "),
        ("MGMT_CIDRS", ""),
        ("DIND_LABEL", ""),
        ("CNI_PLUGIN", ""),
    ]);
    assert_eq!(c, cfg(&[]));
}

#[test]
fn unknown_env_vars_are_ignored() {
    assert_eq!(cfg(&[("HOME", "/root"), ("ip_mode", "ipv6")]), cfg(&[]));
}

#[test]
fn bool_parsing() {
    for t in ["true", "TRUE", "yes", "y", "1", "on", " On "] {
        assert!(
            cfg(&[("IP_MODE", "ipv6"), ("DIND_ALLOW_AAAA_USE", t)]).allow_aaaa_use,
            "{t}"
        );
        assert!(cfg(&[("SKIP_SNAPSHOT", t)]).skip_snapshot, "{t}");
    }
    for f in ["false", "no", "n", "0", "off", "FALSE"] {
        assert!(
            !cfg(&[("IP_MODE", "ipv6"), ("DIND_ALLOW_AAAA_USE", f)]).allow_aaaa_use,
            "{f}"
        );
        assert!(!cfg(&[("SKIP_SNAPSHOT", f)]).skip_snapshot, "{f}");
    }
    let e = err(&[("SKIP_SNAPSHOT", "maybe")]);
    has(&e, "SKIP_SNAPSHOT=maybe", "must be true or false");
}

#[test]
fn allow_aaaa_use_is_forced_per_mode() {
    let r = ok(&[("DIND_ALLOW_AAAA_USE", "true")]);
    assert!(!r.config.allow_aaaa_use);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("ipv4"));
    let r = ok(&[("IP_MODE", "dual-stack"), ("DIND_ALLOW_AAAA_USE", "false")]);
    assert!(r.config.allow_aaaa_use);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
}

#[test]
fn cluster_id_range() {
    assert_eq!(cfg(&[("CLUSTER_ID", "0")]).cluster_id, Some(0));
    assert_eq!(cfg(&[("CLUSTER_ID", "254")]).cluster_id, Some(254));
    assert_eq!(cfg(&[("CLUSTER_ID", " 12 ")]).cluster_id, Some(12));
    for bad in ["255", "300", "-1", "abc", "1.5"] {
        let e = err(&[("CLUSTER_ID", bad)]);
        has(&e, &format!("CLUSTER_ID={bad}"), "0 to 254");
    }
}

#[test]
fn label_validation() {
    for good in ["foo", "a", "x.y-z1", "9lives"] {
        assert_eq!(cfg(&[("DIND_LABEL", good)]).label.as_deref(), Some(good));
    }
    // The original's default label is accepted as itself (it never appears in a name).
    assert_eq!(cfg(&[("DIND_LABEL", DEFAULT_LABEL)]).label, None);
    let long = "a".repeat(51);
    // Node names end in the label, and Kubernetes wants lowercase DNS names.
    for bad in [
        "-foo",
        ".foo",
        "foo-",
        "has space",
        "a/b",
        "Foo",
        "my_cluster",
        long.as_str(),
    ] {
        let e = err(&[("DIND_LABEL", bad)]);
        has(&e, "DIND_LABEL", "1-50 characters of lowercase letters");
    }
    assert_eq!(
        cfg(&[("DIND_LABEL", &"a".repeat(50))]).label,
        Some("a".repeat(50))
    );
}

#[test]
fn other_value_checks() {
    let e = err(&[("IP_MODE", "ipv5")]);
    has(&e, "IP_MODE=ipv5", "ipv4, ipv6 or dual-stack");
    let e = err(&[("NUM_NODES", "-1")]);
    has(&e, "NUM_NODES=-1", "whole number");
    let e = err(&[("CNI_PLUGIN", "cilium")]);
    has(&e, "CNI_PLUGIN=cilium", "not a supported CNI plugin");
    let e = err(&[("DNS64_PREFIX", "fd00:10:64:ff9b::1")]);
    has(&e, "DNS64_PREFIX", "ending in '::'");
    let e = err(&[("DNS64_PREFIX_SIZE", "80")]);
    has(&e, "DNS64_PREFIX_SIZE", "32, 40, 48, 56, 64 or 96");
    for bad in ["172", "172.18.0", "10.1000", "a.b"] {
        let e = err(&[("NAT64_V4_SUBNET_PREFIX", bad)]);
        has(&e, "NAT64_V4_SUBNET_PREFIX", "");
    }
    assert_eq!(
        cfg(&[("NAT64_V4_SUBNET_PREFIX", "10.100")]).nat64_v4_subnet_prefix,
        [10, 100]
    );
    let e = err(&[("REMOTE_DNS64_V4SERVER", "8.8.8")]);
    has(&e, "REMOTE_DNS64_V4SERVER", "IPv4 address");
    assert_eq!(cfg(&[("APISERVER_PORT", "0")]).apiserver_port, None);
    assert_eq!(
        cfg(&[("APISERVER_PORT", "6443")]).apiserver_port,
        Some(6443)
    );
    let e = err(&[("APISERVER_PORT", "70000")]);
    has(&e, "APISERVER_PORT", "port number");
    // A minor selects its release; the exact release is accepted; others name the supported.
    assert_eq!(cfg(&[("DIND_K8S_VERSION", "1.35")]).k8s_version, "v1.35.4");
    assert_eq!(
        cfg(&[("DIND_K8S_VERSION", "v1.36.3")]).k8s_version,
        "v1.36.3"
    );
    let e = err(&[("DIND_K8S_VERSION", "latest")]);
    has(
        &e,
        "DIND_K8S_VERSION",
        "kdc builds v1.34 (v1.34.4), v1.35 (v1.35.4)",
    );
    let e = err(&[("DIND_K8S_VERSION", "v1.35.1")]);
    has(
        &e,
        "DIND_K8S_VERSION",
        "Kubernetes v1.35.1 is not supported",
    );
    assert_eq!(cfg(&[("FEATURE_GATES", "none")]).feature_gates, None);
    assert_eq!(
        cfg(&[("FEATURE_GATES", "A=true, B=false")])
            .feature_gates
            .as_deref(),
        Some("A=true,B=false")
    );
    let e = err(&[("FEATURE_GATES", "A=yes")]);
    has(&e, "FEATURE_GATES", "Name=true|false");
}

// ------------------------------------------------------------------------------------------
// Layers and the config file

fn write_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kdc.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn precedence_flag_env_file() {
    let (dir, _) = write_file("num_nodes = 5\ncluster_id = 1\nip_mode = \"ipv6\"\n");
    let mut i = Inputs::default()
        .with_env([("CLUSTER_ID", "2"), ("IP_MODE", "dual-stack")])
        .with_file(None, dir.path());
    i.set_flag(Key::IpMode, "ipv4");
    let c = resolve(&i).unwrap().config;
    assert_eq!(c.num_nodes, 5); // file
    assert_eq!(c.cluster_id, Some(2)); // env over file
    assert_eq!(c.ip_mode, IpMode::Ipv4); // flag over env
    assert_eq!(
        i.get(Key::NumNodes).unwrap().1.to_string(),
        format!("{} key num_nodes", dir.path().join("kdc.toml").display())
    );
    assert_eq!(i.get(Key::ClusterId).unwrap().1, Origin::Env("CLUSTER_ID"));
    assert_eq!(i.get(Key::IpMode).unwrap().1, Origin::Flag("ip-mode"));
}

#[test]
fn no_file_in_cwd_is_fine_but_explicit_file_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let i = Inputs::default().with_file(None, dir.path());
    assert!(i.get(Key::IpMode).is_none());
    let e =
        resolve(&Inputs::default().with_file(Some(&dir.path().join("missing.toml")), dir.path()))
            .unwrap_err();
    assert!(e.list[0].what.contains("missing.toml"), "{e}");
    assert!(e.list[0].message.contains("cannot read"), "{e}");
}

#[test]
fn file_values_of_each_type() {
    let (dir, path) = write_file(
        "ip_mode = \"dual-stack\"\nnum_nodes = 3\nskip_snapshot = true\nmgmt_cidrs = [\"fd00:77::/64\", \"10.50.0.0/24\"]\n",
    );
    let i = Inputs::default().with_file(Some(&path), dir.path());
    let c = resolve(&i).unwrap().config;
    assert_eq!(c.num_nodes, 3);
    assert!(c.skip_snapshot);
    assert_eq!(texts(&c.mgmt_cidrs), ["10.50.0.0/24", "fd00:77::/64"]);
}

#[test]
fn file_is_strict() {
    let (dir, path) = write_file(
        "colour = \"blue\"\nnum_nodes = 2.5\nmgmt_cidrs = [1, 2]\nDIND_SUBNET = \"10.1.0.0\"\n[net]\nx = 1\n",
    );
    let e = resolve(&Inputs::default().with_file(Some(&path), dir.path())).unwrap_err();
    assert_eq!(e.subject, "configuration");
    has(&e, "key colour", "unknown key");
    has(&e, "key DIND_SUBNET", "unknown key");
    has(&e, "key net", "unknown key");
    has(&e, "key num_nodes", "got float");
    has(&e, "key mgmt_cidrs", "got array");
    assert_eq!(e.list.len(), 5, "{e}");
    // The known keys are listed to help.
    assert!(e.list[0].message.contains("ip_mode"), "{e}");
}

#[test]
fn file_must_be_toml() {
    let (dir, path) = write_file("this is not toml");
    let e = resolve(&Inputs::default().with_file(Some(&path), dir.path())).unwrap_err();
    has(&e, "kdc.toml", "not valid TOML");
}

#[test]
fn problems_from_all_layers_are_collected_and_name_their_origin() {
    let (dir, _) = write_file("num_nodes = \"many\"\nservice_cidr = \"10.96.0.0\"\n");
    let mut i = Inputs::default()
        .with_env([
            ("IP_MODE", "ipv5"),
            ("MGMT_CIDRS", "10.1.0.0/24,10.2.0.0/24"),
        ])
        .with_file(None, dir.path());
    i.set_flag(Key::ClusterId, "x");
    let e = resolve(&i).unwrap_err();
    assert_eq!(e.subject, "configuration");
    has(&e, "IP_MODE=ipv5", "IP mode");
    has(&e, "--cluster-id x", "0 to 254");
    has(&e, "kdc.toml key num_nodes = \"many\"", "whole number");
    has(&e, "kdc.toml key service_cidr", "must be one CIDR");
    has(&e, "MGMT_CIDRS=10.1.0.0/24,10.2.0.0/24", "takes one");
    assert_eq!(e.list.len(), 5, "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with("invalid configuration: 5 problems\n  - "),
        "{text}"
    );
}

/// A matrix cell (or suite) adds a layer of its own: it wins over the environment and the file,
/// loses to flags, and error messages name it.
#[test]
fn a_named_layer_sits_between_environment_and_flags() {
    let mut i = Inputs::default().with_env([("IP_MODE", "ipv4"), ("NUM_NODES", "3")]);
    i.add(
        Layer::named(
            "matrix cell",
            "ipv6-nat64",
            [("IP_MODE", "ipv6"), ("NUM_NODES", "1"), ("CLUSTER_ID", "x")],
        )
        .unwrap(),
    );
    i.set_flag(Key::NumNodes, "4");
    assert_eq!(
        i.get(Key::IpMode).unwrap(),
        (
            "ipv6",
            Origin::Layer {
                kind: "matrix cell",
                name: "ipv6-nat64".into(),
                var: "IP_MODE"
            }
        )
    );
    assert_eq!(
        i.get(Key::NumNodes).unwrap(),
        ("4", Origin::Flag("num-nodes"))
    );
    let e = resolve(&i).unwrap_err();
    assert_eq!(
        e.list,
        vec![Problem {
            what: "matrix cell ipv6-nat64: CLUSTER_ID=x".into(),
            message: "must be a whole number from 0 to 254".into()
        }]
    );
}

#[test]
fn a_named_layer_refuses_unknown_variables() {
    let e = Layer::named("suite", "ipv6", [("IP_MOD", "ipv6")]).unwrap_err();
    assert_eq!(e.what, "suite ipv6");
    assert!(
        e.message
            .starts_with("IP_MOD is not a kdc setting; known: IP_MODE, CLUSTER_ID"),
        "{}",
        e.message
    );
}

/// DIND_PORT_FORWARDER is checked with every other value, before anything is created.
#[test]
fn the_port_forwarder_must_be_an_executable_file() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fwd.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let e = resolve(&inputs(&[
        ("DIND_PORT_FORWARDER", "/nonexistent"),
        ("NUM_NODES", "x"),
    ]))
    .unwrap_err();
    assert_eq!(e.list.len(), 2, "{e}");
    assert_eq!(e.list[1].what, "DIND_PORT_FORWARDER=/nonexistent");
    assert_eq!(
        e.list[1].message,
        "cannot be used (No such file or directory (os error 2)); give the path of an executable"
    );
    let path = script.to_str().unwrap();
    let e = resolve(&inputs(&[("DIND_PORT_FORWARDER", path)])).unwrap_err();
    assert_eq!(e.list[0].message, "is not executable; chmod +x it");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        ok(&[("DIND_PORT_FORWARDER", path)]).config.port_forwarder,
        Some(script)
    );
}
