//! Exact dynamic pruning (MaxScore with block-max bounds) against exhaustive search:
//! for random queries of 1–30 terms, random k, with and without filters, flat and
//! multifield, on SciFact and on a synthetic Zipf corpus, the pruned top k is the
//! exhaustive top k — the same ids in the same order and bit-identical scores (both sum
//! a document's clauses in the query's order) — and matches tantivy's `BooleanQuery`
//! path (the search before pruning) within rounding.

use std::path::PathBuf;

use seine_datasets::Doc;
use seine_datasets::beir::BeirDir;
use seine_index::lexical::{Bm25Mode, Bm25Params, LexicalIndex, Scan};
use seine_index::{
    BuildOptions, DocSet, IndexDir, IndexWriter, LexicalSettings, ScoredDoc, SourceInfo,
};
use seine_kernels::rng::splitmix;

fn scifact_docs() -> (Vec<Doc>, Vec<String>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact");
    let beir = BeirDir::open(&root).expect("../shared/datasets/scifact");
    let docs = beir.corpus().unwrap().map(Result::unwrap).collect();
    let queries = beir
        .queries()
        .unwrap()
        .into_iter()
        .map(|q| q.text)
        .collect();
    (docs, queries)
}

/// Zipf(1)-ish words by rank: a document draws from the whole vocabulary.
fn zipf_word(state: &mut u64, vocab: usize) -> String {
    let u = (splitmix(state) >> 11) as f64 / (1u64 << 53) as f64;
    // Inverse CDF of a continuous 1/x law on [1, vocab].
    let rank = (vocab as f64).powf(u) as usize;
    format!("w{rank}")
}

fn synthetic_docs(n: usize) -> Vec<Doc> {
    let mut s = 42u64;
    (0..n)
        .map(|i| {
            let len = 20 + (splitmix(&mut s) % 120) as usize;
            let text: Vec<String> = (0..len).map(|_| zipf_word(&mut s, 20_000)).collect();
            Doc {
                id: format!("d{i}"),
                title: if i % 3 == 0 {
                    zipf_word(&mut s, 20_000)
                } else {
                    String::new()
                },
                text: text.join(" "),
                metadata: Default::default(),
            }
        })
        .collect()
}

fn build(dir: &std::path::Path, docs: &[Doc], mode: Bm25Mode) -> LexicalIndex {
    let opts = BuildOptions::new(SourceInfo::default(), "test")
        .with_lexical(Some(LexicalSettings::new(mode, Bm25Params::default())))
        .with_threads(2);
    let mut w = IndexWriter::create(dir, opts).unwrap();
    for d in docs {
        w.add(d, None).unwrap();
    }
    let index = IndexDir::open(w.commit().unwrap().root()).unwrap();
    let lex = index.lexical().unwrap();
    assert!(lex.has_block_max(), "the commit writes the block-max table");
    lex
}

fn assert_same(pruned: &[ScoredDoc], exact: &[ScoredDoc], what: &str) {
    let p: Vec<(u32, u32)> = pruned.iter().map(|h| (h.doc, h.score.to_bits())).collect();
    let e: Vec<(u32, u32)> = exact.iter().map(|h| (h.doc, h.score.to_bits())).collect();
    assert_eq!(p, e, "{what}");
}

/// tantivy's path sums clauses in its own order: scores agree within rounding, and the
/// ids agree wherever neighbouring scores are not within rounding of each other.
fn assert_close(ours: &[ScoredDoc], tantivy: &[ScoredDoc], what: &str) {
    assert_eq!(ours.len(), tantivy.len(), "{what}");
    for (i, (a, b)) in ours.iter().zip(tantivy).enumerate() {
        assert!(
            (a.score - b.score).abs() <= 1e-5 * a.score.abs().max(1.0),
            "{what}: rank {i}: {} vs {}",
            a.score,
            b.score
        );
        let near_tie = ours
            .iter()
            .chain(tantivy)
            .any(|h| h.doc != a.doc && (h.score - a.score).abs() <= 1e-5 * a.score.abs().max(1.0));
        if !near_tie {
            assert_eq!(a.doc, b.doc, "{what}: rank {i}");
        }
    }
}

fn check(lex: &LexicalIndex, n_docs: usize, queries: &[String], seed: u64, label: &str) {
    let mut s = seed;
    let filters = [
        None,
        Some(DocSet::from_fn(n_docs, |d| {
            (u64::from(d) * 2_654_435_761) % 10 == 0
        })),
        Some(DocSet::from_fn(n_docs, |d| {
            (u64::from(d) * 40503) % 100 < 60
        })),
    ];
    for (qi, q) in queries.iter().enumerate() {
        let k = [1usize, 10, 10, 100][(splitmix(&mut s) % 4) as usize];
        let params = if qi % 5 == 4 {
            Bm25Params { k1: 1.2, b: 0.75 }
        } else {
            Bm25Params::default()
        };
        let allowed = filters[qi % filters.len()].as_ref();
        let what = format!(
            "{label} query {qi} {q:?} k {k} filter {}",
            qi % filters.len()
        );
        let exact = lex
            .search_mode(q, k, params, allowed, Scan::Exhaustive)
            .unwrap();
        for scan in [Scan::Pruned, Scan::TermBounds] {
            let got = lex.search_mode(q, k, params, allowed, scan).unwrap();
            assert_same(&got, &exact, &format!("{what} {scan:?}"));
        }
        let old = lex
            .search_mode(q, k, params, allowed, Scan::Tantivy)
            .unwrap();
        assert_close(&exact, &old, &what);
    }
}

/// Queries of 1–30 words drawn from documents (so they match), a few repeated words.
fn random_queries(docs: &[Doc], n: usize, seed: u64) -> Vec<String> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let len = 1 + (splitmix(&mut s) % 30) as usize;
            (0..len)
                .map(|_| {
                    let d = &docs[(splitmix(&mut s) % docs.len() as u64) as usize];
                    let words: Vec<&str> = d.text.split_whitespace().collect();
                    words[(splitmix(&mut s) % words.len().max(1) as u64) as usize].to_string()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn pruned_equals_exhaustive_on_scifact() {
    let (docs, mut queries) = scifact_docs();
    queries.truncate(150);
    queries.extend(random_queries(&docs, 150, 7));
    let tmp = tempfile::tempdir().unwrap();
    for mode in [Bm25Mode::Flat, Bm25Mode::Multifield] {
        let lex = build(&tmp.path().join(mode.to_string()), &docs, mode);
        check(&lex, docs.len(), &queries, 11, &format!("scifact {mode}"));
    }
}

#[test]
fn pruned_equals_exhaustive_on_a_zipf_corpus() {
    let docs = synthetic_docs(30_000);
    let queries = random_queries(&docs, 200, 9);
    let tmp = tempfile::tempdir().unwrap();
    for mode in [Bm25Mode::Flat, Bm25Mode::Multifield] {
        let lex = build(&tmp.path().join(mode.to_string()), &docs, mode);
        check(&lex, docs.len(), &queries, 13, &format!("zipf {mode}"));
    }
}

/// Without its table (an index written before it), the index still searches exactly,
/// pruning with per-term bounds; a damaged table is a clear error, not a wrong answer.
#[test]
fn a_missing_table_falls_back_and_a_damaged_one_is_refused() {
    let docs = synthetic_docs(3000);
    let tmp = tempfile::tempdir().unwrap();
    let lex = build(tmp.path(), &docs, Bm25Mode::Flat);
    let q = "w1 w17 w300 w4000";
    let want = lex
        .search_mode(q, 10, Bm25Params::default(), None, Scan::Exhaustive)
        .unwrap();
    drop(lex);
    let table = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("gen-"))
        .unwrap()
        .join("lexical")
        .join(seine_index::lexical::blockmax::FILE);
    let bytes = std::fs::read(&table).unwrap();
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&table, &bad).unwrap();
    let err = IndexDir::open(tmp.path())
        .and_then(|d| d.lexical())
        .err()
        .expect("a damaged table is refused");
    assert!(err.to_string().contains("block-max"), "{err}");
    // Gone from the folder: the manifest names it, so the index is refused.
    std::fs::remove_file(&table).unwrap();
    let Err(err) = IndexDir::open(tmp.path()) else {
        panic!("a missing table is refused");
    };
    assert!(err.to_string().contains("blockmax.bin"), "{err}");
    // An index written before the table (its manifest does not name one) searches
    // exactly with per-term bounds.
    let manifest = tmp.path().join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    m["files"].as_array_mut().unwrap().retain(|f| {
        !f.as_str()
            .unwrap()
            .ends_with(seine_index::lexical::blockmax::FILE)
    });
    std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let lex = IndexDir::open(tmp.path()).unwrap().lexical().unwrap();
    assert!(!lex.has_block_max());
    let got = lex.search(q, 10).unwrap();
    assert_same(&got, &want, "without the table");
}
