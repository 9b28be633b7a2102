//! Writing dumps: the text dump with its header and metadata section, and the blob that wraps a
//! dump for a CI log.

use std::io::{self, Write};
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use liblzma::stream::{LzmaOptions, Stream};
use liblzma::write::XzEncoder;
use serde::Serialize;

use super::{BASE64_WIDTH, DumpError, END_MARKER, HEADER, META_NAME, START_MARKER, check_name};

/// What kdc records about a dump in its `kdc-dump.json` section, so a dump found in a log can be
/// matched to the kdc and cluster that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DumpMeta {
    pub kdc_version: String,
    pub cluster: String,
    pub time: String,
    pub ip_mode: String,
}

/// Writes a text dump: the header line, the metadata section, then one section per file.
pub struct DumpWriter<W: Write> {
    out: W,
}

fn out_err(source: io::Error) -> DumpError {
    DumpError::Io {
        path: PathBuf::from("<dump output>"),
        source,
    }
}

impl<W: Write> DumpWriter<W> {
    /// Starts a dump on `out` with the header line and the metadata section.
    pub fn new(mut out: W, meta: &DumpMeta) -> io::Result<Self> {
        let json = serde_json::to_string_pretty(meta).map_err(io::Error::other)?;
        writeln!(out, "{HEADER}")?;
        writeln!(out, "@@@ {META_NAME} @@@")?;
        writeln!(out, "{json}")?;
        Ok(DumpWriter { out })
    }

    /// Adds a section. A newline is added if `content` lacks one, because the marker of the next
    /// section must start a line; names that `split-dump` would refuse are refused here, so kdc
    /// never writes a dump it cannot read back.
    pub fn section(&mut self, name: &str, content: &[u8]) -> Result<(), DumpError> {
        check_name(name)?;
        let w = &mut self.out;
        (|| -> io::Result<()> {
            writeln!(w, "@@@ {name} @@@")?;
            w.write_all(content)?;
            if !content.is_empty() && !content.ends_with(b"\n") {
                w.write_all(b"\n")?;
            }
            Ok(())
        })()
        .map_err(out_err)
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Base64 (standard alphabet, padded) wrapped at [`BASE64_WIDTH`] columns, as `base64 -w 100`
/// prints it: a newline after every full line and after the last one.
pub fn wrap_base64<W: Write>(out: W) -> Base64Lines<W> {
    Base64Lines {
        out,
        carry: Vec::with_capacity(3),
        enc: Vec::new(),
        col: 0,
    }
}

/// The streaming base64 encoder behind [`wrap_base64`].
pub struct Base64Lines<W: Write> {
    out: W,
    carry: Vec<u8>,
    enc: Vec<u8>,
    col: usize,
}

impl<W: Write> Base64Lines<W> {
    fn emit(&mut self, data: &[u8]) -> io::Result<()> {
        self.enc.resize(data.len().div_ceil(3) * 4, 0);
        let n = STANDARD
            .encode_slice(data, &mut self.enc)
            .map_err(io::Error::other)?;
        let mut rest = &self.enc[..n];
        while !rest.is_empty() {
            let take = (BASE64_WIDTH - self.col).min(rest.len());
            self.out.write_all(&rest[..take])?;
            self.col += take;
            rest = &rest[take..];
            if self.col == BASE64_WIDTH {
                self.out.write_all(b"\n")?;
                self.col = 0;
            }
        }
        Ok(())
    }

    /// Encodes the last bytes with padding, ends the last line and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let carry = std::mem::take(&mut self.carry);
        self.emit(&carry)?;
        if self.col > 0 {
            self.out.write_all(b"\n")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Base64Lines<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = buf;
        if !self.carry.is_empty() {
            let need = (3 - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..need]);
            data = &data[need..];
            if self.carry.len() < 3 {
                return Ok(buf.len());
            }
            let carry = std::mem::take(&mut self.carry);
            self.emit(&carry)?;
        }
        let whole = data.len() / 3 * 3;
        // Encode in bounded chunks so memory does not grow with the size of one write.
        for chunk in data[..whole].chunks(48 * 1024) {
            self.emit(chunk)?;
        }
        self.carry.extend_from_slice(&data[whole..]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes a blob: the start marker, the input compressed as legacy `.lzma` (LZMA_Alone, what the
/// original's `lzma` produced, so old `split-dump64` pipelines still read kdc output), base64 at
/// 100 columns, and the end marker.
pub struct BlobWriter<W: Write> {
    enc: XzEncoder<Base64Lines<W>>,
}

impl<W: Write> BlobWriter<W> {
    /// Writes the start marker; `level` is the lzma preset, 0–9 (the `lzma` tool's default is 6).
    pub fn new(mut out: W, level: u32) -> io::Result<Self> {
        if level > 9 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("compression level {level} is not in 0-9"),
            ));
        }
        let opts = LzmaOptions::new_preset(level).map_err(io::Error::other)?;
        let stream = Stream::new_lzma_encoder(&opts).map_err(io::Error::other)?;
        writeln!(out, "{START_MARKER}")?;
        Ok(BlobWriter {
            enc: XzEncoder::new_stream(wrap_base64(out), stream),
        })
    }

    /// Ends the compressed stream, the base64 and the blob; returns the writer.
    pub fn finish(self) -> io::Result<W> {
        let lines = self.enc.finish()?;
        let mut out = lines.finish()?;
        writeln!(out, "{END_MARKER}")?;
        out.flush()?;
        Ok(out)
    }
}

impl<W: Write> Write for BlobWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.enc.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        // LZMA_Alone cannot flush mid-stream; output appears as the encoder fills its blocks.
        Ok(())
    }
}
