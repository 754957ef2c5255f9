//! Progress on stderr: a bar on a terminal; without one (a log file, CI, `nohup`), a
//! line every few seconds — done, rate, ETA — so long jobs are never silent.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use seine_datasets::Progress;

/// Time between progress lines when stderr is not a terminal: 5 s, or
/// `$SEINE_PROGRESS_SECS`.
fn line_every() -> Duration {
    std::env::var("SEINE_PROGRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(5), Duration::from_secs_f64)
}

fn is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// `1m05s` / `42s`.
fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Emits at most one line per [`line_every`].
struct Lines {
    what: String,
    every: Duration,
    start: Instant,
    last: Mutex<Instant>,
}

impl Lines {
    fn new(what: &str) -> Self {
        let now = Instant::now();
        Lines {
            what: what.to_string(),
            every: line_every(),
            start: now,
            last: Mutex::new(now),
        }
    }

    fn due(&self) -> bool {
        let mut last = self.last.lock().expect("not poisoned");
        if last.elapsed() < self.every {
            return false;
        }
        *last = Instant::now();
        true
    }

    /// `what: done unit (rate/s)[, pct, ETA]`.
    fn line(&self, done: u64, unit: &str, fraction: Option<f64>) {
        let secs = self.start.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let tail = match fraction.filter(|f| *f > 0.0) {
            Some(f) => format!(
                ", {:.0}%, ETA {}",
                100.0 * f.min(1.0),
                duration(secs * (1.0 - f.min(1.0)) / f)
            ),
            None => String::new(),
        };
        eprintln!(
            "{}: {done} {unit} ({rate:.0}/s, {}){tail}",
            self.what,
            duration(secs)
        );
    }
}

/// A progress bar driven by a stream's own unit (bytes, rows, files), showing
/// documents per second and the ETA.
pub struct DocProgress {
    bar: ProgressBar,
    start: Instant,
    lines: Option<Lines>,
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
        let lines = (!is_tty()).then(|| {
            bar.set_draw_target(ProgressDrawTarget::hidden());
            Lines::new(what)
        });
        DocProgress {
            bar,
            start: Instant::now(),
            lines,
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
        if let Some(l) = &self.lines
            && l.due()
        {
            let fraction = p.total.filter(|&t| t > 0).map(|t| p.done as f64 / t as f64);
            l.line(docs, "docs", fraction);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Runs `f` (e.g. a log line) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }
}

/// A counting progress bar (queries, questions, ...); `inc` may be called from many
/// threads.
pub struct Counter {
    bar: ProgressBar,
    lines: Option<Lines>,
    total: u64,
}

impl Counter {
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if let Some(l) = &self.lines
            && l.due()
        {
            let done = self.bar.position();
            l.line(done, "done", Some(done as f64 / self.total.max(1) as f64));
        }
    }

    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}

pub fn counter(what: &str, total: u64) -> Counter {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta}",
        )
        .expect("template"),
    );
    bar.set_prefix(what.to_string());
    let lines = (!is_tty()).then(|| {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        Lines::new(&format!("{what} (of {total})"))
    });
    Counter { bar, lines, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(duration(4.4), "4s");
        assert_eq!(duration(65.0), "1m05s");
        assert_eq!(duration(-1.0), "0s");
    }
}
