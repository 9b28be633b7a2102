//! Each node's network, in one command per node (every `docker exec` costs the engine about
//! 30 ms of CPU; nodes run in parallel): in ipv6 mode Docker's 127.0.0.11 leaves resolv.conf,
//! as the original's `dindnet` did; routes to the other nodes' pod subnets (bridge and ptp) and,
//! through the router, to the targets and the DNS64 prefix; the node's CNI config for bridge and
//! ptp in /etc/cni/net.d; with Kubernetes, a reject for service addresses kube-proxy did not
//! translate. A node container is new on every `up`, so this runs every time.

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::cluster::support::{cni_conf, node_routes};
use crate::config::IpMode;
use crate::plan::{Node, Plan};
use crate::runtime::ExecRequest;

pub struct NodeNetwork;

/// Where the node's CNI config goes (the plugins' default directory, kubelet's too).
pub const CNI_CONF: &str = "/etc/cni/net.d/10-kdc.conf";
pub const CNI_LOOPBACK: &str = "/etc/cni/net.d/99-loopback.conf";
/// Kubernetes' config (containerd takes the first file by name): the same network with the
/// portmap plugin chained, for pods' hostPorts. The sandboxes call the plugin with CNI_CONF.
pub const CNI_CONFLIST: &str = "/etc/cni/net.d/05-kdc.conflist";

#[async_trait::async_trait]
impl Action for NodeNetwork {
    fn name(&self) -> &'static str {
        "node-network"
    }

    fn describe(&self, _cx: &ActionContext<'_>) -> String {
        "Setting up routes, resolvers and CNI configs".into()
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let cx = &*cx;
        let runs = cx.plan.nodes.iter().map(|n| async move {
            let kube = cx.options.bootstrapper == crate::cluster::Bootstrapper::Kubeadm;
            let req = ExecRequest::new(["bash", "-c", &script(cx.plan, n, kube)])
                .timeout(std::time::Duration::from_secs(60));
            cx.exec.exec(&n.name, req).await?.ok()
        });
        futures_util::future::try_join_all(runs).await?;
        Ok(())
    }
}

/// The node's setup script; `kube`: the node runs Kubernetes.
pub fn script(plan: &Plan, node: &Node, kube: bool) -> String {
    let mut s = String::from("set -e\n");
    if plan.ip_mode == IpMode::Ipv6 {
        // resolv.conf is a bind mount: rewrite it in place (sed -i would rename over it).
        s += "r=$(sed 's/^nameserver 127.0.0.11/# Removed 127.0.0.11/' /etc/resolv.conf); printf '%s\\n' \"$r\" > /etc/resolv.conf\n";
    }
    for r in node_routes(plan, node) {
        s += &format!("ip route replace {r}\n");
    }
    if let Some(conf) = cni_conf(plan, node) {
        s += &format!(
            "mkdir -p /etc/cni/net.d\ncat > {CNI_CONF} <<'KDC'\n{conf}\nKDC\ncat > {CNI_LOOPBACK} <<'KDC'\n{}\nKDC\n",
            r#"{"cniVersion":"0.3.1","name":"lo","type":"loopback"}"#
        );
    }
    if kube {
        if let Some(list) = cni_conf(plan, node).as_deref().and_then(with_portmap) {
            s += &format!("cat > {CNI_CONFLIST} <<'KDC'\n{list}\nKDC\n");
        }
        s += &service_reject(&plan.service_cidr);
    }
    s
}

/// A plugin's config as a list with portmap chained after it (hostPort, also on 127.0.0.1).
fn with_portmap(conf: &str) -> Option<String> {
    let mut plugin: serde_json::Value = serde_json::from_str(conf).ok()?;
    let obj = plugin.as_object_mut()?;
    let version = obj.remove("cniVersion")?;
    let name = obj.remove("name")?;
    Some(
        serde_json::json!({
            "cniVersion": version,
            "name": name,
            "plugins": [plugin, {"type": "portmap", "capabilities": {"portMappings": true}}],
        })
        .to_string(),
    )
}

/// Packets to the service network that kube-proxy did not translate (a port the Service does
/// not have, an address no Service holds) are refused in the node, as kube-proxy's nftables
/// mode does, instead of following the default route out of the cluster: there, whatever
/// answers on the host's network (a transparent proxy on port 80) would look like a Service.
/// Translated packets carry conntrack state DNAT and pass.
fn service_reject(cidr: &ipnet::IpNet) -> String {
    let tool = match cidr {
        ipnet::IpNet::V4(_) => "iptables",
        ipnet::IpNet::V6(_) => "ip6tables",
    };
    ["FORWARD", "OUTPUT"]
        .iter()
        .map(|chain| {
            let rule = format!("{chain} -d {cidr} -m conntrack ! --ctstate DNAT -j REJECT");
            format!("{tool} -w -C {rule} 2>/dev/null || {tool} -w -I {rule}\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_node_drops_dockers_resolver_routes_and_gets_its_cni_config() {
        let plan = crate::plan::for_env(&[("IP_MODE", "ipv6"), ("NUM_NODES", "1")]);
        assert_eq!(
            script(&plan, plan.master(), false),
            r#"set -e
r=$(sed 's/^nameserver 127.0.0.11/# Removed 127.0.0.11/' /etc/resolv.conf); printf '%s\n' "$r" > /etc/resolv.conf
ip route replace fd00:40:0:0:2::/80 via fd00:20::3
ip route replace fd00:10:64:ff9b::/96 via fd00:20::200
ip route replace fd00:198:18::/64 via fd00:20::200
mkdir -p /etc/cni/net.d
cat > /etc/cni/net.d/10-kdc.conf <<'KDC'
{"bridge":"dind0","cniVersion":"0.3.1","hairpinMode":true,"ipMasq":true,"ipam":{"ranges":[[{"gateway":"fd00:40::1:0:0:1","subnet":"fd00:40:0:0:1::/80"}]],"routes":[{"dst":"::/0"}],"type":"host-local"},"isGateway":true,"name":"dindnet","type":"bridge"}
KDC
cat > /etc/cni/net.d/99-loopback.conf <<'KDC'
{"cniVersion":"0.3.1","name":"lo","type":"loopback"}
KDC
"#
        );
    }

    #[test]
    fn a_kubernetes_node_refuses_service_addresses_kube_proxy_did_not_translate() {
        let plan = crate::plan::for_env(&[("NUM_NODES", "1")]);
        let s = script(&plan, plan.master(), true);
        assert!(
            s.contains(r#"cat > /etc/cni/net.d/05-kdc.conflist <<'KDC'
{"cniVersion":"0.3.1","name":"dindnet","plugins":[{"bridge":"dind0","hairpinMode":false,"ipMasq":true,"ipam":"#),
            "{s}"
        );
        assert!(
            s.contains(r#"{"capabilities":{"portMappings":true},"type":"portmap"}]}"#),
            "{s}"
        );
        assert!(
            s.ends_with(
                "iptables -w -C FORWARD -d 10.96.0.0/12 -m conntrack ! --ctstate DNAT -j REJECT 2>/dev/null || iptables -w -I FORWARD -d 10.96.0.0/12 -m conntrack ! --ctstate DNAT -j REJECT\n\
                 iptables -w -C OUTPUT -d 10.96.0.0/12 -m conntrack ! --ctstate DNAT -j REJECT 2>/dev/null || iptables -w -I OUTPUT -d 10.96.0.0/12 -m conntrack ! --ctstate DNAT -j REJECT\n"
            ),
            "{s}"
        );
        let v6 = crate::plan::for_env(&[("IP_MODE", "ipv6"), ("NUM_NODES", "1")]);
        assert!(
            script(&v6, v6.master(), true)
                .contains("ip6tables -w -I FORWARD -d fd00:30::/110 -m conntrack")
        );
        assert!(!script(&plan, plan.master(), false).contains("REJECT"));
    }
}
