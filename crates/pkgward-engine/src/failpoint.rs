//! Crash-test failpoints: `PKGWARD_FAILPOINT=<name>` (or `<name>:<n>` for the
//! n-th time the point is reached) aborts the process at that point, so tests
//! can kill a real install at every step and check recovery (THREATS 49).
//!
//! `abort()` rather than `exit()`: no destructors run and no buffers are
//! flushed, which is as close to a crash as a process can get on its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the failpoint to trigger.
pub const FAILPOINT_VARIABLE: &str = "PKGWARD_FAILPOINT";

/// Every failpoint, in the order an install reaches them.
pub const FAILPOINTS: &[&str] = &[
    "prepare-file-staged",
    "prepare-synced",
    "journal-written",
    "commit-step",
    "commit-action-step",
    "commit-steps-done",
    "commit-database",
    "commit-journal-removed",
    "recover-step",
];

struct Armed {
    name: String,
    at: usize,
    reached: AtomicUsize,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(FAILPOINT_VARIABLE).ok()?;
            let (name, at) = match value.split_once(':') {
                Some((name, at)) => (name.to_owned(), at.parse().unwrap_or(1)),
                None => (value, 1),
            };
            Some(Armed {
                name,
                at,
                reached: AtomicUsize::new(0),
            })
        })
        .as_ref()
}

/// Aborts the process if `name` is the armed failpoint and this is the armed hit.
pub fn failpoint(name: &str) {
    if let Some(armed) = armed() {
        if armed.name == name && armed.reached.fetch_add(1, Ordering::SeqCst) + 1 == armed.at {
            std::process::abort();
        }
    }
}
