//! Where split files go: a directory (safe against hostile names and planted symlinks) or
//! memory (tests, and callers that want the files without a disk).

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::DumpError;

/// Receives the files of one or more dumps. Names reach a sink already checked by
/// [`super::check_name`]; a sink still enforces the byte cap and its own safety.
pub trait DumpSink {
    /// Later files belong to blob `n` (1-based). Blob 0, the start state, is the sink's root;
    /// a sink that keeps blobs apart puts blob `n` under `n/`.
    fn begin_blob(&mut self, n: usize) -> Result<(), DumpError>;
    /// Makes `name` the current file: created (or truncated) the first time it is named in this
    /// run, appended to afterwards, as the original's awk did.
    fn open(&mut self, name: &str) -> Result<(), DumpError>;
    /// Appends to the current file.
    fn write(&mut self, data: &[u8]) -> Result<(), DumpError>;
    /// Counts decoded bytes that go to no file (text before the first marker, a section with
    /// a refused name): the cap and Ctrl-C must also stop a blob that decodes to nothing else.
    fn skip(&mut self, len: usize) -> Result<(), DumpError>;
    /// Flushes and closes the current file.
    fn close(&mut self) -> Result<(), DumpError>;
    /// Files created so far.
    fn files(&self) -> usize;
    /// Bytes written to files so far.
    fn bytes(&self) -> u64;
}

/// Byte accounting shared by the sinks: the cap is what keeps a small hostile blob (lzma
/// compresses zeros ~7000:1) from filling a disk.
#[derive(Debug)]
struct Budget {
    max: u64,
    /// Decoded bytes, written or skipped: what the cap limits.
    used: u64,
    /// Bytes written to files.
    written: u64,
}

impl Budget {
    fn new(max: u64) -> Budget {
        Budget {
            max,
            used: 0,
            written: 0,
        }
    }

    /// How much of `len` bytes may be used, and the error to report if that is not all.
    fn take(&mut self, len: usize) -> (usize, Option<DumpError>) {
        let left = self.max - self.used;
        let n = (len as u64).min(left);
        self.used += n;
        let over = (n < len as u64).then_some(DumpError::Limit { limit: self.max });
        (n as usize, over)
    }

    /// Counts `len` bytes that are not written; fails at the cap or on Ctrl-C.
    fn skip(&mut self, len: usize) -> Result<(), DumpError> {
        stop_if_interrupted()?;
        self.take(len).1.map_or(Ok(()), Err)
    }
}

/// A lzma bomb can write gigabytes between two reads of the log, so writes check for Ctrl-C too.
fn stop_if_interrupted() -> Result<(), DumpError> {
    if crate::signal::requested() {
        Err(DumpError::Interrupted)
    } else {
        Ok(())
    }
}

/// Writes files under a directory. Every component below the root is checked with
/// `symlink_metadata` and the file itself is opened with `O_NOFOLLOW`, so a symlink planted in
/// the directory (or one a previous blob could not create: sinks never make symlinks) cannot
/// redirect a write outside it.
#[derive(Debug)]
pub struct DirSink {
    root: PathBuf,
    /// Whether `root` exists; a deferred sink makes it with the first file.
    made: bool,
    blob: usize,
    seen: HashSet<(usize, String)>,
    current: Option<(PathBuf, BufWriter<File>)>,
    budget: Budget,
}

impl DirSink {
    /// A sink writing under `dir` (created if missing), at most `max_bytes` in all.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Self, DumpError> {
        let mut sink = DirSink::deferred(dir, max_bytes);
        fs::create_dir_all(&sink.root).map_err(|source| DumpError::Io {
            path: sink.root.clone(),
            source,
        })?;
        sink.made = true;
        Ok(sink)
    }

    /// A sink writing under `dir`, a fresh directory made with the first file (with its
    /// missing parents): input that holds nothing to write leaves no trace. `dir` must not
    /// exist, so a stage is never shared.
    pub fn deferred(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        DirSink {
            root: dir.into(),
            made: false,
            blob: 0,
            seen: HashSet::new(),
            current: None,
            budget: Budget::new(max_bytes),
        }
    }

    /// Whether the directory exists: always for [`DirSink::new`], once a file was opened for
    /// [`DirSink::deferred`].
    pub fn made(&self) -> bool {
        self.made
    }

    fn make_root(&mut self) -> Result<(), DumpError> {
        let fail = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DumpError::CreateDir { path, source }
        };
        if let Some(parent) = self.root.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(fail(parent))?;
        }
        fs::create_dir(&self.root).map_err(fail(&self.root))?;
        self.made = true;
        Ok(())
    }

    /// The directory of the current blob.
    fn base(&self) -> PathBuf {
        if self.blob == 0 {
            self.root.clone()
        } else {
            self.root.join(self.blob.to_string())
        }
    }
}

/// Refuses an output directory that cannot be one before any input is read: `dir`, or a
/// component of its path, exists and is not a directory. `option` is the flag that chose it.
pub fn check_out_dir(dir: &Path, option: &'static str) -> Result<(), DumpError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(DumpError::NotADirectory {
            path: dir.to_path_buf(),
            option,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DumpError::CreateDir {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Creates the directories of `rel` under `base` (both included), refusing symlinks and
/// non-directories on the way.
fn make_dirs(base: &Path, rel: &[&str]) -> Result<PathBuf, DumpError> {
    let mut path = base.to_path_buf();
    for part in rel {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err(DumpError::Symlink { path }),
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(DumpError::Io {
                    path,
                    source: io::Error::other("exists and is not a directory"),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&path).map_err(|source| DumpError::Io {
                    path: path.clone(),
                    source,
                })?;
            }
            Err(source) => return Err(DumpError::Io { path, source }),
        }
    }
    Ok(path)
}

impl DumpSink for DirSink {
    fn begin_blob(&mut self, n: usize) -> Result<(), DumpError> {
        self.close()?;
        self.blob = n;
        Ok(())
    }

    fn open(&mut self, name: &str) -> Result<(), DumpError> {
        self.close()?;
        stop_if_interrupted()?;
        if !self.made {
            self.make_root()?;
        }
        let parts: Vec<&str> = name.split('/').collect();
        let blob_dir = if self.blob == 0 {
            vec![]
        } else {
            vec![self.blob.to_string()]
        };
        let blob_dir: Vec<&str> = blob_dir.iter().map(String::as_str).collect();
        make_dirs(&self.root, &blob_dir)?;
        let dir = make_dirs(&self.base(), &parts[..parts.len() - 1])?;
        let path = dir.join(parts[parts.len() - 1]);
        let key = (self.blob, name.to_string());
        let first = !self.seen.contains(&key);
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).custom_flags(libc::O_NOFOLLOW);
        if first {
            opts.truncate(true);
        } else {
            opts.append(true);
        }
        let file = opts.open(&path).map_err(|source| {
            if source.raw_os_error() == Some(libc::ELOOP) {
                DumpError::Symlink { path: path.clone() }
            } else {
                DumpError::Io {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        self.seen.insert(key);
        self.current = Some((path, BufWriter::with_capacity(64 * 1024, file)));
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), DumpError> {
        let Some((path, file)) = self.current.as_mut() else {
            return Ok(());
        };
        stop_if_interrupted()?;
        let (n, over) = self.budget.take(data.len());
        file.write_all(&data[..n]).map_err(|source| DumpError::Io {
            path: path.clone(),
            source,
        })?;
        self.budget.written += n as u64;
        match over {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> Result<(), DumpError> {
        if let Some((path, mut file)) = self.current.take() {
            file.flush()
                .map_err(|source| DumpError::Io { path, source })?;
        }
        Ok(())
    }

    fn files(&self) -> usize {
        self.seen.len()
    }

    fn skip(&mut self, len: usize) -> Result<(), DumpError> {
        self.budget.skip(len)
    }

    fn bytes(&self) -> u64 {
        self.budget.written
    }
}

/// Keeps files in memory: `(blob, name) → content`, in name order.
#[derive(Debug)]
pub struct MemSink {
    pub files: BTreeMap<(usize, String), Vec<u8>>,
    blob: usize,
    current: Option<(usize, String)>,
    budget: Budget,
}

impl MemSink {
    /// An empty sink holding at most `max_bytes`.
    pub fn new(max_bytes: u64) -> Self {
        MemSink {
            files: BTreeMap::new(),
            blob: 0,
            current: None,
            budget: Budget::new(max_bytes),
        }
    }
}

impl DumpSink for MemSink {
    fn begin_blob(&mut self, n: usize) -> Result<(), DumpError> {
        self.blob = n;
        self.current = None;
        Ok(())
    }

    fn open(&mut self, name: &str) -> Result<(), DumpError> {
        let key = (self.blob, name.to_string());
        self.files.entry(key.clone()).or_default();
        self.current = Some(key);
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), DumpError> {
        let Some(key) = &self.current else {
            return Ok(());
        };
        let (n, over) = self.budget.take(data.len());
        if let Some(file) = self.files.get_mut(key) {
            file.extend_from_slice(&data[..n]);
        }
        self.budget.written += n as u64;
        over.map_or(Ok(()), Err)
    }

    fn close(&mut self) -> Result<(), DumpError> {
        self.current = None;
        Ok(())
    }

    fn files(&self) -> usize {
        self.files.len()
    }

    fn skip(&mut self, len: usize) -> Result<(), DumpError> {
        self.budget.skip(len)
    }

    fn bytes(&self) -> u64 {
        self.budget.written
    }
}

/// Moves everything under `from` into `to`: files replace files and symlinks of the same name
/// (a symlink itself is replaced, never followed) and directories merge. A directory in `to`
/// is never removed: a file from a log whose name a directory has taken is reported in
/// `problems` and left out. Renames are atomic, and a directory another run created meanwhile
/// is merged into, so concurrent splits into one directory do not fail. An entry that cannot
/// be moved is reported and stays in `from`, which is removed only when empty, so nothing
/// that decoded is lost.
pub fn merge_dir(from: &Path, to: &Path, problems: &mut Vec<DumpError>) {
    let entries = match fs::read_dir(from) {
        Ok(e) => e,
        Err(source) => {
            let path = from.to_path_buf();
            return problems.push(DumpError::Io { path, source });
        }
    };
    for entry in entries {
        let (src, src_dir) = match entry.and_then(|e| Ok((e.path(), e.file_type()?.is_dir()))) {
            Ok(e) => e,
            Err(source) => {
                let path = from.to_path_buf();
                problems.push(DumpError::Io { path, source });
                continue;
            }
        };
        let dst = to.join(src.file_name().unwrap_or_default());
        let is_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
        if is_dir(&dst) {
            if src_dir {
                merge_dir(&src, &dst, problems);
            } else {
                problems.push(DumpError::Conflict {
                    path: dst,
                    reason: "a directory of that name is in the way",
                });
            }
            continue;
        }
        let moved = if src_dir {
            match fs::remove_file(&dst) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => fs::rename(&src, &dst),
            }
        } else {
            fs::rename(&src, &dst)
        };
        match moved {
            Ok(()) => {}
            Err(_) if src_dir && is_dir(&dst) => merge_dir(&src, &dst, problems),
            Err(source) => problems.push(DumpError::Io { path: dst, source }),
        }
    }
    // Fails, leaving `from` for the user, exactly when something in it could not be moved.
    let _ = fs::remove_dir(from);
}
