//! SIGINT, SIGTERM and SIGHUP: one handler for every command, installed first thing in `main`.
//!
//! The handler only records the signal. Work then stops where it is safe to: the log reader and
//! the output directory of the splitters check [`requested`], and async commands wait on
//! [`interrupted`] only where abandoning the wait loses nothing (waiting for systemd, sleeping);
//! a request already sent to the engine is allowed to finish, so that whatever it created is
//! known and removed again. A closed terminal or SSH session (SIGHUP) is treated like Ctrl-C.
//!
//! A second signal means "now": kdc exits at once with 130 and says that cleanup was skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

static FIRST: AtomicI32 = AtomicI32::new(0);
static COUNT: AtomicU32 = AtomicU32::new(0);

const AGAIN: &[u8] = b"\nkdc: interrupted again: exiting without cleaning up; `kdc status` shows what is left and `kdc clean` removes it\n";

extern "C" fn note(signal: libc::c_int) {
    let _ = FIRST.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    if COUNT.fetch_add(1, Ordering::SeqCst) >= 1 {
        // SAFETY: write(2) and _exit(2) are async-signal-safe; AGAIN is a static buffer.
        unsafe {
            libc::write(2, AGAIN.as_ptr().cast(), AGAIN.len());
            libc::_exit(130);
        }
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
