//! `kdc e2e`, `kdc e2e-serial`: Kubernetes' e2e specs as a cell on the cluster that is up (or
//! one brought up with `--up`); `kdc kubeconfig` / `kdc get kubeconfig`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::Ctx;
use crate::KdcError;
use crate::cli::{ClusterOnlyArgs, E2eArgs};
use crate::cluster::{UpOptions, spec::HostFacts};
use crate::e2e::E2eOptions;
use crate::suite::cell::CellOptions;

/// `<cache>/e2e`: where `images/e2e/build.sh` leaves each release's bundle.
pub(crate) fn bundles(cx: &Ctx<'_>) -> PathBuf {
    crate::e2e::cache_dir(|k| cx.env.var(k).map(str::to_string)).join("e2e")
}

/// Builds the e2e bundle of the configured release when it is missing or stale (the recipe
/// says "up to date" in under a second otherwise), as the original built e2e.test before a run.
pub(crate) fn ensure_bundle(cx: &Ctx<'_>, k8s_version: &str) -> Result<(), KdcError> {
    let release = crate::kube::release_for(k8s_version).map_err(KdcError::Failed)?;
    if crate::e2e::Bundle::open(&bundles(cx), release.version).is_err() {
        cx.events.note(format!(
            "building the e2e bundle of Kubernetes {} (once: e2e.test and the test images, cached by their inputs)",
            release.version
        ));
    }
    crate::images::build(crate::images::Which::E2e, release, false, false)?;
    Ok(())
}

/// `kdc e2e` (`serial` false) and `kdc e2e-serial`.
pub fn run(cx: &Ctx<'_>, args: &E2eArgs, serial: bool) -> Result<ExitCode, KdcError> {
    let cfg = cx.config(&args.cluster)?;
    let plan = crate::plan::plan(&cfg)?;
    let endpoint = cx.endpoint()?;
    let e2e = E2eOptions {
        focus: args.focus.clone(),
        skip: args.skip.clone(),
        regex: args.regex,
        serial,
        parallel: args.parallel,
        ..E2eOptions::new(bundles(cx))
    };
    for (what, v) in [("FOCUS", &args.focus), ("SKIP", &args.skip)] {
        if let Some(re) = v.as_deref().filter(|_| args.regex)
            && let Err(e) = regex::Regex::new(re)
        {
            return Err(KdcError::Failed(format!(
                "{what} {re:?} is not a regex ({e}); fix it, or drop --regex to match it as literal text"
            )));
        }
    }
    let (artifacts, junit) =
        super::test::outputs(cx, args.artifacts.as_ref(), args.junit.as_ref())?;
    ensure_bundle(cx, &cfg.k8s_version)?;
    let (bootstrapper, kube) = if args.up {
        cx.block_on(async {
            let docker = cx.connect(&endpoint).await?;
            super::cluster::bootstrap(
                cx,
                &docker,
                &cfg,
                &plan,
                Some(crate::cluster::Bootstrapper::Kubeadm),
                Duration::from_secs(300),
                None,
            )
            .await
        })?
    } else {
        (crate::cluster::Bootstrapper::Kubeadm, None)
    };
    let opts = CellOptions {
        up: UpOptions {
            bootstrapper,
            kube,
            host: HostFacts::of(&endpoint),
            skip_snapshot: cfg.skip_snapshot,
            ..UpOptions::default()
        },
        use_existing: !args.up,
        retain: args.retain,
        targets: crate::suite::TargetsKind::Local,
        host_possible: super::test::host_possible(&endpoint),
        artifacts: artifacts.clone(),
        dump_timeout: Duration::from_secs(20),
        retries: 0,
        max_blob_bytes: super::ci::max_blob_bytes(cx, &args.max)?,
        e2e: Some(e2e),
    };
    let result = super::test::run_cell(cx, &endpoint, &plan, &[], &opts)?;
    let s = &result.stats;
    let mut summary = format!(
        "e2e: {} passed, {} failed, {} skipped\nJUnit: {}\n",
        s.passed,
        s.failed,
        s.skipped,
        junit.display()
    );
    if let Some(dir) = &result.e2e_dir {
        summary += &format!("e2e.test's junit_01.xml and e2e.log: {}\n", dir.display());
    }
    if let Some(dir) = &result.dump_dir {
        summary += &format!("dump: {}\n", dir.display());
    }
    for f in result
        .failures
        .iter()
        .filter(|f| f.class != crate::report::junit::KDC_CLASS)
    {
        summary += &format!("FAILED [{}] {}\n    {}\n", f.class, f.name, f.message);
    }
    cx.print(&summary)?;
    if result.interrupted {
        return Err(KdcError::Interrupted);
    }
    if result.ok() {
        return Ok(ExitCode::SUCCESS);
    }
    let step = result
        .failures
        .iter()
        .find(|f| f.class == crate::report::junit::KDC_CLASS);
    Err(KdcError::Failed(match step {
        // The cluster that is not there, a bundle that cannot be built, a focus selecting
        // nothing: the step's own message says what to do.
        Some(f) => format!(
            "{}: {}",
            f.name,
            f.message.trim_start_matches("--use-existing: ")
        ),
        None if s.failed > 0 => {
            format!("{} spec{} failed", s.failed, crate::text::plural(s.failed))
        }
        None => {
            "every selected spec was skipped: nothing was tested (see the reasons above)".into()
        }
    }))
}

/// `kdc kubeconfig`: the admin kubeconfig with the published server, on stdout.
pub fn kubeconfig(cx: &Ctx<'_>, args: &ClusterOnlyArgs) -> Result<ExitCode, KdcError> {
    let plan = cx.plan(&args.cluster)?;
    let text = cx.block_on_interruptible(async {
        let docker = cx.engine().await?;
        crate::cluster::actions::kubeconfig::published(&docker, &docker, &plan)
            .await
            .map_err(KdcError::Failed)
    })?;
    cx.print(&text)?;
    Ok(ExitCode::SUCCESS)
}
