//! The host routes (`--host-routes`, see [`crate::cluster::host_routes`]): started when asked
//! and kept while they hold the rules the plan asks for; removed, with their rules, by an `up`
//! that does not ask for them.

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::cluster::host_routes::{self, READY};
use crate::cluster::ledger::Created;
use crate::cluster::support::CONFIG_LABEL;

pub struct HostRoutes;

#[async_trait::async_trait]
impl Action for HostRoutes {
    fn name(&self) -> &'static str {
        "host-routes"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        if cx.options.host_routes {
            let rules = host_routes::rules(cx.plan);
            let routes = rules
                .iter()
                .filter(|r| matches!(r, host_routes::Rule::Route { .. }))
                .count();
            let mut what = Vec::new();
            for (n, kind) in [(routes, "route"), (rules.len() - routes, "ip6tables rule")] {
                if n > 0 {
                    what.push(format!("{n} {kind}{}", crate::text::plural(n)));
                }
            }
            if what.is_empty() {
                what.push("nothing".into());
            }
            format!(
                "Adding {} to the engine's host (--host-routes)",
                what.join(" and ")
            )
        } else {
            "Removing the host routes of an earlier `up --host-routes`".into()
        }
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let provider = cx.provider;
        let rules = host_routes::rules(cx.plan);
        let spec = host_routes::spec(cx.plan, &rules);
        let have = provider.container(&spec.name).await?;
        if let Some(have) = &have {
            let same = have.labels.get(CONFIG_LABEL) == spec.labels.get(CONFIG_LABEL);
            if cx.options.host_routes && same && have.state == "running" {
                return Ok(());
            }
            host_routes::release(provider, std::slice::from_ref(&spec.name)).await?;
        }
        if !cx.options.host_routes {
            return Ok(());
        }
        if rules.is_empty() {
            cx.events.note(format!(
                "--host-routes: an {} cluster needs no change to the host (Docker routes and NATs IPv4 itself)",
                cx.plan.ip_mode
            ));
            return Ok(());
        }
        if let Some((owner, route)) =
            host_routes::taken(provider, &cx.plan.cluster.label, &rules).await?
        {
            return Err(ActionError::Check(format!(
                "cluster {owner} holds the host's {route}, and a host has one route per prefix; give this cluster another DNS64_PREFIX, or bring it up without --host-routes"
            )));
        }
        if cx.stop.requested() {
            return Err(ActionError::Interrupted);
        }
        cx.ledger.record(Created::Undoing(spec.name.clone()));
        provider.run_container(&spec).await?;
        tokio::select! {
            r = super::support_ready::ready(provider, &spec.name, READY) => r,
            _ = cx.stop.wait() => Err(ActionError::Interrupted),
        }
    }
}
