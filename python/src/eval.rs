//! `seine.evaluate` and TREC run / qrels interop (the dict layout `pytrec_eval` and
//! `ranx` take: `{query_id: {doc_id: score}}` and `{query_id: {doc_id: grade}}`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use seine_datasets::beir::BeirDir;
use seine_engine::model::{DeviceSpec, resolve_device};
use seine_engine::settings::{DEFAULT_FLIPR_K, DEFAULT_RERANK_DEPTH};
use seine_engine::{QueryParams, RetrieverSet, SearchRequest, Searcher};
use seine_eval::metrics::{EvalOptions, MeasureSet};
use seine_eval::run::Run;
use seine_eval::runner::{RunSpec, Split, run_beir};
use seine_index::lexical::Bm25Mode;
use seine_index::{
    BuildOptions, DenseSettings, GraphMode, LexicalSettings, SourceInfo, SparseSettings,
};

use crate::{data_err, engine_err, eval_err, parse};

fn run_dict<'py>(py: Python<'py>, run: &Run) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for (q, hits) in run {
        let d = PyDict::new(py);
        for (doc, score) in hits {
            d.set_item(doc, score)?;
        }
        out.set_item(q, d)?;
    }
    Ok(out)
}

fn measures_dict<'py>(
    py: Python<'py>,
    m: &MeasureSet,
    per_query: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for (k, v) in &m.mean {
        out.set_item(k, v)?;
    }
    if per_query {
        let pq = PyDict::new(py);
        for (q, ms) in &m.per_query {
            pq.set_item(q, ms.clone())?;
        }
        out.set_item("per_query", pq)?;
    }
    Ok(out)
}

/// Evaluates a retriever on a BEIR split — `seine eval` with the same settings and
/// defaults: the index under `<out>/indexes/` is reused when it matches, built
/// otherwise (or `index=` names one). Returns the mean measures
/// (`{"ndcg_at_10": ..., "recall_at_100": ...}`); with `return_run=True`, the
/// tuple `(measures, run)` with `run = {query_id: {doc_id: score}}`. `progress`:
/// lines on stderr while an index is built.
#[pyfunction]
#[pyo3(signature = (dataset, *, split = "test", retriever = "bm25", dense = None,
    sparse = None, multi = None, fusion = "rrf", weights = None, rerank = None,
    rerank_depth = DEFAULT_RERANK_DEPTH, flipr_k = DEFAULT_FLIPR_K, bm25_mode = "flat",
    k1 = None, b = None, depth = 1000, index = None, out = PathBuf::from("results"),
    rebuild = false, keep_identical_ids = false, per_query = false, return_run = false,
    device = "cpu", progress = true))]
#[allow(clippy::too_many_arguments)]
pub fn evaluate<'py>(
    py: Python<'py>,
    dataset: PathBuf,
    split: &str,
    retriever: &str,
    dense: Option<&str>,
    sparse: Option<&str>,
    multi: Option<&str>,
    fusion: &str,
    weights: Option<Vec<f32>>,
    rerank: Option<&str>,
    rerank_depth: usize,
    flipr_k: usize,
    bm25_mode: &str,
    k1: Option<f32>,
    b: Option<f32>,
    depth: usize,
    index: Option<PathBuf>,
    out: PathBuf,
    rebuild: bool,
    keep_identical_ids: bool,
    per_query: bool,
    return_run: bool,
    device: &str,
    progress: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if depth == 0 {
        return Err(PyValueError::new_err("depth must be at least 1"));
    }
    let set: RetrieverSet = parse("retriever", retriever)?;
    let params = crate::index::bm25_params(k1, b)?;
    let mode: Bm25Mode = parse("bm25_mode", bm25_mode)?;
    let (fusion, rerank) = crate::index::pipeline(fusion, weights, rerank, rerank_depth, flipr_k)?;
    fusion.validate(set.parts().len()).map_err(engine_err)?;
    let spec: DeviceSpec = parse("device", device)?;
    let explicit = index.is_some();
    let result = py
        .detach(|| -> Result<_, seine_eval::Error> {
            let beir = BeirDir::open(&dataset)?;
            let split = Split::load(&beir, split)?;
            let path = index.unwrap_or_else(|| {
                seine_engine::build::default_eval_index(
                    &out,
                    &beir.name(),
                    mode,
                    dense,
                    sparse,
                    multi,
                )
            });
            let opts = BuildOptions::new(
                SourceInfo::of(beir.root(), "beir"),
                "python: seine.evaluate",
            )
            .with_lexical(Some(LexicalSettings::new(mode, params)))
            .with_dense(dense.map(|m| DenseSettings::new(m, GraphMode::Auto, Default::default())))
            .with_sparse(sparse.map(SparseSettings::new))
            .with_multi(
                multi.map(|m| {
                    seine_index::MultiSettings::new(m, seine_index::VectorDtype::default())
                }),
            );
            let dev = resolve_device(spec)?;
            let mut log = crate::LogProgress::new("indexed", progress);
            let line = crate::LogProgress::new("", progress);
            let dir = seine_engine::build::open_or_build(
                beir.root(),
                &path,
                opts,
                &Default::default(),
                &dev,
                seine_engine::build::Reuse { explicit, rebuild },
                &mut |m| line.line(m),
                &mut |p, n| log.update(p, n),
            )?;
            let searcher = Searcher::open_on(dir, &dev)?;
            let spec = RunSpec {
                request: SearchRequest {
                    retrievers: set,
                    k: depth,
                    fusion,
                    rerank,
                    params: QueryParams {
                        bm25: Some(params),
                        ..QueryParams::default()
                    },
                    filter: None,
                },
                depth,
                eval: EvalOptions {
                    ignore_identical_ids: !keep_identical_ids,
                    ..EvalOptions::default()
                },
            };
            run_beir(&split, &searcher, &spec, &|| {})
        })
        .map_err(eval_err)?;
    let measures = measures_dict(py, &result.measures, per_query)?;
    if return_run {
        Ok((measures, run_dict(py, &result.run)?)
            .into_pyobject(py)?
            .into_any())
    } else {
        Ok(measures.into_any())
    }
}

/// Reads a qrels file (BEIR TSV with a header, or TREC `qid 0 doc grade`) as
/// `{query_id: {doc_id: grade}}`.
#[pyfunction]
pub fn read_qrels(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<BTreeMap<String, BTreeMap<String, i32>>> {
    py.detach(|| seine_datasets::beir::read_qrels(&path))
        .map_err(data_err)
}

/// Reads a TREC run file as `{query_id: {doc_id: score}}`.
#[pyfunction]
pub fn read_trec_run(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<BTreeMap<String, BTreeMap<String, f64>>> {
    let run = py
        .detach(|| seine_eval::run::read_trec(&path))
        .map_err(eval_err)?;
    Ok(run
        .into_iter()
        .map(|(q, hits)| (q, hits.into_iter().collect()))
        .collect())
}

/// Writes `{query_id: {doc_id: score}}` as a TREC run file (hits in trec_eval order,
/// ranks from 1), as `seine eval` writes its runs.
#[pyfunction]
#[pyo3(signature = (run, path, tag = "seine"))]
pub fn write_trec_run(
    py: Python<'_>,
    run: BTreeMap<String, BTreeMap<String, f64>>,
    path: PathBuf,
    tag: &str,
) -> PyResult<()> {
    let run: Run = run
        .into_iter()
        .map(|(q, hits)| (q, hits.into_iter().collect()))
        .collect();
    py.detach(|| seine_eval::run::write_trec(&path, &run, tag))
        .map_err(eval_err)
}

/// seine's measures (trec_eval semantics) of a run against judgments, both dicts.
#[pyfunction]
#[pyo3(signature = (run, qrels, ignore_identical_ids = true))]
pub fn evaluate_run<'py>(
    py: Python<'py>,
    run: BTreeMap<String, BTreeMap<String, f64>>,
    qrels: BTreeMap<String, BTreeMap<String, i32>>,
    ignore_identical_ids: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let run: Run = run
        .into_iter()
        .map(|(q, hits)| (q, hits.into_iter().collect()))
        .collect();
    let opts = EvalOptions {
        ignore_identical_ids,
        ..EvalOptions::default()
    };
    let m = py.detach(|| seine_eval::metrics::evaluate(&run, &qrels, &opts));
    measures_dict(py, &m, false)
}
