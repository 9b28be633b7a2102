//! A pod sandbox per node: a network namespace `pod` set up by the real CNI plugins exactly as a
//! container runtime calls them (`CNI_COMMAND=ADD`, the config on stdin), with the cluster's
//! name server as its resolver. On a cluster without Kubernetes the suites' pod checks run in it
//! (`ip netns exec pod …`); with Kubernetes they run in real pods (`suite::pods`), and the
//! sandbox is only made.

use std::net::IpAddr;

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::plan::Plan;
use crate::runtime::ExecRequest;

use super::node_network::{CNI_CONF, CNI_LOOPBACK};

pub struct Sandboxes;

/// The namespace's name, and where the plugin's ADD result is kept for later runs.
pub const NETNS: &str = "pod";
pub const RESULT: &str = "/run/kdc/pod.json";

#[async_trait::async_trait]
impl Action for Sandboxes {
    fn name(&self) -> &'static str {
        "sandboxes"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        format!(
            "Starting a pod sandbox on each node ({})",
            cx.plan.cni_plugin.as_str()
        )
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let plan = cx.plan;
        let exec = cx.exec;
        let runs = plan.nodes.iter().map(|n| async move {
            let req = ExecRequest::new(["bash", "-c", &script(plan)])
                .timeout(std::time::Duration::from_secs(60));
            let out = exec.exec(&n.name, req).await?.ok()?;
            let addrs = addresses(&out.stdout).map_err(|e| {
                ActionError::Check(format!(
                    "the {} plugin on {} answered ADD with {e}: {}",
                    plan.cni_plugin.as_str(),
                    n.name,
                    out.stdout_text()
                ))
            })?;
            Ok::<_, ActionError>((n.name.clone(), addrs))
        });
        for (node, addrs) in futures_util::future::try_join_all(runs).await? {
            cx.state.pods.insert(node, addrs);
        }
        Ok(())
    }
}

/// The sandbox script: the namespace's resolver (bind9, failing fast), no IPv6 duplicate
/// address detection inside it (`/proc/sys` is read-only in a node, but a private mount of it
/// in the namespace is not; without this ADD waits up to 2 s for the address to settle), then
/// ADD for the interface and the loopback. IPAM reservations of an earlier sandbox live on the
/// node's /var volume and go first. A failed ADD leaves an address-less bridge behind that makes
/// the next ADD fail, so it goes too.
pub fn script(plan: &Plan) -> String {
    let nameservers: String = plan
        .dns
        .addresses
        .iter()
        .map(|a| format!("nameserver {a}\\n"))
        .collect();
    let plugin = plan.cni_plugin.as_str();
    format!(
        r#"set -e
mkdir -p /etc/netns/{NETNS} /run/kdc
printf '{nameservers}options timeout:2 attempts:1\n' > /etc/netns/{NETNS}/resolv.conf
rm -rf /var/lib/cni/networks/dindnet
ip netns del {NETNS} 2>/dev/null || true
ip netns add {NETNS}
export CNI_CONTAINERID=pod-$(hostname) CNI_NETNS=/var/run/netns/{NETNS} CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
ip netns exec {NETNS} sh -c 'mount -o remount,rw /proc/sys && sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0' 2>/dev/null || true
if ! CNI_COMMAND=ADD /usr/lib/cni/{plugin} < {CNI_CONF} > {RESULT}; then
    cat {RESULT}; ip link del dind0 2>/dev/null || true; exit 1
fi
CNI_COMMAND=ADD CNI_IFNAME=lo /usr/lib/cni/loopback < {CNI_LOOPBACK} > /dev/null
cat {RESULT}
"#
    )
}

/// The pod's addresses from a CNI ADD result (`ips[].address`, without the prefix length).
pub fn addresses(result: &[u8]) -> Result<Vec<IpAddr>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(result).map_err(|e| format!("no JSON result ({e})"))?;
    let ips = v["ips"].as_array().ok_or("no \"ips\" in the result")?;
    let mut out = Vec::new();
    for ip in ips {
        let cidr = ip["address"]
            .as_str()
            .ok_or("an \"ips\" entry without an address")?;
        let addr = cidr.split('/').next().unwrap_or_default();
        out.push(
            addr.parse()
                .map_err(|_| format!("the address {cidr} is not an IP address"))?,
        );
    }
    if out.is_empty() {
        return Err("no address".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ptp ADD result of plugins 1.1.1 (dual-stack), as recorded.
    #[test]
    fn the_pods_addresses_come_from_the_add_result() {
        let result = br#"{"cniVersion": "0.4.0",
 "interfaces": [{"name": "veth84ae440a", "mac": "76:2b:00:00:00:01"}, {"name": "eth0", "mac": "ce:1b:00:00:00:02", "sandbox": "/var/run/netns/o3"}],
 "ips": [{"version": "4", "interface": 1, "address": "10.244.7.2/24", "gateway": "10.244.7.1"},
         {"version": "6", "interface": 1, "address": "fd00:40::7:0:0:2/80", "gateway": "fd00:40::7:0:0:1"}],
 "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}], "dns": {}}"#;
        assert_eq!(
            addresses(result).unwrap(),
            vec![
                "10.244.7.2".parse::<IpAddr>().unwrap(),
                "fd00:40::7:0:0:2".parse().unwrap()
            ]
        );
        assert_eq!(
            addresses(br#"{"code": 999, "msg": "failed to add route"}"#).unwrap_err(),
            "no \"ips\" in the result"
        );
    }
}
