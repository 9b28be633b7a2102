//! The terminal reporter: what a person or a CI log sees on stderr.
//!
//! On a terminal, finished actions and cases become permanent lines (`✓ Creating network n
//! 1.2s`, `✗ …`) and a live line at the bottom shows what is running now, with a spinner, the
//! progress inside the step and the elapsed time; it is redrawn ten times a second, so a long
//! step never looks frozen. Several jobs at once (matrix cells) share that live line and their
//! lines carry the job's name. Everywhere else — stderr not a terminal, `CI` set, `TERM=dumb` —
//! plain lines (`kdc: detail ... ok (1.2s)`) that read well in any CI log, with a progress line
//! every ten seconds at most. Colour only on a terminal and never with `NO_COLOR`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Event, EventKind, Outcome, Reporter, Scope};

/// How the terminal reporter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Interactive: ✓/✗ lines and a live line redrawn in place.
    Terminal,
    /// Plain lines for logs.
    Plain,
    /// Nothing (`--quiet`); errors are printed by `main`.
    Quiet,
}

/// What decides the style, gathered by the caller (only `Env` reads the environment).
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    pub quiet: bool,
    pub stderr_is_terminal: bool,
    /// `CI` is set to a true value (`CI=false` is not CI).
    pub ci: bool,
    /// `TERM=dumb`: no cursor movement.
    pub dumb: bool,
    /// `NO_COLOR` is set and not empty.
    pub no_color: bool,
    /// `-v` count.
    pub verbosity: u8,
}

impl Style {
    pub fn detect(f: &Facts) -> Style {
        if f.quiet {
            Style::Quiet
        } else if f.stderr_is_terminal && !f.ci && !f.dumb {
            Style::Terminal
        } else {
            Style::Plain
        }
    }
}

/// An action that is running.
struct Open {
    detail: String,
    started: Instant,
    progress: Option<(usize, usize)>,
    /// When a plain progress line was last written.
    told: Instant,
}

struct State<W: Write + Send> {
    out: W,
    style: Style,
    colour: bool,
    verbosity: u8,
    width: usize,
    open: BTreeMap<(Scope, String), Open>,
    live_shown: bool,
    frame: usize,
}

/// Writes events to a stream (stderr in the binary, a buffer in tests).
pub struct Terminal<W: Write + Send + 'static> {
    state: Arc<Mutex<State<W>>>,
    stop: Arc<AtomicBool>,
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// Plain mode repeats a running step at most this often, so a long step shows it is alive.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn prefix(scope: &Scope) -> String {
    if scope.is_empty() {
        String::new()
    } else {
        format!("[{}] ", scope.0)
    }
}

impl<W: Write + Send + 'static> Terminal<W> {
    /// A reporter writing `out` in `style`. `width` is the terminal's width (the live line
    /// never wraps).
    pub fn new(out: W, style: Style, facts: &Facts, width: usize) -> Self {
        let state = Arc::new(Mutex::new(State {
            out,
            style,
            colour: style == Style::Terminal && !facts.no_color,
            verbosity: facts.verbosity,
            width: width.max(20),
            open: BTreeMap::new(),
            live_shown: false,
            frame: 0,
        }));
        Terminal {
            state,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// In terminal style, a thread redraws the live line ten times a second (spinner, elapsed
    /// time) until the reporter is dropped.
    pub fn with_ticker(self) -> Self {
        let style = self.state.lock().unwrap_or_else(|e| e.into_inner()).style;
        if style == Style::Terminal {
            let (state, stop) = (self.state.clone(), self.stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                    if !s.open.is_empty() && !stop.load(Ordering::Relaxed) {
                        s.frame += 1;
                        s.draw_live();
                    }
                }
            });
        }
        self
    }
}

impl Terminal<std::io::Stderr> {
    /// The reporter for stderr, with its ticker.
    pub fn stderr(facts: &Facts) -> Terminal<std::io::Stderr> {
        Terminal::new(
            std::io::stderr(),
            Style::detect(facts),
            facts,
            terminal_width(),
        )
        .with_ticker()
    }
}

impl<W: Write + Send + 'static> Terminal<W> {
    /// Stops the ticker and returns what was written (tests).
    pub fn into_inner(self) -> W
    where
        W: Default,
    {
        self.stop.store(true, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut s.out)
    }
}

impl<W: Write + Send + 'static> Drop for Terminal<W> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.clear_live();
        let _ = s.out.flush();
    }
}

/// The width of the terminal on stderr, or 80.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize; on failure it is left zeroed.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        80
    }
}

impl<W: Write + Send> State<W> {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn clear_live(&mut self) {
        if self.live_shown {
            let _ = write!(self.out, "\r\x1b[2K");
            self.live_shown = false;
        }
    }

    /// The live line: what runs now, with progress and elapsed time.
    fn live_text(&self) -> String {
        let spin = SPINNER[self.frame % SPINNER.len()];
        let parts: Vec<String> = self
            .open
            .iter()
            .map(|((scope, _), o)| {
                let progress = o
                    .progress
                    .map(|(d, t)| format!("{d}/{t}, "))
                    .unwrap_or_default();
                format!(
                    "{}{} ({progress}{}s)",
                    prefix(scope),
                    o.detail,
                    o.started.elapsed().as_secs()
                )
            })
            .collect();
        let text = match parts.len() {
            1 => format!(" {spin} {}", parts[0]),
            n => format!(" {spin} {n} running: {}", parts.join("; ")),
        };
        // One character short of the width, so the terminal never wraps the line.
        let max = self.width - 1;
        if text.chars().count() > max {
            let mut t: String = text.chars().take(max - 1).collect();
            t.push('…');
            t
        } else {
            text
        }
    }

    fn draw_live(&mut self) {
        if self.style != Style::Terminal || self.open.is_empty() {
            return;
        }
        let text = self.live_text();
        let _ = write!(self.out, "\r\x1b[2K{text}");
        let _ = self.out.flush();
        self.live_shown = true;
    }

    /// A permanent line: above the live line on a terminal, `kdc: ` plain lines elsewhere.
    fn line(&mut self, text: &str) {
        match self.style {
            Style::Quiet => {}
            Style::Plain => {
                let _ = writeln!(self.out, "kdc: {text}");
            }
            Style::Terminal => {
                self.clear_live();
                let _ = writeln!(self.out, "{text}");
                self.draw_live();
            }
        }
    }

    fn event(&mut self, e: &Event) {
        let p = prefix(&e.scope);
        let plain = self.style == Style::Plain;
        match &e.kind {
            EventKind::RunStarted { .. } | EventKind::RunFinished { .. } => {}
            EventKind::ActionStarted { name, detail } => {
                let now = Instant::now();
                self.open.insert(
                    (e.scope.clone(), name.clone()),
                    Open {
                        detail: detail.clone(),
                        started: now,
                        progress: None,
                        told: now,
                    },
                );
                if plain {
                    self.line(&format!("{p}{detail} ..."));
                } else {
                    self.draw_live();
                }
            }
            EventKind::ActionProgress { name, done, total } => {
                let key = (e.scope.clone(), name.clone());
                let Some(open) = self.open.get_mut(&key) else {
                    return;
                };
                open.progress = Some((*done, *total));
                if plain && open.told.elapsed() >= PLAIN_PROGRESS_EVERY {
                    open.told = Instant::now();
                    let text = format!(
                        "{p}{} ... {done}/{total} ({})",
                        open.detail,
                        secs(open.started.elapsed())
                    );
                    self.line(&text);
                } else if !plain {
                    self.draw_live();
                }
            }
            EventKind::ActionFinished {
                name,
                detail,
                elapsed,
                error,
            } => {
                self.open.remove(&(e.scope.clone(), name.clone()));
                let text = match (plain, error) {
                    (true, None) => format!("{p}{detail} ... ok ({})", secs(*elapsed)),
                    (true, Some(_)) => format!("{p}{detail} ... FAILED ({})", secs(*elapsed)),
                    (false, None) => format!(
                        " {} {p}{detail} {}",
                        self.paint("32", "✓"),
                        self.paint("2", &secs(*elapsed))
                    ),
                    (false, Some(_)) => format!(
                        " {} {p}{detail} {}",
                        self.paint("31", "✗"),
                        self.paint("2", &secs(*elapsed))
                    ),
                };
                self.line(&text);
            }
            EventKind::CaseStarted { .. } => {}
            EventKind::CaseFinished {
                class,
                name,
                elapsed,
                outcome,
                ..
            } => {
                let case = format!("{class}/{name}");
                let t = secs(*elapsed);
                let text = match (plain, outcome) {
                    (true, Outcome::Passed) => format!("{p}PASS {case} ({t})"),
                    (true, Outcome::Failed { message }) => {
                        format!("{p}FAIL {case} ({t}): {message}")
                    }
                    (true, Outcome::Skipped { reason }) => format!("{p}SKIP {case}: {reason}"),
                    (true, Outcome::Flaky { failures }) => format!(
                        "{p}FLAKY {case} ({t}): passed after {} failed attempt{}",
                        failures.len(),
                        crate::text::plural(failures.len())
                    ),
                    (false, Outcome::Flaky { failures }) => format!(
                        " {} {p}{case} {}: flaky, passed after {} failed attempt{}",
                        self.paint("33", "✓"),
                        self.paint("2", &t),
                        failures.len(),
                        crate::text::plural(failures.len())
                    ),
                    (false, Outcome::Passed) => format!(
                        " {} {p}{case} {}",
                        self.paint("32", "✓"),
                        self.paint("2", &t)
                    ),
                    (false, Outcome::Failed { message }) => format!(
                        " {} {p}{case} {}: {message}",
                        self.paint("31", "✗"),
                        self.paint("2", &t)
                    ),
                    (false, Outcome::Skipped { reason }) => {
                        format!(" {} {p}{case} skipped: {reason}", self.paint("33", "-"))
                    }
                };
                self.line(&text);
            }
            EventKind::Note { message } => {
                let text = if plain {
                    format!("{p}note: {message}")
                } else {
                    format!(" {} {p}{message}", self.paint("33", "!"))
                };
                self.line(&text);
            }
            EventKind::Warning { message } => {
                let text = format!("{p}{}: {message}", self.paint("33", "warning"));
                match self.style {
                    Style::Quiet => {}
                    // Warnings read the same everywhere: `warning: …`, like the compilers'.
                    Style::Plain => {
                        let _ = writeln!(self.out, "{text}");
                    }
                    Style::Terminal => self.line(&text),
                }
            }
            EventKind::Debug { level, message } => {
                if *level <= self.verbosity {
                    self.line(&format!("{p}{message}"));
                }
            }
        }
        let _ = self.out.flush();
    }
}

impl<W: Write + Send + 'static> Reporter for Terminal<W> {
    fn report(&mut self, event: &Event) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .event(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(scope: &str, kind: EventKind) -> Event {
        Event {
            scope: Scope(scope.into()),
            kind,
        }
    }

    fn started(scope: &str, name: &str, detail: &str) -> Event {
        ev(
            scope,
            EventKind::ActionStarted {
                name: name.into(),
                detail: detail.into(),
            },
        )
    }

    fn finished(scope: &str, name: &str, detail: &str, ms: u64, error: Option<&str>) -> Event {
        ev(
            scope,
            EventKind::ActionFinished {
                name: name.into(),
                detail: detail.into(),
                elapsed: Duration::from_millis(ms),
                error: error.map(String::from),
            },
        )
    }

    fn events() -> Vec<Event> {
        vec![
            started("", "network", "Creating network n"),
            ev(
                "",
                EventKind::Note {
                    message: "privileged refused".into(),
                },
            ),
            finished("", "network", "Creating network n", 1234, None),
            started("", "nodes", "Starting nodes"),
            ev(
                "",
                EventKind::ActionProgress {
                    name: "nodes".into(),
                    done: 1,
                    total: 3,
                },
            ),
            finished("", "nodes", "Starting nodes", 50, Some("boom")),
            ev(
                "",
                EventKind::CaseFinished {
                    class: "ipv6".into(),
                    name: "node-ping6-nat64".into(),
                    elapsed: Duration::from_millis(200),
                    outcome: Outcome::Failed {
                        message: "no reply".into(),
                    },
                    output: String::new(),
                },
            ),
            ev(
                "",
                EventKind::CaseFinished {
                    class: "ipv6".into(),
                    name: "pod-ping".into(),
                    elapsed: Duration::ZERO,
                    outcome: Outcome::Skipped {
                        reason: "CNI_PLUGIN=calico needs Kubernetes".into(),
                    },
                    output: String::new(),
                },
            ),
            ev(
                "",
                EventKind::Debug {
                    level: 2,
                    message: "docker exec x".into(),
                },
            ),
        ]
    }

    fn render(style: Style, facts: Facts) -> String {
        let mut t = Terminal::new(Vec::new(), style, &facts, 80);
        for e in events() {
            t.report(&e);
        }
        String::from_utf8(t.into_inner()).unwrap()
    }

    #[test]
    fn plain_lines_for_ci_logs() {
        assert_eq!(
            render(Style::Plain, Facts::default()),
            "kdc: Creating network n ...\nkdc: note: privileged refused\nkdc: Creating network n ... ok (1.2s)\n\
             kdc: Starting nodes ...\nkdc: Starting nodes ... FAILED (0.1s)\n\
             kdc: FAIL ipv6/node-ping6-nat64 (0.2s): no reply\n\
             kdc: SKIP ipv6/pod-ping: CNI_PLUGIN=calico needs Kubernetes\n"
        );
    }

    #[test]
    fn verbosity_shows_debug_lines() {
        let facts = Facts {
            verbosity: 2,
            ..Facts::default()
        };
        assert!(render(Style::Plain, facts).ends_with("kdc: docker exec x\n"));
    }

    #[test]
    fn terminal_marks_steps_with_check_and_cross_and_shows_progress() {
        let s = render(Style::Terminal, Facts::default());
        assert!(
            s.contains("\x1b[32m✓\x1b[0m Creating network n \x1b[2m1.2s"),
            "{s:?}"
        );
        assert!(s.contains("\x1b[31m✗\x1b[0m Starting nodes"), "{s:?}");
        assert!(
            s.contains("privileged refused\n\r\x1b[2K ⠋ Creating network n (0s)"),
            "a note redraws the live line: {s:?}"
        );
        assert!(s.contains("⠋ Starting nodes (1/3, 0s)"), "{s:?}");
    }

    #[test]
    fn no_color_keeps_the_layout_without_escape_colours() {
        let s = render(
            Style::Terminal,
            Facts {
                no_color: true,
                ..Facts::default()
            },
        );
        assert!(s.contains(" ✓ Creating network n 1.2s"), "{s:?}");
        assert!(!s.contains("\x1b[3"), "{s:?}");
    }

    #[test]
    fn several_jobs_share_the_live_line_and_prefix_their_lines() {
        let mut t = Terminal::new(Vec::new(), Style::Terminal, &Facts::default(), 80);
        t.report(&started("ipv4", "nodes", "Starting 3 nodes"));
        t.report(&started("ipv6", "systemd", "Waiting for systemd"));
        t.report(&finished("ipv4", "nodes", "Starting 3 nodes", 900, None));
        let s = String::from_utf8(t.into_inner()).unwrap();
        assert!(
            s.contains("2 running: [ipv4] Starting 3 nodes (0s); [ipv6] Waiting for systemd (0s)"),
            "{s:?}"
        );
        assert!(s.contains("✓\x1b[0m [ipv4] Starting 3 nodes"), "{s:?}");
        assert!(
            s.ends_with("\r\x1b[2K ⠋ [ipv6] Waiting for systemd (0s)"),
            "{s:?}"
        );
    }

    #[test]
    fn the_live_line_never_wraps() {
        let mut t = Terminal::new(Vec::new(), Style::Terminal, &Facts::default(), 30);
        t.report(&started("", "x", &"long ".repeat(20)));
        let s = String::from_utf8(t.into_inner()).unwrap();
        let live = s.rsplit("\x1b[2K").next().unwrap();
        assert_eq!(live.chars().count(), 29, "{live:?}");
        assert!(live.ends_with('…'));
    }

    #[test]
    fn quiet_prints_nothing() {
        assert_eq!(render(Style::Quiet, Facts::default()), "");
    }

    #[test]
    fn style_follows_terminal_ci_and_term() {
        let tty = Facts {
            stderr_is_terminal: true,
            ..Facts::default()
        };
        assert_eq!(Style::detect(&tty), Style::Terminal);
        assert_eq!(Style::detect(&Facts { ci: true, ..tty }), Style::Plain);
        assert_eq!(Style::detect(&Facts { dumb: true, ..tty }), Style::Plain);
        assert_eq!(Style::detect(&Facts::default()), Style::Plain);
        assert_eq!(Style::detect(&Facts { quiet: true, ..tty }), Style::Quiet);
    }
}
