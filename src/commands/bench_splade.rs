//! `seine bench splade`: the impact index against brute force over unquantized
//! vectors (quality and latency), and query encoding latency.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use seine_datasets::beir::BeirDir;
use seine_engine::Searcher;
use seine_index::IndexDir;

#[derive(clap::Args)]
pub struct SpladeBench {
    /// BEIR dataset folder.
    dataset: PathBuf,
    #[arg(long, default_value = "test")]
    split: String,
    /// An index with a SPLADE part (`seine index --sparse ...`).
    #[arg(long)]
    index: PathBuf,
    /// The same model's document vectors, unquantized: Parquet (id, terms, weights)
    /// from `seine embed --sparse` (the brute-force side).
    #[arg(long)]
    doc_vectors: PathBuf,
    /// Hits per query for the latency figures.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Timed passes over all queries (all latencies pooled).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Write the query vectors (Parquet id, terms, weights) here, for other engines.
    #[arg(long)]
    export_queries: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// The brute-force side: the unquantized document vectors of `path`, by DocId, terms
/// as vocabulary ids.
fn brute_force_docs(searcher: &Searcher, path: &Path) -> anyhow::Result<Vec<(Vec<u32>, Vec<f32>)>> {
    let enc = searcher.sparse().expect("checked").encoder();
    let rows = seine_datasets::sparse_io::read_sparse(path)?;
    let map = searcher.doc_map();
    if rows.len() != map.len() {
        bail!(
            "{} has {} rows, the index {} documents",
            path.display(),
            rows.len(),
            map.len()
        );
    }
    let mut docs: Vec<(Vec<u32>, Vec<f32>)> = vec![(Vec::new(), Vec::new()); map.len()];
    for (id, terms, weights) in rows {
        let doc = map.internal(&id).ok_or_else(|| {
            anyhow::anyhow!("document {id:?} of the vectors file is not in the index")
        })?;
        let ids = terms
            .iter()
            .map(|t| {
                enc.term_id(t)
                    .ok_or_else(|| anyhow::anyhow!("term {t:?} not in the vocabulary"))
            })
            .collect::<anyhow::Result<Vec<u32>>>()?;
        docs[doc as usize] = (ids, weights);
    }
    Ok(docs)
}

/// Exact top-`k` by sparse dot product over unquantized document vectors.
fn brute_force_top(
    docs: &[(Vec<u32>, Vec<f32>)],
    dense_q: &[f32],
    k: usize,
) -> Vec<seine_index::ScoredDoc> {
    let mut scored: Vec<seine_index::ScoredDoc> = docs
        .iter()
        .enumerate()
        .filter_map(|(i, (t, w))| {
            let s: f32 = t
                .iter()
                .zip(w)
                .map(|(&t, &w)| dense_q[t as usize] * w)
                .sum();
            (s > 0.0).then(|| seine_index::ScoredDoc::new(i as u32, s))
        })
        .collect();
    let k = k.min(scored.len());
    if k > 0 {
        scored.select_nth_unstable_by(k - 1, seine_index::ScoredDoc::rank_cmp);
    }
    scored.truncate(k);
    seine_index::sort_hits(&mut scored);
    scored
}

/// Block-max pruning checked on every query: the exact pruned top k (k 10 and 1000)
/// against the exhaustive accumulator's (every match, ties by `DocId`), bit for bit;
/// approximate search's recall@10 against exact search.
#[derive(Default)]
struct Pruning {
    queries: usize,
    mismatches: usize,
    approx_hits: [usize; 3],
    approx_total: usize,
}

const APPROX: [f32; 3] = [0.9, 0.8, 0.7];

impl Pruning {
    fn check(
        &mut self,
        idx: &seine_index::SparseIndex,
        q: &[(&str, f32)],
        n: usize,
    ) -> anyhow::Result<()> {
        use seine_index::sparse::{SparseScan, SparseSearch};
        let (mut all, _) = idx.search_scan(q, n, None, SparseScan::EXHAUSTIVE)?;
        seine_index::sort_hits(&mut all);
        let bits = |h: &[seine_index::ScoredDoc]| -> Vec<(u32, u32)> {
            h.iter().map(|h| (h.doc, h.score.to_bits())).collect()
        };
        let mut exact10 = Vec::new();
        for k in [10, 1000] {
            let (got, _) = idx.search_scan(q, k, None, SparseScan::Blocks(SparseSearch::Exact))?;
            self.mismatches += usize::from(bits(&got) != bits(&all[..k.min(all.len())]));
            if k == 10 {
                exact10 = got.iter().map(|h| h.doc).collect();
            }
        }
        for (i, alpha) in APPROX.into_iter().enumerate() {
            let scan = SparseScan::Blocks(SparseSearch::Approx {
                alpha,
                query_cut: 0,
            });
            let (got, _) = idx.search_scan(q, 10, None, scan)?;
            self.approx_hits[i] += got.iter().filter(|h| exact10.contains(&h.doc)).count();
        }
        self.approx_total += exact10.len();
        self.queries += 1;
        Ok(())
    }

    fn json(&self) -> serde_json::Value {
        let recall: serde_json::Map<String, serde_json::Value> = APPROX
            .iter()
            .zip(self.approx_hits)
            .map(|(a, h)| {
                (
                    format!("approx:{a}"),
                    serde_json::json!(h as f64 / self.approx_total.max(1) as f64),
                )
            })
            .collect();
        serde_json::json!({
            "queries": self.queries, "exact_mismatches_k10_k1000": self.mismatches,
            "approx_recall_at_10_vs_exact": recall,
        })
    }
}

pub fn run(a: SpladeBench) -> anyhow::Result<()> {
    use seine_engine::Side;
    use seine_eval::metrics::{EvalOptions, evaluate};
    use seine_eval::runner::Split;
    if a.repeat == 0 || a.k == 0 {
        bail!("--repeat and -k must be at least 1");
    }
    let beir = BeirDir::open(&a.dataset)?;
    let split = Split::load(&beir, &a.split)?;
    let searcher = Searcher::open(IndexDir::open(&a.index)?)?;
    let sp = searcher
        .sparse()
        .ok_or_else(|| anyhow::anyhow!("{} has no SPLADE part", a.index.display()))?;
    let enc = sp.encoder();
    let vocab = enc.vocab().len();
    let docs = brute_force_docs(&searcher, &a.doc_vectors)?;
    let map = searcher.doc_map();
    let depth = 1000;
    let (mut enc_lat, mut idx_lat, mut bf_lat) = (Vec::new(), Vec::new(), Vec::new());
    let mut run_index = seine_eval::Run::new();
    let mut run_brute = seine_eval::Run::new();
    let mut qterms_all = Vec::new();
    let mut dense_q = vec![0f32; vocab];
    let mut pruning = Pruning::default();
    for pass in 0..=a.repeat {
        for q in &split.queries {
            let t = Instant::now();
            let v = enc.encode(&[q.text.as_str()], Side::Query)?.remove(0);
            let enc_s = t.elapsed().as_secs_f64();
            let terms: Vec<(String, f32)> = enc.named_terms(&v);
            let refs: Vec<(&str, f32)> = terms.iter().map(|(t, w)| (t.as_str(), *w)).collect();
            let t = Instant::now();
            let hits = std::hint::black_box(sp.index().search(&refs, a.k)?);
            let idx_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            for (&t, &w) in v.terms.iter().zip(&v.weights) {
                dense_q[t as usize] = w;
            }
            let bf = std::hint::black_box(brute_force_top(&docs, &dense_q, a.k));
            for &t in &v.terms {
                dense_q[t as usize] = 0.0;
            }
            let bf_s = t.elapsed().as_secs_f64();
            drop((hits, bf));
            if pass == 0 {
                // Untimed warm-up pass; it also produces the runs evaluated.
                let deep = sp.index().search(&refs, depth)?;
                for (&t, &w) in v.terms.iter().zip(&v.weights) {
                    dense_q[t as usize] = w;
                }
                let deep_bf = brute_force_top(&docs, &dense_q, depth);
                for &t in &v.terms {
                    dense_q[t as usize] = 0.0;
                }
                let named = |h: Vec<seine_index::ScoredDoc>| -> Vec<(String, f64)> {
                    h.into_iter()
                        .map(|h| {
                            (
                                map.external(h.doc).unwrap_or_default().to_string(),
                                f64::from(h.score),
                            )
                        })
                        .collect()
                };
                pruning.check(sp.index(), &refs, map.len())?;
                run_index.insert(q.id.clone(), named(deep));
                run_brute.insert(q.id.clone(), named(deep_bf));
                qterms_all.push((q.id.clone(), terms));
                continue;
            }
            enc_lat.push(enc_s);
            idx_lat.push(idx_s);
            bf_lat.push(bf_s);
        }
    }
    if let Some(path) = &a.export_queries {
        let mut w = seine_datasets::sparse_io::SparseWriter::create(path)?;
        let rows: Vec<(&str, Vec<(String, f32)>)> = qterms_all
            .iter()
            .map(|(id, t)| (id.as_str(), t.clone()))
            .collect();
        w.write(&rows)?;
        w.finish()?;
    }
    let opts = EvalOptions::default();
    let mi = evaluate(&run_index, &split.qrels, &opts).mean;
    let mb = evaluate(&run_brute, &split.qrels, &opts).mean;
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize] * 1e3
    };
    let stats =
        |v: &mut Vec<f64>| serde_json::json!({"p50_ms": pct(v, 0.5), "p99_ms": pct(v, 0.99)});
    let threads = rayon::current_num_threads();
    let body = serde_json::json!({
        "bench": "splade", "dataset": beir.name(), "split": a.split, "model": enc.name(),
        "queries": split.queries.len(), "k": a.k, "threads": threads, "repeat": a.repeat,
        "docs": docs.len(),
        "avg_doc_terms": docs.iter().map(|d| d.0.len()).sum::<usize>() as f64 / docs.len().max(1) as f64,
        "avg_query_terms": qterms_all.iter().map(|q| q.1.len()).sum::<usize>() as f64 / qterms_all.len().max(1) as f64,
        "ndcg_at_10": {"impact_index": mi["ndcg_at_10"], "brute_force_unquantized": mb["ndcg_at_10"]},
        "recall_at_100": {"impact_index": mi["recall_at_100"], "brute_force_unquantized": mb["recall_at_100"]},
        "pruning": pruning.json(),
        "latency": {
            "encode": stats(&mut enc_lat),
            "impact_search": stats(&mut idx_lat),
            "brute_force_search": stats(&mut bf_lat),
        },
    });
    if a.json {
        println!("{body}");
    } else {
        println!("{}", serde_json::to_string_pretty(&body)?);
    }
    Ok(())
}
