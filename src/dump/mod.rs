//! Failure artifacts: the text dump, the base64 blob that carries it through a CI log, and the
//! way back from a log to files.
//!
//! Formats are byte-compatible with kubeadm-dind-cluster (seed spec §2): a kdc blob decodes with
//! `base64 -d | lzma -dc`, and a blob made by `lzma | base64 -w 100` decodes here. Everything
//! streams with constant memory because CI logs and dumps can be hundreds of megabytes, and a
//! log is untrusted input, so names are checked and nothing is written through a symlink.

mod inflate;
pub mod kube;
pub mod live;
mod scan;
mod sink;
mod split;
pub mod stage;
pub mod trim;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

pub use scan::{BlobReport, ScanReport, scan_log};
pub use sink::{DirSink, DumpSink, MemSink, check_out_dir, merge_dir};
pub use split::{Splitter, TextReport, check_name, split_text};
pub use writer::{BlobWriter, DumpMeta, DumpWriter, wrap_base64};

/// The first line of every text dump (the original's header).
pub const HEADER: &str = "*** Dumping cluster state ***";
/// The line that opens a blob.
pub const START_MARKER: &str = "%%% start-base64 %%%";
/// The line that closes a blob.
pub const END_MARKER: &str = "%%% end-base64 %%%";
/// Base64 line width of the original pipeline (`base64 -w 100`).
pub const BASE64_WIDTH: usize = 100;
/// The name of kdc's metadata section.
pub const META_NAME: &str = "kdc-dump.json";
/// Default cap on decompressed output, so a hostile log cannot fill the disk.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

/// Where a dump or a log is read from, as messages name it: a file, or stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputName {
    Stdin,
    File(PathBuf),
}

impl InputName {
    /// The input a command-line argument names: stdin for none or `-`.
    pub fn from_arg(arg: Option<&Path>) -> InputName {
        match arg {
            Some(p) if p != Path::new("-") => InputName::File(p.to_path_buf()),
            _ => InputName::Stdin,
        }
    }
}

impl fmt::Display for InputName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputName::Stdin => f.write_str("stdin"),
            InputName::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Opens an input for reading. A directory is refused here, before anything is done, with the
/// error its first read would give.
pub fn open(input: &InputName) -> Result<Box<dyn BufRead>, DumpError> {
    let path = match input {
        InputName::Stdin => return Ok(Box::new(std::io::stdin().lock())),
        InputName::File(p) => p,
    };
    let fail = |source| DumpError::Input {
        input: input.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    if file.metadata().map_err(fail)?.is_dir() {
        return Err(fail(std::io::Error::from_raw_os_error(libc::EISDIR)));
    }
    Ok(Box::new(std::io::BufReader::with_capacity(
        256 * 1024,
        file,
    )))
}

/// Where in the input something was found: a line of a text dump, or, for a blob, the line of
/// the log whose data decoded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub blob: Option<usize>,
    pub line: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.blob {
            Some(blob) => write!(f, "blob {blob}, line {}", self.line),
            None => write!(f, "line {}", self.line),
        }
    }
}

/// `"<position>: "`, or nothing where the position is not known.
fn prefix(position: &Option<Position>) -> String {
    position.map(|p| format!("{p}: ")).unwrap_or_default()
}

/// Something that went wrong while writing or reading a dump. Most are reported and skipped so
/// that one bad section or blob does not hide the rest of a log.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The log holds no start marker at all.
    #[error("no blob found in {input}: no `{START_MARKER}` line")]
    NoBlob { input: InputName },
    /// The text holds no section marker at all.
    #[error("no dump found in {input}: no `@@@ <name> @@@` line")]
    NoDump { input: InputName },
    /// A start marker without an end marker: what decoded is kept.
    #[error("blob {blob} truncated at line {line}: no `{END_MARKER}` line")]
    Truncated { blob: usize, line: u64 },
    /// A line inside a blob that is not base64.
    #[error("blob {blob}: invalid base64 at line {line}")]
    Base64 { blob: usize, line: u64 },
    /// A data line longer than the blob's first line, or a short line that is not the last:
    /// a line injected into the blob or cut short.
    #[error(
        "blob {blob}: line {line} holds {found} base64 characters where the blob's lines hold {width} (a line injected or cut short)"
    )]
    Width {
        blob: usize,
        line: u64,
        found: usize,
        width: usize,
    },
    /// The decoded bytes are not a valid .lzma/.xz stream.
    #[error("blob {blob}: corrupted compressed data at line {line}: {reason}")]
    Corrupt {
        blob: usize,
        line: u64,
        reason: String,
    },
    /// A section name that could escape the output directory or is not a usable file name;
    /// `at` is its marker line when it was read from an input.
    #[error("{}refusing file name {name:?}: {reason}", prefix(.at))]
    UnsafeName {
        at: Option<Position>,
        name: String,
        reason: &'static str,
    },
    /// An existing symlink where a directory or file would be written.
    #[error("refusing to write through symlink {}", path.display())]
    Symlink { path: PathBuf },
    /// The decompressed output reached `--max-bytes`.
    #[error(
        "decompressed output reached the limit of {limit} bytes (--max-bytes); the rest is not written"
    )]
    Limit { limit: u64 },
    /// SIGINT or SIGTERM arrived.
    #[error("interrupted")]
    Interrupted,
    /// Reading an input the reader knows no name of failed (see [`DumpError::Input`]).
    #[error("cannot read the input")]
    Read(#[source] std::io::Error),
    /// Opening or reading a named input failed.
    #[error("cannot read {input}")]
    Input {
        input: InputName,
        #[source]
        source: std::io::Error,
    },
    /// An entry of the output directory is in the way and is not removed (a directory is never
    /// replaced by a file from a log).
    #[error("not writing {}: {reason}", path.display())]
    Conflict { path: PathBuf, reason: &'static str },
    /// Files that could not be moved from the stage into the output directory, kept there.
    #[error("files that could not be moved into place are kept in {}", path.display())]
    Kept { path: PathBuf },
    /// The output directory is a file (or another non-directory).
    #[error("{} exists and is not a directory; choose another {option}", path.display())]
    NotADirectory { path: PathBuf, option: &'static str },
    /// The output directory cannot be made: nothing can be written.
    #[error("cannot create directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Creating or writing an output file failed.
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DumpError {
    /// The error placed at `position` in the input, where it is one that has a place.
    pub fn placed(self, position: Position) -> DumpError {
        match self {
            DumpError::UnsafeName { name, reason, .. } => DumpError::UnsafeName {
                at: Some(position),
                name,
                reason,
            },
            other => other,
        }
    }

    /// Whether processing can go on after this error (the next section or blob may be fine).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            DumpError::Limit { .. }
                | DumpError::Read(_)
                | DumpError::Input { .. }
                | DumpError::Io { .. }
                | DumpError::CreateDir { .. }
                | DumpError::Interrupted
        )
    }
}

/// `fill_buf` of the input, retried when a signal interrupted it unless the signal asked kdc
/// to stop.
pub(crate) fn fill<R: std::io::BufRead>(input: &mut R) -> Result<&[u8], DumpError> {
    loop {
        if crate::signal::requested() {
            return Err(DumpError::Interrupted);
        }
        match input.fill_buf() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DumpError::Read(e)),
            Ok(_) => break,
        }
    }
    input.fill_buf().map_err(DumpError::Read)
}

/// Every problem of one run, shown one per line; a non-empty list means a non-zero exit.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<DumpError>);

impl fmt::Display for Problems {
    /// Each problem with its causes (`cannot write x: Permission denied`): a list has no single
    /// source for the caller to print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one = |f: &mut fmt::Formatter<'_>, p: &DumpError| {
            write!(f, "{p}")?;
            let mut cause = std::error::Error::source(p);
            while let Some(c) = cause {
                write!(f, ": {c}")?;
                cause = c.source();
            }
            Ok(())
        };
        match self.0.as_slice() {
            [p] => one(f, p),
            many => {
                write!(f, "{} problems:", many.len())?;
                for p in many {
                    write!(f, "\n  - ")?;
                    one(f, p)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Problems {}
