//! kind's "Installing StorageClass": a default class `standard`. kind's own default is
//! rancher's local-path-provisioner, whose image kdc does not build; this is kind's fallback,
//! the in-tree host-path provisioner (the controller manager runs with
//! `enable-hostpath-provisioner`): a claim gets a directory on the node that runs its pod.

use std::time::Duration;

use super::kubeadm_init::admin_kubectl;
use crate::cluster::action::{Action, ActionContext, ActionError};

pub const STORAGE_CLASS: &str = "apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: \"true\"
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
";

pub struct StorageClass;

#[async_trait::async_trait]
impl Action for StorageClass {
    fn name(&self) -> &'static str {
        "storage-class"
    }

    fn describe(&self, _cx: &ActionContext<'_>) -> String {
        "Installing StorageClass standard (default)".into()
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let req =
            admin_kubectl(&["apply", "-f", "-"], Duration::from_secs(60)).stdin(STORAGE_CLASS);
        cx.exec.exec(&cx.plan.master().name, req).await?.ok()?;
        Ok(())
    }
}
