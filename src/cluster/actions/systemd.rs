//! Every node's systemd must finish booting; a degraded node is reported with its failed units.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::node::{self, Booted};
use crate::report::EventKind;
use crate::text::plural;

pub struct Systemd;

#[async_trait::async_trait]
impl Action for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        let n = cx.plan.nodes.len();
        format!("Waiting for systemd in {n} node{}", plural(n))
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let total = cx.plan.nodes.len();
        let done = &AtomicUsize::new(0);
        let cx = &*cx;
        let waits = cx.plan.nodes.iter().map(|n| async move {
            let state =
                node::wait_for_systemd(cx.exec, cx.provider, &n.name, cx.options.systemd_timeout)
                    .await
                    .map_err(ActionError::Check)?;
            let d = done.fetch_add(1, Ordering::SeqCst) + 1;
            cx.events.emit(EventKind::ActionProgress {
                name: "systemd".into(),
                done: d,
                total,
            });
            Ok::<_, ActionError>((n, state))
        });
        // Waiting can be abandoned safely: nothing is being created.
        let states = tokio::select! {
            r = futures_util::future::try_join_all(waits) => r?,
            _ = cx.stop.wait() => return Err(ActionError::Interrupted),
        };
        for (n, state) in states {
            if state == Booted::Degraded {
                let failed = node::failed_units(cx.exec, &n.name).await;
                cx.events.note(format!(
                    "systemd in {} is degraded (failed units: {failed})",
                    n.name
                ));
            }
        }
        Ok(())
    }
}
