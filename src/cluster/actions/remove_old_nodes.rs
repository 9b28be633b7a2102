//! `up` on a running cluster replaces its node containers (restarting from their volumes), as
//! the original did.

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::text::plural;

/// The node containers found before `up` began.
pub struct RemoveOldNodes(pub Vec<String>);

#[async_trait::async_trait]
impl Action for RemoveOldNodes {
    fn name(&self) -> &'static str {
        "remove-old-nodes"
    }

    fn describe(&self, _cx: &ActionContext<'_>) -> String {
        let n = self.0.len();
        format!("Removing {n} old node container{}", plural(n))
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        crate::cluster::remove_containers(cx.provider, self.0.iter().map(String::as_str)).await
    }
}
