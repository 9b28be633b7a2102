//! `kdc dump`, `kdc export logs`, `kdc dump64`, `kdc split-dump`, `kdc split-dump64`: the way
//! from a running cluster (or a text dump) to a CI log and back. The formats, the live collection and the
//! staging live in [`crate::dump`]; this file opens inputs and prints summaries.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::Ctx;
use crate::KdcError;
use crate::cli::{Dump64Args, DumpArgs, ExportLogsArgs, LiveDumpArgs, SplitArgs};
use crate::dump::live::{self, Target};
use crate::dump::stage::{self, Input, Summary};
use crate::dump::{BlobWriter, DirSink, DumpError, DumpSink, InputName, Problems, split_text};

/// Opens a file, or stdin for `-` / no argument.
fn open_input(path: Option<&Path>) -> Result<(InputName, Box<dyn BufRead>), KdcError> {
    let name = InputName::from_arg(path);
    let reader = crate::dump::open(&name).map_err(|e| KdcError::Dump(Problems(vec![e])))?;
    Ok((name, reader))
}

fn stdout_err(source: io::Error) -> KdcError {
    KdcError::Io {
        what: "stdout".into(),
        source,
    }
}

/// The configured cluster's live dump as text; collection problems become warnings.
fn live_dump(cx: &Ctx<'_>, args: &LiveDumpArgs) -> Result<Vec<u8>, KdcError> {
    let plan = cx.plan(&args.cluster)?;
    let ip_mode = plan.ip_mode.to_string();
    let target = Target {
        label: &plan.cluster.label,
        ip_mode: &ip_mode,
        redact: !args.no_redact,
        timeout: Duration::from_secs(args.command_timeout),
    };
    let (text, errors) = cx.block_on_interruptible(async {
        let docker = cx.engine().await?;
        Ok(live::text_dump(&docker, &docker, &target).await?)
    })?;
    for e in errors {
        cx.events.warn(format!("dump: {e}"));
    }
    Ok(text)
}

/// `kdc dump`: the running cluster as a text dump on stdout, or as files in `--dir`.
pub fn dump(cx: &Ctx<'_>, args: &DumpArgs) -> Result<ExitCode, KdcError> {
    if let Some(dir) = &args.dir {
        crate::dump::check_out_dir(dir, "--dir").map_err(|e| KdcError::Dump(Problems(vec![e])))?;
    }
    let text = live_dump(cx, &args.live)?;
    match &args.dir {
        None => io::stdout().write_all(&text).map_err(stdout_err)?,
        Some(dir) => {
            write_files(cx, &text, dir)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `kdc export logs --json` prints.
#[derive(serde::Serialize)]
struct Exported<'a> {
    dir: &'a Path,
    files: usize,
    bytes: u64,
}

/// `kdc export logs [DIR]`: `kdc dump --dir DIR`, with kind's conventions: without DIR a new
/// temporary directory, and the directory's path on stdout (so `dir=$(kdc export logs)`
/// works). The dump is collected first, so a failure leaves no empty directory behind.
pub fn export_logs(cx: &Ctx<'_>, args: &ExportLogsArgs) -> Result<ExitCode, KdcError> {
    let text = live_dump(cx, &args.live)?;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => new_log_dir(&cx.env.temp_dir())?,
    };
    let (files, bytes) = write_files(cx, &text, &dir)?;
    if cx.global.json {
        cx.print_json(&Exported {
            dir: &dir,
            files,
            bytes,
        })?;
    } else {
        cx.print(&format!("{}\n", dir.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A new, private (0700) directory `kdc-logs-*` in `parent`, kept after kdc exits.
fn new_log_dir(parent: &Path) -> Result<PathBuf, KdcError> {
    tempfile::Builder::new()
        .prefix("kdc-logs-")
        .tempdir_in(parent)
        .map(tempfile::TempDir::keep)
        .map_err(|source| KdcError::Io {
            what: format!(
                "a new log directory in {} (set TMPDIR, or name one: `kdc export logs DIR`)",
                parent.display()
            ),
            source,
        })
}

/// Splits a text dump into files in `dir`; notes and returns how many files and bytes.
fn write_files(cx: &Ctx<'_>, text: &[u8], dir: &Path) -> Result<(usize, u64), KdcError> {
    let mut sink = DirSink::new(dir, crate::dump::DEFAULT_MAX_BYTES)
        .map_err(|e| KdcError::Dump(Problems(vec![e])))?;
    let errors = split_text(text, &mut sink).problems;
    if !errors.is_empty() {
        return Err(KdcError::Dump(Problems(errors)));
    }
    cx.events.note(format!(
        "{} file(s), {} byte(s) written to {}",
        sink.files(),
        sink.bytes(),
        dir.display()
    ));
    Ok((sink.files(), sink.bytes()))
}

/// `kdc dump64`: the running cluster's dump (or `--from` a text dump) as a blob on stdout.
pub fn dump64(cx: &Ctx<'_>, args: &Dump64Args) -> Result<ExitCode, KdcError> {
    let mut input: Box<dyn BufRead> = match &args.from {
        Some(from) => open_input(Some(from))?.1,
        None => Box::new(io::Cursor::new(live_dump(cx, &args.live)?)),
    };
    if let Some(max) = super::ci::max_blob_bytes(cx, &args.max)? {
        // Cutting needs the whole dump: read it, fit it, print it.
        let mut text = Vec::new();
        input
            .read_to_end(&mut text)
            .map_err(|source| KdcError::Io {
                what: "the dump".into(),
                source,
            })?;
        let fitted = crate::dump::trim::fit(&text, args.level, max)
            .map_err(|e| KdcError::Failed(e.to_string()))?;
        for t in &fitted.trimmed {
            cx.events.note(format!(
                "trimmed {} to its last {} of {} bytes to fit --max-bytes {max}",
                t.name, t.kept, t.bytes
            ));
        }
        io::stdout().write_all(&fitted.blob).map_err(stdout_err)?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = io::BufWriter::new(io::stdout().lock());
    let mut blob = BlobWriter::new(out, args.level).map_err(stdout_err)?;
    io::copy(&mut input, &mut blob).map_err(|source| KdcError::Io {
        what: "the blob (reading the dump or writing stdout)".into(),
        source,
    })?;
    blob.finish().map_err(stdout_err)?;
    Ok(ExitCode::SUCCESS)
}

/// `kdc split-dump` (a text dump) and `kdc split-dump64` (every blob of a log) into files.
pub fn split(cx: &Ctx<'_>, args: &SplitArgs, kind: Input) -> Result<ExitCode, KdcError> {
    let (name, input) = open_input(args.input.as_deref())?;
    let summary =
        stage::split_into(&args.dir, args.max_bytes, &name, input, kind).map_err(|e| match e {
            DumpError::Interrupted => KdcError::Interrupted,
            e => KdcError::Dump(Problems(vec![e])),
        })?;
    if cx.global.json {
        cx.print_json(&summary)?;
    } else {
        cx.print(&render(&summary))?;
    }
    if summary.problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(KdcError::Dump(Problems(summary.problems)))
    }
}

/// `6 file(s), 973 byte(s) written to DIR from 1 blob(s)` and a line per blob.
fn render(summary: &Summary) -> String {
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
}
