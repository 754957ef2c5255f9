//! Retrieval measures with trec_eval semantics, as `pytrec_eval` computes them for BEIR:
//!
//! - the run is ranked by score descending, ties broken by document id descending
//!   (trec_eval's order; the ranks written in a run file are ignored);
//! - a document is relevant when its grade is ≥ 1; unjudged documents are not relevant;
//! - nDCG uses the grade itself as gain and `log2(rank + 1)` as discount, the ideal
//!   ranking being all judged documents sorted by grade (`ndcg_cut_k`);
//! - MAP@k divides by the number of relevant documents (`map_cut_k`), P@k by k
//!   (`P_k`), Recall@k by the number of relevant documents (`recall_k`); MRR@k is the
//!   reciprocal rank of the first relevant document within the top k (`recip_rank` on
//!   the run cut at k);
//! - BEIR's rule: a hit whose id equals the query id is dropped (on by default);
//! - queries with no relevant document are skipped; a judged query with no hit at all
//!   counts as zero (BEIR would silently drop it; seine does not inflate scores).

use std::collections::BTreeMap;

use seine_datasets::beir::Qrels;

use crate::Run;

/// Measures of one query (or their mean), keyed like MTEB: `ndcg_at_10`, ...
pub type Measures = BTreeMap<String, f64>;

/// The cut-offs computed for every measure.
pub const DEFAULT_KS: [usize; 7] = [1, 3, 5, 10, 20, 100, 1000];

/// Options of [`evaluate`].
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub ks: Vec<usize>,
    /// Drop hits whose document id equals the query id (BEIR's `ignore_identical_ids`).
    pub ignore_identical_ids: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            ks: DEFAULT_KS.to_vec(),
            ignore_identical_ids: true,
        }
    }
}

/// Per-query measures and their means.
#[derive(Debug, Clone, Default)]
pub struct MeasureSet {
    pub per_query: BTreeMap<String, Measures>,
    pub mean: Measures,
}

/// Ranks a query's hits in trec_eval order: score descending, then id descending.
pub fn trec_order(hits: &[(String, f64)]) -> Vec<(&str, f64)> {
    let mut v: Vec<(&str, f64)> = hits.iter().map(|(d, s)| (d.as_str(), *s)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(a.0)));
    v
}

/// Measures of one query. `judged` maps document id → grade.
pub fn query_measures(
    ranked: &[(&str, f64)],
    judged: &BTreeMap<String, i32>,
    ks: &[usize],
) -> Measures {
    let num_rel = judged.values().filter(|&&g| g >= 1).count();
    let mut ideal: Vec<f64> = judged
        .values()
        .filter(|&&g| g > 0)
        .map(|&g| g as f64)
        .collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let grade = |d: &str| judged.get(d).copied().unwrap_or(0);

    let mut m = Measures::new();
    for &k in ks {
        let top = &ranked[..ranked.len().min(k)];
        let mut dcg = 0.0;
        let mut rel_found = 0usize;
        let mut ap = 0.0;
        let mut first_rel = None;
        for (i, (doc, _)) in top.iter().enumerate() {
            let g = grade(doc);
            if g > 0 {
                dcg += g as f64 / ((i + 2) as f64).log2();
            }
            if g >= 1 {
                rel_found += 1;
                ap += rel_found as f64 / (i + 1) as f64;
                first_rel.get_or_insert(i + 1);
            }
        }
        let idcg: f64 = ideal
            .iter()
            .take(k)
            .enumerate()
            .map(|(i, g)| g / ((i + 2) as f64).log2())
            .sum();
        let nr = num_rel as f64;
        m.insert(
            format!("ndcg_at_{k}"),
            if idcg > 0.0 { dcg / idcg } else { 0.0 },
        );
        m.insert(format!("map_at_{k}"), if nr > 0.0 { ap / nr } else { 0.0 });
        m.insert(
            format!("recall_at_{k}"),
            if nr > 0.0 { rel_found as f64 / nr } else { 0.0 },
        );
        m.insert(format!("precision_at_{k}"), rel_found as f64 / k as f64);
        m.insert(
            format!("mrr_at_{k}"),
            first_rel.map_or(0.0, |r| 1.0 / r as f64),
        );
    }
    m
}

/// Evaluates a run against judgments (see the module docs for the exact semantics).
pub fn evaluate(run: &Run, qrels: &Qrels, opts: &EvalOptions) -> MeasureSet {
    let empty = Vec::new();
    let mut out = MeasureSet::default();
    for (qid, judged) in qrels {
        if !judged.values().any(|&g| g >= 1) {
            continue;
        }
        let hits = run.get(qid).unwrap_or(&empty);
        let hits: Vec<(String, f64)> = hits
            .iter()
            .filter(|(d, _)| !(opts.ignore_identical_ids && d == qid))
            .cloned()
            .collect();
        let ranked = trec_order(&hits);
        out.per_query
            .insert(qid.clone(), query_measures(&ranked, judged, &opts.ks));
    }
    let n = out.per_query.len() as f64;
    for m in out.per_query.values() {
        for (k, v) in m {
            *out.mean.entry(k.clone()).or_default() += v / n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    #[test]
    fn hand_computed_query() {
        // ranking: a (rel 2), x (unjudged), b (rel 1), c (rel 0); relevant: a, b, d
        let ranked = [("a", 4.0), ("x", 3.0), ("b", 2.0), ("c", 1.0)];
        let j = judged(&[("a", 2), ("b", 1), ("c", 0), ("d", 1)]);
        let m = query_measures(&ranked, &j, &[3]);
        let dcg = 2.0 + 1.0 / 4f64.log2();
        let idcg = 2.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((m["ndcg_at_3"] - dcg / idcg).abs() < 1e-12);
        assert!((m["map_at_3"] - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((m["recall_at_3"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m["precision_at_3"] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m["mrr_at_3"], 1.0);
    }

    #[test]
    fn ties_break_by_doc_id_descending() {
        let hits = vec![
            ("a".to_string(), 1.0),
            ("b".to_string(), 1.0),
            ("c".to_string(), 2.0),
        ];
        let order: Vec<&str> = trec_order(&hits).iter().map(|x| x.0).collect();
        assert_eq!(order, vec!["c", "b", "a"]);
    }

    #[test]
    fn identical_ids_and_unjudged_queries() {
        let mut run = Run::default();
        run.insert("q1".into(), vec![("q1".into(), 9.0), ("d1".into(), 1.0)]);
        run.insert("q2".into(), vec![("d2".into(), 1.0)]);
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), judged(&[("d1", 1)]));
        qrels.insert("q2".into(), judged(&[("d2", 0)])); // no relevant doc: skipped
        qrels.insert("q3".into(), judged(&[("d3", 1)])); // no hits: counts as 0
        let r = evaluate(&run, &qrels, &EvalOptions::default());
        assert_eq!(r.per_query.len(), 2);
        assert_eq!(r.per_query["q1"]["mrr_at_10"], 1.0);
        assert_eq!(r.mean["mrr_at_10"], 0.5);
        let keep = EvalOptions {
            ignore_identical_ids: false,
            ..EvalOptions::default()
        };
        assert_eq!(
            evaluate(&run, &qrels, &keep).per_query["q1"]["mrr_at_10"],
            0.5
        );
    }
}
