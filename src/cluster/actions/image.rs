//! The node and support images must be present: kdc never pulls behind the user's back (there
//! may be no registry at all), it says how to get them.

use crate::cluster::action::{Action, ActionContext, ActionError};

pub struct Image;

#[async_trait::async_trait]
impl Action for Image {
    fn name(&self) -> &'static str {
        "image"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        format!("Ensuring node image {}", cx.plan.image)
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let image = &cx.plan.image;
        let Some(labels) = cx.provider.image_labels(image).await? else {
            return Err(ActionError::Check(format!(
                "image {image} is not present; build it with `kdc image build node` (offline), pull it, or set DIND_IMAGE"
            )));
        };
        if cx.options.bootstrapper == crate::cluster::Bootstrapper::Kubeadm {
            let want = cx.kube()?.release.version;
            match labels.get(crate::cluster::KUBERNETES_LABEL) {
                Some(have) if have == want => {}
                Some(have) => {
                    return Err(ActionError::Check(format!(
                        "image {image} carries Kubernetes {have}, not {want}; build {want} with `kdc image build node --k8s-version {want}`, or set DIND_K8S_VERSION={have}"
                    )));
                }
                None => {
                    return Err(ActionError::Check(format!(
                        "image {image} carries no Kubernetes, so kubeadm cannot run on it; build one with `kdc image build node --k8s-version {want}` and unset DIND_IMAGE, or use --bootstrapper none"
                    )));
                }
            }
        }
        // bind9, the router and the targets run from kdc's support image.
        let support = crate::images::SUPPORT_IMAGE;
        if cx.provider.image_labels(support).await?.is_none() {
            return Err(ActionError::Check(format!(
                "image {support} (bind9, tayga) is not present; build it with `kdc image build support` (offline)"
            )));
        }
        Ok(())
    }
}
