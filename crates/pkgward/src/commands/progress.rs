//! The progress bar of `install` (not a subcommand): reading and staging
//! packages. Drawn on stderr only when stderr is a terminal, never in
//! `--json` mode, and only once the work has lasted more than a second, so
//! short installs, pipes and tests print nothing extra.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Work shorter than this shows no bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A counter over packages that becomes visible after [`SHOW_AFTER`].
#[derive(Debug)]
pub struct Progress {
    /// The current phase's bar (a finished bar cannot be restarted).
    bar: Mutex<ProgressBar>,
    started: Instant,
    /// Whether a bar may be drawn at all (stderr is a terminal, not `--json`).
    allowed: bool,
}

impl Progress {
    /// A hidden bar; `json` disables it.
    pub fn new(json: bool) -> Progress {
        Progress {
            bar: Mutex::new(ProgressBar::hidden()),
            started: Instant::now(),
            allowed: !json && std::io::stderr().is_terminal(),
        }
    }

    fn current(&self) -> ProgressBar {
        self.bar
            .lock()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |bar| bar.clone())
    }

    /// Starts a phase (`reading`, `staging`) over `total` packages.
    pub fn phase(&self, name: &'static str, total: usize) {
        let bar = ProgressBar::with_draw_target(
            Some(u64::try_from(total).unwrap_or(u64::MAX)),
            ProgressDrawTarget::hidden(),
        );
        if let Ok(style) = ProgressStyle::with_template("{msg:>9} [{bar:30}] {pos}/{len} packages")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(name);
        let previous = match self.bar.lock() {
            Ok(mut current) => std::mem::replace(&mut *current, bar.clone()),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), bar.clone()),
        };
        previous.finish_and_clear();
        self.reveal_if_slow(&bar);
    }

    /// One more package done; the bar is cleared when the phase is complete,
    /// before anything else is printed.
    pub fn advance(&self) {
        let bar = self.current();
        bar.inc(1);
        if bar.length().is_some_and(|length| bar.position() >= length) {
            bar.finish_and_clear();
            return;
        }
        self.reveal_if_slow(&bar);
    }

    fn reveal_if_slow(&self, bar: &ProgressBar) {
        if self.allowed
            && !bar.is_finished()
            && bar.is_hidden()
            && self.started.elapsed() >= SHOW_AFTER
        {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
        }
    }
}

impl Drop for Progress {
    /// An install that fails mid-phase leaves no half-drawn bar behind.
    fn drop(&mut self) {
        self.current().finish_and_clear();
    }
}
