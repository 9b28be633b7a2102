//! The terminal reporter: one line per phase on stderr.
//!
//! On a terminal each phase shows `• detail …`, replaced by `✓ detail (1.2s)` or `✗ detail`;
//! when stderr is not a terminal, or `CI` is set, plain lines (`kdc: detail ... ok (1.2s)`) that
//! read well in any CI log.

use std::io::Write;

use crate::events::{Event, Reporter};

/// How the terminal reporter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Interactive: ✓/✗ with colour, phase lines rewritten in place.
    Terminal,
    /// Plain lines for logs.
    Plain,
    /// Nothing (`--quiet`).
    Quiet,
}

impl Style {
    /// Terminal when stderr is a TTY and `CI` is unset; `quiet` wins.
    pub fn detect(quiet: bool, ci: bool) -> Style {
        use std::io::IsTerminal;
        if quiet {
            Style::Quiet
        } else if !ci && std::io::stderr().is_terminal() {
            Style::Terminal
        } else {
            Style::Plain
        }
    }
}

/// Writes events to a stream (stderr in the binary, a buffer in tests).
pub struct Terminal<W: Write + Send> {
    out: W,
    style: Style,
    /// The phase line currently shown, to redraw after a note.
    open: Option<String>,
}

impl<W: Write + Send> Terminal<W> {
    pub fn new(out: W, style: Style) -> Self {
        Terminal {
            out,
            style,
            open: None,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl<W: Write + Send> Reporter for Terminal<W> {
    fn report(&mut self, event: &Event) {
        let out = &mut self.out;
        let _ = match (self.style, event) {
            (Style::Quiet, _) => Ok(()),
            (Style::Plain, Event::ActionStarted { detail, .. }) => {
                writeln!(out, "kdc: {detail} ...")
            }
            (
                Style::Plain,
                Event::ActionFinished {
                    detail,
                    elapsed,
                    error: None,
                    ..
                },
            ) => {
                writeln!(out, "kdc: {detail} ... ok ({})", secs(*elapsed))
            }
            (
                Style::Plain,
                Event::ActionFinished {
                    detail,
                    elapsed,
                    error: Some(_),
                    ..
                },
            ) => {
                writeln!(out, "kdc: {detail} ... FAILED ({})", secs(*elapsed))
            }
            (Style::Plain, Event::Note { message }) => writeln!(out, "kdc: note: {message}"),
            (Style::Terminal, Event::ActionStarted { detail, .. }) => {
                self.open = Some(detail.clone());
                write!(out, " • {detail} …").and_then(|_| out.flush())
            }
            (
                Style::Terminal,
                Event::ActionFinished {
                    detail,
                    elapsed,
                    error,
                    ..
                },
            ) => {
                self.open = None;
                let (mark, colour) = if error.is_none() {
                    ("✓", "\x1b[32m")
                } else {
                    ("✗", "\x1b[31m")
                };
                writeln!(
                    out,
                    "\r\x1b[2K {colour}{mark}\x1b[0m {detail} \x1b[2m{}\x1b[0m",
                    secs(*elapsed)
                )
            }
            (Style::Terminal, Event::Note { message }) => {
                let again = self
                    .open
                    .as_ref()
                    .map(|d| format!(" • {d} …"))
                    .unwrap_or_default();
                write!(out, "\r\x1b[2K \x1b[33m!\x1b[0m {message}\n{again}")
                    .and_then(|_| out.flush())
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn events() -> Vec<Event> {
        vec![
            Event::ActionStarted {
                name: "network",
                detail: "Creating network n".into(),
            },
            Event::Note {
                message: "privileged refused".into(),
            },
            Event::ActionFinished {
                name: "network",
                detail: "Creating network n".into(),
                elapsed: Duration::from_millis(1234),
                error: None,
            },
            Event::ActionStarted {
                name: "nodes",
                detail: "Starting nodes".into(),
            },
            Event::ActionFinished {
                name: "nodes",
                detail: "Starting nodes".into(),
                elapsed: Duration::from_millis(50),
                error: Some("boom".into()),
            },
        ]
    }

    fn render(style: Style) -> String {
        let mut t = Terminal::new(Vec::new(), style);
        for e in events() {
            t.report(&e);
        }
        String::from_utf8(t.into_inner()).unwrap()
    }

    #[test]
    fn plain_lines_for_ci_logs() {
        assert_eq!(
            render(Style::Plain),
            "kdc: Creating network n ...\nkdc: note: privileged refused\nkdc: Creating network n ... ok (1.2s)\n\
             kdc: Starting nodes ...\nkdc: Starting nodes ... FAILED (0.1s)\n"
        );
    }

    #[test]
    fn terminal_marks_phases_with_check_and_cross() {
        let s = render(Style::Terminal);
        assert!(
            s.contains("\x1b[32m✓\x1b[0m Creating network n \x1b[2m1.2s"),
            "{s:?}"
        );
        assert!(s.contains("\x1b[31m✗\x1b[0m Starting nodes"), "{s:?}");
        assert!(
            s.contains("privileged refused\n • Creating network n …"),
            "note redraws the open phase: {s:?}"
        );
    }

    #[test]
    fn quiet_prints_nothing() {
        assert_eq!(render(Style::Quiet), "");
    }
}
