//! Splitting a text dump into files: the original's awk semantics (text before the first marker
//! is dropped, a repeated name appends) without its bugs (the whole text between the markers is
//! the name, and names that could escape the output directory are refused).

use std::io::BufRead;

use super::{DumpError, DumpSink, Position};

/// Longest line that can still be a marker. Longer lines stream straight through, so memory
/// stays constant whatever the dump holds (a name this long would be refused anyway).
const MARKER_MAX: usize = 4096;

/// Checks a section name before anything is written: relative, no `.`/`..` or empty components,
/// no NUL or control characters. Subdirectories (`a/b.txt`) are allowed.
pub fn check_name(name: &str) -> Result<(), DumpError> {
    let bad = |reason| {
        Err(DumpError::UnsafeName {
            at: None,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty name");
    }
    if name.starts_with('/') {
        return bad("absolute path");
    }
    if name.chars().any(char::is_control) {
        return bad("control character");
    }
    for part in name.split('/') {
        match part {
            ".." => return bad("`..` component"),
            "." | "" => return bad("empty or `.` component"),
            _ => {}
        }
    }
    Ok(())
}

/// The name in a marker line `@@@ <name> @@@` (a trailing CR tolerated), if it is one.
fn marker_name(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() >= 8 && line.starts_with(b"@@@ ") && line.ends_with(b" @@@") {
        Some(&line[4..line.len() - 4])
    } else {
        None
    }
}

/// A push splitter: feed it dump bytes in any chunking, it writes files to a sink. Problems
/// that only affect one section (a refused name) are collected in `problems`; `Err` from
/// [`Splitter::feed`] is fatal (the cap, an I/O error).
pub struct Splitter {
    next_marker: memchr::memmem::Finder<'static>,
    /// A line that may be a marker, gathered until its end.
    pending: Vec<u8>,
    passthrough: bool,
    writing: bool,
    /// Marker lines seen, refused names included.
    pub sections: u64,
    /// The blob the text comes from, if it does.
    blob: Option<usize>,
    /// The line being read: counted here in a text dump; in a blob, the log line the caller
    /// says the data came from.
    line: u64,
    /// Per-section problems, in order.
    pub problems: Vec<DumpError>,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    /// A splitter at the start of a text dump: nothing is written before the first marker.
    /// Problems are placed at the dump's own lines.
    pub fn new() -> Self {
        Splitter {
            next_marker: memchr::memmem::Finder::new(b"\n@@@ "),
            pending: Vec::with_capacity(256),
            passthrough: false,
            writing: false,
            sections: 0,
            blob: None,
            line: 1,
            problems: Vec::new(),
        }
    }

    /// A splitter for the text decoded from blob `blob` of a log: problems are placed at the
    /// log line given by [`Splitter::at_log_line`] before each piece.
    pub fn for_blob(blob: usize) -> Self {
        Splitter {
            blob: Some(blob),
            line: 0,
            ..Splitter::new()
        }
    }

    /// The log line the next piece of a blob's text was decoded from.
    pub fn at_log_line(&mut self, line: u64) {
        self.line = line;
    }

    /// Counts the lines of a text dump passed through.
    fn count_lines(&mut self, data: &[u8]) {
        if self.blob.is_none() {
            self.line += memchr::memchr_iter(b'\n', data).count() as u64;
        }
    }

    fn emit<S: DumpSink + ?Sized>(&mut self, sink: &mut S, data: &[u8]) -> Result<(), DumpError> {
        if self.writing {
            sink.write(data)
        } else {
            sink.skip(data.len())
        }
    }

    fn end_line<S: DumpSink + ?Sized>(&mut self, sink: &mut S) -> Result<(), DumpError> {
        let line = std::mem::take(&mut self.pending);
        let res = match marker_name(&line) {
            Some(raw) => {
                self.sections += 1;
                self.writing = false;
                sink.close()?;
                // Marker lines count against the cap too: a blob of nothing but markers must
                // not create files without end.
                sink.skip(line.len())?;
                let name = String::from_utf8_lossy(raw);
                let at = Position {
                    blob: self.blob,
                    line: self.line,
                };
                let checked = check_name(&name).map_err(|e| e.placed(at));
                match checked.and_then(|()| sink.open(&name)) {
                    Ok(()) => self.writing = true,
                    // Only the cap and an output directory that cannot be made end the split:
                    // a name that cannot be created (a file where a directory is needed, a
                    // symlink) costs just its own section.
                    Err(e @ (DumpError::Limit { .. } | DumpError::CreateDir { .. })) => {
                        return Err(e);
                    }
                    Err(e) => self.problems.push(e),
                }
                Ok(())
            }
            None => self.emit(sink, &line),
        };
        self.pending = line;
        self.pending.clear();
        res
    }

    /// Splits the next piece of the dump. Content is found in bulk: a line that cannot start a
    /// marker is passed through up to the next `\n@@@ `, so only candidate marker lines are
    /// copied.
    pub fn feed<S: DumpSink + ?Sized>(
        &mut self,
        sink: &mut S,
        mut data: &[u8],
    ) -> Result<(), DumpError> {
        const LEAD: &[u8] = b"@@@ ";
        while !data.is_empty() {
            if self.passthrough {
                let end = match self.next_marker.find(data) {
                    Some(i) => {
                        self.passthrough = false;
                        i + 1
                    }
                    None => match memchr::memrchr(b'\n', data) {
                        Some(i) => {
                            self.passthrough = false;
                            i + 1
                        }
                        None => data.len(),
                    },
                };
                self.emit(sink, &data[..end])?;
                self.count_lines(&data[..end]);
                data = &data[end..];
                continue;
            }
            if self.pending.is_empty() {
                let n = data.len().min(LEAD.len());
                if data[..n] != LEAD[..n] {
                    self.passthrough = true;
                    continue;
                }
            }
            let nl = memchr::memchr(b'\n', data);
            let end = nl.map_or(data.len(), |i| i + 1);
            if self.pending.len() + end > MARKER_MAX {
                let line = std::mem::take(&mut self.pending);
                self.emit(sink, &line)?;
                self.pending = line;
                self.pending.clear();
                self.passthrough = true;
                continue;
            }
            self.pending.extend_from_slice(&data[..end]);
            data = &data[end..];
            if nl.is_some() {
                self.end_line(sink)?;
                self.count_lines(b"\n");
            }
        }
        Ok(())
    }

    /// Ends the dump: a last line without newline is written as it is.
    pub fn finish<S: DumpSink + ?Sized>(&mut self, sink: &mut S) -> Result<(), DumpError> {
        if !self.pending.is_empty() {
            self.end_line(sink)?;
        }
        self.writing = false;
        sink.close()
    }
}

/// What splitting a text dump found.
#[derive(Debug, Default)]
pub struct TextReport {
    /// Marker lines seen, refused names included: none means the text holds no dump.
    pub sections: u64,
    pub problems: Vec<DumpError>,
}

/// Splits a whole text dump read from `input` (`kdc split-dump`). Reports every problem; a
/// fatal one (the cap, an I/O error) ends the split early, keeping what was written.
pub fn split_text<R: BufRead, S: DumpSink + ?Sized>(mut input: R, sink: &mut S) -> TextReport {
    let mut split = Splitter::new();
    let fatal = loop {
        let buf = match super::fill(&mut input) {
            Ok(b) => b,
            Err(e) => break Some(e),
        };
        if buf.is_empty() {
            break None;
        }
        let n = buf.len();
        let res = split.feed(sink, buf);
        input.consume(n);
        if let Err(e) = res {
            break Some(e);
        }
    };
    let end = split.finish(sink);
    let mut problems = split.problems;
    problems.extend(fatal);
    problems.extend(end.err());
    TextReport {
        sections: split.sections,
        problems,
    }
}
