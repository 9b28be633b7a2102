//! The node image must be present: kdc never pulls behind the user's back (there may be no
//! registry at all), it says how to get the image.

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
        match cx.provider.image_labels(image).await? {
            Some(_) => Ok(()),
            None => Err(ActionError::Check(format!(
                "image {image} is not present; build it with `kdc image build node` (offline), pull it, or set DIND_IMAGE"
            ))),
        }
    }
}
