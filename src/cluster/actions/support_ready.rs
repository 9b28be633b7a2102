//! Waiting for the support containers started by this run, while the nodes boot: bind9 until
//! named says `running`, the router until its script says it forwards (after IPv6 duplicate
//! address detection, without which NAT64 silently drops packets for a second or two).

use std::time::{Duration, Instant};

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::runtime::Provider;

/// How long a support container may take to be ready.
const READY_WITHIN: Duration = Duration::from_secs(60);

pub struct SupportReady;

#[async_trait::async_trait]
impl Action for SupportReady {
    fn name(&self) -> &'static str {
        "support-ready"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        let names: Vec<&str> = cx.state.awaiting.iter().map(|(n, _)| n.as_str()).collect();
        if names.is_empty() {
            "Checking the support containers".into()
        } else {
            format!("Waiting for {}", names.join(" and "))
        }
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let waits = cx
            .state
            .awaiting
            .iter()
            .map(|(name, line)| ready(cx.provider, name, line));
        tokio::select! {
            r = futures_util::future::try_join_all(waits) => r.map(|_| ()),
            _ = cx.stop.wait() => Err(ActionError::Interrupted),
        }
    }
}

/// Waits until container `name` logs `line`; fails, with the log's end, when it stops or
/// takes too long.
pub(crate) async fn ready(
    provider: &dyn Provider,
    name: &str,
    line: &str,
) -> Result<(), ActionError> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        let log = provider.logs(name, None).await?;
        let text = String::from_utf8_lossy(&log);
        if text.lines().any(|l| l.contains(line)) {
            return Ok(());
        }
        let state = provider.container(name).await?.map(|c| c.state);
        let gone = !matches!(state.as_deref(), Some("running" | "created" | "restarting"));
        if gone || Instant::now() >= deadline {
            let tail: String = text
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .map(|l| format!("\n    {l}"))
                .collect();
            let why = if gone {
                format!("stopped ({})", state.unwrap_or_else(|| "removed".into()))
            } else {
                format!("did not say \"{line}\" within {}s", READY_WITHIN.as_secs())
            };
            return Err(ActionError::Check(format!(
                "{name} {why}; its log (docker logs {name}) ends with:{tail}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
