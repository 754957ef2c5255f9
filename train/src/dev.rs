//! Dev-split evaluation during training, with seine's own encoders (the model folder
//! as written, on the native backend) and metrics (`seine_eval`, trec_eval semantics):
//!
//! - dense: the whole corpus encoded, exact search, nDCG@10 of the dev queries;
//! - ColBERT: each dev query's first-stage candidates (the mining search, fixed at the
//!   start) reranked by MaxSim, nDCG@10.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::error::Result;
use candle_core::Device;
use seine_engine::model::ModelDir;
use seine_engine::{ColbertEncoder, DenseEncoder, Encoder, Side};
use seine_eval::{EvalOptions, Run, evaluate};

use crate::data::Example;

/// Documents encoded per call.
const CHUNK: usize = 256;

/// nDCG@10 of `run` against the judged sets.
pub fn ndcg10(run: &Run, dev: &[Example], judged: &HashMap<String, HashSet<String>>) -> f64 {
    let qrels: seine_datasets::beir::Qrels = dev
        .iter()
        .map(|e| {
            let j: BTreeMap<String, i32> = judged
                .get(&e.qid)
                .into_iter()
                .flatten()
                .map(|d| (d.clone(), 1))
                .collect();
            (e.qid.clone(), j)
        })
        .collect();
    let opts = EvalOptions {
        ks: vec![10],
        ignore_identical_ids: true,
    };
    evaluate(run, &qrels, &opts)
        .mean
        .get("ndcg_at_10")
        .copied()
        .unwrap_or(0.0)
}

/// Dense dev nDCG@10 of the model folder `dir` over the whole corpus.
pub fn dense(
    dir: &Path,
    dev: &[Example],
    docs: &[(String, String)],
    judged: &HashMap<String, HashSet<String>>,
) -> Result<f64> {
    let enc = DenseEncoder::load(&ModelDir::open(dir)?, &Device::Cpu)?;
    let mut vecs = Vec::with_capacity(docs.len() * enc.dim());
    for chunk in docs.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
        vecs.extend(enc.encode(&texts, Side::Document)?.data);
    }
    let queries: Vec<&str> = dev.iter().map(|e| e.query.as_str()).collect();
    let q = enc.encode(&queries, Side::Query)?;
    // The index's own exact search: the scores dense retrieval gives at search time.
    let index = seine_index::DenseIndex::from_vectors(enc.dim(), vecs);
    let mut run = Run::new();
    for (i, ex) in dev.iter().enumerate() {
        let hits = index.search_exact(q.row(i), 100)?;
        let scored = hits
            .iter()
            .map(|h| (docs[h.doc as usize].0.clone(), h.score as f64))
            .collect();
        run.insert(ex.qid.clone(), scored);
    }
    Ok(ndcg10(&run, dev, judged))
}

/// ColBERT dev nDCG@10: `candidates[qid]` reranked by MaxSim.
pub fn colbert(
    dir: &Path,
    dev: &[Example],
    candidates: &HashMap<String, Vec<String>>,
    docs: &HashMap<String, String>,
    judged: &HashMap<String, HashSet<String>>,
) -> Result<f64> {
    let enc = ColbertEncoder::load(&ModelDir::open(dir)?, &Device::Cpu)?;
    let dim = enc.dim();
    let mut ids: Vec<&String> = candidates.values().flatten().collect();
    ids.sort();
    ids.dedup();
    let mut tokens: HashMap<&str, Vec<f32>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|id| docs[*id].as_str()).collect();
        for (id, t) in chunk.iter().zip(enc.encode(&texts, Side::Document)?) {
            tokens.insert(id.as_str(), t);
        }
    }
    let mut run = Run::new();
    for ex in dev {
        let q = enc.encode(&[ex.query.as_str()], Side::Query)?.remove(0);
        let cands = candidates.get(&ex.qid).map(Vec::as_slice).unwrap_or(&[]);
        let scored = cands
            .iter()
            .map(|id| {
                let d = seine_kernels::Tokens::F32(&tokens[id.as_str()]);
                (id.clone(), seine_kernels::maxsim::maxsim(&q, dim, d) as f64)
            })
            .collect();
        run.insert(ex.qid.clone(), scored);
    }
    Ok(ndcg10(&run, dev, judged))
}
