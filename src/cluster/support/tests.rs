//! The support containers' texts, exactly.

use super::*;

use crate::plan::for_env as plan_for;

#[test]
fn synthesis_follows_rfc_6052_for_every_prefix_length() {
    let v4: std::net::Ipv4Addr = "192.0.2.33".parse().unwrap();
    for (prefix, want) in [
        ("fd00:10:64:ff9b::/96", "fd00:10:64:ff9b::c000:221"),
        ("2001:db8:122::/64", "2001:db8:122:0:c0:2:2100:0"),
        ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
        ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
        ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
        ("2001:db8::/32", "2001:db8:c000:221::"),
    ] {
        assert_eq!(
            synthesise(&prefix.parse().unwrap(), v4).to_string(),
            want,
            "{prefix}"
        );
    }
    // The research cluster's example: 10.192.230.10 → …::ac0:e60a.
    assert_eq!(
        synthesise(
            &"fd00:10:64:ff9b::/96".parse().unwrap(),
            "10.192.230.10".parse().unwrap()
        )
        .to_string(),
        "fd00:10:64:ff9b::ac0:e60a"
    );
}

#[test]
fn named_conf_in_ipv6_mode_synthesises_for_everyone_but_the_host() {
    let plan = plan_for(&[("IP_MODE", "ipv6")]);
    assert_eq!(
        named_conf(&plan),
        r#"options {
    directory "/var/cache/bind";
    listen-on { any; };
    listen-on-v6 { any; };
    allow-query { any; };
    allow-recursion { any; };
    recursion yes;
    dnssec-validation no;
    auth-nxdomain no;
    max-cache-size 32m;
    forward only;
    forwarders { fd00:10:64:ff9b::808:808; };
    dns64 fd00:10:64:ff9b::/96 {
        clients { !fd00:20::1; !172.18.0.1; any; };
        exclude { any; };
    };
};
zone "kdc.test" {
    type primary;
    file "/etc/bind/db.kdc.test";
};
"#
    );
    // Allowing AAAA use lets real records win: no exclude.
    let plan = plan_for(&[("IP_MODE", "ipv6"), ("DIND_ALLOW_AAAA_USE", "true")]);
    assert!(!named_conf(&plan).contains("exclude"));
}

#[test]
fn named_conf_without_dns64_forwards_to_dockers_resolver() {
    let plan = plan_for(&[("IP_MODE", "dual-stack")]);
    let c = named_conf(&plan);
    assert!(c.contains("    forwarders { 127.0.0.11; };\n"), "{c}");
    assert!(!c.contains("dns64"), "{c}");
}

#[test]
fn the_zone_names_the_targets_and_bind9() {
    let plan = plan_for(&[("IP_MODE", "dual-stack"), ("CLUSTER_ID", "7")]);
    assert_eq!(
        zone(&plan),
        "$TTL 60
@         IN SOA  ns.kdc.test. hostmaster.kdc.test. ( 1 3600 600 86400 60 )
@         IN NS   ns.kdc.test.
ns        IN A    10.192.7.253
ns        IN AAAA fd00:20:7::100
ipv4only  IN A    198.18.0.10
dualstack IN A    198.18.0.11
dualstack IN AAAA fd00:198:18::11
"
    );
}

#[test]
fn tayga_conf_and_router_in_ipv6_mode() {
    let plan = plan_for(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "4")]);
    assert_eq!(
        tayga_conf(&plan).unwrap(),
        "tun-device nat64\nipv4-addr 172.22.0.200\nprefix fd00:10:64:ff9b::/96\ndynamic-pool 172.22.0.128/25\ndata-dir /var/db/tayga\n"
    );
    let r = router_spec(&plan);
    assert_eq!(r.name, "tayga-cluster-4");
    assert_eq!(r.devices, vec!["/dev/net/tun"]);
    assert_eq!(r.cap_add, vec!["NET_ADMIN"]);
    assert_eq!(
        r.addresses,
        vec![
            "172.22.0.200".parse::<IpAddr>().unwrap(),
            "fd00:20:4::200".parse().unwrap()
        ]
    );
    for want in [
        "TARGETS_V4=198.18.0.0/24",
        "CLUSTER_V6=fd00:20:4::/64",
        "POOL=172.22.0.128/25",
        "DNS64_PREFIX=fd00:10:64:ff9b::/96",
    ] {
        assert!(r.env.contains(&want.to_string()), "{want} in {:?}", r.env);
    }
    assert_eq!(r.labels["io.kdc.role"], "router");
    assert_eq!(r.labels["io.kdc.cluster"], "cluster-4");
    assert_eq!(r.sysctls["net.ipv4.ip_forward"], "1");
    assert!(tayga_conf(&plan_for(&[])).is_none());
}

#[test]
fn bind9_in_ipv6_mode_routes_its_forwarder_through_tayga() {
    let plan = plan_for(&[("IP_MODE", "ipv6")]);
    let d = dns_spec(&plan);
    assert_eq!(d.name, "bind9");
    assert_eq!(d.addresses, vec!["fd00:20::100".parse::<IpAddr>().unwrap()]);
    assert!(
        d.env
            .contains(&"DNS64_ROUTE=fd00:10:64:ff9b::/96 via fd00:20::200".to_string())
    );
    assert_eq!(d.cap_add, vec!["NET_ADMIN"]);
    assert_eq!(d.dns, d.addresses);
    // In ipv4 mode: no capability, no --dns (127.0.0.11 would forward back to bind9).
    let d = dns_spec(&plan_for(&[]));
    assert!(d.cap_add.is_empty() && d.dns.is_empty());
    assert_eq!(d.addresses, vec!["10.192.0.253".parse::<IpAddr>().unwrap()]);
}

#[test]
fn a_changed_plan_changes_the_config_label() {
    let a = dns_spec(&plan_for(&[("IP_MODE", "ipv6")]));
    let b = dns_spec(&plan_for(&[
        ("IP_MODE", "ipv6"),
        ("DIND_ALLOW_AAAA_USE", "1"),
    ]));
    let c = dns_spec(&plan_for(&[("IP_MODE", "ipv6")]));
    assert_ne!(a.labels[CONFIG_LABEL], b.labels[CONFIG_LABEL]);
    assert_eq!(a.labels[CONFIG_LABEL], c.labels[CONFIG_LABEL]);
}

#[test]
fn node_routes_per_mode() {
    let p = plan_for(&[("IP_MODE", "dual-stack"), ("CLUSTER_ID", "6")]);
    assert_eq!(
        node_routes(&p, p.master()),
        [
            "10.244.2.0/24 via 10.192.6.3",
            "fd00:40:0:0:2::/80 via fd00:20:6::3",
            "10.244.3.0/24 via 10.192.6.4",
            "fd00:40:0:0:3::/80 via fd00:20:6::4",
            "198.18.0.0/24 via 10.192.6.254",
            "fd00:198:18::/64 via fd00:20:6::200",
        ]
    );
    let p = plan_for(&[("IP_MODE", "ipv6"), ("NUM_NODES", "1")]);
    assert_eq!(
        node_routes(&p, &p.nodes[1]),
        [
            "fd00:40:0:0:1::/80 via fd00:20::2",
            "fd00:10:64:ff9b::/96 via fd00:20::200",
            "fd00:198:18::/64 via fd00:20::200",
        ]
    );
    // No pod routes without a static-route plugin.
    let p = plan_for(&[("CNI_PLUGIN", "flannel"), ("NUM_NODES", "1")]);
    assert_eq!(
        node_routes(&p, p.master()),
        ["198.18.0.0/24 via 10.192.0.254"]
    );
}

#[test]
fn cni_configs_for_bridge_and_ptp() {
    let p = plan_for(&[("IP_MODE", "dual-stack")]);
    assert_eq!(
        cni_conf(&p, p.master()).unwrap(),
        r#"{"bridge":"dind0","cniVersion":"0.3.1","hairpinMode":true,"ipMasq":true,"ipam":{"ranges":[[{"gateway":"10.244.1.1","subnet":"10.244.1.0/24"}],[{"gateway":"fd00:40::1:0:0:1","subnet":"fd00:40:0:0:1::/80"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"type":"host-local"},"isGateway":true,"name":"dindnet","type":"bridge"}"#
    );
    let p = plan_for(&[("CNI_PLUGIN", "ptp")]);
    assert_eq!(
        cni_conf(&p, &p.nodes[1]).unwrap(),
        r#"{"cniVersion":"0.4.0","ipMasq":true,"ipam":{"ranges":[[{"gateway":"10.244.2.1","subnet":"10.244.2.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}],"type":"host-local"},"name":"dindnet","type":"ptp"}"#
    );
    assert_eq!(
        cni_conf(&plan_for(&[("CNI_PLUGIN", "calico")]), p.master()),
        None
    );
}

#[test]
fn the_targets_are_an_ipv4_only_and_a_dual_stack_container() {
    let t = crate::plan::targets();
    let n = targets_network(&t);
    assert_eq!(n.name, "kdc-targets");
    assert!(n.ipv6);
    assert_eq!(n.labels[TARGETS_LABEL], "1");
    let specs = target_specs(&t);
    assert_eq!(specs[0].name, "kdc-target-ipv4only");
    assert_eq!(specs[0].sysctls["net.ipv6.conf.all.disable_ipv6"], "1");
    assert_eq!(specs[1].name, "kdc-target-dualstack");
    assert_eq!(specs[1].sysctls["net.ipv6.conf.all.disable_ipv6"], "0");
    assert_eq!(specs[1].hostname, "dualstack");
}
