//! `kdc test`: the network test suites. `list` shows them, `run` runs a cell; the suites, the
//! runner and the cell live in `crate::suite`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::Ctx;
use crate::KdcError;
use crate::cli::{TestListArgs, TestRunArgs};
use crate::cluster::{UpOptions, spec::HostFacts};
use crate::report::junit::Junit;
use crate::signal::Stop;
use crate::suite::cell::{self, CellOptions};

/// Whether checks "on the host" can run: only with a local engine, whose container addresses
/// this host reaches.
pub(crate) fn host_possible(endpoint: &crate::runtime::endpoint::Endpoint) -> Result<(), String> {
    if endpoint.is_local() {
        Ok(())
    } else {
        Err(format!(
            "the engine is remote ({endpoint}): container addresses are not reachable from this host"
        ))
    }
}

/// `kdc test list [--json] [--suite-file FILE]...`: every suite and its checks.
pub fn list(cx: &Ctx<'_>, args: &TestListArgs) -> Result<ExitCode, KdcError> {
    let suites = crate::suite::load(&args.suites.files)?;
    if cx.global.json {
        cx.print_json(&crate::suite::listing(&suites))?;
    } else {
        cx.print(&crate::suite::render_text(&suites))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `kdc test run SUITE[/CHECK]...`: one cell — up, the checks, a dump on failure, down.
pub fn run(cx: &Ctx<'_>, args: &TestRunArgs) -> Result<ExitCode, KdcError> {
    let suites = crate::suite::load(&args.suites.files)?;
    let wanted: Vec<&str> = args.select.iter().map(String::as_str).collect();
    let selected = crate::suite::select(&suites, &wanted)?;
    let layers = cluster_layers(&selected)?;
    let cfg = cx.config_with(&args.cluster, layers)?;
    let plan = crate::plan::plan(&cfg)?;
    let endpoint = cx.endpoint()?;
    let (artifacts, junit) = outputs(cx, args.artifacts.as_ref(), args.junit.as_ref())?;
    let (bootstrapper, kube) = cx.block_on(async {
        let docker = cx.connect(&endpoint).await?;
        super::cluster::bootstrap(
            cx,
            &docker,
            &cfg,
            &plan,
            args.bootstrapper,
            Duration::from_secs(300),
            None,
        )
        .await
    })?;
    let opts = CellOptions {
        // The cell decides about retain and rollback itself.
        up: UpOptions {
            bootstrapper,
            kube,
            host: HostFacts::of(&endpoint),
            systemd_timeout: Duration::from_secs(args.wait_systemd),
            skip_snapshot: cfg.skip_snapshot,
            host_routes: args.host_routes,
            ..UpOptions::default()
        },
        use_existing: args.use_existing,
        retain: args.retain,
        targets: args.targets,
        host_possible: host_possible(&endpoint),
        artifacts: artifacts.clone(),
        dump_timeout: Duration::from_secs(20),
        retries: 0,
        max_blob_bytes: super::ci::max_blob_bytes(cx, &args.max)?,
        e2e: None,
    };
    let result = run_cell(cx, &endpoint, &plan, &selected, &opts)?;
    let s = &result.stats;
    let mut summary = format!(
        "{}: {} passed, {} failed, {} skipped\nJUnit: {}\n",
        wanted.join(" "),
        s.passed,
        s.failed,
        s.skipped,
        junit.display()
    );
    if let Some(dir) = &result.dump_dir {
        summary += &format!("dump: {}\n", dir.display());
    }
    cx.print(&summary)?;
    if result.interrupted {
        return Err(KdcError::Interrupted);
    }
    if result.ok() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(KdcError::Failed(if result.up_failed {
        format!(
            "cluster {} did not come up; see the Up case",
            plan.cluster.label
        )
    } else if s.failed > 0 {
        format!("{} check{} failed", s.failed, crate::text::plural(s.failed))
    } else if s.total() == 0 {
        format!(
            "no check of {} applies to a {} cluster: nothing was tested",
            wanted.join(" "),
            plan.ip_mode
        )
    } else {
        "every check was skipped: nothing was tested (see the reasons above)".into()
    }))
}

/// Runs one cell on the engine, its blob on failure to stdout (the CI log).
pub(crate) fn run_cell(
    cx: &Ctx<'_>,
    endpoint: &crate::runtime::endpoint::Endpoint,
    plan: &crate::plan::Plan,
    suites: &[(crate::suite::Suite, Vec<String>)],
    opts: &CellOptions,
) -> Result<cell::CellResult, KdcError> {
    cx.block_on(async {
        let docker = cx.connect(endpoint).await?;
        let mut stdout = std::io::stdout();
        Ok(cell::run(
            &docker,
            &docker,
            plan,
            suites,
            opts,
            &cx.events,
            &Stop::process(),
            &mut stdout,
        )
        .await)
    })
}

/// The artifacts directory (`--artifacts`, else `$ARTIFACTS`, else `./_artifacts`) and kdc's
/// JUnit file in it (or `--junit`), checked before any cluster comes up (both are written only
/// at the end: refuse paths that cannot be written now, not after the run); the JUnit
/// reporter is attached.
pub(crate) fn outputs(
    cx: &Ctx<'_>,
    artifacts: Option<&PathBuf>,
    junit: Option<&PathBuf>,
) -> Result<(PathBuf, PathBuf), KdcError> {
    let artifacts = artifacts
        .cloned()
        .or_else(|| cx.env.var("ARTIFACTS").map(PathBuf::from))
        .unwrap_or_else(|| cx.env.cwd.join("_artifacts"));
    let junit = junit
        .cloned()
        .unwrap_or_else(|| artifacts.join("junit_kdc.xml"));
    let bad = |e: crate::dump::DumpError| KdcError::Dump(crate::dump::Problems(vec![e]));
    crate::dump::check_out_dir(&artifacts, "--artifacts").map_err(bad)?;
    if junit.is_dir() {
        return Err(KdcError::Failed(format!(
            "--junit {}: is a directory; give the JUnit file's path",
            junit.display()
        )));
    }
    if let Some(parent) = junit.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::dump::check_out_dir(parent, "--junit").map_err(bad)?;
    }
    cx.events.attach(Junit::new(&junit));
    Ok((artifacts, junit))
}

/// The `[cluster]` settings of the selected suites as configuration layers. Two suites that
/// need different clusters cannot share one run.
fn cluster_layers(
    selected: &[(crate::suite::Suite, Vec<String>)],
) -> Result<Vec<crate::config::Layer>, KdcError> {
    let mut seen: Vec<(&str, &str, &str)> = Vec::new();
    for (suite, _) in selected {
        for (k, v) in &suite.cluster {
            if let Some((other, _, theirs)) = seen.iter().find(|(_, sk, _)| sk == k)
                && theirs != v
            {
                return Err(KdcError::Failed(format!(
                    "suites {other} and {} need different clusters ({k}={theirs} and {k}={v}); run them separately",
                    suite.name
                )));
            }
            seen.push((&suite.name, k, v));
        }
    }
    Ok(selected.iter().map(|(s, _)| s.layer()).collect())
}
