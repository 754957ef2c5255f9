//! Block-max pruning of SPLADE impacts against exhaustive search: for random queries of
//! 1–30 terms (some repeated, some unknown, some negative), random k, with and without
//! filters, over an index of several segments, the pruned exact top k is the
//! exhaustive top k — the same ids in the same order, scores bit for bit, ties by
//! `DocId` — and approximate search keeps its promises (alpha 1 is exact; a lower alpha
//! scores no more blocks, and its recall is measured, not assumed).

use seine_datasets::Doc;
use seine_index::sparse::{SparseScan, SparseSearch};
use seine_index::{
    BuildOptions, DocSet, IndexDir, IndexWriter, ScoredDoc, SourceInfo, SparseIndex, SparseSettings,
};
use seine_kernels::rng::splitmix;

fn unit(s: &mut u64) -> f32 {
    (splitmix(s) >> 40) as f32 / (1u64 << 24) as f32
}

/// Zipf(1)-ish term ranks over `vocab`, weights falling with the position in the
/// document (as SPLADE's sorted activations do), coarse enough for ties.
fn doc_terms(s: &mut u64, vocab: usize) -> Vec<(String, f32)> {
    let n = 1 + (splitmix(s) % 80) as usize;
    (0..n)
        .map(|j| {
            let rank = (vocab as f64).powf(f64::from(unit(s))) as usize;
            let w = (2.5 / (1.0 + j as f32 * 0.15) * (0.5 + unit(s))).max(0.01);
            (format!("t{rank}"), w)
        })
        .collect()
}

fn build(dir: &std::path::Path, docs: &[Vec<(String, f32)>]) -> SparseIndex {
    let opts = BuildOptions::new(SourceInfo::default(), "test")
        .with_sparse(Some(SparseSettings::new("test")))
        .with_threads(3);
    let mut w = IndexWriter::create(dir, opts).unwrap();
    for (i, d) in docs.iter().enumerate() {
        let doc = Doc {
            id: format!("d{i}"),
            ..Doc::default()
        };
        let terms: Vec<(&str, f32)> = d.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        w.add_with(&doc, None, Some(&terms)).unwrap();
    }
    let index = IndexDir::open(w.commit().unwrap().root()).unwrap();
    let sp = index.sparse().unwrap();
    assert!(sp.has_blocks(), "the commit writes the block-max table");
    sp
}

/// The exhaustive top k with `DocId` tie-breaks: every matching document from the
/// accumulator, sorted, cut.
fn oracle(
    sp: &SparseIndex,
    q: &[(&str, f32)],
    k: usize,
    allowed: Option<&DocSet>,
    n: usize,
) -> Vec<ScoredDoc> {
    let (mut all, _) = sp
        .search_scan(q, n, allowed, SparseScan::EXHAUSTIVE)
        .unwrap();
    seine_index::sort_hits(&mut all);
    all.truncate(k);
    all
}

fn bits(h: &[ScoredDoc]) -> Vec<(u32, u32)> {
    h.iter().map(|h| (h.doc, h.score.to_bits())).collect()
}

fn query(s: &mut u64, vocab: usize) -> Vec<(String, f32)> {
    let n = 1 + (splitmix(s) % 30) as usize;
    let mut q: Vec<(String, f32)> = (0..n)
        .map(|_| {
            let rank = (vocab as f64).powf(f64::from(unit(s))) as usize;
            (format!("t{rank}"), 0.05 + 2.0 * unit(s))
        })
        .collect();
    match splitmix(s) % 6 {
        0 => q.push(("unknown-term".into(), 1.0)),
        1 => q.push((q[0].0.clone(), 0.5)), // repeated: weights add up
        2 => q.push(("t1".into(), -0.7)),   // a negative weight
        _ => {}
    }
    q
}

#[test]
fn pruned_sparse_top_k_equals_exhaustive() {
    let vocab = 3000;
    let n = 12_000;
    let mut s = 7u64;
    let docs: Vec<Vec<(String, f32)>> = (0..n).map(|_| doc_terms(&mut s, vocab)).collect();
    let tmp = tempfile::tempdir().unwrap();
    let sp = build(&tmp.path().join("idx"), &docs);
    let filters = [
        DocSet::from_fn(n, |d| splitmix(&mut (u64::from(d) + 99)).is_multiple_of(10)),
        DocSet::from_fn(n, |d| d % 997 < 3),
        DocSet::empty(n),
    ];
    let (mut scored_exact, mut scored_approx) = (0usize, 0usize);
    let (mut hit, mut total) = (0usize, 0usize);
    for i in 0..150 {
        let q = query(&mut s, vocab);
        let refs: Vec<(&str, f32)> = q.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        let k = [1, 10, 100, 7][i % 4];
        let allowed = match i % 5 {
            0 => Some(&filters[0]),
            1 => Some(&filters[1]),
            2 if i % 3 == 0 => Some(&filters[2]),
            _ => None,
        };
        let want = oracle(&sp, &refs, k, allowed, n);
        if i % 10 == 0 {
            // Windows of any width score the same (the window cuts only the loop).
            for w in [1000, 4096, u32::MAX] {
                let (mut all, _) = sp
                    .search_scan(&refs, n, allowed, SparseScan::Accumulator(w))
                    .unwrap();
                seine_index::sort_hits(&mut all);
                all.truncate(k);
                assert_eq!(bits(&all), bits(&want), "window {w}");
            }
        }
        let (got, st) = sp
            .search_scan(&refs, k, allowed, SparseScan::Blocks(SparseSearch::Exact))
            .unwrap();
        assert_eq!(
            bits(&got),
            bits(&want),
            "query {i} k {k} filter {:?}",
            i % 5
        );
        assert!(st.scored <= st.candidates);
        let one = SparseScan::Blocks(SparseSearch::Approx {
            alpha: 1.0,
            query_cut: 0,
        });
        let (same, _) = sp.search_scan(&refs, k, allowed, one).unwrap();
        assert_eq!(bits(&same), bits(&want), "alpha 1 is exact");
        let half = SparseScan::Blocks(SparseSearch::Approx {
            alpha: 0.5,
            query_cut: 0,
        });
        let (approx, sa) = sp.search_scan(&refs, k, allowed, half).unwrap();
        assert!(
            sa.scored <= st.scored,
            "a lower alpha scores no more blocks"
        );
        // Whatever approximate search returns is scored exactly.
        for h in &approx {
            assert!(want.iter().any(|w| w == h) || h.score <= want.last().unwrap().score);
        }
        scored_exact += st.scored;
        scored_approx += sa.scored;
        hit += approx.iter().filter(|h| want.contains(h)).count();
        total += want.len();
        // The public entry points are the exact scan.
        if allowed.is_none() {
            assert_eq!(bits(&sp.search(&refs, k).unwrap()), bits(&want));
        }
    }
    assert!(
        scored_approx < scored_exact,
        "{scored_approx} vs {scored_exact}"
    );
    eprintln!(
        "blocks scored: exact {scored_exact}, alpha 0.5 {scored_approx}; alpha 0.5 recall {:.3}",
        hit as f64 / total as f64
    );
}

/// Damaged, missing and stale tables: a damaged one is a clear error at open, a missing
/// one falls back to the accumulator with the same results.
#[test]
fn damaged_or_missing_block_max_table() {
    let mut s = 11u64;
    let n = 2000;
    let docs: Vec<Vec<(String, f32)>> = (0..n).map(|_| doc_terms(&mut s, 500)).collect();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("idx");
    let sp = build(&root, &docs);
    let q = [("t3", 1.0f32), ("t17", 0.4), ("t120", 2.0)];
    let want = sp.search(&q, 10).unwrap();
    drop(sp);
    let dir = IndexDir::open(&root).unwrap();
    let file = std::fs::read_dir(root.join(format!("gen-{:06}", dir.manifest().generation)))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("blockmax.bin"))
        .find(|p| p.exists())
        .expect("blockmax.bin in the sparse folder");
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&file, &bad).unwrap();
    let err = dir.sparse().err().expect("a damaged table is refused");
    assert!(err.to_string().contains("block-max table"), "{err}");
    std::fs::write(&file, &good[..good.len() - 9]).unwrap();
    let err = dir.sparse().err().expect("a truncated table is refused");
    assert!(err.to_string().contains("block-max table"), "{err}");
    std::fs::remove_file(&file).unwrap();
    let sp = dir.sparse().unwrap();
    assert!(!sp.has_blocks());
    assert_eq!(bits(&sp.search(&q, 10).unwrap()), bits(&want));
}
