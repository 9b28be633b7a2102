//! `up`, `down`, `clean`, `status` / `get clusters`, `apiserver-port`, `doctor`.

use std::process::ExitCode;
use std::time::Duration;

use super::Ctx;
use crate::KdcError;
use crate::cli::{CleanArgs, ClusterOnlyArgs, UpArgs};
use crate::cluster::{self, UpOptions, spec::HostFacts};
use crate::signal::Stop;

pub fn up(cx: &Ctx<'_>, args: &UpArgs) -> Result<ExitCode, KdcError> {
    let cfg = cx.config(&args.cluster)?;
    let plan = crate::plan::plan(&cfg)?;
    let endpoint = cx.endpoint()?;
    let options = UpOptions {
        bootstrapper: args.bootstrapper,
        host: HostFacts {
            lib_modules: endpoint.is_local() && std::path::Path::new("/lib/modules").is_dir(),
        },
        systemd_timeout: Duration::from_secs(args.wait_systemd),
        skip_snapshot: cfg.skip_snapshot,
        retain: args.retain,
    };
    let outcome = cx.block_on(async {
        let docker = cx.connect(&endpoint).await?;
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
        // The forwarder would forward a port nothing listens on.
        cx.events.note(format!(
            "DIND_PORT_FORWARDER {} is not run: no API server listens on a cluster without Kubernetes (--bootstrapper none)",
            fwd.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
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
