//! Text helpers shared by the log scanner, the terminal reporter and the node helpers.

/// Appends `raw` to `out` without ANSI escape sequences. Returns how many bytes at the end
/// are an escape sequence that `raw` cuts off, for the caller to carry to the next piece.
pub fn strip_escapes(raw: &[u8], out: &mut Vec<u8>) -> usize {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != 0x1b {
            out.push(b);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if i >= raw.len() {
            return raw.len() - start;
        }
        match raw.get(i) {
            // CSI: parameters and intermediates, then one final byte in 0x40..=0x7e.
            Some(b'[') => {
                i += 1;
                while i < raw.len() && !(0x40..=0x7e).contains(&raw[i]) {
                    i += 1;
                }
                i += 1;
            }
            // OSC: up to BEL or ESC \.
            Some(b']') => {
                while i < raw.len() && raw[i] != 0x07 && raw[i] != 0x1b {
                    i += 1;
                }
                i += if raw.get(i) == Some(&0x1b) { 2 } else { 1 };
            }
            // Any other escape: intermediates in 0x20..=0x2f, then one final byte, as in the
            // `ESC ( B` that `tput sgr0` writes before `ESC [ m`.
            Some(_) => {
                while raw.get(i).is_some_and(|b| (0x20..=0x2f).contains(b)) {
                    i += 1;
                }
                i += 1;
            }
            None => {}
        }
        if i > raw.len() {
            return raw.len() - start;
        }
    }
    0
}

/// `s` without ANSI escape sequences and carriage returns (systemd colours its console and ends
/// its lines in `\r\r\n`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    strip_escapes(s.as_bytes(), &mut out);
    out.retain(|b| *b != b'\r');
    String::from_utf8_lossy(&out).into_owned()
}

/// `""` for one, `"s"` for any other count.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_ansi_removes_colour_and_carriage_returns() {
        assert_eq!(
            strip_ansi("[  \x1b[0;32mOK\x1b[0m  ] Reached\r"),
            "[  OK  ] Reached"
        );
        assert_eq!(strip_ansi("\x1b(B\x1b[mplain\x1b]0;title\x07"), "plain");
    }
}
