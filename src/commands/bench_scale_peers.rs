//! The peers of `seine bench scale --peers`, run on the same corpus and queries in the
//! same run through `$SEINE_PYTHON` (or `python3`): tantivy's own BM25 and bm25s for
//! bm25, Seismic for splade (`scripts/bench_*_scale.py`), hnswlib, faiss-cpu and usearch
//! for dense (`scripts/bench_dense_peers.py`, on the index's own `vectors.f32`);
//! `scripts/setup-bench-peers.sh` installs them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use seine_engine::RetrieverKind;

use super::bench_scale_gen::Source;

/// The peers' figures on the same corpus and queries, into `row` as `peer_<name>_…`.
pub(super) fn peers(
    out: &Path,
    queries: usize,
    part: RetrieverKind,
    n: usize,
    src: &Source,
    dir: &Path,
    row: &mut serde_json::Value,
) -> anyhow::Result<()> {
    let mut add = |name: &str, v: serde_json::Value| {
        for (k, x) in v.as_object().into_iter().flatten() {
            row[format!("peer_{name}_{k}")] = x.clone();
        }
    };
    match part {
        RetrieverKind::Bm25 => {
            let (corpus, queries) = super::bench_scale_bm25::write_peer_data(out, n, queries, src)?;
            for (name, script) in [
                ("tantivy", "bench_tantivy_scale.py"),
                ("bm25s", "bench_bm25s_scale.py"),
            ] {
                eprintln!("== bm25, {n} documents: {name} (Python)");
                let args = [
                    ("--corpus", corpus.as_os_str()),
                    ("--queries", queries.as_os_str()),
                ];
                add(name, run_peer(script, &args)?);
            }
            let _ = std::fs::remove_file(&corpus);
        }
        RetrieverKind::Splade => {
            eprintln!("== splade, {n} documents: Seismic (pyseismic-lsr)");
            let (d, q, t) = (
                dir.join("peer-docs"),
                dir.join("peer-queries"),
                dir.join("peer-truth.json"),
            );
            add(
                "seismic",
                run_peer(
                    "bench_seismic_scale.py",
                    &[
                        ("--docs", d.as_os_str()),
                        ("--queries", q.as_os_str()),
                        ("--truth", t.as_os_str()),
                    ],
                )?,
            );
        }
        RetrieverKind::Dense => {
            let vectors = dense_vectors(dir)?;
            let qpath = dir.join("peer-queries.f32");
            let mut bytes = Vec::new();
            for q in 0..queries {
                // The queries seine's own search step used (bench_scale::search).
                for x in src.dense_query(q) {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
            }
            std::fs::write(&qpath, bytes)?;
            let dim = src.dense_query(0).len().to_string();
            let p = seine_index::HnswParams::default();
            let (m, efc) = (p.m.to_string(), p.ef_construction.to_string());
            eprintln!("== dense, {n} documents: hnswlib, faiss-cpu, usearch (Python)");
            let v = run_peer(
                "bench_dense_peers.py",
                &[
                    ("--vectors", vectors.as_os_str()),
                    ("--queries", qpath.as_os_str()),
                    ("--dim", OsStr::new(&dim)),
                    ("--m", OsStr::new(&m)),
                    ("--ef-construction", OsStr::new(&efc)),
                    // Past 0.99 a wider beam says nothing new.
                    ("--stop-at", OsStr::new("0.99")),
                    ("--repeat", OsStr::new("3")),
                ],
            )?;
            for (name, e) in v["engines"].as_object().into_iter().flatten() {
                let at = &e["at_target"];
                add(
                    name,
                    serde_json::json!({
                        "engine": e["engine"], "build_s": e["build_s"],
                        "build_rss_mb": e["build_rss_mb"],
                        "search_peak_rss_mb": e["search_peak_rss_mb"],
                        "ef": at["ef"], "qps": at["qps"], "recall_at_10": at["recall"],
                        "p50_ms": at["p50_ms"], "p99_ms": at["p99_ms"],
                    }),
                );
            }
            let _ = std::fs::remove_file(&qpath);
        }
        _ => {}
    }
    Ok(())
}

/// Runs `scripts/<script>` with `$SEINE_PYTHON` (or `python3`); its stdout is JSON.
pub(super) fn run_peer(script: &str, args: &[(&str, &OsStr)]) -> anyhow::Result<serde_json::Value> {
    let python = std::env::var("SEINE_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(&path);
    for (flag, p) in args {
        cmd.arg(flag).arg(p);
    }
    let o = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {python} {}", path.display()))?;
    if !o.status.success() {
        bail!(
            "the peer {script} failed ({}): are the peers installed for {python}? (scripts/setup-bench-peers.sh)",
            o.status
        );
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

/// The index's raw vectors (`<generation>/dense/vectors.f32`): the peers read the very
/// bytes seine searched.
fn dense_vectors(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path().join("dense").join("vectors.f32");
        if p.is_file() {
            found.push(p);
        }
    }
    found.sort();
    found
        .pop()
        .with_context(|| format!("no dense/vectors.f32 under {}", dir.display()))
}
