//! `kdc ci list|generate|check|run` and `kdc report`: the CI matrix. The matrix is
//! [`crate::matrix`], the configs [`crate::ci`], the page [`crate::report::html`]; this file
//! reads inputs, writes files and prints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::Ctx;
use crate::KdcError;
use crate::cli::{
    CiCheckArgs, CiGenerateArgs, CiListArgs, CiRunArgs, ClusterArgs, MatrixArgs, ReportArgs,
};
use crate::cluster::{UpOptions, spec::HostFacts};
use crate::matrix::run::{self as matrix_run, RECORD, Record, RunOptions, Status};
use crate::matrix::{Matrix, MatrixError, Shard};
use crate::report::junit::Junit;
use crate::signal::Stop;
use crate::suite::cell::CellOptions;

impl From<MatrixError> for KdcError {
    fn from(e: MatrixError) -> Self {
        KdcError::Failed(e.to_string())
    }
}

fn load(cx: &Ctx<'_>, args: &MatrixArgs) -> Result<(Matrix, Vec<crate::suite::Suite>), KdcError> {
    let suites = crate::suite::load(&args.suites.files)?;
    let m = Matrix::load(args.matrix.as_deref(), &cx.env.cwd, &suites)?;
    Ok((m, suites))
}

/// What `kdc ci list --json` prints per cell.
#[derive(serde::Serialize)]
struct Listed<'a> {
    name: &'a str,
    base: &'a str,
    suites: &'a [String],
    settings: std::collections::BTreeMap<&'a str, &'a str>,
    dimensions: std::collections::BTreeMap<&'a str, &'a str>,
    clusters: u8,
    bootstrapper: &'a str,
    reproduce: String,
}

/// `kdc ci list [--shard I/N] [--json]`.
pub fn list(cx: &Ctx<'_>, args: &CiListArgs) -> Result<ExitCode, KdcError> {
    let (m, _) = load(cx, &args.matrix)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let cells = match shard {
        Some(s) => s.pick(&m.cells),
        None => m.cells.iter().collect(),
    };
    if cx.global.json {
        let out: Vec<Listed> = cells
            .iter()
            .map(|c| Listed {
                name: &c.name,
                base: &c.base,
                suites: &c.suites,
                settings: c
                    .settings
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
                dimensions: c
                    .coords
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
                clusters: c.clusters,
                bootstrapper: &c.bootstrapper,
                reproduce: m.reproduce(&c.name),
            })
            .collect();
        return cx.print_json(&out).map(|_| ExitCode::SUCCESS);
    }
    let width = cells.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for c in &cells {
        let mut settings: Vec<String> =
            c.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if c.clusters > 1 {
            settings.push(format!("({} clusters)", c.clusters));
        }
        let mut work = c.suites.clone();
        if let Some(e) = &c.e2e {
            work.push(if e.serial { "e2e-serial" } else { "e2e" }.into());
        }
        s += &format!(
            "{:<width$}  {:<20}  {}\n",
            c.name,
            work.join(" "),
            settings.join(" ")
        );
    }
    cx.print(&s)?;
    cx.events.note(format!(
        "{} of {} cells of {}{}",
        cells.len(),
        m.cells.len(),
        m.file,
        shard.map(|s| format!(", shard {s}")).unwrap_or_default()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` through a temporary file beside it: never half a file.
fn write_whole(path: &Path, bytes: &[u8], option: &str) -> Result<(), KdcError> {
    if path.is_dir() {
        return Err(KdcError::Failed(format!(
            "{option} {}: is a directory; give a file's path",
            path.display()
        )));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fail = |source| KdcError::Io {
        what: format!("{} ({option}; choose a writable path)", path.display()),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// `kdc ci generate PROVIDER [-o FILE]`.
pub fn generate(cx: &Ctx<'_>, args: &CiGenerateArgs) -> Result<ExitCode, KdcError> {
    let (m, _) = load(cx, &args.matrix)?;
    let text = crate::ci::generate(&m, args.provider).map_err(KdcError::Failed)?;
    match &args.output {
        None => cx.print(&text)?,
        Some(path) => {
            write_whole(path, text.as_bytes(), "-o")?;
            cx.events.note(format!(
                "wrote {} ({} from {})",
                path.display(),
                args.provider,
                m.file
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kdc ci check`: every file under `[generated]` is what the matrix makes.
pub fn check(cx: &Ctx<'_>, args: &CiCheckArgs) -> Result<ExitCode, KdcError> {
    let (m, _) = load(cx, &args.matrix)?;
    // Relative paths stay relative (to the working directory), as messages show them.
    let (checked, stale) = crate::ci::check(&m, &m.dir).map_err(KdcError::Failed)?;
    let mut out = String::new();
    for path in &checked {
        if !stale.iter().any(|s| &s.path == path) {
            out += &format!(
                "{}: current\n",
                path.strip_prefix(&cx.env.cwd).unwrap_or(path).display()
            );
        }
    }
    cx.print(&out)?;
    if stale.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let lines: Vec<String> = stale.iter().map(|s| format!("  - {s}")).collect();
    Err(KdcError::Failed(format!(
        "{} generated file{} of {} out of date:\n{}",
        stale.len(),
        if stale.len() == 1 { "" } else { "s" },
        m.file,
        lines.join("\n")
    )))
}

/// `--max-bytes`, else `KDC_DUMP_MAX_BYTES` (which generated CI configs set).
pub fn max_blob_bytes(
    cx: &Ctx<'_>,
    args: &crate::cli::MaxBlobArgs,
) -> Result<Option<u64>, KdcError> {
    if let Some(n) = args.max_bytes {
        return Ok(Some(n));
    }
    match cx.env.var("KDC_DUMP_MAX_BYTES") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 4096)
            .map(Some)
            .ok_or_else(|| {
                KdcError::Failed(format!(
                    "KDC_DUMP_MAX_BYTES={v}: must be a number of bytes, at least 4096"
                ))
            }),
    }
}

/// `kdc ci run [CELL...] [--shard I/N] [--jobs J] [--artifacts DIR] [--retries R]`.
pub fn run(cx: &Ctx<'_>, args: &CiRunArgs) -> Result<ExitCode, KdcError> {
    let started = Instant::now();
    let (m, suites) = load(cx, &args.matrix)?;
    let shard = match &args.shard {
        Some(s) => Some(Shard::parse(s)?),
        None if args.cells.is_empty() => Shard::from_env(|v| cx.env.var(v).map(String::from))?,
        None => None,
    };
    let mut cells = m.select(&args.cells)?;
    if let Some(s) = shard {
        cells = s.pick(&cells).into_iter().copied().collect();
        cx.events.note(format!(
            "shard {s}: {} of {} cells",
            cells.len(),
            m.cells.len()
        ));
    }
    if cells.is_empty() {
        return Err(KdcError::Failed(format!(
            "shard {} of {} has no cells ({} has {}); use fewer shards",
            shard.map(|s| s.to_string()).unwrap_or_default(),
            m.file,
            m.file,
            m.cells.len()
        )));
    }
    let ids = matrix_run::parse_ids(&args.cluster_ids).map_err(KdcError::Failed)?;
    let max_blob_bytes = max_blob_bytes(cx, &args.max)?;
    let artifacts = args
        .artifacts
        .clone()
        .or_else(|| cx.env.var("ARTIFACTS").map(PathBuf::from))
        .unwrap_or_else(|| cx.env.cwd.join("_artifacts"));
    let artifacts = if artifacts.is_absolute() {
        artifacts
    } else {
        cx.env.cwd.join(artifacts)
    };
    let bad = |e: crate::dump::DumpError| KdcError::Dump(crate::dump::Problems(vec![e]));
    crate::dump::check_out_dir(&artifacts, "--artifacts").map_err(bad)?;

    // Every cluster planned before anything exists.
    let no_flags = ClusterArgs::default();
    let planned = matrix_run::plan_cells(&cells, &suites, ids, &|layers| {
        cx.config_with(&no_flags, layers).map_err(|e| match e {
            KdcError::Invalid(p) => p,
            other => crate::config::Problems {
                subject: "configuration",
                list: vec![crate::config::Problem {
                    what: "kdc".into(),
                    message: other.to_string(),
                }],
            },
        })
    })
    .map_err(KdcError::Failed)?;
    for p in &planned {
        let labels: Vec<&str> = p.plans.iter().map(|pl| pl.cluster.label.as_str()).collect();
        cx.events
            .debug(1, format!("cell {}: {}", p.cell.name, labels.join(", ")));
    }

    // The e2e cells' bundles, built before any cluster comes up.
    let mut versions: Vec<&str> = planned
        .iter()
        .filter(|p| p.cell.e2e.is_some())
        .flat_map(|p| p.plans.iter().map(|pl| pl.k8s_version.as_str()))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    for v in versions {
        super::e2e::ensure_bundle(cx, v)?;
    }

    let endpoint = cx.endpoint()?;
    let junit = artifacts.join("junit_kdc.xml");
    cx.events.attach(Junit::new(&junit));
    // Each cell's own JUnit beside its files, so DIR/<cell>/ is the whole cell.
    for p in &planned {
        cx.events.attach(crate::report::OnlyScope {
            scope: p.cell.name.clone(),
            inner: Junit::new(artifacts.join(&p.cell.name).join("junit_kdc.xml")),
        });
    }
    let opts = RunOptions {
        jobs: usize::from(args.jobs),
        artifacts: artifacts.clone(),
        cell: CellOptions {
            up: UpOptions {
                host: HostFacts::of(&endpoint),
                systemd_timeout: Duration::from_secs(args.wait_systemd),
                ..UpOptions::default()
            },
            use_existing: false,
            retain: false,
            targets: crate::suite::TargetsKind::Local,
            host_possible: super::test::host_possible(&endpoint),
            artifacts: artifacts.clone(),
            dump_timeout: Duration::from_secs(20),
            retries: args.retries,
            max_blob_bytes,
            e2e: None,
        },
        e2e_bundles: super::e2e::bundles(cx),
    };
    let ran = cx.block_on(async {
        let docker = cx.connect(&endpoint).await?;
        let mut print_failed = |c: &matrix_run::CellRun| {
            if c.status == Status::Failed {
                let mut out = std::io::stdout().lock();
                let _ = out
                    .write_all(&matrix_run::failure_text(c))
                    .and_then(|_| out.flush());
            }
        };
        Ok(matrix_run::run(
            &docker,
            &docker,
            &m,
            planned,
            &opts,
            &cx.events,
            &Stop::process(),
            &mut print_failed,
        )
        .await)
    })?;
    let elapsed = started.elapsed();
    let record = Record {
        matrix: m.file.clone(),
        shard: shard.map(|s| s.to_string()),
        jobs: opts.jobs,
        seconds: elapsed.as_secs_f64(),
        junit: "junit_kdc.xml".into(),
        cells: ran
            .iter()
            .map(|c| serde_json::to_value(c).expect("a run record serializes"))
            .collect(),
    };
    let json = serde_json::to_string_pretty(&record).expect("a run record serializes");
    write_whole(&artifacts.join(RECORD), json.as_bytes(), "--artifacts")?;
    let mut summary = matrix_run::summary(&ran, elapsed, opts.jobs);
    summary += &format!(
        "JUnit: {}\nreport: kdc report {}\n",
        junit.display(),
        artifacts.display()
    );
    cx.print(&summary)?;
    if ran.iter().any(|c| c.status == Status::Interrupted) && crate::signal::requested() {
        return Err(KdcError::Interrupted);
    }
    let failed = ran
        .iter()
        .filter(|c| c.status != Status::Passed && c.status != Status::Flaky)
        .count();
    if failed > 0 {
        return Err(KdcError::Failed(format!(
            "{failed} of {} cell{} failed",
            ran.len(),
            crate::text::plural(ran.len())
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// `kdc report DIR [-o FILE]`.
pub fn report(cx: &Ctx<'_>, args: &ReportArgs) -> Result<ExitCode, KdcError> {
    let record_path = args.dir.join(RECORD);
    let text = std::fs::read_to_string(&record_path).map_err(|e| {
        KdcError::Failed(format!(
            "cannot read {} ({e}); DIR must be the --artifacts directory of a `kdc ci run`",
            record_path.display()
        ))
    })?;
    let rec: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        KdcError::Failed(format!(
            "{}: not a kdc run record: {e}",
            record_path.display()
        ))
    })?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| args.dir.join("report.html"));
    // Links are relative to the page: from the artifacts directory when it is written there.
    let page_dir = std::path::absolute(
        out.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
    .unwrap_or_default();
    let dir = std::path::absolute(&args.dir).unwrap_or_else(|_| args.dir.clone());
    let prefix = if page_dir == dir {
        String::new()
    } else {
        format!("{}/", dir.display())
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let html = crate::report::html::render(&rec, &name, &prefix);
    write_whole(&out, html.as_bytes(), "-o")?;
    cx.print(&format!("{}\n", out.display()))?;
    Ok(ExitCode::SUCCESS)
}
