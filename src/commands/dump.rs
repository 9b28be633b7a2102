//! `kdc dump`, `kdc dump64`, `kdc split-dump`, `kdc split-dump64`: the way from a running
//! cluster (or a text dump) to a CI log and back. The formats and the safety checks live in [`crate::dump`]; this file only opens
//! inputs, stages output and prints the summary.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use std::time::Duration;

use crate::cli::{Dump64Args, DumpArgs, GlobalArgs, LiveDumpArgs, SplitArgs};
use crate::dump::{
    self, BlobReport, BlobWriter, DirSink, DumpError, DumpMeta, DumpSink, DumpWriter, Problems,
    split_text,
};
use crate::{Env, KdcError};

/// Opens a file, or stdin for `-` / no argument.
fn open_input(path: Option<&Path>) -> Result<Box<dyn BufRead>, KdcError> {
    match path {
        None => Ok(Box::new(io::stdin().lock())),
        Some(p) if p == Path::new("-") => Ok(Box::new(io::stdin().lock())),
        Some(p) => {
            let f = File::open(p).map_err(|source| {
                KdcError::Dump(Problems(vec![DumpError::Open {
                    path: p.to_path_buf(),
                    source,
                }]))
            })?;
            Ok(Box::new(BufReader::with_capacity(256 * 1024, f)))
        }
    }
}

fn stdout_err(source: io::Error) -> KdcError {
    KdcError::Io {
        what: "stdout".into(),
        source,
    }
}

/// Collects the configured cluster's live dump as text.
fn live_dump(global: &GlobalArgs, args: &LiveDumpArgs, env: &Env) -> Result<Vec<u8>, KdcError> {
    let cfg = super::load_config(global, &args.cluster, env)?;
    let plan = crate::plan::plan(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (sections, errors) = rt.block_on(async {
        let docker = crate::runtime::docker::Docker::connect().await?;
        Ok::<_, KdcError>(
            crate::cluster::collect::collect(
                &docker,
                &docker,
                &plan.cluster.label,
                !args.no_redact,
                Duration::from_secs(args.command_timeout),
            )
            .await,
        )
    })?;
    if sections.is_empty() {
        return Err(KdcError::Usage(format!(
            "cluster {} has no node containers to dump; is it up (`kdc up`)?",
            plan.cluster.label
        )));
    }
    if !global.quiet {
        for e in &errors {
            eprintln!("kdc: dump: {e}");
        }
    }
    let meta = DumpMeta {
        kdc_version: env!("CARGO_PKG_VERSION").to_string(),
        cluster: plan.cluster.label.clone(),
        time: rfc3339_now(),
        ip_mode: plan.ip_mode.to_string(),
    };
    let mut w = DumpWriter::new(Vec::new(), &meta).map_err(stdout_err)?;
    for s in &sections {
        w.section(&s.name, &s.content)
            .map_err(|e| KdcError::Dump(Problems(vec![e])))?;
    }
    w.finish().map_err(stdout_err)
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, Howard Hinnant's algorithm).
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `kdc dump`: the running cluster as a text dump on stdout, or as files in `--dir`.
pub fn dump(global: &GlobalArgs, args: &DumpArgs, env: &Env) -> Result<ExitCode, KdcError> {
    let text = live_dump(global, &args.live, env)?;
    match &args.dir {
        None => io::stdout().write_all(&text).map_err(stdout_err)?,
        Some(dir) => {
            let mut sink = DirSink::new(dir, crate::dump::DEFAULT_MAX_BYTES)
                .map_err(|e| KdcError::Dump(Problems(vec![e])))?;
            let errors = split_text(&text[..], &mut sink);
            if !errors.is_empty() {
                return Err(KdcError::Dump(Problems(errors)));
            }
            if !global.quiet {
                eprintln!(
                    "kdc: {} file(s), {} byte(s) written to {}",
                    sink.files(),
                    sink.bytes(),
                    dir.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kdc dump64`: the running cluster's dump (or `--from` a text dump) as a blob on stdout.
pub fn dump64(global: &GlobalArgs, args: &Dump64Args, env: &Env) -> Result<ExitCode, KdcError> {
    let mut input: Box<dyn BufRead> = match &args.from {
        Some(from) => open_input(Some(from))?,
        None => Box::new(io::Cursor::new(live_dump(global, &args.live, env)?)),
    };
    let out = io::BufWriter::new(io::stdout().lock());
    let mut blob = BlobWriter::new(out, args.level).map_err(stdout_err)?;
    io::copy(&mut input, &mut blob).map_err(|source| KdcError::Io {
        what: "the blob (reading the dump or writing stdout)".into(),
        source,
    })?;
    blob.finish().map_err(stdout_err)?;
    Ok(ExitCode::SUCCESS)
}

/// What a split wrote; printed as text or `--json`.
#[derive(Debug, Serialize)]
struct Summary {
    dir: PathBuf,
    files: usize,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    blobs: Option<Vec<BlobReport>>,
    problems: Vec<String>,
}

fn finish(
    global: &GlobalArgs,
    summary: Summary,
    problems: Vec<DumpError>,
) -> Result<ExitCode, KdcError> {
    let text = if global.json {
        serde_json::to_string_pretty(&summary).expect("a summary serialises") + "\n"
    } else {
        let mut s = format!(
            "{} file(s), {} byte(s) written to {}",
            summary.files,
            summary.bytes,
            summary.dir.display()
        );
        if let Some(blobs) = &summary.blobs {
            s += &format!(" from {} blob(s)", blobs.len());
            for b in blobs {
                let end = b
                    .end_line
                    .map_or("truncated".to_string(), |l| l.to_string());
                s += &format!(
                    "\n  blob {}: lines {}-{end}, {}, {} compressed byte(s){}",
                    b.index,
                    b.start_line,
                    b.format,
                    b.compressed_bytes,
                    if b.ok { "" } else { ", incomplete" }
                );
            }
        }
        s + "\n"
    };
    io::stdout()
        .write_all(text.as_bytes())
        .map_err(stdout_err)?;
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(KdcError::Dump(Problems(problems)))
    }
}

/// `kdc split-dump`: a text dump into files.
pub fn split_dump(global: &GlobalArgs, args: &SplitArgs) -> Result<ExitCode, KdcError> {
    staged_split(global, args, |input, sink| {
        (None, dump::split_text(input, sink))
    })
}

/// `kdc split-dump64`: every blob of a log into files.
pub fn split_dump64(global: &GlobalArgs, args: &SplitArgs) -> Result<ExitCode, KdcError> {
    staged_split(global, args, |input, sink| {
        let report = dump::scan_log(input, sink);
        (Some(report.blobs), report.problems)
    })
}

/// Runs a split into a fresh hidden directory inside DIR and then moves the files into DIR.
/// Staging is what lets a stream decide late: whether blob 1 goes to DIR or to DIR/1 is known
/// only at the end of the log, and an interrupted split (exit 130) removes the stage, and DIR
/// if it made it, leaving things as they were. A split that met problems keeps what it decoded.
fn staged_split(
    global: &GlobalArgs,
    args: &SplitArgs,
    split: impl FnOnce(Box<dyn BufRead>, &mut DirSink) -> (Option<Vec<BlobReport>>, Vec<DumpError>),
) -> Result<ExitCode, KdcError> {
    let input = open_input(args.input.as_deref())?;
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KdcError::Dump(Problems(vec![DumpError::Io { path, source }]))
    };
    // The directories this run makes, deepest first, to remove again on Ctrl-C.
    let made: Vec<PathBuf> = args
        .dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(&args.dir).map_err(io_err(&args.dir))?;
    // Unique per run, not only per process: a stage left by a killed run whose PID comes back
    // (PIDs repeat in containers) must not block the next one.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let stage = args
        .dir
        .join(format!(".kdc-split-{}-{nanos:09}", std::process::id()));
    std::fs::create_dir(&stage).map_err(io_err(&stage))?;
    let mut sink = DirSink::new(&stage, args.max_bytes).map_err(|e| Problems(vec![e]))?;
    let (blobs, mut problems) = split(input, &mut sink);
    if problems.iter().any(|p| matches!(p, DumpError::Interrupted)) {
        let _ = std::fs::remove_dir_all(&stage);
        for dir in &made {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(KdcError::Interrupted);
    }
    let from = match &blobs {
        Some(b) if b.len() == 1 => stage.join("1"),
        _ => stage.clone(),
    };
    if from.exists() {
        dump::merge_dir(&from, &args.dir, &mut problems);
    }
    // What could not be moved stays in the stage, named, rather than being deleted with it.
    let _ = std::fs::remove_dir(&stage);
    if stage.exists() {
        problems.push(DumpError::Kept {
            path: stage.clone(),
        });
    }
    let summary = Summary {
        dir: args.dir.clone(),
        files: sink.files(),
        bytes: sink.bytes(),
        blobs,
        problems: problems.iter().map(ToString::to_string).collect(),
    };
    finish(global, summary, problems)
}
