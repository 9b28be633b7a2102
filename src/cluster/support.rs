//! The support containers, as pure functions of the plan: the cluster's name server (bind9), its
//! router to the targets (tayga in ipv6 mode, a plain gateway otherwise), and the shared targets.
//! Every text here (named.conf, the zone, tayga.conf, the router's script) was run as written on
//! this project's machines (images/NOTES.md and the recipe it records).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::spec::cluster_labels;
use crate::config::IpMode;
use crate::images::SUPPORT_IMAGE;
use crate::plan::{Plan, RouterKind, Targets};
use crate::runtime::{ContainerSpec, NetworkSpec, labels};

/// The label of the shared targets network and containers (they belong to no cluster).
pub const TARGETS_LABEL: &str = "io.kdc.targets";
/// On a support container: the hash of what it was made from, so `up` recreates it when the plan
/// changed (the original kept a stale bind9 forever).
pub const CONFIG_LABEL: &str = "io.kdc.config";

/// The roles of support containers (`io.kdc.role`).
pub const ROLE_DNS: &str = "dns";
pub const ROLE_ROUTER: &str = "router";
pub const ROLE_TARGET: &str = "target";

/// The line the router prints when it forwards: after its IPv6 addresses left `tentative`
/// (duplicate address detection takes 1-2 s after every start, and NAT64 drops everything until
/// then).
pub const ROUTER_READY: &str = "kdc: router ready";
/// named's last line of a successful start.
pub const DNS_READY: &str = "running";

fn family_of(a: &IpAddr) -> u8 {
    if a.is_ipv4() { 4 } else { 6 }
}

/// The DNS64-synthesised form of an IPv4 address (RFC 6052 §2.2), for the prefix lengths
/// DNS64_PREFIX_SIZE allows.
pub fn synthesise(prefix: &ipnet::Ipv6Net, v4: std::net::Ipv4Addr) -> std::net::Ipv6Addr {
    let p = prefix.network().octets();
    let a = v4.octets();
    let mut out = [0u8; 16];
    let len = usize::from(prefix.prefix_len() / 8);
    out[..len].copy_from_slice(&p[..len]);
    // Bits 64-71 (octet 8) are the "u" octet and stay zero.
    let mut i = len;
    for b in a {
        if i == 8 {
            i += 1;
        }
        out[i] = b;
        i += 1;
    }
    std::net::Ipv6Addr::from(out)
}

/// bind9's named.conf. In ipv6 mode: DNS64 for every client but the host (whose queries arrive
/// from the bridge gateways, so kdc's host-side checks see the real records, as the original's
/// `dig @8.8.8.8` did), synthesising always unless AAAA use is allowed, forwarding to the
/// NAT64-synthesised address of `REMOTE_DNS64_V4SERVER` (through tayga, as the original did).
/// In the other modes: no DNS64, forwarding to Docker's resolver inside bind9's own container.
pub fn named_conf(plan: &Plan) -> String {
    let forwarder = match (&plan.dns.dns64, plan.dns.upstream) {
        (Some(prefix), IpAddr::V4(v4)) => synthesise(prefix, v4).to_string(),
        (_, upstream) => upstream.to_string(),
    };
    let mut s = String::from(
        "options {\n    directory \"/var/cache/bind\";\n    listen-on { any; };\n    listen-on-v6 { any; };\n    allow-query { any; };\n    allow-recursion { any; };\n    recursion yes;\n    dnssec-validation no;\n    auth-nxdomain no;\n    max-cache-size 32m;\n    forward only;\n",
    );
    s += &format!("    forwarders {{ {forwarder}; }};\n");
    if let Some(prefix) = &plan.dns.dns64 {
        let host: Vec<String> = plan
            .network
            .gateways
            .iter()
            .map(|g| format!("!{g}; "))
            .collect();
        s += &format!(
            "    dns64 {prefix} {{\n        clients {{ {}any; }};\n",
            host.concat()
        );
        if !plan.dns.real_aaaa {
            s += "        exclude { any; };\n";
        }
        s += "    };\n";
    }
    s += "};\nzone \"kdc.test\" {\n    type primary;\n    file \"/etc/bind/db.kdc.test\";\n};\n";
    s
}

/// The zone of the targets, with bind9's own addresses for `ns`.
pub fn zone(plan: &Plan) -> String {
    let mut s = String::from(
        "$TTL 60\n@         IN SOA  ns.kdc.test. hostmaster.kdc.test. ( 1 3600 600 86400 60 )\n@         IN NS   ns.kdc.test.\n",
    );
    let rr = |a: &IpAddr| if a.is_ipv4() { "A   " } else { "AAAA" };
    for a in &plan.dns.addresses {
        s += &format!("ns        IN {} {a}\n", rr(a));
    }
    for t in [&plan.targets.ipv4only, &plan.targets.dualstack] {
        let host = t.name.trim_end_matches(".kdc.test");
        for a in &t.addresses {
            s += &format!("{host:<9} IN {} {a}\n", rr(a));
        }
    }
    s
}

/// bind9's start: write the configuration passed in the environment, check it, route the DNS64
/// prefix to tayga (its forwarder is a synthesised address), run named in the foreground.
const NAMED_SCRIPT: &str = r#"set -e
printf '%s\n' "$NAMED_CONF" > /etc/bind/named.conf
printf '%s\n' "$ZONE" > /etc/bind/db.kdc.test
named-checkconf -z /etc/bind/named.conf >/dev/null
if [ -n "${DNS64_ROUTE:-}" ]; then ip -6 route replace $DNS64_ROUTE; fi
exec named -g -u bind -c /etc/bind/named.conf"#;

/// The router's start: find the interface on the targets network, start tayga's tun (ipv6
/// mode), masquerade towards the targets (so they need no routes back to any cluster) and the
/// pool, wait out IPv6 duplicate address detection, say so, then forward.
const ROUTER_SCRIPT: &str = r#"set -e
tif=$(ip -o -4 addr show to "$TARGETS_V4" | awk '{print $2}')
[ -n "$tif" ] || { echo "kdc: not attached to the targets network" >&2; exit 1; }
if [ -n "${TAYGA_CONF:-}" ]; then
    printf '%s\n' "$TAYGA_CONF" > /etc/tayga.conf
    tayga --mktun
    ip link set nat64 up
    ip route replace "$POOL" dev nat64
    ip -6 route replace "$DNS64_PREFIX" dev nat64
    iptables -t nat -A POSTROUTING -s "$POOL" -j MASQUERADE
fi
iptables -t nat -A POSTROUTING -o "$tif" -j MASQUERADE
if [ -n "${CLUSTER_V6:-}" ]; then ip6tables -t nat -A POSTROUTING -s "$CLUSTER_V6" -o "$tif" -j MASQUERADE; fi
i=0
if [ -n "${CLUSTER_V6:-}" ]; then
    while [ -n "$(ip -6 addr show tentative 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
fi
echo "kdc: router ready (targets on $tif)"
if [ -n "${TAYGA_CONF:-}" ]; then exec stdbuf -oL -eL tayga -d; else exec sleep infinity; fi"#;

/// tayga.conf (ipv6 mode).
pub fn tayga_conf(plan: &Plan) -> Option<String> {
    let nat = plan.nat64.as_ref()?;
    let prefix = plan.dns64.as_ref()?.prefix;
    Some(format!(
        "tun-device nat64\nipv4-addr {}\nprefix {prefix}\ndynamic-pool {}\ndata-dir /var/db/tayga\n",
        nat.ipv4, nat.pool
    ))
}

/// A hash of what a support container is made from.
pub(crate) fn config_hash(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ipv6_sysctls(sysctls: &mut BTreeMap<String, String>) {
    sysctls.insert("net.ipv6.conf.all.disable_ipv6".into(), "0".into());
    sysctls.insert("net.ipv6.conf.all.forwarding".into(), "1".into());
}

fn the_v6(addrs: &[IpAddr]) -> Option<IpAddr> {
    addrs.iter().copied().find(|a| a.is_ipv6())
}

/// The bind9 container.
pub fn dns_spec(plan: &Plan) -> ContainerSpec {
    let conf = named_conf(plan);
    let zone = zone(plan);
    let mut env = vec![format!("NAMED_CONF={conf}"), format!("ZONE={zone}")];
    let mut cap_add = Vec::new();
    let mut dns = Vec::new();
    if let (Some(prefix), Some(nat)) = (&plan.dns.dns64, &plan.nat64) {
        // The forwarder is a synthesised address: it is reached through tayga.
        env.push(format!("DNS64_ROUTE={prefix} via {}", nat.ipv6));
        cap_add.push("NET_ADMIN".to_string());
        // Docker's embedded resolver cannot forward to an IPv6 server; bind9 asks itself.
        dns = plan.dns.addresses.clone();
    }
    let mut sysctls = BTreeMap::new();
    if plan.dns.addresses.iter().any(IpAddr::is_ipv6) {
        ipv6_sysctls(&mut sysctls);
    }
    let mut l = cluster_labels(plan);
    l.insert(labels::ROLE.into(), ROLE_DNS.into());
    l.insert(
        CONFIG_LABEL.into(),
        config_hash(&[SUPPORT_IMAGE, &conf, &zone, &env.join("\n")]),
    );
    ContainerSpec {
        name: plan.dns.container.clone(),
        hostname: plan.dns.container.clone(),
        image: SUPPORT_IMAGE.into(),
        labels: l,
        network: plan.network.name.clone(),
        addresses: plan.dns.addresses.clone(),
        env,
        cmd: Some(vec!["sh".into(), "-c".into(), NAMED_SCRIPT.into()]),
        cap_add,
        sysctls,
        dns,
        ..Default::default()
    }
}

/// The router container (created on the cluster network, then connected to the targets).
pub fn router_spec(plan: &Plan) -> ContainerSpec {
    let targets_v4 = plan
        .targets
        .subnets
        .iter()
        .find(|n| matches!(n, IpNet::V4(_)))
        .expect("the targets have an IPv4 subnet");
    let cluster_v6 = plan
        .network
        .subnets
        .iter()
        .find(|n| matches!(n, IpNet::V6(_)))
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut env = vec![
        format!("TARGETS_V4={targets_v4}"),
        format!("CLUSTER_V6={cluster_v6}"),
    ];
    let mut devices = Vec::new();
    if let (RouterKind::Nat64, Some(conf), Some(nat), Some(d)) =
        (plan.router.kind, tayga_conf(plan), &plan.nat64, &plan.dns64)
    {
        env.push(format!("TAYGA_CONF={conf}"));
        env.push(format!("POOL={}", nat.pool));
        env.push(format!("DNS64_PREFIX={}", d.prefix));
        devices.push("/dev/net/tun".to_string());
    }
    let mut sysctls = BTreeMap::from([("net.ipv4.ip_forward".to_string(), "1".to_string())]);
    if !cluster_v6.is_empty() {
        ipv6_sysctls(&mut sysctls);
    }
    let mut l = cluster_labels(plan);
    l.insert(labels::ROLE.into(), ROLE_ROUTER.into());
    l.insert(
        CONFIG_LABEL.into(),
        config_hash(&[SUPPORT_IMAGE, ROUTER_SCRIPT, &env.join("\n")]),
    );
    ContainerSpec {
        name: plan.router.container.clone(),
        hostname: plan.router.container.clone(),
        image: SUPPORT_IMAGE.into(),
        labels: l,
        network: plan.network.name.clone(),
        addresses: plan.router.addresses.clone(),
        env,
        cmd: Some(vec!["sh".into(), "-c".into(), ROUTER_SCRIPT.into()]),
        cap_add: vec!["NET_ADMIN".into()],
        devices,
        sysctls,
        ..Default::default()
    }
}

/// The shared targets network.
pub fn targets_network(t: &Targets) -> NetworkSpec {
    NetworkSpec {
        name: t.network.clone(),
        ipv6: true,
        subnets: t
            .subnets
            .iter()
            .map(|n| (*n, crate::plan::host(n, 1), None))
            .collect(),
        labels: BTreeMap::from([(TARGETS_LABEL.to_string(), "1".to_string())]),
    }
}

/// The two target containers: an IPv4-only host (IPv6 switched off inside it, although Docker
/// records an IPv6 address for it on the dual-stack network) and a dual-stack one. They only
/// answer pings; the kernel does that.
pub fn target_specs(t: &Targets) -> Vec<ContainerSpec> {
    [&t.ipv4only, &t.dualstack]
        .into_iter()
        .map(|target| {
            let v6 = target.addresses.iter().any(|a| family_of(a) == 6);
            let off = if v6 { "0" } else { "1" };
            ContainerSpec {
                name: target.container.clone(),
                hostname: target.name.split('.').next().unwrap_or_default().into(),
                image: SUPPORT_IMAGE.into(),
                labels: BTreeMap::from([
                    (TARGETS_LABEL.to_string(), "1".to_string()),
                    (labels::ROLE.to_string(), ROLE_TARGET.to_string()),
                ]),
                network: t.network.clone(),
                addresses: target.addresses.clone(),
                sysctls: BTreeMap::from([
                    (
                        "net.ipv6.conf.all.disable_ipv6".to_string(),
                        off.to_string(),
                    ),
                    (
                        "net.ipv6.conf.default.disable_ipv6".to_string(),
                        off.to_string(),
                    ),
                ]),
                ..Default::default()
            }
        })
        .collect()
}

/// The node's resolver setup and routes, as shell: in ipv6 mode Docker's 127.0.0.11 goes from
/// resolv.conf (it cannot forward to an IPv6 server; resolv.conf is a bind mount, so it is
/// rewritten in place, as the original's `dindnet` did); every other node's pod subnets via that
/// node (bridge and ptp, seed-spec §4.6); the targets, and in ipv6 mode the DNS64 prefix, via
/// the router.
pub fn node_routes(plan: &Plan, node: &crate::plan::Node) -> Vec<String> {
    let mut routes = Vec::new();
    if plan.cni_plugin.supports_ipv6_pods() {
        for other in plan.nodes.iter().filter(|n| n.name != node.name) {
            for pod in &other.pod_cidrs {
                let via = other
                    .addresses
                    .iter()
                    .find(|a| a.is_ipv4() == matches!(pod, IpNet::V4(_)));
                if let Some(via) = via {
                    routes.push(format!("{pod} via {via}"));
                }
            }
        }
    }
    let router = &plan.router.addresses;
    match plan.ip_mode {
        IpMode::Ipv6 => {
            let v6 = the_v6(router).expect("tayga has an IPv6 address");
            if let Some(d) = &plan.dns64 {
                routes.push(format!("{} via {v6}", d.prefix));
            }
            for t in plan
                .targets
                .subnets
                .iter()
                .filter(|n| matches!(n, IpNet::V6(_)))
            {
                routes.push(format!("{t} via {v6}"));
            }
        }
        IpMode::Ipv4 | IpMode::DualStack => {
            for t in &plan.targets.subnets {
                let via = router
                    .iter()
                    .find(|a| a.is_ipv4() == matches!(t, IpNet::V4(_)));
                if let Some(via) = via {
                    routes.push(format!("{t} via {via}"));
                }
            }
        }
    }
    routes
}

/// The node's CNI config for bridge and ptp (seed-spec §8.6), from the plan: the node's pod
/// subnets per family with host-local IPAM, ipMasq, routes per family present. `isGateway` with
/// explicit routes: the original's `isDefaultGateway` plus default routes fails with the 1.1.1
/// plugins ("file exists"). `None` for plugins that need Kubernetes to install.
pub fn cni_conf(plan: &Plan, node: &crate::plan::Node) -> Option<String> {
    use crate::config::CniPlugin;
    let ranges: Vec<serde_json::Value> = node
        .pod_cidrs
        .iter()
        .map(|c| {
            serde_json::json!([{
                "subnet": c.to_string(),
                "gateway": crate::plan::host(c, 1).to_string(),
            }])
        })
        .collect();
    let routes: Vec<serde_json::Value> = node
        .pod_cidrs
        .iter()
        .map(|c| match c {
            IpNet::V4(_) => serde_json::json!({"dst": "0.0.0.0/0"}),
            IpNet::V6(_) => serde_json::json!({"dst": "::/0"}),
        })
        .collect();
    let ipam = serde_json::json!({"type": "host-local", "ranges": ranges, "routes": routes});
    let conf = match plan.cni_plugin {
        CniPlugin::Bridge => serde_json::json!({
            "cniVersion": "0.3.1", "name": "dindnet", "type": "bridge", "bridge": "dind0",
            "isGateway": true, "hairpinMode": plan.ip_mode != IpMode::Ipv4, "ipMasq": true, "ipam": ipam,
        }),
        CniPlugin::Ptp => serde_json::json!({
            "cniVersion": "0.4.0", "name": "dindnet", "type": "ptp", "ipMasq": true, "ipam": ipam,
        }),
        _ => return None,
    };
    Some(conf.to_string())
}

#[cfg(test)]
mod tests;

/// Removes the shared targets once no cluster has a router left (the last `clean`, or the
/// rollback of the only `up`), under the targets' lock so that no cluster attaches a router
/// meanwhile. A cluster that is down keeps its router, so its targets stay.
pub async fn release_targets(
    provider: &dyn crate::runtime::Provider,
    t: &Targets,
) -> Result<bool, crate::runtime::ProviderError> {
    if provider.network(&t.network).await?.is_none() {
        return Ok(false);
    }
    let wait = std::time::Duration::from_secs(60);
    let lock = match super::lock::Lock::targets(provider, SUPPORT_IMAGE, "clean", wait).await {
        Ok(lock) => lock,
        Err(super::lock::LockError::Provider(e)) => return Err(e),
        // Someone holds it for a minute: leave the targets; the next clean takes them.
        Err(super::lock::LockError::Held { .. }) => return Ok(false),
    };
    let result = async {
        let routers = provider
            .list_containers(&format!("{}={ROLE_ROUTER}", labels::ROLE))
            .await?;
        if !routers.is_empty() {
            return Ok(false);
        }
        for spec in target_specs(t) {
            provider.remove_container(&spec.name).await?;
        }
        match provider.remove_network(&t.network).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind == crate::runtime::ErrorKind::InUse => Ok(false),
            Err(e) => Err(e),
        }
    }
    .await;
    if let Some(lock) = lock {
        lock.release(provider).await?;
    }
    result
}
