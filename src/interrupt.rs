//! Ctrl-C and SIGTERM for the synchronous commands (the splitters). The handler only sets a
//! flag; the log reader and the output directory check it and stop, and the command removes
//! what it staged, so an interrupted split leaves the output directory as it was. (The cluster
//! commands are async and use tokio's signal handling instead.)

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note(_signal: libc::c_int) {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Catches SIGINT and SIGTERM from now on. Without `SA_RESTART`, so a read blocked on a quiet
/// pipe (`travis logs | kdc split-dump64`) returns at once instead of waiting for input.
pub fn catch() {
    // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which is
    // async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = note as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in [libc::SIGINT, libc::SIGTERM] {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Whether a caught signal asked kdc to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
