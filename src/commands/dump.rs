//! `kdc dump64 --from`, `kdc split-dump`, `kdc split-dump64`: the way from a text dump to a CI
//! log and back. The formats and the safety checks live in [`crate::dump`]; this file only opens
//! inputs, stages output and prints the summary.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::KdcError;
use crate::cli::{Dump64Args, GlobalArgs, SplitArgs};
use crate::dump::{self, BlobReport, BlobWriter, DirSink, DumpError, DumpSink, Problems};

/// Opens a file, or stdin for `-` / no argument.
fn open_input(path: Option<&Path>) -> Result<Box<dyn BufRead>, KdcError> {
    match path {
        None => Ok(Box::new(io::stdin().lock())),
        Some(p) if p == Path::new("-") => Ok(Box::new(io::stdin().lock())),
        Some(p) => {
            let f = File::open(p).map_err(|source| {
                KdcError::Dump(Problems(vec![DumpError::Io {
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

pub fn dump64(args: &Dump64Args) -> Result<ExitCode, KdcError> {
    let mut input = open_input(Some(&args.from))?;
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

pub fn split_dump(global: &GlobalArgs, args: &SplitArgs) -> Result<ExitCode, KdcError> {
    let input = open_input(args.input.as_deref())?;
    let mut sink = DirSink::new(&args.dir, args.max_bytes).map_err(|e| Problems(vec![e]))?;
    let problems = dump::split_text(input, &mut sink);
    let summary = Summary {
        dir: args.dir.clone(),
        files: sink.files(),
        bytes: sink.bytes(),
        blobs: None,
        problems: problems.iter().map(ToString::to_string).collect(),
    };
    finish(global, summary, problems)
}

/// Blobs are staged under a fresh hidden directory inside DIR, because how many there are —
/// and so whether blob 1 goes to DIR or DIR/1 — is known only at the end of a streamed log.
pub fn split_dump64(global: &GlobalArgs, args: &SplitArgs) -> Result<ExitCode, KdcError> {
    let input = open_input(args.input.as_deref())?;
    let fail = |e: DumpError| KdcError::Dump(Problems(vec![e]));
    std::fs::create_dir_all(&args.dir).map_err(|source| {
        fail(DumpError::Io {
            path: args.dir.clone(),
            source,
        })
    })?;
    let stage = args.dir.join(format!(".kdc-split-{}", std::process::id()));
    std::fs::create_dir(&stage).map_err(|source| {
        fail(DumpError::Io {
            path: stage.clone(),
            source,
        })
    })?;
    let mut sink = DirSink::new(&stage, args.max_bytes).map_err(fail)?;
    let mut report = dump::scan_log(input, &mut sink);
    let moved = if report.blobs.len() == 1 {
        let one = stage.join("1");
        let res = if one.exists() {
            dump::merge_dir(&one, &args.dir)
        } else {
            Ok(())
        };
        res.and_then(|()| std::fs::remove_dir_all(&stage))
    } else {
        dump::merge_dir(&stage, &args.dir)
    };
    if let Err(source) = moved {
        report.problems.push(DumpError::Io {
            path: stage.clone(),
            source,
        });
    }
    let summary = Summary {
        dir: args.dir.clone(),
        files: sink.files(),
        bytes: sink.bytes(),
        blobs: Some(report.blobs),
        problems: report.problems.iter().map(ToString::to_string).collect(),
    };
    finish(global, summary, report.problems)
}
