//! `up`, `down`, `clean`, `status` / `get clusters`, `apiserver-port`: the Docker lifecycle.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{CleanArgs, ClusterOnlyArgs, GlobalArgs, UpArgs};
use crate::cluster::{self, Ledger, UpOptions, spec::HostFacts};
use crate::plan::{self, Plan};
use crate::report::{Style, Terminal};
use crate::runtime::Provider;
use crate::runtime::docker::Docker;
use crate::{Env, KdcError};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn reporter(global: &GlobalArgs, env: &Env) -> Terminal<std::io::Stderr> {
    let ci = env.vars.iter().any(|(k, v)| k == "CI" && !v.is_empty());
    Terminal::new(std::io::stderr(), Style::detect(global.quiet, ci))
}

fn print(text: &str) -> Result<(), KdcError> {
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|source| KdcError::Io {
            what: "stdout".into(),
            source,
        })
}

pub fn up(global: &GlobalArgs, args: &UpArgs, env: &Env) -> Result<ExitCode, KdcError> {
    let cfg = super::load_config(global, &args.cluster, env)?;
    let plan = plan::plan(&cfg)?;
    if let Some(fwd) = &cfg.port_forwarder {
        check_executable(fwd)?;
    }
    let mut rep = reporter(global, env);
    let opts = UpOptions {
        host: HostFacts {
            lib_modules: !env.vars.iter().any(|(k, _)| k == "DOCKER_HOST")
                && std::path::Path::new("/lib/modules").is_dir(),
        },
        systemd_timeout: Duration::from_secs(args.wait_systemd),
    };
    let ledger = Ledger::default();
    let rt = runtime();
    let result = rt.block_on(async {
        let docker = Docker::connect().await?;
        let outcome = tokio::select! {
            r = cluster::up(&docker, &docker, &plan, &opts, cfg.skip_snapshot, &ledger, &mut rep) => r,
            _ = crate::signal::interrupted() => Err(cluster::ClusterError::Interrupted),
        };
        if outcome.is_err() {
            if args.retain {
                eprintln!("kdc: keeping what was created (--retain); remove it with `kdc clean`");
            } else {
                for e in cluster::rollback(&docker, &ledger).await {
                    eprintln!("kdc: cleanup: {e}");
                }
            }
        }
        Ok::<_, KdcError>(outcome?)
    })?;
    let mut info = plan.clone();
    info.apiserver.port = Some(result.apiserver_port);
    if global.json {
        print(&(serde_json::to_string_pretty(&info).expect("plan serialises") + "\n"))?;
    } else {
        print(&cluster_info(&info, result.restarted))?;
    }
    if let Some(fwd) = &cfg.port_forwarder {
        let status = std::process::Command::new(fwd)
            .arg(result.apiserver_port.to_string())
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => {
                return Err(KdcError::Usage(format!(
                    "port forwarder {} failed: {other:?}",
                    fwd.display()
                )));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_executable(path: &std::path::Path) -> Result<(), KdcError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        _ => Err(KdcError::Usage(format!(
            "DIND_PORT_FORWARDER {} is not an executable file; fix the path or chmod +x it",
            path.display()
        ))),
    }
}

/// The original's "Cluster Info" lines, on stdout.
fn cluster_info(p: &Plan, restarted: bool) -> String {
    let join = |v: Vec<String>| v.join(" ");
    let mgmt = p.nodes[0].addresses.len();
    let fam = if p.service_cidr.addr().is_ipv4() {
        "ipv4"
    } else {
        "ipv6"
    };
    let mut s = format!(
        "Network Mode: {}\nCluster context: {}\nCluster ID: {}\nManagement CIDR(s): {}\nService CIDR/mode: {}/{fam}\nPod CIDR(s): {}\n",
        p.ip_mode,
        p.cluster.context,
        p.cluster.id,
        join(
            p.network.subnets[..mgmt]
                .iter()
                .map(ToString::to_string)
                .collect()
        ),
        p.service_cidr,
        join(p.pod_cidrs.iter().map(ToString::to_string).collect()),
    );
    let host = match p.apiserver.host {
        std::net::IpAddr::V6(h) => format!("[{h}]"),
        h => h.to_string(),
    };
    s += &format!("API server: {host}:{}\n", p.apiserver.port.unwrap_or(0));
    s += &format!(
        "Nodes: {} ({})\n",
        p.nodes.len(),
        if restarted {
            "restarted from volumes"
        } else {
            "fresh"
        }
    );
    s
}

/// The plan of the configured cluster (its names and label).
fn cluster_plan(global: &GlobalArgs, args: &ClusterOnlyArgs, env: &Env) -> Result<Plan, KdcError> {
    let cfg = super::load_config(global, &args.cluster, env)?;
    Ok(plan::plan(&cfg)?)
}

pub fn down(global: &GlobalArgs, args: &ClusterOnlyArgs, env: &Env) -> Result<ExitCode, KdcError> {
    let plan = cluster_plan(global, args, env)?;
    let mut rep = reporter(global, env);
    let n = runtime().block_on(async {
        let docker = Docker::connect().await?;
        Ok::<_, KdcError>(cluster::down(&docker, &plan.cluster.label, &mut rep).await?)
    })?;
    if n == 0 && !global.quiet {
        eprintln!("kdc: cluster {} has no node containers", plan.cluster.label);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn clean(global: &GlobalArgs, args: &CleanArgs, env: &Env) -> Result<ExitCode, KdcError> {
    let only = ClusterOnlyArgs {
        cluster: args.cluster.clone(),
    };
    let plan = if args.all {
        None
    } else {
        Some(cluster_plan(global, &only, env)?)
    };
    let mut rep = reporter(global, env);
    let cleaned = runtime().block_on(async {
        let docker = Docker::connect().await?;
        let labels = match &plan {
            Some(p) => vec![p.cluster.label.clone()],
            None => cluster::all_labels(&docker).await?,
        };
        let mut all = Vec::new();
        for l in labels {
            let c = cluster::clean(&docker, &l, &mut rep).await?;
            all.push((l, c));
        }
        Ok::<_, KdcError>(all)
    })?;
    // The kubeconfig entries go last: if the engine failed, the user can still reach whatever
    // is left of the cluster.
    let kubeconfigs = crate::kubeconfig::files(&env.vars);
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
    if global.json {
        let v: Vec<_> = cleaned
            .iter()
            .zip(&contexts)
            .map(|((l, c), k)| serde_json::json!({"cluster": l, "removed": c, "kubeconfig": k}))
            .collect();
        print(&(serde_json::to_string_pretty(&v).expect("json") + "\n"))?;
    } else {
        for ((l, c), k) in cleaned.iter().zip(&contexts) {
            let context: String = k
                .iter()
                .map(|k| format!(", context {} from {}", k.name, k.file.display()))
                .collect();
            print(&format!(
                "{l}: removed {} containers, {} volumes, {} networks{context}\n",
                c.containers.len(),
                c.volumes.len(),
                c.networks.len()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(global: &GlobalArgs) -> Result<ExitCode, KdcError> {
    let clusters = runtime().block_on(async {
        let docker = Docker::connect().await?;
        Ok::<_, KdcError>(cluster::status(&docker).await?)
    })?;
    if global.json {
        return print(&(serde_json::to_string_pretty(&clusters).expect("json") + "\n"))
            .map(|_| ExitCode::SUCCESS);
    }
    if clusters.is_empty() {
        eprintln!("kdc: no clusters");
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
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

pub fn apiserver_port(
    global: &GlobalArgs,
    args: &ClusterOnlyArgs,
    env: &Env,
) -> Result<ExitCode, KdcError> {
    let plan = cluster_plan(global, args, env)?;
    if let Some(port) = plan.apiserver.port {
        print(&format!("{port}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let master = plan.master().name.clone();
    let port = runtime().block_on(async {
        let docker = Docker::connect().await?;
        let node = docker.container(&master).await?;
        Ok::<_, KdcError>(node.and_then(|n| n.host_port(cluster::spec::APISERVER_CONTAINER_PORT)))
    })?;
    match port {
        Some(p) => print(&format!("{p}\n")).map(|_| ExitCode::SUCCESS),
        None => Err(KdcError::Usage(format!(
            "{master} publishes no API server port; is the cluster up (`kdc up`)?"
        ))),
    }
}

pub fn doctor(global: &GlobalArgs) -> Result<ExitCode, KdcError> {
    use crate::doctor::{self, HostLimits, Status};
    let checks = runtime().block_on(async {
        let host = HostLimits::read();
        match Docker::connect().await {
            Ok(d) => doctor::run(Some((&d, &d)), &host).await,
            Err(_) => doctor::run(None, &host).await,
        }
    });
    if global.json {
        print(&(serde_json::to_string_pretty(&checks).expect("json") + "\n"))?;
    } else {
        print(&doctor::render(&checks))?;
    }
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
