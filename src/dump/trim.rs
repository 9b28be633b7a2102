//! A blob that fits a CI log: `--max-bytes N` keeps the printed blob (markers included) at
//! most N bytes by trimming the largest files of the dump from their start, keeping their ends
//! (where a log's failure is), and saying in the dump what was trimmed. The full dump goes to
//! the artifacts directory; only the copy in the log is trimmed.
//!
//! How: the dump is encoded whole; when the blob is too large, the compression ratio of that
//! attempt gives a budget for the text, and every file is cut to a common cap, the largest
//! first ("water filling": files under the cap are kept whole), at a line start. Each trimmed
//! file begins with a line saying how much was cut, and the section `kdc-trimmed.txt` lists
//! them all. The result is encoded again; if it is still too large (the trimmed text
//! compresses worse than the whole), the budget shrinks and it tries again.

use std::io::Write;

use super::{BlobWriter, HEADER, META_NAME};

/// The section listing what was trimmed.
pub const TRIMMED_NAME: &str = "kdc-trimmed.txt";

/// A file of the dump that was cut.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrimmedFile {
    pub name: String,
    pub bytes: u64,
    pub kept: u64,
}

/// The blob, and the files cut to make it fit (empty when the whole dump fit).
#[derive(Debug, Clone)]
pub struct FittedBlob {
    pub blob: Vec<u8>,
    pub trimmed: Vec<TrimmedFile>,
}

/// Why no blob fits: even with every file cut to nothing the blob is larger than the budget.
#[derive(Debug, thiserror::Error)]
pub enum TrimError {
    #[error(
        "--max-bytes {max}: the smallest blob of this dump (every file trimmed away) is {smallest} bytes; allow more"
    )]
    TooSmall { max: u64, smallest: u64 },
    #[error("encoding the blob")]
    Io(#[from] std::io::Error),
}

/// A text dump's sections in order: what comes before the first marker, then `(name, body)`.
fn sections(text: &[u8]) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let mut head = Vec::new();
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in text.split_inclusive(|b| *b == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if let Some(name) = bare
            .strip_prefix(b"@@@ ")
            .and_then(|r| r.strip_suffix(b" @@@"))
        {
            out.push((String::from_utf8_lossy(name).into_owned(), Vec::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.extend_from_slice(line);
        } else {
            head.extend_from_slice(line);
        }
    }
    (head, out)
}

fn encode(text: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut w = BlobWriter::new(Vec::new(), level)?;
    w.write_all(text)?;
    w.finish()
}

/// The last `keep` bytes of `body`, from the next line start (the whole body when it fits).
fn tail(body: &[u8], keep: usize) -> &[u8] {
    if body.len() <= keep {
        return body;
    }
    let from = body.len() - keep;
    match body[from..].iter().position(|b| *b == b'\n') {
        Some(nl) if from + nl + 1 < body.len() => &body[from + nl + 1..],
        _ => &body[from..],
    }
}

/// The cap such that the files cut to it hold at most `budget` bytes in all.
fn water_level(sizes: &[usize], budget: usize) -> usize {
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    let mut left = budget;
    for (i, s) in sorted.iter().enumerate() {
        let remaining = sorted.len() - i;
        if s * remaining <= left {
            left -= s;
        } else {
            return left / remaining;
        }
    }
    usize::MAX
}

/// The dump with each file (but kdc's metadata) cut to `cap`, the record of the cuts, and
/// the section listing them.
fn cut(
    head: &[u8],
    parts: &[(String, Vec<u8>)],
    cap: usize,
    max: u64,
) -> (Vec<u8>, Vec<TrimmedFile>) {
    let mut out = if head.is_empty() {
        format!("{HEADER}\n").into_bytes()
    } else {
        head.to_vec()
    };
    let mut trimmed = Vec::new();
    let mut bodies = Vec::new();
    for (name, body) in parts {
        if name == META_NAME || body.len() <= cap {
            bodies.push((name, body.clone()));
            continue;
        }
        let kept = tail(body, cap);
        let mut b = format!(
            "[kdc: the first {} of {} bytes of this file were trimmed to fit the CI log (--max-bytes {max}); the whole file is in the artifacts]\n",
            body.len() - kept.len(),
            body.len()
        )
        .into_bytes();
        b.extend_from_slice(kept);
        trimmed.push(TrimmedFile {
            name: name.clone(),
            bytes: body.len() as u64,
            kept: kept.len() as u64,
        });
        bodies.push((name, b));
    }
    trimmed.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    let mut list = format!(
        "The blob in the log is limited to {max} bytes (--max-bytes); these files were cut from their start, keeping their ends. The whole dump is in the artifacts directory.\n"
    );
    for t in &trimmed {
        list += &format!(
            "{}: kept the last {} of {} bytes\n",
            t.name, t.kept, t.bytes
        );
    }
    for (i, (name, body)) in bodies.iter().enumerate() {
        out.extend_from_slice(format!("@@@ {name} @@@\n").as_bytes());
        out.extend_from_slice(body);
        if !body.is_empty() && !body.ends_with(b"\n") {
            out.push(b'\n');
        }
        // The list goes right after kdc's metadata: the first thing a reader sees.
        if i == 0 {
            out.extend_from_slice(format!("@@@ {TRIMMED_NAME} @@@\n{list}").as_bytes());
        }
    }
    (out, trimmed)
}

/// The dump's blob at `level`, at most `max` bytes; see the module docs.
pub fn fit(text: &[u8], level: u32, max: u64) -> Result<FittedBlob, TrimError> {
    let whole = encode(text, level)?;
    if whole.len() as u64 <= max {
        return Ok(FittedBlob {
            blob: whole,
            trimmed: Vec::new(),
        });
    }
    let (head, parts) = sections(text);
    let sizes: Vec<usize> = parts
        .iter()
        .filter(|(n, _)| n != META_NAME)
        .map(|(_, b)| b.len())
        .collect();
    // Text bytes per blob byte of the whole dump: the first guess at how much text fits.
    let mut ratio = text.len() as f64 / whole.len() as f64;
    let mut last = whole.len() as u64;
    for _ in 0..12 {
        let budget = (max as f64 * ratio * 0.95) as usize;
        let cap = water_level(&sizes, budget);
        let (cut_text, trimmed) = cut(&head, &parts, cap, max);
        let blob = encode(&cut_text, level)?;
        if blob.len() as u64 <= max {
            return Ok(FittedBlob { blob, trimmed });
        }
        if cap == 0 {
            return Err(TrimError::TooSmall {
                max,
                smallest: blob.len() as u64,
            });
        }
        last = blob.len() as u64;
        // Overshot: the cut text compresses worse; aim lower by how much it missed.
        ratio *= (max as f64 / last as f64) * 0.9;
    }
    Err(TrimError::TooSmall {
        max,
        smallest: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_water_level_keeps_small_files_whole_and_cuts_the_large_to_one_cap() {
        assert_eq!(water_level(&[10, 20, 1000], 2000), usize::MAX);
        // 10 + 20 whole, the rest shared: one file at 70.
        assert_eq!(water_level(&[10, 20, 1000], 100), 70);
        assert_eq!(water_level(&[500, 1000], 600), 300);
        assert_eq!(water_level(&[500, 1000], 0), 0);
    }

    #[test]
    fn a_budget_no_blob_fits_is_refused_with_the_smallest_size() {
        let text = format!(
            "{HEADER}\n@@@ {META_NAME} @@@\n{{}}\n@@@ a.log @@@\n{}",
            "x\n".repeat(10_000)
        );
        match fit(text.as_bytes(), 6, 100) {
            Err(TrimError::TooSmall { max: 100, smallest }) => assert!(smallest > 100),
            other => panic!("{other:?}"),
        }
        let fitted = fit(text.as_bytes(), 6, 1_000_000).unwrap();
        assert!(fitted.trimmed.is_empty(), "fits whole");
    }

    #[test]
    fn a_tail_starts_at_a_line() {
        assert_eq!(tail(b"one\ntwo\nthree\n", 7), b"three\n");
        assert_eq!(tail(b"short\n", 100), b"short\n");
    }
}
