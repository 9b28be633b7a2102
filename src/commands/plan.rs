//! `kdc plan`: print the cluster plan, or the kubeadm configuration of its nodes, without
//! touching Docker.

use std::process::ExitCode;

use super::Ctx;
use crate::KdcError;
use crate::cli::PlanArgs;
use crate::config::Config;
use crate::kube::kubeadm::{self, KubeadmInputs};
use crate::plan::Plan;

pub fn run(cx: &Ctx<'_>, args: &PlanArgs) -> Result<ExitCode, KdcError> {
    let config = cx.config(&args.cluster)?;
    let plan = crate::plan::plan(&config)?;
    if args.kubeadm_config {
        cx.print(&kubeadm_config(cx, &config, &plan, args.node.as_deref())?)?;
    } else if cx.global.json {
        cx.print_json(&plan)?;
    } else {
        cx.print(&crate::cluster::summary::render(&plan, None))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every node's kubeadm configuration, or `only` that node's, as `up` would write it on this
/// machine (its cgroup version decides `failCgroupV1`).
fn kubeadm_config(
    cx: &Ctx<'_>,
    config: &Config,
    plan: &Plan,
    only: Option<&str>,
) -> Result<String, KdcError> {
    let release = crate::kube::release_for(&plan.k8s_version).map_err(KdcError::Failed)?;
    let nodes: Vec<_> = match only {
        None => plan.nodes.iter().collect(),
        Some(name) => match plan.nodes.iter().find(|n| n.name == name) {
            Some(node) => vec![node],
            None => {
                let names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
                return Err(KdcError::Failed(format!(
                    "--node {name}: the cluster {} has no such node; its nodes are {} (NUM_NODES sets how many workers)",
                    plan.cluster.context,
                    names.join(", ")
                )));
            }
        },
    };
    let inputs = KubeadmInputs {
        plan,
        release,
        feature_gates: config.feature_gates.as_deref(),
        kubelet_feature_gates: config.kubelet_feature_gates.as_deref(),
        cgroup_v1: crate::kube::host_cgroup_v1(),
        token: kubeadm::WELL_KNOWN_TOKEN,
        published_host: Some(plan.apiserver.host),
    };
    if inputs.allows_cgroup_v1() {
        cx.events.note(format!(
            "this machine runs cgroup v1, which kubelet {} refuses by default: the KubeletConfiguration sets failCgroupV1: false",
            release.version
        ));
    }
    Ok(kubeadm::render_nodes(&inputs, nodes))
}
