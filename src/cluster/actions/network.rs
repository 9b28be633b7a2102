//! The cluster network, created or reused — but reused only when its subnets are exactly the
//! plan's (kubeadm-dind-cluster reused any network of that name, even after the IP mode changed).

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::cluster::ledger::Created;
use crate::cluster::spec;

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
        cx.ledger.record(Created::Network(want.name.clone()));
        cx.provider.create_network(&want).await?;
        Ok(())
    }
}
