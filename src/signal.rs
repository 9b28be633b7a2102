//! SIGINT, SIGTERM and SIGHUP: one handler for every command, installed first thing in `main`.
//!
//! The handler only records the signal. Work then stops where it is safe to: the log reader and
//! the output directory of the splitters check [`requested`], and async commands wait on
//! [`interrupted`] only where abandoning the wait loses nothing (waiting for systemd, sleeping);
//! a request already sent to the engine is allowed to finish, so that whatever it created is
//! known and removed again. A closed terminal or SSH session (SIGHUP) is treated like Ctrl-C.
//!
//! A second, later signal means "now": kdc exits at once with 130 and says that cleanup was
//! skipped. Signals that arrive together count once: `timeout`, CI runners (GitLab, Jenkins,
//! GitHub Actions on cancel) and `kill -- -PGID` deliver a signal to the process and to its
//! process group at once, so kdc sees it twice within microseconds; taken as two signals, that
//! skipped the clean-up and leaked the cluster (1 in 8-16 interrupted `up`s, measured). Only a
//! signal [`TOGETHER`] or more after the first is a second one; a person pressing Ctrl-C twice
//! is slower than that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

static FIRST: AtomicI32 = AtomicI32::new(0);
/// When the first signal arrived, in nanoseconds of the monotonic clock.
static FIRST_AT: AtomicU64 = AtomicU64::new(0);

/// Signals closer together than this are one interruption delivered twice.
pub const TOGETHER: Duration = Duration::from_millis(100);

/// What a signal means, given when the first one arrived (`None`: this is the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stop where it is safe to, and clean up.
    Stop,
    /// The first signal again, delivered to the process group too: nothing new.
    Same,
    /// A second signal: exit now, skipping the clean-up.
    Now,
}

/// The decision the handler makes; pure, so it is tested without signals.
pub fn verdict(first_at: Option<Duration>, now: Duration) -> Verdict {
    match first_at {
        None => Verdict::Stop,
        Some(t) if now.saturating_sub(t) < TOGETHER => Verdict::Same,
        Some(_) => Verdict::Now,
    }
}

/// The monotonic clock; clock_gettime(2) is async-signal-safe.
fn monotonic() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write into; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

const AGAIN: &[u8] = b"\nkdc: interrupted again: exiting without cleaning up; `kdc status` shows what is left and `kdc clean` removes it\n";

extern "C" fn note(signal: libc::c_int) {
    // The handler runs with every caught signal blocked (see `catch`), so two runs never
    // interleave: the first records its time before another can look at it.
    let now = monotonic();
    let first_at = (FIRST.load(Ordering::SeqCst) != 0)
        .then(|| Duration::from_nanos(FIRST_AT.load(Ordering::SeqCst)));
    match verdict(first_at, now) {
        Verdict::Stop => {
            FIRST_AT.store(now.as_nanos() as u64, Ordering::SeqCst);
            FIRST.store(signal, Ordering::SeqCst);
        }
        Verdict::Same => {}
        // SAFETY: write(2) and _exit(2) are async-signal-safe; AGAIN is a static buffer.
        Verdict::Now => unsafe {
            libc::write(2, AGAIN.as_ptr().cast(), AGAIN.len());
            libc::_exit(130);
        },
    }
}

/// The signals kdc stops on.
pub const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Catches [`SIGNALS`] from now on. Without `SA_RESTART`, so a read blocked on a quiet pipe
/// (`travis logs | kdc split-dump64`) returns at once instead of waiting for input.
pub fn catch() {
    // SAFETY: a zeroed sigaction is valid; the handler only touches atomics and calls
    // async-signal-safe functions.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = note as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in SIGNALS {
            libc::sigaddset(&mut action.sa_mask, signal);
        }
        for signal in SIGNALS {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Whether a caught signal asked kdc to stop.
pub fn requested() -> bool {
    FIRST.load(Ordering::SeqCst) != 0
}

/// The first signal caught, for messages ("SIGHUP").
pub fn name() -> Option<&'static str> {
    match FIRST.load(Ordering::SeqCst) {
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        libc::SIGHUP => Some("SIGHUP"),
        _ => None,
    }
}

/// Resolves once a signal asked kdc to stop.
pub async fn interrupted() {
    Stop::process().wait().await
}

/// Where a long-running operation learns that it should stop: the process's signals, or a
/// flag of its own (tests, and later a matrix run that stops one cell).
#[derive(Debug, Clone, Default)]
pub struct Stop(Option<Arc<AtomicBool>>);

impl Stop {
    /// Stops when the process catches a signal.
    pub fn process() -> Stop {
        Stop(None)
    }

    /// Stops when [`Stop::request`] is called on it or a clone.
    pub fn manual() -> Stop {
        Stop(Some(Arc::new(AtomicBool::new(false))))
    }

    /// Asks a manual stop to stop (a process stop is asked by signals only).
    pub fn request(&self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::SeqCst);
        }
    }

    pub fn requested(&self) -> bool {
        match &self.0 {
            Some(flag) => flag.load(Ordering::SeqCst),
            None => requested(),
        }
    }

    /// Resolves once a stop is requested. It polls the flag the handler sets: one handler
    /// serves the synchronous and the async commands, and 20 ms is well below what a person or
    /// a CI runner notices.
    pub async fn wait(&self) {
        while !self.requested() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_together_count_once_and_only_a_later_one_skips_the_clean_up() {
        let t = Duration::from_secs(1000);
        assert_eq!(verdict(None, t), Verdict::Stop);
        // The process and its group, microseconds apart (`timeout`, CI runners).
        assert_eq!(
            verdict(Some(t), t + Duration::from_micros(30)),
            Verdict::Same
        );
        assert_eq!(
            verdict(Some(t), t + TOGETHER - Duration::from_nanos(1)),
            Verdict::Same
        );
        // A second Ctrl-C, or the runner's SIGKILL-warning SIGTERM seconds later.
        assert_eq!(verdict(Some(t), t + TOGETHER), Verdict::Now);
        assert_eq!(verdict(Some(t), t + Duration::from_secs(2)), Verdict::Now);
    }
}
