//! The support containers start before the nodes, all at once: the shared targets (if no cluster
//! made them yet), the cluster's bind9 and its router. `down` keeps bind9 and the router; the next
//! `up` keeps them when they run with the configuration the plan asks for, and recreates them when
//! they are stopped or were made from another configuration (the original never restarted a
//! stopped bind9). Readiness is awaited later ([`super::SupportReady`]), while the nodes boot.

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::cluster::ledger::Created;
use crate::cluster::lock::{Lock, LockError};
use crate::cluster::support::{
    self, CONFIG_LABEL, DNS_READY, ROUTER_READY, target_specs, targets_network,
};
use crate::images::SUPPORT_IMAGE;
use crate::runtime::{ContainerSpec, ErrorKind, Provider, ProviderError};

/// How long to wait for another kdc that is making or removing the shared targets.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Support;

#[async_trait::async_trait]
impl Action for Support {
    fn name(&self) -> &'static str {
        "support"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        format!(
            "Starting {} and {}",
            cx.plan.dns.container, cx.plan.router.container
        )
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let provider = cx.provider;
        let plan = cx.plan;
        // The targets are shared: no other kdc may remove them between here and this cluster's
        // router being attached to them (after which they count as in use).
        let lock = Lock::targets(provider, SUPPORT_IMAGE, "up", LOCK_WAIT)
            .await
            .map_err(|e| match e {
                LockError::Provider(p) => ActionError::Provider(p),
                held => ActionError::Check(held.to_string()),
            })?;
        let dns = support::dns_spec(plan);
        let router = support::router_spec(plan);
        let cx_ref = &*cx;
        // bind9 needs nothing else; the router needs the targets' network (not their
        // containers) to attach to.
        let made = futures_util::future::try_join(ensure(cx_ref, &dns, None), async {
            ensure_targets_network(provider, plan).await?;
            let (r, ()) = futures_util::future::try_join(
                ensure(cx_ref, &router, Some(&plan.targets.network)),
                ensure_target_containers(provider, plan),
            )
            .await?;
            Ok(r)
        })
        .await;
        if let Some(lock) = lock {
            lock.release(provider).await?;
        }
        let (d, r) = made?;
        if d {
            cx.state.awaiting.push((dns.name.clone(), DNS_READY));
        }
        if r {
            cx.state.awaiting.push((router.name.clone(), ROUTER_READY));
        }
        Ok(())
    }
}

/// Keeps a running container made from the same configuration, else (re)creates it. For the
/// router: create, connect to the targets network, then start, so that its script finds both
/// interfaces. Returns whether it was started now (and so must be awaited).
async fn ensure(
    cx: &ActionContext<'_>,
    spec: &ContainerSpec,
    also_on: Option<&str>,
) -> Result<bool, ActionError> {
    let provider = cx.provider;
    if let Some(have) = provider.container(&spec.name).await? {
        let same = have.labels.get(CONFIG_LABEL) == spec.labels.get(CONFIG_LABEL);
        if same && have.state == "running" {
            return Ok(false);
        }
        provider.remove_container(&spec.name).await?;
    }
    if cx.stop.requested() {
        return Err(ActionError::Interrupted);
    }
    cx.ledger.record(Created::Container(spec.name.clone()));
    match also_on {
        None => {
            provider.run_container(spec).await?;
        }
        Some(network) => {
            provider.create_container(spec).await?;
            provider.connect_container(network, &spec.name).await?;
            provider.start_container(&spec.name).await?;
        }
    }
    Ok(true)
}

/// The shared targets network, made by the first cluster that needs it. Another kdc may be
/// making it at the same moment: a name or subnet already taken is then checked, not an error.
async fn ensure_targets_network(
    provider: &dyn Provider,
    plan: &crate::plan::Plan,
) -> Result<(), ActionError> {
    let t = &plan.targets;
    let want = targets_network(t);
    let have = match provider.network(&t.network).await? {
        Some(n) => Some(n),
        None => match provider.create_network(&want).await {
            Ok(()) => None,
            Err(e) if matches!(e.kind, ErrorKind::Conflict | ErrorKind::SubnetOverlap) => {
                provider.network(&t.network).await?
            }
            Err(e) => return Err(e.into()),
        },
    };
    if let Some(have) = have {
        let mut a = have.subnets.clone();
        let mut b = t.subnets.clone();
        a.sort();
        b.sort();
        if a != b {
            return Err(ActionError::Check(format!(
                "network {} exists with subnets {:?}, not kdc's targets ({}); remove it (`docker network rm {}`)",
                t.network,
                a.iter().map(ToString::to_string).collect::<Vec<_>>(),
                b.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                t.network
            )));
        }
    }
    Ok(())
}

/// The two target containers, at once; as for their network, one another kdc is making is
/// not an error.
async fn ensure_target_containers(
    provider: &dyn Provider,
    plan: &crate::plan::Plan,
) -> Result<(), ActionError> {
    let specs = target_specs(&plan.targets);
    let runs = specs.iter().map(|spec| async move {
        match provider.container(&spec.name).await? {
            Some(c) if c.state == "running" => Ok(()),
            Some(_) => Ok(provider.start_container(&spec.name).await?),
            None => match provider.run_container(spec).await {
                Ok(_)
                | Err(ProviderError {
                    kind: ErrorKind::Conflict,
                    ..
                }) => Ok(()),
                Err(e) => Err(ActionError::from(e)),
            },
        }
    });
    futures_util::future::try_join_all(runs).await?;
    Ok(())
}
