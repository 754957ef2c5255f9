//! Hard negatives mined by seine itself: each training query is searched in an index
//! of the corpus (any retriever set, fusion included); documents at ranks
//! `[from, to)` that are not judged relevant become its negatives, optionally passed
//! through the sieve (`loss::sieve`) that drops likely false negatives.
//!
//! The sieve's scores come from the index's dense model when it has one (cosine of
//! the query vector and the stored document vectors, so judged positives that the
//! search missed still count in the candidate list's mean), else from the mining
//! search's own scores over the retrieved list.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use seine_engine::{RetrieverSet, SearchRequest, Searcher};
use seine_index::IndexDir;

use crate::config::MineConfig;
use crate::data::Example;
use crate::loss::sieve;

/// What mining did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MineStats {
    pub queries: usize,
    /// Negatives kept (over all queries).
    pub negatives: usize,
    /// Candidates skipped because they are judged relevant.
    pub judged_skipped: usize,
    /// Candidates the sieve dropped.
    pub sieved: usize,
    /// Where the sieve's scores came from (`dense` or the retriever set).
    pub sieve_scores: String,
}

/// Mines negatives for `examples` (replacing what they had).
pub fn mine(
    examples: &mut [Example],
    judged: &HashMap<String, HashSet<String>>,
    docs: &HashMap<String, String>,
    index: &Path,
    cfg: &MineConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<MineStats> {
    let searcher = Searcher::open(IndexDir::open(index)?)
        .with_context(|| format!("opening the mining index {}", index.display()))?;
    let set: RetrieverSet = cfg.retriever.parse()?;
    searcher.check(&SearchRequest::new(set.clone(), cfg.to.max(1)))?;
    let dense = searcher.dense().filter(|_| cfg.filter);
    let mut stats = MineStats {
        queries: examples.len(),
        sieve_scores: match (cfg.filter, dense.is_some()) {
            (false, _) => "off".into(),
            (true, true) => "dense".into(),
            (true, false) => cfg.retriever.clone(),
        },
        ..Default::default()
    };
    let empty = HashSet::new();
    let total = examples.len();
    let req = SearchRequest::new(set, cfg.to);
    for (i, ex) in examples.iter_mut().enumerate() {
        let hits = searcher.search(&ex.query, &req)?;
        let rel = judged.get(&ex.qid).unwrap_or(&empty);
        if let Some(h) = hits.iter().find(|h| !docs.contains_key(&h.id)) {
            bail!(
                "the mining index {} holds document {:?}, which the training corpus does not: \
                 index the training corpus",
                index.display(),
                h.id
            );
        }
        let flagged: HashSet<String> = if cfg.filter {
            sieve_flags(&searcher, dense.is_some(), ex, rel, &hits, cfg)?
        } else {
            HashSet::new()
        };
        let mut negs = Vec::new();
        for h in hits.iter().skip(cfg.from).take(cfg.to - cfg.from) {
            if rel.contains(&h.id) {
                stats.judged_skipped += 1;
            } else if flagged.contains(&h.id) {
                stats.sieved += 1;
            } else {
                negs.push(h.id.clone());
            }
        }
        stats.negatives += negs.len();
        ex.negatives = negs;
        progress(i + 1, total);
    }
    Ok(stats)
}

/// The ids of the retrieved documents the sieve flags.
fn sieve_flags(
    searcher: &Searcher,
    use_dense: bool,
    ex: &Example,
    rel: &HashSet<String>,
    hits: &[seine_engine::Hit],
    cfg: &MineConfig,
) -> Result<HashSet<String>> {
    let (ids, scores): (Vec<&str>, Vec<f32>) = if use_dense {
        let dense = searcher.dense().expect("checked");
        let q = dense.encode_query(&ex.query)?;
        let score = |id: &str| -> Option<f32> {
            let doc = searcher.doc_map().internal(id)?;
            let v = dense.index().vector(doc)?;
            Some(v.iter().zip(&q).map(|(a, b)| a * b).sum())
        };
        let mut list: Vec<&str> = rel.iter().map(String::as_str).collect();
        list.sort_unstable();
        list.extend(
            hits.iter()
                .map(|h| h.id.as_str())
                .filter(|id| !rel.contains(*id)),
        );
        list.into_iter()
            .filter_map(|id| score(id).map(|s| (id, s)))
            .unzip()
    } else {
        hits.iter().map(|h| (h.id.as_str(), h.score)).unzip()
    };
    let flags = sieve(&scores, cfg.filter_temperature, cfg.filter_margin);
    Ok(ids
        .into_iter()
        .zip(flags)
        .filter(|(id, f)| *f && !rel.contains(*id))
        .map(|(id, _)| id.to_string())
        .collect())
}

/// First-stage candidates of the dev queries (the mining search, top
/// `dev_candidates`), which ColBERT dev evaluation reranks.
pub fn candidates(
    cfg: &crate::config::TrainConfig,
    dev: &[Example],
) -> Result<HashMap<String, Vec<String>>> {
    let Some(index) = &cfg.negatives.index else {
        bail!(
            "ColBERT dev evaluation reranks first-stage candidates: give a mining index \
             (--mine-index) or no dev split (--dev-fraction 0)"
        );
    };
    let searcher = Searcher::open(IndexDir::open(index)?)?;
    let set: RetrieverSet = cfg.negatives.retriever.parse()?;
    let req = SearchRequest::new(set, cfg.dev_candidates);
    dev.iter()
        .map(|ex| {
            let hits = searcher.search(&ex.query, &req)?;
            Ok((ex.qid.clone(), hits.into_iter().map(|h| h.id).collect()))
        })
        .collect()
}
