//! The peers of `seine bench scale --peers`, run on the same corpus and queries in the
//! same run through `$SEINE_PYTHON` (or `python3`): tantivy's own BM25 and bm25s for
//! bm25, Seismic for splade (`scripts/bench_*_scale.py`), hnswlib, faiss-cpu and usearch
//! for dense (`scripts/bench_dense_peers.py`, on the index's own `vectors.f32`);
//! `scripts/setup-bench-peers.sh` installs them. xtr-warp-rs for maxsim runs in its own
//! environment (`scripts/setup-warp-peer.sh`: it needs torch).

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
        // Its environment is optional (3.8 GB): without it the row goes on without it.
        RetrieverKind::Maxsim => match warp_peer(n, dir) {
            Ok(v) => add("xtrwarp", v),
            Err(e) => eprintln!("== maxsim, {n} documents: xtr-warp-rs skipped: {e:#}"),
        },
    }
    Ok(())
}

/// xtr-warp-rs on the documents and queries seine's search step wrote
/// (`bench_scale_maxsim::write_peer_data`), through `$SEINE_WARP_PYTHON` (default
/// `.venv-warp/bin/python`, made by `scripts/setup-warp-peer.sh`): its fastest point at
/// recall@10 ≥ 0.95 against exhaustive MaxSim, or its best recall when none reaches it.
fn warp_peer(n: usize, dir: &Path) -> anyhow::Result<serde_json::Value> {
    eprintln!("== maxsim, {n} documents: xtr-warp-rs (Python, CPU)");
    let python = std::env::var("SEINE_WARP_PYTHON").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".venv-warp/bin/python")
            .display()
            .to_string()
    });
    let threads = rayon::current_num_threads().to_string();
    let (d, q, l, t, w) = (
        dir.join("peer-docs.npy"),
        dir.join("peer-queries.npy"),
        dir.join("peer-query-lens.npy"),
        dir.join("peer-truth.npy"),
        dir.join("peer-warp"),
    );
    let v = run_peer_with(
        &python,
        "bench_warp_peer.py",
        &[
            ("--docs", d.as_os_str()),
            ("--queries", q.as_os_str()),
            ("--query-lens", l.as_os_str()),
            ("--truth", t.as_os_str()),
            ("--work", w.as_os_str()),
            ("--threads", OsStr::new(&threads)),
            ("--source", OsStr::new("disk")),
        ],
    )?;
    let _ = std::fs::remove_dir_all(&w);
    let _ = std::fs::remove_file(&d);
    let sweep = v["sweep"].as_array().cloned().unwrap_or_default();
    let recall = |p: &serde_json::Value| p["recall_at_10"].as_f64().unwrap_or(0.0);
    let best = if v["best_at_095"].is_object() {
        v["best_at_095"].clone()
    } else {
        sweep
            .iter()
            .max_by(|a, b| recall(a).total_cmp(&recall(b)))
            .cloned()
            .unwrap_or_default()
    };
    Ok(serde_json::json!({
        "engine": format!("{} {}", v["peer"].as_str().unwrap_or("?"), v["version"].as_str().unwrap_or("?")),
        "build_s": v["build_s"], "build_rss_mb": v["build_peak_rss_mb"],
        "bytes_per_doc": v["index_bytes"].as_f64().map(|b| b / n as f64),
        "centroids": v["index_meta"]["num_partitions"],
        "search_peak_rss_mb": v["search_peak_rss_mb"],
        "qps": best["qps"], "p50_ms": best["p50_ms"], "p99_ms": best["p99_ms"],
        "recall_at_10": best["recall_at_10"], "nprobe": best["params"]["nprobe"],
        "sweep": sweep,
    }))
}

/// Runs `scripts/<script>` with `$SEINE_PYTHON` (or `python3`); its stdout is JSON.
pub(super) fn run_peer(script: &str, args: &[(&str, &OsStr)]) -> anyhow::Result<serde_json::Value> {
    let python = std::env::var("SEINE_PYTHON").unwrap_or_else(|_| "python3".into());
    run_peer_with(&python, script, args)
}

/// Runs `scripts/<script>` with `python`; the last line of its stdout is JSON.
fn run_peer_with(
    python: &str,
    script: &str,
    args: &[(&str, &OsStr)],
) -> anyhow::Result<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let mut cmd = std::process::Command::new(python);
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
    if let Ok(v) = serde_json::from_slice(&o.stdout) {
        return Ok(v);
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(last).with_context(|| format!("the output of {script}"))
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
