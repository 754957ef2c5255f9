//! `seine bench scale`'s bm25 rows beyond the main timing: every scan of the same
//! queries side by side, a filter, the exactness check, and tantivy's own BM25 as the
//! peer on the same corpus and queries.

use std::path::{Path, PathBuf};
use std::time::Instant;

use seine_index::lexical::{Bm25Params, LexicalIndex, Scan};

use super::bench_scale_gen::Source;

const K: usize = 10;

/// Every query set through every scan (the path before pruning, per-term bounds only,
/// every posting) and through the pruned scan inside a 10 % filter; the pruned top 10
/// checked against the exhaustive one on every query. Into `extra`, keys prefixed by
/// the set's name (the first set's pruned figure is the row's main one).
pub(super) fn scans(
    idx: &LexicalIndex,
    n: usize,
    sets: &[(&str, Vec<String>)],
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let params = Bm25Params::default();
    let allowed = seine_index::DocSet::from_fn(n, |d| (u64::from(d) * 2_654_435_761) % 10 == 0);
    for (i, (set, texts)) in sets.iter().enumerate() {
        let mut put = |key: &str, v: serde_json::Value| extra.insert(format!("{set}{key}"), v);
        for (name, scan, filter) in [
            ("pruned", Scan::Pruned, None),
            ("term_bounds", Scan::TermBounds, None),
            ("exhaustive", Scan::Exhaustive, None),
            ("tantivy_path", Scan::Tantivy, None),
            ("filtered10", Scan::Pruned, Some(&allowed)),
        ] {
            if i == 0 && name == "pruned" {
                continue; // the main row
            }
            let t = Instant::now();
            for text in texts.iter() {
                std::hint::black_box(idx.search_mode(text, K, params, filter, scan)?);
            }
            put(
                &format!("{name}_qps"),
                serde_json::json!(texts.len() as f64 / t.elapsed().as_secs_f64()),
            );
        }
        let mut mismatches = 0;
        for text in texts.iter() {
            let a = idx.search_mode(text, K, params, None, Scan::Pruned)?;
            let b = idx.search_mode(text, K, params, None, Scan::Exhaustive)?;
            mismatches += usize::from(a != b);
        }
        put("pruned_mismatches", serde_json::json!(mismatches));
    }
    Ok(())
}

/// Writes the bm25 corpus and query sets of size `n` (the same generator as the build
/// and search steps) for the peers: (corpus JSONL, queries JSON).
pub(super) fn write_peer_data(
    out: &Path,
    n: usize,
    queries: usize,
    src: &Source,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    use std::io::Write;
    let corpus = out.join("peer-corpus.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&corpus)?);
    for i in 0..n as u64 {
        serde_json::to_writer(
            &mut f,
            &serde_json::json!({"id": format!("d{i}"), "text": src.bm25_doc(i)}),
        )?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    let sets: serde_json::Map<String, serde_json::Value> = src
        .bm25_queries(queries)
        .into_iter()
        .map(|(name, texts)| (name.to_string(), serde_json::json!(texts)))
        .collect();
    let qpath = out.join("peer-queries.json");
    std::fs::write(&qpath, serde_json::to_vec(&sets)?)?;
    Ok((corpus, qpath))
}

/// The bm25 lines of a row (when it has them).
pub(super) fn print_rows(r: &serde_json::Value) {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    if r.get("tantivy_path_qps").is_none() {
        return;
    }
    let calibrated = r["corpus"] == "calibrated";
    for set in ["", "tail_"] {
        if set == "tail_" && r.get("tail_pruned_qps").is_none() {
            continue;
        }
        let g = |k: &str| f(&format!("{set}{k}"));
        let pruned = if set.is_empty() {
            f("qps")
        } else {
            g("pruned_qps")
        };
        let name = match (calibrated, set) {
            (true, _) => "calibrated",
            (false, "") => "stress",
            _ => "tail (no top-100 words)",
        };
        println!(
            "        bm25 {name} queries: pruned {pruned:.0} q/s ({:.1}x the path before pruning, {:.0} q/s), term bounds only {:.0}, exhaustive {:.0}; 10 % filter {:.0} q/s; pruned != exhaustive on {} queries",
            pruned / g("tantivy_path_qps"),
            g("tantivy_path_qps"),
            g("term_bounds_qps"),
            g("exhaustive_qps"),
            g("filtered10_qps"),
            r[format!("{set}pruned_mismatches")],
        );
        for (peer, what) in [
            (
                "tantivy",
                "tantivy's own BM25 (Python bindings, block-max WAND)",
            ),
            ("bm25s", "bm25s (Python, one query at a time)"),
        ] {
            if let Some(t) = r[format!("peer_{peer}_{set}qps")].as_f64() {
                println!(
                    "        {what} on the same {name} queries: {t:.0} q/s, p50 {:.2} ms; seine pruned / {peer} = {:.2}x",
                    f(&format!("peer_{peer}_{set}p50_ms")),
                    pruned / t
                );
            }
        }
    }
}
