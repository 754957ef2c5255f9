//! `seine bench scale`'s splade rows beyond the main (exact, pruned) timing: the
//! exhaustive accumulator with and without windows, approximate search at several
//! `alpha`s with recall@10 against exact search, a 10 % filter, the exactness check,
//! and the data Seismic (the peer) reads: the same documents and queries as CSR `.npy`
//! arrays and the exact top 10 as the truth its recall is measured against.

use std::path::Path;
use std::time::Instant;

use seine_index::SparseIndex;
use seine_index::sparse::{SparseScan, SparseSearch};

use super::bench_scale_gen::Source;

const K: usize = 10;

/// The approximate searches measured: `alpha` × query cut (0: every term).
fn approx_modes() -> Vec<SparseSearch> {
    let mut out = Vec::new();
    for alpha in [0.9, 0.7, 0.5] {
        for query_cut in [0, 20, 10, 5] {
            out.push(SparseSearch::Approx { alpha, query_cut });
        }
    }
    out
}

fn refs(q: &[(String, f32)]) -> Vec<(&str, f32)> {
    q.iter().map(|(t, w)| (t.as_str(), *w)).collect()
}

/// Into `extra`: every scan's queries/s, approximate recall@10, blocks scored, the
/// filtered figure and the number of queries whose pruned top 10 differs from the
/// exhaustive one (scores compared bit for bit; ids may differ only among ties).
pub(super) fn scans(
    idx: &SparseIndex,
    n: usize,
    qs: &[Vec<(String, f32)>],
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let mut put = |k: String, v: serde_json::Value| extra.insert(k, v);
    put("has_blocks".into(), serde_json::json!(idx.has_blocks()));
    let time = |scan: SparseScan, allowed: Option<&seine_index::DocSet>| -> anyhow::Result<f64> {
        let t = Instant::now();
        for q in qs {
            std::hint::black_box(idx.search_scan(&refs(q), K, allowed, scan)?);
        }
        Ok(qs.len() as f64 / t.elapsed().as_secs_f64())
    };
    put(
        "accumulator_qps".into(),
        serde_json::json!(time(SparseScan::EXHAUSTIVE, None)?),
    );
    put(
        "accumulator_unwindowed_qps".into(),
        serde_json::json!(time(SparseScan::Accumulator(u32::MAX), None)?),
    );
    let allowed = seine_index::DocSet::from_fn(n, |d| (u64::from(d) * 2_654_435_761) % 10 == 0);
    put(
        "filtered10_qps".into(),
        serde_json::json!(time(
            SparseScan::Blocks(SparseSearch::Exact),
            Some(&allowed)
        )?),
    );
    let mut exact = Vec::with_capacity(qs.len());
    let (mut mismatches, mut scored, mut candidates) = (0usize, 0usize, 0usize);
    for q in qs {
        let (hits, st) =
            idx.search_scan(&refs(q), K, None, SparseScan::Blocks(SparseSearch::Exact))?;
        let (oracle, _) = idx.search_scan(&refs(q), K, None, SparseScan::EXHAUSTIVE)?;
        let bits =
            |h: &[seine_index::ScoredDoc]| h.iter().map(|h| h.score.to_bits()).collect::<Vec<_>>();
        mismatches += usize::from(bits(&hits) != bits(&oracle));
        scored += st.scored;
        candidates += st.candidates;
        exact.push(hits.iter().map(|h| h.doc).collect::<Vec<_>>());
    }
    put("pruned_mismatches".into(), serde_json::json!(mismatches));
    put(
        "blocks_scored_mean".into(),
        serde_json::json!(scored as f64 / qs.len() as f64),
    );
    put(
        "blocks_candidate_mean".into(),
        serde_json::json!(candidates as f64 / qs.len() as f64),
    );
    let mut modes = Vec::new();
    for mode in approx_modes() {
        let scan = SparseScan::Blocks(mode);
        let qps = time(scan, None)?;
        let (mut hit, mut total) = (0usize, 0usize);
        for (q, want) in qs.iter().zip(&exact) {
            let (got, _) = idx.search_scan(&refs(q), K, None, scan)?;
            hit += got.iter().filter(|h| want.contains(&h.doc)).count();
            total += want.len();
        }
        let recall = hit as f64 / total.max(1) as f64;
        modes.push(
            serde_json::json!({"mode": mode.to_string(), "qps": qps, "recall_at_10": recall}),
        );
    }
    // The fastest at recall@10 ≥ 0.95 (exact search counts: its recall is 1).
    let best = modes
        .iter()
        .filter(|m| m["recall_at_10"].as_f64() >= Some(0.95))
        .max_by(|a, b| {
            a["qps"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["qps"].as_f64().unwrap_or(0.0))
        })
        .cloned();
    put("approx".into(), serde_json::json!(modes));
    put("approx_best".into(), serde_json::json!(best));
    Ok(())
}

/// A little-endian 1-d `.npy` file (`descr` such as `<i8`, `<f4`).
/// A whole `.npy` file of this dtype and shape.
pub(super) fn write_npy(
    path: &Path,
    descr: &str,
    shape: &[usize],
    bytes: &[u8],
) -> anyhow::Result<()> {
    let mut out = npy_header(descr, shape);
    out.extend_from_slice(bytes);
    std::fs::write(path, out)?;
    Ok(())
}

/// The header of a version-1 `.npy` file of this dtype and shape (C order); the data
/// follows it.
pub(super) fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: String = shape.iter().map(|d| format!("{d}, ")).collect();
    let dims = if shape.len() == 1 {
        dims.trim_end().to_string()
    } else {
        dims.trim_end_matches(", ").to_string()
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// Sparse vectors as CSR arrays in `dir` (`components.npy` int64 ascending within a
/// row, `values.npy` float32, `offsets.npy` int64): term `t<rank>` is component
/// `rank`; a term repeated in a vector adds up, as the index does.
fn write_csr(dir: &Path, rows: impl Iterator<Item = Vec<(String, f32)>>) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (mut comps, mut vals, mut offs) = (Vec::new(), Vec::new(), vec![0u8; 8]);
    let mut count = 0usize;
    let mut rows_n = 0usize;
    for row in rows {
        let mut v: Vec<(i64, f32)> = row
            .iter()
            .filter_map(|(t, w)| Some((t.strip_prefix('t')?.parse().ok()?, *w)))
            .collect();
        v.sort_by_key(|p| p.0);
        v.dedup_by(|b, a| {
            let same = a.0 == b.0;
            if same {
                a.1 += b.1;
            }
            same
        });
        for (c, w) in v {
            comps.extend_from_slice(&c.to_le_bytes());
            vals.extend_from_slice(&w.to_le_bytes());
            count += 1;
        }
        offs.extend_from_slice(&(count as i64).to_le_bytes());
        rows_n += 1;
    }
    write_npy(&dir.join("components.npy"), "<i8", &[count], &comps)?;
    write_npy(&dir.join("values.npy"), "<f4", &[count], &vals)?;
    write_npy(&dir.join("offsets.npy"), "<i8", &[rows_n + 1], &offs)?;
    Ok(())
}

/// The peer's inputs inside the index folder `out`: the documents (`peer-docs/`), the
/// queries (`peer-queries/`) and the exact top 10 per query (`peer-truth.json`, by
/// document number — documents are added in order, so `DocId` = number).
pub(super) fn write_peer_data(
    out: &Path,
    n: usize,
    queries: usize,
    src: &Source,
) -> anyhow::Result<()> {
    write_csr(
        &out.join("peer-docs"),
        (0..n as u64).map(|i| src.splade_doc(i)),
    )?;
    let qs: Vec<Vec<(String, f32)>> = (0..queries).map(|q| src.splade_query(q)).collect();
    write_csr(&out.join("peer-queries"), qs.iter().cloned())?;
    let idx = seine_index::IndexDir::open(out)?.sparse()?;
    let truth = qs
        .iter()
        .map(|q| {
            Ok(idx
                .search(&refs(q), K)?
                .iter()
                .map(|h| h.doc)
                .collect::<Vec<_>>())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    std::fs::write(out.join("peer-truth.json"), serde_json::to_vec(&truth)?)?;
    Ok(())
}

/// The splade lines of a row (when it has them).
pub(super) fn print_rows(r: &serde_json::Value) {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    if r.get("accumulator_qps").is_none() {
        return;
    }
    println!(
        "        splade {}: exact pruned {:.0} q/s ({:.1}x the exhaustive accumulator, {:.0} q/s; unwindowed {:.0}); {:.0} of {:.0} candidate blocks scored; 10 % filter {:.0} q/s; pruned != exhaustive on {} queries",
        r["corpus"].as_str().unwrap_or(""),
        f("qps"),
        f("qps") / f("accumulator_qps"),
        f("accumulator_qps"),
        f("accumulator_unwindowed_qps"),
        f("blocks_scored_mean"),
        f("blocks_candidate_mean"),
        f("filtered10_qps"),
        r["pruned_mismatches"],
    );
    let approx: Vec<String> = r["approx"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{}: {:.0} q/s, recall@10 {:.3}",
                m["mode"].as_str().unwrap_or(""),
                m["qps"].as_f64().unwrap_or(f64::NAN),
                m["recall_at_10"].as_f64().unwrap_or(f64::NAN)
            )
        })
        .collect();
    println!("        splade approx: {}", approx.join("; "));
    let ours = r["approx_best"]["qps"]
        .as_f64()
        .unwrap_or(0.0)
        .max(f("qps"));
    if let Some(best) = r.get("peer_seismic_best").filter(|b| !b.is_null()) {
        println!(
            "        Seismic (pyseismic-lsr, Python) at recall@10 >= 0.95: {:.0} q/s (query_cut {}, heap_factor {}, recall {:.3}); seine's fastest at recall >= 0.95 / Seismic = {:.2}x",
            best["qps"].as_f64().unwrap_or(f64::NAN),
            best["query_cut"],
            best["heap_factor"],
            best["recall_at_10"].as_f64().unwrap_or(f64::NAN),
            ours / best["qps"].as_f64().unwrap_or(f64::NAN)
        );
    }
}
