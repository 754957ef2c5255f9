//! SIGKILL during `seine index`: the target is absent, or still the previous committed
//! index, which opens and answers.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{dataset, head_lines, leftovers, ok, path_str, seine, stdout};

/// Starts `seine index`, waits until its staging folder exists in `watch` and has been
/// written to for a moment, then kills it with SIGKILL.
fn kill_mid_build(args: &[&str], watch: &Path) {
    let mut child = seine()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if !leftovers(watch).is_empty() {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "indexing finished before it could be killed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no staging folder appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "indexing finished before it could be killed"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
}

fn top_ids(index: &Path, q: &str) -> String {
    stdout(&ok(&["search", path_str(index), q, "-k", "5", "--json"]))
}

#[test]
fn sigkill_leaves_no_index_or_the_previous_one() {
    let t = tempfile::tempdir().unwrap();
    let big = dataset("hotpotqa-distractor").join("corpus.jsonl");
    let target = t.path().join("idx");

    // 1. Killed while building a fresh index: nothing at the target.
    kill_mid_build(
        &[
            "index",
            path_str(&big),
            "--out",
            path_str(&target),
            "--threads",
            "1",
        ],
        t.path(),
    );
    assert!(!target.exists(), "a half-written index is visible");

    // 2. A committed index, then a rebuild killed mid-way: the old one still answers.
    let small = t.path().join("small.jsonl");
    head_lines(&dataset("scifact").join("corpus.jsonl"), 200, &small);
    ok(&["index", path_str(&small), "--out", path_str(&target)]);
    let q = "white matter diffusion tensor";
    let before = top_ids(&target, q);
    kill_mid_build(
        &[
            "index",
            path_str(&big),
            "--out",
            path_str(&target),
            "--overwrite",
            "--threads",
            "1",
        ],
        &target,
    );
    let manifest = std::fs::read_to_string(target.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"doc_count\": 200"), "{manifest}");
    assert_eq!(top_ids(&target, q), before);

    // 3. The next build cleans the leftovers of both killed builds and commits.
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
