//! Splitting into a directory through a stage: the files go to a fresh hidden directory inside
//! DIR and are moved into DIR at the end.
//!
//! Staging is what lets a stream decide late: whether blob 1 goes to DIR or to DIR/1 is known
//! only at the end of the log; and an interrupted split removes the stage, and DIR if it made
//! it, leaving things as they were. The stage (and DIR, if missing) is made only with the first
//! file, so input that holds nothing to write leaves DIR untouched or absent. A split that met
//! problems keeps what it decoded.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{
    BlobReport, DirSink, DumpError, DumpSink, InputName, check_out_dir, merge_dir, scan_log,
    split_text,
};

/// What the input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A text dump (`@@@ name @@@` sections).
    Text,
    /// A CI log with blobs.
    Log,
}

/// What a split wrote.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub dir: PathBuf,
    pub files: usize,
    pub bytes: u64,
    /// The blobs found (logs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blobs: Option<Vec<BlobReport>>,
    #[serde(serialize_with = "as_text")]
    pub problems: Vec<DumpError>,
}

fn as_text<S: serde::Serializer>(problems: &[DumpError], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(problems.iter().map(ToString::to_string))
}

/// Splits `reader`, the input named `input`, into `dir`, creating it once there is a file to
/// write. `Err` only when nothing could be done at all (`dir` cannot be a directory) or a
/// signal stopped the split; every other problem is in the summary, beside what was written.
/// Input without a dump or a blob is such a problem.
pub fn split_into(
    dir: &Path,
    max_bytes: u64,
    input: &InputName,
    reader: Box<dyn BufRead>,
    kind: Input,
) -> Result<Summary, DumpError> {
    check_out_dir(dir, "-o")?;
    // The directories this run would make, deepest first, to remove again on Ctrl-C.
    let made: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    // Unique per run, not only per process: a stage left by a killed run whose PID comes back
    // (PIDs repeat in containers) must not block the next one.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let stage = dir.join(format!(".kdc-split-{}-{nanos:09}", std::process::id()));
    // Made, with DIR, only once there is a file to write.
    let mut sink = DirSink::deferred(&stage, max_bytes);
    let (blobs, mut problems) = match kind {
        Input::Text => {
            let mut report = split_text(reader, &mut sink);
            if report.sections == 0 && report.problems.is_empty() {
                let input = input.clone();
                report.problems.push(DumpError::NoDump { input });
            }
            (None, report.problems)
        }
        Input::Log => {
            let mut report = scan_log(reader, &mut sink);
            if report.blobs.is_empty() && report.problems.is_empty() {
                let input = input.clone();
                report.problems.push(DumpError::NoBlob { input });
            }
            (Some(report.blobs), report.problems)
        }
    };
    // The readers do not know what they read; the input is named here.
    for p in &mut problems {
        if let DumpError::Read(e) = p {
            let source = std::mem::replace(e, std::io::Error::other(""));
            let input = input.clone();
            *p = DumpError::Input { input, source };
        }
    }
    if problems.iter().any(|p| matches!(p, DumpError::Interrupted)) {
        if sink.made() {
            let _ = std::fs::remove_dir_all(&stage);
            for d in &made {
                let _ = std::fs::remove_dir(d);
            }
        }
        return Err(DumpError::Interrupted);
    }
    // Nothing written means nothing made: DIR is as it was, or still absent.
    if sink.made() {
        let from = match &blobs {
            Some(b) if b.len() == 1 => stage.join("1"),
            _ => stage.clone(),
        };
        if from.exists() {
            merge_dir(&from, dir, &mut problems);
        }
        // What could not be moved stays in the stage, named, rather than being deleted with it.
        let _ = std::fs::remove_dir(&stage);
        if stage.exists() {
            problems.push(DumpError::Kept {
                path: stage.clone(),
            });
        }
    }
    Ok(Summary {
        dir: dir.to_path_buf(),
        files: sink.files(),
        bytes: sink.bytes(),
        blobs,
        problems,
    })
}
