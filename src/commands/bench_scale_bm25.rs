//! `seine bench scale`'s bm25 rows beyond the main timing: every scan of the same
//! queries side by side, a filter, the exactness check, and tantivy's own BM25 as the
//! peer on the same corpus and queries.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use seine_index::lexical::{Bm25Params, LexicalIndex, Scan};

use super::bench_scale::Gen;

const K: usize = 10;

/// The stress and tail query sets through every scan (the path before pruning, per-
/// term bounds only, every posting) and through the pruned scan inside a 10 % filter;
/// the pruned top 10 checked against the exhaustive one on every query. Into `extra`.
pub(super) fn scans(
    idx: &LexicalIndex,
    n: usize,
    stress: &[String],
    tail: &[String],
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let params = Bm25Params::default();
    for (set, texts) in [("", stress), ("tail_", tail)] {
        for (name, scan) in [
            ("pruned", Scan::Pruned),
            ("term_bounds", Scan::TermBounds),
            ("exhaustive", Scan::Exhaustive),
            ("tantivy_path", Scan::Tantivy),
        ] {
            if set.is_empty() && scan == Scan::Pruned {
                continue; // the main row above
            }
            let t = Instant::now();
            for text in texts.iter() {
                std::hint::black_box(idx.search_mode(text, K, params, None, scan)?);
            }
            extra.insert(
                format!("{set}{name}_qps"),
                serde_json::json!(texts.len() as f64 / t.elapsed().as_secs_f64()),
            );
        }
        let mut mismatches = 0;
        for text in texts.iter() {
            let a = idx.search_mode(text, K, params, None, Scan::Pruned)?;
            let b = idx.search_mode(text, K, params, None, Scan::Exhaustive)?;
            mismatches += usize::from(a != b);
        }
        extra.insert(
            format!("{set}pruned_mismatches"),
            serde_json::json!(mismatches),
        );
    }
    // A filter of 10 % of the documents: pruned inside the filter.
    let allowed = seine_index::DocSet::from_fn(n, |d| (u64::from(d) * 2_654_435_761) % 10 == 0);
    for (name, texts) in [("filtered10_qps", stress), ("tail_filtered10_qps", tail)] {
        let t = Instant::now();
        for text in texts.iter() {
            std::hint::black_box(idx.search_mode(text, K, params, Some(&allowed), Scan::Pruned)?);
        }
        extra.insert(
            name.into(),
            serde_json::json!(texts.len() as f64 / t.elapsed().as_secs_f64()),
        );
    }
    Ok(())
}

/// Writes the bm25 corpus and both query sets of size `n` (the same generator as the
/// build and search steps) and runs tantivy's own BM25 on them.
pub(super) fn tantivy_peer(
    out: &Path,
    n: usize,
    queries: usize,
) -> anyhow::Result<serde_json::Value> {
    use std::io::Write;
    let g = Gen::new();
    let corpus = out.join("peer-corpus.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&corpus)?);
    for i in 0..n as u64 {
        serde_json::to_writer(
            &mut f,
            &serde_json::json!({"id": format!("d{i}"), "text": g.text(i, 100, 1)}),
        )?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    drop(f);
    let qn = |q: usize| (q as u64).wrapping_mul(7919) % n as u64;
    let sets = serde_json::json!({
        "": (0..queries).map(|q| g.text(qn(q), 5, 1)).collect::<Vec<_>>(),
        "tail_": (0..queries).map(|q| g.tail_text(qn(q), 5, 1, 100)).collect::<Vec<_>>(),
    });
    let qpath = out.join("peer-queries.json");
    std::fs::write(&qpath, serde_json::to_vec(&sets)?)?;
    let python = std::env::var("SEINE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_tantivy_scale.py");
    let o = std::process::Command::new(&python)
        .arg(&script)
        .arg("--corpus")
        .arg(&corpus)
        .arg("--queries")
        .arg(&qpath)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {} {}", python, script.display()))?;
    let _ = std::fs::remove_file(&corpus);
    if !o.status.success() {
        bail!(
            "the tantivy peer failed ({}): is `tantivy` installed for {python}?",
            o.status
        );
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

/// The bm25 lines of a row (when it has them).
pub(super) fn print_rows(r: &serde_json::Value) {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    if r.get("tantivy_path_qps").is_some() {
        for set in ["", "tail_"] {
            let g = |k: &str| f(&format!("{set}{k}"));
            let pruned = if set.is_empty() {
                f("qps")
            } else {
                g("pruned_qps")
            };
            println!(
                "        bm25 {} queries: pruned {:.0} q/s ({:.1}x the path before pruning, {:.0} q/s), term bounds only {:.0}, exhaustive {:.0}; 10 % filter {:.0} q/s; pruned != exhaustive on {} queries",
                if set.is_empty() {
                    "stress"
                } else {
                    "tail (no top-100 words)"
                },
                pruned,
                pruned / g("tantivy_path_qps"),
                g("tantivy_path_qps"),
                g("term_bounds_qps"),
                g("exhaustive_qps"),
                g("filtered10_qps"),
                r[format!("{set}pruned_mismatches")],
            );
            if let Some(t) = r[format!("peer_tantivy_{set}qps")].as_f64() {
                println!(
                    "        tantivy's own BM25 (Python bindings, block-max WAND) on the same {} queries: {:.0} q/s, p50 {:.2} ms; seine pruned / tantivy = {:.2}x",
                    if set.is_empty() { "stress" } else { "tail" },
                    t,
                    f(&format!("peer_tantivy_{set}p50_ms")),
                    pruned / t
                );
            }
        }
    }
}
