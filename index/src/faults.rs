//! Named pause points for crash tests. With `SEINE_FAULT_PAUSE=<point>` in its
//! environment a process stops when it reaches that point: it prints
//! `seine: paused at fault point <point>` on stderr and sleeps until killed, so a test
//! can SIGKILL it exactly there instead of guessing with sleeps. Without the variable
//! a point costs one environment lookup (points sit on commit paths, not in loops).
//!
//! Points: `commit-start` (every part written, before the manifest), `commit-rename`
//! (manifest written in the staging folder / new generation about to move into place),
//! `commit-manifest` (next generation in place, manifest not yet switched to it).

/// Stops here if `SEINE_FAULT_PAUSE` names `point`.
pub fn pause(point: &str) {
    if std::env::var_os("SEINE_FAULT_PAUSE").is_some_and(|v| v == point) {
        eprintln!("seine: paused at fault point {point}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
