//! The images kubeadm runs go into each node's containerd from the archives in the node image
//! (`/kind/images/*.tar`, made by `images/kube/build.sh`): nothing is ever pulled. A node only
//! gets what its role runs, and an image already there (a restored volume) is not imported
//! again. One command per node, nodes at the same time.

use std::time::Duration;

use crate::cluster::action::{Action, ActionContext, ActionError};
use crate::plan::Role;
use crate::runtime::ExecRequest;

pub struct KubeImages;

/// `(archive name in /kind/images, image reference)` for a node of `role`.
pub fn images_for(release: &crate::kube::Release, role: Role) -> Vec<(&'static str, String)> {
    let all = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
        "coredns",
        "pause",
        "etcd",
    ];
    all.into_iter()
        .zip(release.images())
        .filter(|(name, _)| {
            role == Role::ControlPlane || matches!(*name, "kube-proxy" | "coredns" | "pause")
        })
        .collect()
}

/// The node's script: wait for containerd, then import each missing image.
pub fn script(images: &[(&'static str, String)]) -> String {
    let mut s = String::from(
        "set -e\nfor _ in $(seq 1 120); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done\n\
         ctr version >/dev/null || { echo 'containerd is not answering:'; systemctl status --no-pager containerd | tail -n 20; exit 1; }\n\
         have=$(ctr -n k8s.io images ls -q)\n",
    );
    for (file, reference) in images {
        s += &format!(
            "printf '%s\\n' \"$have\" | grep -qxF '{reference}' || ctr -n k8s.io images import --local /kind/images/{file}.tar >/dev/null\n"
        );
    }
    // kdc's pod image for the kubernetes suite: the kube-proxy image (Debian with bash, getent)
    // under a name of kdc's own, on every node.
    if let Some((_, proxy)) = images.iter().find(|(f, _)| *f == "kube-proxy") {
        s += &format!(
            "printf '%s\\n' \"$have\" | grep -qxF '{POD_IMAGE}' || ctr -n k8s.io images tag '{proxy}' '{POD_IMAGE}' >/dev/null\n"
        );
    }
    s
}

/// The image of kdc's pods: the kubernetes suite's (`kdc-pod-run` in the node image) and the
/// machine suites' pod checks on Kubernetes (`suite::pods`).
pub const POD_IMAGE: &str = "kdc.local/pod:1";

#[async_trait::async_trait]
impl Action for KubeImages {
    fn name(&self) -> &'static str {
        "kube-images"
    }

    fn describe(&self, _cx: &ActionContext<'_>) -> String {
        "Loading the Kubernetes images into each node's containerd".into()
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let cx = &*cx;
        let kube = cx.kube()?;
        let runs = cx.plan.nodes.iter().map(|n| async move {
            let req = ExecRequest::new(["bash", "-c", &script(&images_for(kube.release, n.role))])
                .timeout(Duration::from_secs(300));
            cx.exec.exec(&n.name, req).await?.ok()
        });
        futures_util::future::try_join_all(runs).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_only_what_they_run() {
        let r = crate::kube::default_release();
        let worker: Vec<&str> = images_for(r, Role::Worker).iter().map(|i| i.0).collect();
        assert_eq!(worker, ["kube-proxy", "coredns", "pause"]);
        assert_eq!(images_for(r, Role::ControlPlane).len(), 7);
        let s = script(&images_for(r, Role::Worker));
        assert!(s.contains("grep -qxF 'registry.k8s.io/kube-proxy:v1.36.3' || ctr -n k8s.io images import --local /kind/images/kube-proxy.tar"), "{s}");
    }
}
