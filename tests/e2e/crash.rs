//! SIGKILL during `seine index`: the target is absent, or still the previous committed
//! index, which opens and answers.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::util::{dataset, head_lines, leftovers, ok, path_str, seine, stdout};

/// Runs `seine <args>` with `SEINE_FAULT_PAUSE=<point>` (seine_index::faults), waits
/// until it reports that it stopped there, then kills it with SIGKILL: the kill lands
/// exactly at that point of the commit, on any machine speed.
fn kill_at(point: &str, args: &[&str]) {
    let mut child = seine()
        .args(args)
        .env("SEINE_FAULT_PAUSE", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let want = format!("paused at fault point {point}");
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&want) {
                let _ = tx.send(Ok(()));
                return;
            }
            seen.push(line);
        }
        let _ = tx.send(Err(seen.join("\n")));
    });
    let reached = rx.recv_timeout(Duration::from_secs(300));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    match reached {
        Ok(Ok(())) => {}
        Ok(Err(stderr)) => panic!("seine exited before fault point {point}: {stderr}"),
        Err(_) => panic!("seine did not reach fault point {point} in 300 s"),
    }
}

fn top_ids(index: &Path, q: &str) -> String {
    stdout(&ok(&["search", path_str(index), q, "-k", "5", "--json"]))
}

#[test]
fn sigkill_leaves_no_index_or_the_previous_one() {
    let t = tempfile::tempdir().unwrap();
    let corpus = dataset("scifact").join("corpus.jsonl");
    let (small, bigger) = (t.path().join("small.jsonl"), t.path().join("bigger.jsonl"));
    head_lines(&corpus, 200, &small);
    head_lines(&corpus, 300, &bigger);
    let target = t.path().join("idx");

    // 1. Killed while committing a fresh index (every part written; then with the
    //    manifest written, just before the rename): nothing at the target.
    for point in ["commit-start", "commit-rename"] {
        kill_at(
            point,
            &["index", path_str(&bigger), "--out", path_str(&target)],
        );
        assert!(!target.exists(), "{point}: a half-written index is visible");
    }

    // 2. A committed index, then rebuilds killed at each commit point (before the
    //    manifest, before the new generation moves in, with the new generation in
    //    place but the manifest not yet switched): the old one still answers.
    ok(&["index", path_str(&small), "--out", path_str(&target)]);
    let q = "white matter diffusion tensor";
    let before = top_ids(&target, q);
    for point in ["commit-start", "commit-rename", "commit-manifest"] {
        kill_at(
            point,
            &[
                "index",
                path_str(&bigger),
                "--out",
                path_str(&target),
                "--overwrite",
            ],
        );
        let manifest = std::fs::read_to_string(target.join("manifest.json")).unwrap();
        assert!(
            manifest.contains("\"doc_count\": 200"),
            "{point}: {manifest}"
        );
        assert_eq!(top_ids(&target, q), before, "{point}");
    }

    // 3. The next build cleans the leftovers of the killed builds (staging folders, a
    //    generation the manifest never pointed to) and commits.
    ok(&[
        "index",
        path_str(&small),
        "--out",
        path_str(&target),
        "--overwrite",
    ]);
    assert!(leftovers(&target).is_empty(), "{:?}", leftovers(&target));
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
    let gens: Vec<_> = std::fs::read_dir(&target)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gen-"))
        .collect();
    assert_eq!(gens, vec!["gen-000002".to_string()]);
    assert_eq!(top_ids(&target, q), before);
}
