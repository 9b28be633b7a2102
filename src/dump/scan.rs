//! Finding and decoding every blob in a CI log, streaming.
//!
//! Real logs are messy: CRLF, ANSI colours, a timestamp before every line (GitHub Actions,
//! Jenkins timestamper), `travis_fold`/`travis_time` lines, a blob cut off by a log limit.
//! Lines outside blobs are skipped with a SIMD substring search and never copied; inside a blob
//! each line is cleaned, base64-decoded and pushed through liblzma into the splitter, so memory
//! stays constant whatever the size of the log or the dump.

use std::io::BufRead;

use crate::text::strip_escapes;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use memchr::memmem;
use serde::Serialize;

use super::inflate::{Event, Inflater};
use super::{DumpError, DumpSink, END_MARKER, START_MARKER, Splitter};

/// Longest piece of a line handled at once; a longer line (a blob on one line) is processed in
/// pieces of this size.
const PIECE: usize = 64 * 1024;

/// What was found for one blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobReport {
    /// 1-based, in log order.
    pub index: usize,
    /// Line of the start marker.
    pub start_line: u64,
    /// Line of the end marker; `None` when the blob is truncated.
    pub end_line: Option<u64>,
    /// `lzma` (LZMA_Alone, what kdc and the original write), `xz`, or `unknown`.
    pub format: &'static str,
    /// Compressed bytes decoded from base64.
    pub compressed_bytes: u64,
    /// Whether the blob decoded completely without problems.
    pub ok: bool,
}

/// The result of scanning a log: the blobs in order and every problem met.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub blobs: Vec<BlobReport>,
    pub problems: Vec<DumpError>,
    /// Lines read.
    pub lines: u64,
}

/// A line without its line end (`\n`, `\r\n`, stray `\r`s).
fn without_line_end(mut line: &[u8]) -> &[u8] {
    while let Some(rest) = line
        .strip_suffix(b"\n")
        .or_else(|| line.strip_suffix(b"\r"))
    {
        line = rest;
    }
    line
}

/// What is left visible of a line after the last carriage return (travis progress output
/// overwrites itself), if it has one. `ends`: `raw` ends its line, so a final `\r\n` is the line
/// end, not an overwrite; a piece of a longer line may end in a real one.
fn after_overwrite(raw: &[u8], ends: bool) -> Option<&[u8]> {
    let body = if ends { without_line_end(raw) } else { raw };
    memchr::memrchr(b'\r', body).map(|i| &raw[i + 1..])
}

/// Cleans one log line for marker and payload matching: drops the line end, anything a
/// carriage return overwrote (travis), ANSI escape sequences, a CI prefix, and surrounding
/// whitespace.
/// Returns how many bytes at the end of `raw` are a cut-off escape sequence (see
/// [`crate::text::strip_escapes`]).
pub(crate) fn clean_line(raw: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    let line = without_line_end(raw);
    let line = after_overwrite(line, false).unwrap_or(line);
    let cut = strip_escapes(line, out);
    let start = ci_prefix(out);
    out.drain(..start);
    let end = out.len()
        - out
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    out.truncate(end);
    let start = out.iter().take_while(|b| b.is_ascii_whitespace()).count();
    out.drain(..start);
    cut
}

/// Length of a CI prefix: a timestamp, or the job and step that `gh run view --log` puts
/// before it, tab-separated.
fn ci_prefix(line: &[u8]) -> usize {
    let head = &line[..line.len().min(512)];
    if let Some(tab) = memchr::memchr_iter(b'\t', head).nth(1) {
        let stamp = timestamp_prefix(&line[tab + 1..]);
        if stamp > 0 {
            return tab + 1 + stamp;
        }
    }
    timestamp_prefix(line)
}

/// Length of a leading CI timestamp: GitHub Actions `2024-05-01T10:00:00.1234567Z ` or the
/// Jenkins timestamper `[2024-05-01T10:00:00.123Z] ` (any bracketed stamp starting with a digit).
fn timestamp_prefix(line: &[u8]) -> usize {
    let head = &line[..line.len().min(48)];
    if head.len() > 5 && head[..4].iter().all(u8::is_ascii_digit) && head[4] == b'-' {
        // A stamp alone on a line (an empty log line) has no space after it.
        let z = memchr::memchr(b' ', head).unwrap_or(head.len());
        if head[z - 1] == b'Z' {
            return (z + 1).min(line.len());
        }
    }
    if head.len() > 2
        && head[0] == b'['
        && head[1].is_ascii_digit()
        && let Some(e) = memchr::memchr(b']', head)
    {
        return e + 1;
    }
    0
}

/// Whether a cleaned line is `marker`, possibly after a prefix ending in whitespace.
fn ends_with_marker(line: &[u8], marker: &str) -> bool {
    line.strip_suffix(marker.as_bytes())
        .is_some_and(|head| head.last().is_none_or(u8::is_ascii_whitespace))
}

/// Lines inside a blob that carry no data: CI folding and timing lines, GitHub group lines,
/// and shell traces (`set -x` prints `+ cmd`, `++ cmd` in a subshell; base64 has no spaces).
fn is_noise(line: &[u8]) -> bool {
    let plusses = line.iter().take_while(|&&b| b == b'+').count();
    line.is_empty()
        || line.starts_with(b"travis_fold:")
        || line.starts_with(b"travis_time:")
        || line.starts_with(b"##[")
        || (plusses > 0 && line.get(plusses) == Some(&b' '))
}

fn is_base64(data: &[u8]) -> bool {
    data.iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Decoding state of the blob being read.
struct Blob {
    report: BlobReport,
    /// Text before the marker on the start line that is not a known timestamp, stripped from
    /// the following lines too (e.g. a `docker compose` service prefix).
    prefix: Vec<u8>,
    inflater: Option<Inflater>,
    /// Base64 text not yet decoded: less than a quad, or a short line held back.
    pending: Vec<u8>,
    raw: Vec<u8>,
    /// Length of the first data line: every later line but the last has it.
    width: Option<usize>,
    /// Length of the data line being read so far (a long line arrives in pieces).
    current: usize,
    /// A data line shorter than the width: only the last line may be. Its text is held back
    /// until the end marker shows it was the last.
    short: Option<(u64, usize)>,
    /// The decoder said the compressed stream ended; later data is not decoded (its lines are
    /// still checked).
    done: bool,
    /// The first problem with the blob's lines (base64, width): the rest of the blob is neither
    /// checked nor decoded. Found by the scanner alone, so it depends on the log only.
    shape: Option<DumpError>,
    /// The decoder's failure: nothing more is decoded, but lines are still checked, since whether
    /// the decoder thread has spoken yet depends on timing.
    corrupt: Option<DumpError>,
    split: Splitter,
}

/// The base64 decoder for input: standard alphabet, padding optional, so a blob whose last
/// line lost its `=` still decodes.
fn engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

impl Blob {
    fn new(index: usize, line: u64, prefix: Vec<u8>) -> Blob {
        Blob {
            report: BlobReport {
                index,
                start_line: line,
                end_line: None,
                format: "unknown",
                compressed_bytes: 0,
                ok: false,
            },
            prefix,
            inflater: None,
            pending: Vec::new(),
            raw: Vec::new(),
            width: None,
            current: 0,
            short: None,
            done: false,
            shape: None,
            corrupt: None,
            split: Splitter::for_blob(index),
        }
    }

    /// Whether no data line (not even a bad one) has been seen: a start marker now replaces
    /// this one (a traced `+ echo %%% start-base64 %%%` just before the real marker), and an
    /// end marker drops it.
    fn is_empty(&self) -> bool {
        self.width.is_none() && self.current == 0 && self.shape.is_none()
    }

    /// Records the first line-shape problem; later lines are not looked at.
    fn fail(&mut self, err: DumpError) {
        self.shape.get_or_insert(err);
    }

    fn failed(&self) -> bool {
        self.shape.is_some() || self.corrupt.is_some()
    }

    /// The blob's problems in log-line order, a line-shape problem before a decoder error of
    /// the same line (the decoder error follows from it). Each side stops at its first problem
    /// and neither waits on the other's, so this is a function of the log alone, whichever
    /// thread noticed first.
    fn problems(&mut self) -> Vec<DumpError> {
        let line = |e: &DumpError| match e {
            DumpError::Base64 { line, .. }
            | DumpError::Width { line, .. }
            | DumpError::Corrupt { line, .. } => *line,
            _ => u64::MAX,
        };
        let mut found: Vec<DumpError> = self.shape.take().into_iter().collect();
        if let Some(c) = self.corrupt.take() {
            let first = found.first().is_some_and(|s| line(&c) < line(s));
            found.insert(if first { 0 } else { found.len() }, c);
        }
        found
    }

    /// Adds base64 text from `line`; `ends` when it is the end of that line. Checks the line
    /// width, so a line injected into the blob or cut short is named, not found later as an
    /// lzma error; decodes every whole quad.
    fn payload<S: DumpSink + ?Sized>(
        &mut self,
        text: &[u8],
        line: u64,
        ends: bool,
        sink: &mut S,
    ) -> Result<(), DumpError> {
        if self.shape.is_some() {
            return Ok(());
        }
        let blob = self.report.index;
        if !is_base64(text) {
            // After a short line, that line was the blob's last; `end` still decodes it.
            self.fail(DumpError::Base64 { blob, line });
            return Ok(());
        }
        if let Some((short, found)) = self.short.take() {
            let width = self.width.unwrap_or(found);
            let full = if ends {
                text.len() == width
            } else {
                text.len() <= width
            };
            let (line, found) = if full {
                // A short line between full ones was injected: its text is dropped.
                let keep = self.pending.len().saturating_sub(found);
                self.pending.truncate(keep);
                (short, found)
            } else {
                // The short line was the blob's last (`end` decodes it); this one is extra.
                (line, text.len())
            };
            self.fail(DumpError::Width {
                blob,
                line,
                found,
                width,
            });
            return Ok(());
        }
        self.current += text.len();
        if let Some(width) = self.width
            && self.current > width
        {
            let found = self.current;
            self.fail(DumpError::Width {
                blob,
                line,
                found,
                width,
            });
            return Ok(());
        }
        self.pending.extend_from_slice(text);
        if ends {
            let len = std::mem::take(&mut self.current);
            match self.width {
                None => self.width = Some(len),
                Some(width) if len < width => self.short = Some((line, len)),
                Some(_) => {}
            }
        }
        if self.short.is_some() {
            return Ok(());
        }
        let whole = self.pending.len() / 4 * 4;
        self.decode(whole, line, sink)
    }

    /// Decodes the first `len` pending base64 bytes and hands them to the decoder thread.
    fn decode<S: DumpSink + ?Sized>(
        &mut self,
        len: usize,
        line: u64,
        sink: &mut S,
    ) -> Result<(), DumpError> {
        if len == 0 {
            return Ok(());
        }
        let blob = self.report.index;
        self.raw.resize(len / 4 * 3 + 3, 0);
        let n = match engine().decode_slice(&self.pending[..len], &mut self.raw) {
            Ok(n) => n,
            Err(_) => {
                self.fail(DumpError::Base64 { blob, line });
                return Ok(());
            }
        };
        self.pending.drain(..len);
        self.report.compressed_bytes += n as u64;
        if self.done || self.corrupt.is_some() {
            // The decoder has stopped; the lines are still checked.
            return Ok(());
        }
        if self.inflater.is_none() {
            self.report.format = if self.raw.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
                "xz"
            } else {
                "lzma"
            };
            match Inflater::start() {
                Ok(i) => self.inflater = Some(i),
                Err(reason) => {
                    self.corrupt = Some(DumpError::Corrupt { blob, line, reason });
                    return Ok(());
                }
            }
        }
        if let Some(inflater) = self.inflater.as_mut() {
            inflater.push(&self.raw[..n], line);
        }
        self.drain(false, sink)
    }

    /// Splits what the decoder has produced; with `wait`, everything up to its end.
    fn drain<S: DumpSink + ?Sized>(&mut self, wait: bool, sink: &mut S) -> Result<(), DumpError> {
        let blob = self.report.index;
        while let Some(event) = self.inflater.as_mut().and_then(|i| i.poll(wait)) {
            match event {
                Event::Data { data, lines } => {
                    let mut start = 0;
                    for (end, line) in lines {
                        self.split.at_log_line(line);
                        self.split.feed(sink, &data[start..end])?;
                        start = end;
                    }
                }
                Event::End => self.done = true,
                Event::Corrupt { line, reason } => {
                    self.corrupt = Some(DumpError::Corrupt { blob, line, reason });
                }
            }
        }
        Ok(())
    }

    /// Ends the blob at its end marker (`truncated` false) or at a cut (`truncated` true).
    /// What decoded before a problem or a cut is kept. The report comes back even when a fatal
    /// error (the cap, a write error) stops the blob, so every begun blob is counted.
    fn end<S: DumpSink + ?Sized>(
        mut self,
        line: u64,
        truncated: bool,
        sink: &mut S,
        problems: &mut Vec<DumpError>,
    ) -> (BlobReport, Result<(), DumpError>) {
        let blob = self.report.index;
        let mut res = Ok(());
        if !self.done {
            // A cut can fall one character past a quad, which decodes to nothing.
            let mut rest = self.pending.len();
            if truncated && rest % 4 == 1 {
                rest -= 1;
            }
            res = self.decode(rest, line, sink);
        }
        // Whether the decoder already stopped is timing; a finish sent to a stopped decoder is
        // not read, so the outcome is the same either way.
        let finish = !truncated && !self.failed() && !self.done;
        if res.is_ok()
            && let Some(inflater) = self.inflater.as_mut()
        {
            inflater.close(finish, line);
            res = self.drain(true, sink);
        }
        let failed = self.failed();
        problems.append(&mut self.problems());
        let finished = self.split.finish(sink);
        problems.append(&mut self.split.problems);
        if truncated {
            problems.push(DumpError::Truncated { blob, line });
        } else {
            self.report.end_line = Some(line);
        }
        self.report.ok = !truncated && !failed && res.is_ok();
        (self.report, res.and(finished))
    }
}

/// Reads up to the end of the current line (at most [`PIECE`] bytes) into `acc`. Returns
/// whether the line ended (a newline or end of input) and whether input remains.
fn read_piece<R: BufRead>(r: &mut R, acc: &mut Vec<u8>) -> Result<bool, DumpError> {
    acc.clear();
    loop {
        let avail = super::fill(r)?;
        if avail.is_empty() {
            return Ok(true);
        }
        let room = PIECE - acc.len();
        match memchr::memchr(b'\n', avail) {
            Some(i) if i < room => {
                acc.extend_from_slice(&avail[..=i]);
                r.consume(i + 1);
                return Ok(true);
            }
            _ => {
                let n = avail.len().min(room);
                acc.extend_from_slice(&avail[..n]);
                r.consume(n);
                if acc.len() == PIECE {
                    return Ok(false);
                }
            }
        }
    }
}

/// How the rest of a line longer than [`PIECE`] is read.
enum Rest {
    /// Base64 data of the current blob: every piece is fed.
    Data,
    /// Anything else. Only the text after the line's last carriage return could still be a
    /// marker (progress output that overwrote itself); it is kept while short enough to be one.
    Other(Option<Vec<u8>>),
}

/// The scan's state between lines.
struct Scanner<'a, S: ?Sized> {
    sink: &'a mut S,
    report: ScanReport,
    blob: Option<Blob>,
    clean: Vec<u8>,
    /// An escape sequence cut off at the end of the last piece of a long data line.
    carry: Vec<u8>,
}

impl<S: DumpSink + ?Sized> Scanner<'_, S> {
    /// Handles a line, or the first piece of a long one (`ends` false). Returns whether it
    /// was blob data, in which case the rest of a long line is data too.
    fn line(&mut self, raw: &[u8], line: u64, ends: bool) -> Result<bool, DumpError> {
        // Base64 never holds a carriage return: a long line with one is progress output that
        // overwrote itself, and only what is visible at its end counts.
        if !ends && memchr::memchr(b'\r', raw).is_some() {
            return Ok(false);
        }
        let clean = &mut self.clean;
        let cut = clean_line(raw, clean);
        if let Some(b) = self.blob.as_ref()
            && !b.prefix.is_empty()
            && clean.starts_with(&b.prefix)
        {
            clean.drain(..b.prefix.len());
            let ws = clean.iter().take_while(|c| c.is_ascii_whitespace()).count();
            clean.drain(..ws);
        }
        if ends_with_marker(clean, START_MARKER) {
            let prefix = clean[..clean.len() - START_MARKER.len()]
                .trim_ascii()
                .to_vec();
            if let Some(b) = self.blob.take().filter(|b| !b.is_empty()) {
                self.end_blob(b, line, true)?;
            }
            let index = self.report.blobs.len() + 1;
            self.sink.begin_blob(index)?;
            self.blob = Some(Blob::new(index, line, prefix));
            return Ok(false);
        }
        let Some(b) = self.blob.as_mut() else {
            return Ok(false);
        };
        if ends_with_marker(clean, END_MARKER) {
            let b = self.blob.take().expect("inside a blob");
            // Markers around no data at all are a script's echo, not a blob.
            if !b.is_empty() {
                self.end_blob(b, line, false)?;
            }
            return Ok(false);
        }
        if is_noise(clean) {
            return Ok(false);
        }
        // A prefix that is neither a known CI prefix nor the start line's: the data is the
        // last word. Before any data, only a word as long as a blob's first line can be (its
        // header alone is 20 characters), so an echoed `… | base64 -w 100` is not data.
        let text = if is_base64(clean) {
            &clean[..]
        } else {
            match clean.rsplit(u8::is_ascii_whitespace).next() {
                Some(w) if is_base64(w) && (!b.is_empty() || w.len() >= 16) => w,
                Some(_) if b.is_empty() => return Ok(false),
                _ => &clean[..],
            }
        };
        b.payload(text, line, ends, self.sink)?;
        if !ends {
            // A long line has no carriage return (see above), so `cut` counts from `raw`'s end.
            self.carry = raw[raw.len() - cut..].to_vec();
        }
        Ok(true)
    }

    /// A later piece of a long data line.
    fn data(&mut self, raw: &[u8], line: u64, ends: bool) -> Result<(), DumpError> {
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(raw);
        let raw = if ends {
            without_line_end(&joined)
        } else {
            &joined[..]
        };
        self.clean.clear();
        let cut = strip_escapes(raw, &mut self.clean);
        if !ends {
            self.carry = raw[raw.len() - cut..].to_vec();
        }
        match self.blob.as_mut() {
            Some(b) => {
                let text = self.clean.trim_ascii();
                b.payload(text, line, ends, self.sink)
            }
            None => Ok(()),
        }
    }

    fn end_blob(&mut self, b: Blob, line: u64, truncated: bool) -> Result<(), DumpError> {
        let (report, res) = b.end(line, truncated, self.sink, &mut self.report.problems);
        self.report.blobs.push(report);
        res
    }
}

/// Finds every blob in `input`, decodes it and splits it into `sink` (blob `n` after
/// `sink.begin_blob(n)`). Problems are collected, not returned early: one bad blob must not
/// hide the next. Only the cap, a read or write error, or an interrupt stop the scan. A log
/// without blobs is no problem here: only the caller can name the input it came from.
pub fn scan_log<R: BufRead, S: DumpSink + ?Sized>(mut input: R, sink: &mut S) -> ScanReport {
    let start = memmem::Finder::new(START_MARKER.as_bytes());
    let mut scan = Scanner {
        sink,
        report: ScanReport::default(),
        blob: None,
        clean: Vec::with_capacity(256),
        carry: Vec::new(),
    };
    let mut piece = Vec::with_capacity(PIECE);
    // Lines fully read; the current line is `done + 1`.
    let mut done: u64 = 0;
    // How to read the rest of the current line, when the last piece did not end it.
    let mut rest: Option<Rest> = None;
    let fatal: Option<DumpError> = loop {
        // Outside a blob, skip whole lines without the start marker in bulk.
        if scan.blob.is_none() && rest.is_none() {
            let avail = match super::fill(&mut input) {
                Ok(a) => a,
                Err(e) => break Some(e),
            };
            if avail.is_empty() {
                break None;
            }
            let skip = match start.find(avail) {
                Some(pos) => memchr::memrchr(b'\n', &avail[..pos]).map_or(0, |i| i + 1),
                None => memchr::memrchr(b'\n', avail).map_or(0, |i| i + 1),
            };
            if skip > 0 {
                done += memchr::memchr_iter(b'\n', &avail[..skip]).count() as u64;
                input.consume(skip);
                continue;
            }
        }
        let ended = match read_piece(&mut input, &mut piece) {
            Ok(e) => e,
            Err(e) => break Some(e),
        };
        if piece.is_empty() {
            break None;
        }
        let line = done + 1;
        if ended {
            done += 1;
        }
        let res = match rest.take() {
            None => scan.line(&piece, line, ended).map(|data| {
                if !ended {
                    rest = Some(if data {
                        Rest::Data
                    } else {
                        Rest::Other(after_overwrite(&piece, false).map(<[u8]>::to_vec))
                    });
                }
            }),
            Some(Rest::Data) => {
                if !ended {
                    rest = Some(Rest::Data);
                }
                scan.data(&piece, line, ended)
            }
            Some(Rest::Other(tail)) => {
                let tail = match after_overwrite(&piece, ended) {
                    Some(visible) => Some(visible.to_vec()),
                    None => tail.map(|mut t| {
                        t.extend_from_slice(&piece);
                        t
                    }),
                }
                .filter(|t| t.len() <= PIECE);
                match (ended, tail) {
                    (true, Some(t)) => scan.line(&t, line, true).map(drop),
                    (true, None) => Ok(()),
                    (false, tail) => {
                        rest = Some(Rest::Other(tail));
                        Ok(())
                    }
                }
            }
        };
        if let Err(e) = res {
            break Some(e);
        }
    };
    let mut report = std::mem::take(&mut scan.report);
    report.lines = done + u64::from(rest.is_some());
    if let Some(b) = scan.blob.take() {
        if fatal.is_none() {
            let line = report.lines.max(1);
            let (r, res) = b.end(line, true, scan.sink, &mut report.problems);
            report.blobs.push(r);
            report.problems.extend(res.err());
        } else {
            report.blobs.push(b.report);
        }
    }
    let _ = scan.sink.close();
    report.problems.extend(fatal);
    report
}
