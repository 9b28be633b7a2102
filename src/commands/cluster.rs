//! `up` / `create cluster`, `reup`, `down`, `clean` / `delete cluster`, `status`,
//! `get clusters`, `get nodes`, `apiserver-port`, `doctor`.

use std::process::ExitCode;
use std::time::Duration;

use super::Ctx;
use crate::KdcError;
use crate::cli::{CleanArgs, ClusterOnlyArgs, GetNodesArgs, UpArgs};
use crate::cluster::{self, UpOptions, spec::HostFacts};
use crate::signal::Stop;

/// `kdc up` and `kdc create cluster`.
pub fn up(cx: &Ctx<'_>, args: &UpArgs) -> Result<ExitCode, KdcError> {
    start(cx, args, false)
}

/// `kdc reup`: `up` that only restarts from kept volumes. The original's `reup` also rebuilt
/// Kubernetes from source; kdc builds nothing, so what is left is "restart, never start fresh",
/// which a CI job can rely on to fail loudly when its cluster is gone.
pub fn reup(cx: &Ctx<'_>, args: &UpArgs) -> Result<ExitCode, KdcError> {
    start(cx, args, true)
}

fn start(cx: &Ctx<'_>, args: &UpArgs, reup: bool) -> Result<ExitCode, KdcError> {
    let cfg = cx.config(&args.cluster)?;
    let plan = crate::plan::plan(&cfg)?;
    let label = &plan.cluster.label;
    if reup && cfg.skip_snapshot {
        return Err(KdcError::Failed(format!(
            "kdc reup restarts cluster {label} from its volumes, but SKIP_SNAPSHOT (--skip-snapshot) asks for a fresh start; use `kdc up`, or unset SKIP_SNAPSHOT"
        )));
    }
    let endpoint = cx.endpoint()?;
    let mut options = UpOptions {
        bootstrapper: args.bootstrapper.unwrap_or_default(),
        kube: None,
        host: HostFacts::of(&endpoint),
        systemd_timeout: Duration::from_secs(args.wait_systemd),
        skip_snapshot: cfg.skip_snapshot,
        retain: args.retain,
        rollback: true,
        host_routes: args.host_routes,
    };
    let outcome = cx.block_on(async {
        let docker = cx.connect(&endpoint).await?;
        let kubeconfig = args
            .kubeconfig
            .clone()
            .unwrap_or_else(|| crate::kubeconfig::target(&cx.env.vars));
        (options.bootstrapper, options.kube) = bootstrap(
            cx,
            &docker,
            &cfg,
            &plan,
            args.bootstrapper,
            Duration::from_secs(args.wait),
            Some(kubeconfig),
        )
        .await?;
        if reup {
            let missing = cluster::missing_volumes(&docker, &plan).await?;
            if !missing.is_empty() {
                return Err(cannot_restart(&plan, &missing));
            }
        }
        Ok(cluster::up(
            &docker,
            &docker,
            &plan,
            &options,
            &cx.events,
            &Stop::process(),
        )
        .await?)
    })?;
    if cx.global.json {
        let mut info = plan.clone();
        info.apiserver.port = Some(outcome.apiserver_port);
        cx.print_json(&info)?;
    } else {
        cx.print(&cluster::summary::render(&plan, Some(&outcome)))?;
    }
    if let Some(fwd) = &cfg.port_forwarder {
        if outcome.bootstrapper == cluster::Bootstrapper::None {
            // The forwarder would forward a port nothing listens on.
            cx.events.note(format!(
                "DIND_PORT_FORWARDER {} is not run: no API server listens on a cluster without Kubernetes (--bootstrapper none)",
                fwd.display()
            ));
        } else {
            // As the original: the forwarder gets the published port as its only argument.
            let status = std::process::Command::new(fwd)
                .arg(outcome.apiserver_port.to_string())
                .status()
                .map_err(|e| {
                    KdcError::Failed(format!(
                        "cannot run DIND_PORT_FORWARDER {}: {e}",
                        fwd.display()
                    ))
                })?;
            if !status.success() {
                return Err(KdcError::Failed(format!(
                    "DIND_PORT_FORWARDER {} {} failed ({status})",
                    fwd.display(),
                    outcome.apiserver_port
                )));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bootstrapper `up` runs: the one asked for, else kubeadm when the node image carries
/// Kubernetes and none otherwise; with kubeadm, its options (see [`kube_options`]).
pub(crate) async fn bootstrap(
    cx: &Ctx<'_>,
    provider: &dyn crate::runtime::Provider,
    cfg: &crate::config::Config,
    plan: &crate::plan::Plan,
    asked: Option<cluster::Bootstrapper>,
    ready_timeout: Duration,
    kubeconfig: Option<std::path::PathBuf>,
) -> Result<(cluster::Bootstrapper, Option<cluster::KubeOptions>), KdcError> {
    let image_release = cluster::image_kubernetes(provider, &plan.image)
        .await
        .map_err(|e| KdcError::Failed(format!("inspecting image {}: {e}", plan.image)))?;
    let chosen = match (asked, &image_release) {
        (Some(b), _) => b,
        (None, Some(_)) => cluster::Bootstrapper::Kubeadm,
        (None, None) => cluster::Bootstrapper::None,
    };
    if chosen == cluster::Bootstrapper::None {
        return Ok((chosen, None));
    }
    let kube = kube_options(
        cx,
        cfg,
        plan,
        image_release.as_deref(),
        ready_timeout,
        kubeconfig,
    )?;
    Ok((chosen, Some(kube)))
}

/// The kubeadm bootstrapper's options: the release the configuration names (which the image
/// must carry), the host's cgroup version, a new token, the kubeconfig file to write.
fn kube_options(
    cx: &Ctx<'_>,
    cfg: &crate::config::Config,
    plan: &crate::plan::Plan,
    image_release: Option<&str>,
    ready_timeout: Duration,
    kubeconfig: Option<std::path::PathBuf>,
) -> Result<cluster::KubeOptions, KdcError> {
    let release = crate::kube::release_for(&cfg.k8s_version).map_err(KdcError::Failed)?;
    match image_release {
        Some(r) if r == release.version => {}
        Some(r) => {
            return Err(KdcError::Failed(format!(
                "image {} carries Kubernetes {r}, but DIND_K8S_VERSION asks for {}; build it with `kdc image build node --k8s-version {}` or set DIND_K8S_VERSION={r}",
                plan.image, release.version, release.version
            )));
        }
        None => {
            return Err(KdcError::Failed(format!(
                "image {} carries no Kubernetes, so --bootstrapper kubeadm cannot run; build one with `kdc image build node --k8s-version {}` and unset DIND_IMAGE, or use --bootstrapper none",
                plan.image, release.version
            )));
        }
    }
    let cgroup_v1 = crate::kube::host_cgroup_v1();
    if cgroup_v1 && release.refuses_cgroup_v1() {
        cx.events.note(format!(
            "this host runs cgroup v1: kubelet {} is told not to refuse it (failCgroupV1: false, KEP 5573)",
            release.version
        ));
    }
    let token = cluster::KubeOptions::new_token().map_err(|e| {
        KdcError::Failed(format!(
            "cannot read /dev/urandom for a bootstrap token: {e}"
        ))
    })?;
    Ok(cluster::KubeOptions {
        release,
        feature_gates: cfg.feature_gates.clone(),
        kubelet_feature_gates: cfg.kubelet_feature_gates.clone(),
        cgroup_v1,
        token,
        ready_timeout,
        kubeconfig,
    })
}

/// Why `reup` refuses: no volumes at all (never up, or cleaned), or only some (another
/// NUM_NODES than the cluster was made with); both point at `kdc up`.
fn cannot_restart(plan: &crate::plan::Plan, missing: &[String]) -> KdcError {
    let label = &plan.cluster.label;
    KdcError::Failed(if missing.len() == plan.nodes.len() {
        format!(
            "cluster {label} has no volumes to restart from (`kdc down` keeps them, `kdc clean` removes them); bring it up fresh with `kdc up`"
        )
    } else {
        format!(
            "cluster {label} has no volume{} {} to restart from; is NUM_NODES ({}) the cluster's? Bring it up fresh with `kdc up`",
            crate::text::plural(missing.len()),
            missing.join(", "),
            plan.nodes.len() - 1
        )
    })
}

pub fn down(cx: &Ctx<'_>, args: &ClusterOnlyArgs) -> Result<ExitCode, KdcError> {
    let plan = cx.plan(&args.cluster)?;
    let n = cx.block_on(async {
        let docker = cx.engine().await?;
        Ok(cluster::down(&docker, &plan.cluster.label, &plan.image, &cx.events).await?)
    })?;
    if n == 0 {
        cx.events.note(format!(
            "cluster {} has no node containers",
            plan.cluster.label
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn clean(cx: &Ctx<'_>, args: &CleanArgs) -> Result<ExitCode, KdcError> {
    let plan = if args.all {
        None
    } else {
        Some(cx.plan(&args.cluster)?)
    };
    let cleaned = cx.block_on(async {
        let docker = cx.engine().await?;
        let labels = match &plan {
            Some(p) => vec![(p.cluster.label.clone(), p.image.clone())],
            None => cluster::all_labels(&docker)
                .await?
                .into_iter()
                .map(|l| (l, crate::images::NODE_IMAGE.to_string()))
                .collect(),
        };
        let mut all = Vec::new();
        for (l, image) in labels {
            let c = cluster::clean(&docker, &l, &image, &cx.events).await?;
            all.push((l, c));
        }
        Ok(all)
    })?;
    // The kubeconfig entries go last: if the engine failed, the user can still reach whatever
    // is left of the cluster.
    let kubeconfigs = crate::kubeconfig::files(&cx.env.vars);
    let mut contexts = Vec::new();
    for (label, _) in &cleaned {
        let mut removed = Vec::new();
        for file in &kubeconfigs {
            removed.extend(crate::kubeconfig::remove(
                file,
                &crate::plan::context_for(label),
            )?);
        }
        contexts.push(removed);
    }
    if cx.global.json {
        let v: Vec<_> = cleaned
            .iter()
            .zip(&contexts)
            .map(|((l, c), k)| serde_json::json!({"cluster": l, "removed": c, "kubeconfig": k}))
            .collect();
        cx.print_json(&v)?;
    } else {
        for ((l, c), k) in cleaned.iter().zip(&contexts) {
            let context: String = k
                .iter()
                .map(|k| format!(", context {} from {}", k.name, k.file.display()))
                .collect();
            cx.print(&format!(
                "{l}: removed {} containers, {} volumes, {} networks{context}\n",
                c.containers.len(),
                c.volumes.len(),
                c.networks.len()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(cx: &Ctx<'_>) -> Result<ExitCode, KdcError> {
    let clusters = cx.block_on_interruptible(async {
        let docker = cx.engine().await?;
        Ok(cluster::status(&docker).await?)
    })?;
    if cx.global.json {
        cx.print_json(&clusters)?;
        return Ok(ExitCode::SUCCESS);
    }
    if clusters.is_empty() {
        cx.events.note("no clusters");
        return Ok(ExitCode::SUCCESS);
    }
    cx.print(&cluster::status::render(&clusters))?;
    Ok(ExitCode::SUCCESS)
}

/// `kdc get clusters`: one cluster name per line, the label `--name` selects it by, so that
/// kind's `kdc get clusters | grep -qx NAME` works. The default cluster prints as its label
/// `mirantis.kubeadm_dind_cluster_runtime`, which `--name` accepts (it counts as unset).
pub fn get_clusters(cx: &Ctx<'_>) -> Result<ExitCode, KdcError> {
    let clusters = cx.block_on_interruptible(async {
        let docker = cx.engine().await?;
        Ok(cluster::status(&docker).await?)
    })?;
    if cx.global.json {
        return cx.print_json(&clusters).map(|_| ExitCode::SUCCESS);
    }
    if clusters.is_empty() {
        cx.events.note("no clusters");
    }
    let names: String = clusters.iter().map(|c| format!("{}\n", c.label)).collect();
    cx.print(&names).map(|_| ExitCode::SUCCESS)
}

/// `kdc get nodes`: the node container names of the cluster (or of all, `-A`), one per line.
pub fn get_nodes(cx: &Ctx<'_>, args: &GetNodesArgs) -> Result<ExitCode, KdcError> {
    let label = if args.all_clusters {
        None
    } else {
        Some(cx.plan(&args.cluster)?.cluster.label)
    };
    let nodes = cx.block_on_interruptible(async {
        let docker = cx.engine().await?;
        Ok(cluster::nodes(&docker, label.as_deref()).await?)
    })?;
    if cx.global.json {
        return cx.print_json(&nodes).map(|_| ExitCode::SUCCESS);
    }
    if nodes.is_empty() {
        cx.events.note(match &label {
            Some(l) => format!("cluster {l} has no node containers"),
            None => "no clusters".to_string(),
        });
    }
    let names: String = nodes.iter().map(|n| format!("{}\n", n.node.name)).collect();
    cx.print(&names).map(|_| ExitCode::SUCCESS)
}

pub fn apiserver_port(cx: &Ctx<'_>, args: &ClusterOnlyArgs) -> Result<ExitCode, KdcError> {
    let plan = cx.plan(&args.cluster)?;
    if let Some(port) = plan.apiserver.port {
        cx.print(&format!("{port}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let port = cx.block_on_interruptible(async {
        let docker = cx.engine().await?;
        Ok(cluster::apiserver_port(&docker, &plan).await?)
    })??;
    cx.print(&format!("{port}\n"))?;
    Ok(ExitCode::SUCCESS)
}

pub fn doctor(cx: &Ctx<'_>) -> Result<ExitCode, KdcError> {
    use crate::doctor::{self, HostLimits, Status};
    let checks = cx.block_on_interruptible(async {
        let host = HostLimits::read();
        Ok(match cx.engine().await {
            Ok(d) => doctor::run(Some((&d, &d)), &host).await,
            Err(_) => doctor::run(None, &host).await,
        })
    })?;
    if cx.global.json {
        cx.print_json(&checks)?;
    } else {
        cx.print(&doctor::render(&checks))?;
    }
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
