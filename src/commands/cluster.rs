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
    if let Some(fwd) = &cfg.port_forwarder {
        check_executable(fwd)?;
    }
    let endpoint = cx.endpoint()?;
    let options = UpOptions {
        host: HostFacts {
            lib_modules: endpoint.is_local() && std::path::Path::new("/lib/modules").is_dir(),
        },
        systemd_timeout: Duration::from_secs(args.wait_systemd),
        skip_snapshot: cfg.skip_snapshot,
        retain: args.retain,
    };
    let outcome = cx.block_on(async {
        let docker = crate::runtime::docker::Docker::connect(&endpoint).await?;
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
        let status = std::process::Command::new(fwd)
            .arg(outcome.apiserver_port.to_string())
            .status();
        let failure = match status {
            Ok(s) if s.success() => None,
            Ok(s) => Some(format!("failed with {s}")),
            Err(e) => Some(format!("cannot be started: {e}")),
        };
        if let Some(failure) = failure {
            return Err(KdcError::PortForwarder {
                path: fwd.clone(),
                port: outcome.apiserver_port,
                outcome: failure,
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The port forwarder must be an executable file, checked before anything is created: a
/// problem of the configuration.
fn check_executable(path: &std::path::Path) -> Result<(), KdcError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        _ => Err(KdcError::Invalid(crate::config::Problems {
            subject: "configuration",
            list: vec![crate::config::Problem {
                what: "DIND_PORT_FORWARDER (--port-forwarder)".into(),
                message: format!(
                    "{} is not an executable file; fix the path or chmod +x it",
                    path.display()
                ),
            }],
        })),
    }
}

pub fn down(cx: &Ctx<'_>, args: &ClusterOnlyArgs) -> Result<ExitCode, KdcError> {
    let plan = cx.plan(&args.cluster)?;
    let n = cx.block_on(async {
        let docker = cx.engine().await?;
        Ok(cluster::down(&docker, &plan.cluster.label, &cx.events).await?)
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
            Some(p) => vec![p.cluster.label.clone()],
            None => cluster::all_labels(&docker).await?,
        };
        let mut all = Vec::new();
        for l in labels {
            let c = cluster::clean(&docker, &l, &cx.events).await?;
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
    let mut out = format!(
        "{:<40} {:<28} {:<14} {:<10} {}\n",
        "CLUSTER", "NODE", "ROLE", "STATE", "IMAGE"
    );
    for c in &clusters {
        for n in &c.nodes {
            out += &format!(
                "{:<40} {:<28} {:<14} {:<10} {}\n",
                c.label, n.name, n.role, n.state, n.image
            );
        }
    }
    cx.print(&out)?;
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
