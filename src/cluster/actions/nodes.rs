//! All node containers start at once. Each falls back on its own when the runtime refuses
//! privileged mode, which costs one failed start in parallel instead of a serial probe; the
//! refusal is remembered on the engine so that later `up`s start with the fallback directly.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::cluster::ledger::Created;
use crate::cluster::spec;
use crate::plan::Node;
use crate::report::EventKind;
use crate::runtime::{ErrorKind, Privilege, Provider};
use crate::text::plural;

/// An engine-wide volume (no cluster label, so `clean` keeps it) whose label remembers that the
/// runtime refuses privileged containers.
pub const ENGINE_VOLUME: &str = "kdc-engine";
const REFUSED_LABEL: &str = "io.kdc.privileged";

pub struct Nodes;

#[async_trait::async_trait]
impl Action for Nodes {
    fn name(&self) -> &'static str {
        "nodes"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        let n = cx.plan.nodes.len();
        format!("Starting {n} node container{}", plural(n))
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let provider = cx.provider;
        let known_refused = refusal_recorded(provider).await;
        let first = if known_refused {
            Privilege::AllCapsButSysResource
        } else {
            Privilege::Privileged
        };
        let total = cx.plan.nodes.len();
        let done = AtomicUsize::new(0);
        let cx_ref = &*cx;
        let runs = cx.plan.nodes.iter().map(|node| async {
            let r = start_node(cx_ref, node, first).await;
            let d = done.fetch_add(1, Ordering::SeqCst) + 1;
            cx_ref.events.emit(EventKind::ActionProgress {
                name: "nodes".into(),
                done: d,
                total,
            });
            r
        });
        let started = futures_util::future::try_join_all(runs).await?;
        let privilege = started.iter().map(|(p, _)| *p).max().unwrap_or(first);
        if let Some(message) = started.into_iter().find_map(|(_, note)| note) {
            cx.events.note(message);
            record_refusal(provider).await;
        } else if known_refused {
            // Said in full once per engine (above); from then on a quiet line.
            cx.events.debug(0, format!("nodes run with all capabilities but SYS_RESOURCE: this engine refused --privileged before (`docker volume rm {ENGINE_VOLUME}` tries again)"));
        }
        cx.state.privilege = Some(privilege);
        Ok(())
    }
}

async fn refusal_recorded(provider: &dyn Provider) -> bool {
    matches!(provider.volume(ENGINE_VOLUME).await, Ok(Some(v)) if v.labels.get(REFUSED_LABEL).map(String::as_str) == Some("refused"))
}

async fn record_refusal(provider: &dyn Provider) {
    let labels = BTreeMap::from([(REFUSED_LABEL.to_string(), "refused".to_string())]);
    let _ = provider.create_volume(ENGINE_VOLUME, &labels).await;
}

/// Starts a node with `first` privilege; if the runtime refuses privileged mode, falls back to
/// all capabilities but CAP_SYS_RESOURCE and says so.
async fn start_node(
    cx: &ActionContext<'_>,
    node: &Node,
    first: Privilege,
) -> Result<(Privilege, Option<String>), ActionError> {
    match run_node(cx, node, first).await {
        Ok(()) => Ok((first, None)),
        Err(ActionError::Provider(e))
            if first == Privilege::Privileged && e.kind == ErrorKind::PrivilegedRefused =>
        {
            // The refused container was created; it goes before its replacement takes the name.
            cx.provider.remove_container(&node.name).await?;
            run_node(cx, node, Privilege::AllCapsButSysResource).await?;
            Ok((
                Privilege::AllCapsButSysResource,
                Some(format!(
                    "the runtime refused privileged containers ({}); nodes run with all capabilities but SYS_RESOURCE, seccomp and AppArmor unconfined",
                    e.message.lines().next().unwrap_or_default()
                )),
            ))
        }
        Err(e) => Err(e),
    }
}

async fn run_node(
    cx: &ActionContext<'_>,
    node: &Node,
    privilege: Privilege,
) -> Result<(), ActionError> {
    if cx.stop.requested() {
        return Err(ActionError::Interrupted);
    }
    let port = cx
        .state
        .apiserver_port
        .expect("the volumes action chose the API server port");
    let spec = spec::node_spec(cx.plan, node, privilege, port, cx.options.host);
    cx.ledger.record(Created::Container(node.name.clone()));
    cx.provider.run_container(&spec).await?;
    Ok(())
}
