//! Progress bars on stderr (hidden when stderr is not a terminal).

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use seine_datasets::Progress;

/// A progress bar driven by a stream's own unit (bytes, rows, files), showing
/// documents per second and the ETA.
pub struct DocProgress {
    bar: ProgressBar,
    start: Instant,
}

impl DocProgress {
    pub fn new(what: &str) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} ETA {eta}",
            )
            .expect("template"),
        );
        bar.set_prefix(what.to_string());
        DocProgress {
            bar,
            start: Instant::now(),
        }
    }

    pub fn update(&self, p: Progress, docs: u64) {
        if let Some(total) = p.total {
            self.bar.set_length(total);
        }
        self.bar.set_position(p.done);
        let rate = docs as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        self.bar
            .set_message(format!("{docs} docs, {rate:.0} docs/s"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Runs `f` (e.g. a log line) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }
}

/// A counting progress bar (queries, ...).
pub fn counter(what: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta}",
        )
        .expect("template"),
    );
    bar.set_prefix(what.to_string());
    bar
}
