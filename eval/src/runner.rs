//! The BEIR runner: retrieve for every judged query of a split, evaluate, time it.

use std::time::Instant;

use rayon::prelude::*;
use seine_datasets::Query;
use seine_datasets::beir::{BeirDir, Qrels};
use seine_engine::{SearchRequest, Searcher};

use crate::metrics::{EvalOptions, MeasureSet, evaluate};
use crate::{Error, Result, Run};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The search each query runs (retrievers, fusion, rerank, parameters, filter);
    /// its `k` is set from `depth`.
    pub request: SearchRequest,
    /// Hits kept per query (the deepest cut-off evaluated).
    pub depth: usize,
    pub eval: EvalOptions,
}

/// The outcome of a BEIR evaluation.
#[derive(Debug, Clone)]
pub struct BeirResult {
    pub dataset: String,
    pub split: String,
    pub retriever: String,
    pub queries: usize,
    pub run: Run,
    pub measures: MeasureSet,
    /// Wall time of retrieval over all queries.
    pub search_seconds: f64,
}

/// Retrieves `depth` hits for each query as `request` says, in parallel over queries.
pub fn retrieve_all(
    searcher: &Searcher,
    request: &SearchRequest,
    queries: &[Query],
    depth: usize,
    on_done: &(dyn Fn() + Sync),
) -> Result<Run> {
    // BEIR drops a hit equal to the query id: fetch one more so `depth` remain.
    let req = SearchRequest {
        k: depth + 1,
        ..request.clone()
    };
    // Fail early on an unknown retriever rather than once per query.
    searcher.check(&req)?;
    let hits = queries
        .par_iter()
        .map(|q| {
            let hits = searcher.search(&q.text, &req)?;
            on_done();
            let hits = hits.into_iter().map(|h| (h.id, f64::from(h.score)));
            Ok((q.id.clone(), hits.collect()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(hits.into_iter().collect())
}

/// A BEIR split read and checked: the judged queries and their judgments.
#[derive(Debug, Clone)]
pub struct Split {
    pub dataset: String,
    pub name: String,
    pub queries: Vec<Query>,
    pub qrels: Qrels,
}

impl Split {
    /// Reads `queries.jsonl` and `qrels/<split>.tsv`; errors name file and line.
    pub fn load(dir: &BeirDir, split: &str) -> Result<Self> {
        let (queries, qrels) = dir.split(split)?;
        if queries.is_empty() {
            return Err(Error::Empty(format!(
                "{}: no query of queries.jsonl is judged in {}",
                dir.root().display(),
                dir.qrels_path(split).display()
            )));
        }
        Ok(Split {
            dataset: dir.name(),
            name: split.to_string(),
            queries,
            qrels,
        })
    }
}

/// Runs a BEIR split end to end with an open searcher.
pub fn run_beir(
    split: &Split,
    searcher: &Searcher,
    spec: &RunSpec,
    on_query: &(dyn Fn() + Sync),
) -> Result<BeirResult> {
    let start = Instant::now();
    let mut run = retrieve_all(
        searcher,
        &spec.request,
        &split.queries,
        spec.depth,
        on_query,
    )?;
    let search_seconds = start.elapsed().as_secs_f64();
    for hits in run.values_mut() {
        hits.truncate(spec.depth + 1);
    }
    let measures = evaluate(&run, &split.qrels, &spec.eval);
    Ok(BeirResult {
        dataset: split.dataset.clone(),
        split: split.name.clone(),
        retriever: spec.request.retrievers.to_string(),
        queries: split.queries.len(),
        run,
        measures,
        search_seconds,
    })
}
