//! TEMPORARY minimal renderer for the lead's live bring-up; replaced by the kubeadm-config
//! branch's typed renderer at merge.

use std::net::IpAddr;

use crate::config::IpMode;
use crate::plan::{Node, Plan, Role};

use super::Release;

pub const CONFIG_PATH: &str = "/kind/kubeadm.conf";

pub struct KubeadmInputs<'a> {
    pub plan: &'a Plan,
    pub release: &'a Release,
    pub feature_gates: Option<&'a str>,
    pub kubelet_feature_gates: Option<&'a str>,
    pub cgroup_v1: bool,
    pub token: &'a str,
    pub published_host: Option<IpAddr>,
}

fn host(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

pub fn render(i: &KubeadmInputs, node: &Node) -> String {
    let p = i.plan;
    let master = p.master();
    let primary = |n: &Node| -> IpAddr {
        match p.ip_mode {
            IpMode::Ipv6 => *n
                .addresses
                .iter()
                .find(|a| a.is_ipv6())
                .unwrap_or(&n.addresses[0]),
            _ => n.addresses[0],
        }
    };
    let node_ip = match p.ip_mode {
        IpMode::DualStack => node
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        _ => primary(node).to_string(),
    };
    let endpoint = format!("{}:6443", host(&primary(master)));
    let pods: Vec<String> = p.pod_cidrs.iter().map(ToString::to_string).collect();
    let v6 = p.ip_mode == IpMode::Ipv6;
    let api = i.release.kubeadm_api().as_str();
    let args = |pairs: &[(&str, String)]| -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("\n    - name: {k}\n      value: \"{v}\""))
            .collect()
    };
    let reg = format!(
        "nodeRegistration:\n  name: {}\n  criSocket: unix:///run/containerd/containerd.sock\n  imagePullPolicy: Never\n  kubeletExtraArgs:{}\n",
        node.hostname,
        args(&[("node-ip", node_ip)])
            .replace("\n    ", "\n  ")
            .replace("\n      ", "\n    ")
    );
    let mut out = String::new();
    if node.role == Role::ControlPlane {
        out += &format!(
            "apiVersion: {api}\nkind: InitConfiguration\nbootstrapTokens:\n- token: {}\nlocalAPIEndpoint:\n  advertiseAddress: {}\n  bindPort: 6443\nskipPhases:\n- preflight\n{reg}---\n",
            i.token,
            primary(master)
        );
        let mut sans = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
        sans.extend(master.addresses.iter().map(ToString::to_string));
        let cm = if v6 {
            vec![
                ("allocate-node-cidrs", "false".to_string()),
                ("bind-address", "::".into()),
            ]
        } else {
            vec![("allocate-node-cidrs", "false".to_string())]
        };
        out += &format!(
            "apiVersion: {api}\nkind: ClusterConfiguration\nkubernetesVersion: {}\nclusterName: {}\ncontrolPlaneEndpoint: \"{endpoint}\"\nnetworking:\n  podSubnet: \"{}\"\n  serviceSubnet: \"{}\"\n  dnsDomain: cluster.local\napiServer:\n  certSANs: [{}]\ncontrollerManager:\n  extraArgs:{}\n---\n",
            i.release.version,
            p.cluster.context,
            pods.join(","),
            p.service_cidr,
            sans.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", "),
            args(&cm),
        );
    } else {
        out += &format!(
            "apiVersion: {api}\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: \"{endpoint}\"\n    token: {}\n    unsafeSkipCAVerification: true\nskipPhases:\n- preflight\n{reg}---\n",
            i.token
        );
    }
    out += &format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\ncontainerRuntimeEndpoint: unix:///run/containerd/containerd.sock\nfailSwapOn: false\n{}imageGCHighThresholdPercent: 100\nevictionHard:\n  nodefs.available: \"0%\"\n  nodefs.inodesFree: \"0%\"\n  imagefs.available: \"0%\"\nclusterDNS: [\"{}\"]\nclusterDomain: cluster.local\nresolvConf: /etc/kdc/resolv.conf\n{}",
        if i.cgroup_v1 && i.release.refuses_cgroup_v1() {
            "failCgroupV1: false\n"
        } else {
            ""
        },
        p.dns_service_ip,
        if v6 {
            "address: \"::\"\nhealthzBindAddress: \"::\"\n"
        } else {
            ""
        },
    );
    if node.role == Role::ControlPlane {
        out += &format!(
            "---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\nclusterCIDR: \"{}\"\nconntrack:\n  maxPerCore: 0\niptables:\n  minSyncPeriod: 1s\n",
            pods.join(",")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn print_for_lead() {
        let plan = crate::plan::for_env(&[("IP_MODE", "ipv4")]);
        let r = crate::kube::default_release();
        let i = super::KubeadmInputs {
            plan: &plan,
            release: r,
            feature_gates: None,
            kubelet_feature_gates: None,
            cgroup_v1: true,
            token: "abcdef.0123456789abcdef",
            published_host: None,
        };
        std::fs::write("/tmp/kubeadm-master.yaml", super::render(&i, plan.master())).unwrap();
        std::fs::write(
            "/tmp/kubeadm-worker.yaml",
            super::render(&i, &plan.nodes[1]),
        )
        .unwrap();
    }
}
