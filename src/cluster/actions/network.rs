//! The cluster network, created or reused — but reused only when its subnets are exactly the
//! plan's (kubeadm-dind-cluster reused any network of that name, even after the IP mode changed).

use ipnet::IpNet;

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::cluster::ledger::Created;
use crate::cluster::spec;
use crate::runtime::{NetworkState, labels};

pub struct Network;

#[async_trait::async_trait]
impl Action for Network {
    fn name(&self) -> &'static str {
        "network"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        format!("Creating network {}", cx.plan.network.name)
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let want = spec::network_spec(cx.plan);
        if let Some(existing) = cx.provider.network(&want.name).await? {
            let mut have = existing.subnets.clone();
            let mut need: Vec<_> = want.subnets.iter().map(|(n, _, _)| *n).collect();
            have.sort();
            need.sort();
            if have != need {
                let show = |v: &[ipnet::IpNet]| {
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(ActionError::Check(format!(
                    "network {} exists with subnets [{}] but the plan needs [{}]; remove the old cluster with `kdc clean` using its old settings, or `docker network rm {}`",
                    want.name,
                    show(&have),
                    show(&need),
                    want.name
                )));
            }
            return Ok(());
        }
        // Before creating anything: another network on these subnets would make Docker refuse
        // with "Pool overlaps", which names neither the network nor what to do.
        for other in cx.provider.list_networks("").await? {
            for (mine, _, _) in &want.subnets {
                if let Some(theirs) = other.subnets.iter().find(|t| overlaps(mine, t)) {
                    return Err(ActionError::Check(clash(cx, mine, &other, theirs)));
                }
            }
        }
        cx.ledger.record(Created::Network(want.name.clone()));
        cx.provider.create_network(&want).await?;
        Ok(())
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The message for a subnet taken by another network: which network, whose, and the way out.
fn clash(cx: &ActionContext<'_>, mine: &IpNet, other: &NetworkState, theirs: &IpNet) -> String {
    let plan = cx.plan;
    let head = format!(
        "the plan's subnet {mine} overlaps {theirs} of the existing network {}",
        other.name
    );
    match other.labels.get(labels::CLUSTER) {
        Some(owner) => {
            let id = other
                .labels
                .get(labels::CLUSTER_ID)
                .map_or(String::new(), |i| format!(" (ID {i})"));
            format!(
                "{head}, which belongs to kdc cluster {owner}{id}; this cluster {} has ID {}. Give one of them another ID (CLUSTER_ID, or a label ending in -<N>; `kdc status` shows the IDs in use), or remove the other cluster with `DIND_LABEL={owner} kdc clean`",
                plan.cluster.label, plan.cluster.id
            )
        }
        None => format!(
            "{head}, which kdc did not make; choose other subnets (CLUSTER_ID, MGMT_CIDRS, NAT64_V4_SUBNET_PREFIX) or remove that network (`docker network rm {}`)",
            other.name
        ),
    }
}
