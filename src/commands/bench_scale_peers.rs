//! The peers of `seine bench scale --peers`, run on the same corpus and queries in the
//! same run through `$SEINE_PYTHON` (or `python3`): tantivy's own BM25 and bm25s for
//! bm25, Seismic for splade (`scripts/bench_*_scale.py`; `scripts/setup-bench-peers.sh`
//! installs them).

use std::path::Path;

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
                    ("--corpus", corpus.as_path()),
                    ("--queries", queries.as_path()),
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
                    &[("--docs", &d), ("--queries", &q), ("--truth", &t)],
                )?,
            );
        }
        _ => {}
    }
    Ok(())
}

/// Runs `scripts/<script>` with `$SEINE_PYTHON` (or `python3`); its stdout is JSON.
pub(super) fn run_peer(script: &str, args: &[(&str, &Path)]) -> anyhow::Result<serde_json::Value> {
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
