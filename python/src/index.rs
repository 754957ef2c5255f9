//! `seine.Index`: build, open, search, write and compact an index.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use seine_engine::build::VectorFiles;
use seine_engine::model::{DeviceSpec, resolve_device};
use seine_engine::multihop::MultiHop;
use seine_engine::settings::{DEFAULT_FLIPR_K, DEFAULT_K, DEFAULT_RERANK_DEPTH};
use seine_engine::{
    Fusion, FusionMethod, QueryParams, Rerank, RerankKind, RetrieverSet, SearchRequest, Searcher,
};
use seine_index::lexical::{Bm25Mode, Bm25Params};
use seine_index::{
    BuildOptions, DenseSettings, GraphMode, HnswParams, IndexDir, LexicalSettings, MultiSettings,
    SourceInfo, SparseSettings,
};

use crate::{engine_err, parse, to_py};

/// An open index: every retriever it has, its write-ahead log, compaction.
#[pyclass(frozen, module = "seine", name = "Index")]
pub struct Index {
    /// Swapped for the new generation's searcher after a compaction.
    searcher: RwLock<Arc<Searcher>>,
}

impl Index {
    fn current(&self) -> Arc<Searcher> {
        self.searcher.read().expect("not poisoned").clone()
    }

    /// Runs a write on the current searcher, again on the next one if a compaction
    /// retired it meanwhile.
    fn write<T>(
        &self,
        f: impl Fn(&Searcher) -> seine_engine::Result<T>,
    ) -> seine_engine::Result<T> {
        for _ in 0..10_000 {
            match f(&self.current()) {
                Err(seine_engine::Error::Retired) => std::thread::yield_now(),
                r => return r,
            }
        }
        Err(seine_engine::Error::Retired)
    }

    fn from_dir(dir: IndexDir, device: &str) -> PyResult<Self> {
        let spec: DeviceSpec = parse("device", device)?;
        let searcher = resolve_device(spec)
            .and_then(|d| Searcher::open_on(dir, &d))
            .map_err(engine_err)?;
        Ok(Index {
            searcher: RwLock::new(Arc::new(searcher)),
        })
    }
}

/// The settings `seine index` flags parse into, from keyword arguments.
struct Parts<'a> {
    dense: Option<&'a str>,
    sparse: Option<&'a str>,
    multi: Option<&'a str>,
    hnsw: &'a str,
    dense_quantization: &'a str,
    multi_compression: &'a str,
    sparse_top_k: Option<usize>,
    sparse_threshold: f32,
    fields: Vec<seine_engine::FieldSpec>,
}

/// `fields=["year:integer", "type:keyword"]` (or one comma-separated string).
fn field_specs(fields: Option<Vec<String>>) -> PyResult<Vec<seine_engine::FieldSpec>> {
    fields
        .unwrap_or_default()
        .iter()
        .flat_map(|f| f.split(','))
        .filter(|f| !f.trim().is_empty())
        .map(|f| parse("fields", f))
        .collect()
}

/// `filter=`: an expression string or its JSON form as a dict.
fn filter_arg(filter: Option<&Bound<'_, PyAny>>) -> PyResult<Option<seine_engine::Filter>> {
    let Some(f) = filter.filter(|f| !f.is_none()) else {
        return Ok(None);
    };
    let v = crate::from_py(f)?;
    seine_engine::Filter::from_json(&v)
        .map(Some)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

impl Parts<'_> {
    fn options(&self, lexical: LexicalSettings) -> PyResult<BuildOptions> {
        let dense = match self.dense {
            Some(m) => {
                let mode: GraphMode = parse("hnsw", self.hnsw)?;
                Some(DenseSettings {
                    quantization: parse("dense_quantization", self.dense_quantization)?,
                    ..DenseSettings::new(m, mode, HnswParams::default())
                })
            }
            None => None,
        };
        let multi = match self.multi {
            Some(m) => Some(MultiSettings {
                compression: parse("multi_compression", self.multi_compression)?,
                ..MultiSettings::new(m, seine_index::VectorDtype::default())
            }),
            None => None,
        };
        Ok(
            BuildOptions::new(SourceInfo::default(), "python: seine.Index.build")
                .with_lexical(Some(lexical))
                .with_dense(dense)
                .with_sparse(self.sparse.map(|m| SparseSettings {
                    top_k: self.sparse_top_k,
                    threshold: self.sparse_threshold,
                    ..SparseSettings::new(m)
                }))
                .with_multi(multi)
                .with_fields(self.fields.clone()),
        )
    }
}

/// BM25 parameters from keyword arguments (the index defaults where not given).
pub(crate) fn bm25_params(k1: Option<f32>, b: Option<f32>) -> PyResult<Bm25Params> {
    let d = Bm25Params::default();
    let params = Bm25Params {
        k1: k1.unwrap_or(d.k1),
        b: b.unwrap_or(d.b),
    };
    params.validate().map_err(|e| engine_err(e.into()))?;
    Ok(params)
}

/// Fusion and rerank of one search, from keyword arguments (the CLI's defaults).
pub(crate) fn pipeline(
    fusion: &str,
    weights: Option<Vec<f32>>,
    rerank: Option<&str>,
    rerank_depth: usize,
    flipr_k: usize,
) -> PyResult<(Fusion, Option<Rerank>)> {
    let fusion = Fusion {
        method: parse::<FusionMethod>("fusion", fusion)?,
        weights: weights.unwrap_or_default(),
        ..Fusion::default()
    };
    let rerank = match rerank {
        Some(kind) => {
            let r = Rerank::new(parse::<RerankKind>("rerank", kind)?, rerank_depth, flipr_k);
            r.validate().map_err(engine_err)?;
            Some(r)
        }
        None => None,
    };
    Ok((fusion, rerank))
}

#[pymethods]
impl Index {
    /// Indexes `corpus` (a BEIR folder, `.jsonl`, `.parquet` or a folder of text files)
    /// into `out` — what `seine index` does with the same settings. `dense_vectors` /
    /// `sparse_vectors` / `multi_vectors`: Parquet files or shard folders
    /// (`seine.ray.encode`) used instead of encoding the documents. `progress`: a line
    /// on stderr every 5 s (documents, docs/s, share of the input read). `fields`:
    /// metadata fields to store for filters, `["year:integer", "type:keyword"]`
    /// (keyword, integer, float, date), as `seine index --fields`.
    #[staticmethod]
    #[pyo3(signature = (corpus, out, *, dense = None, sparse = None, multi = None,
        bm25_mode = "flat", k1 = None, b = None, hnsw = "auto", dense_quantization = "none",
        multi_compression = "none", sparse_top_k = None, sparse_threshold = 0.0,
        dense_vectors = None, sparse_vectors = None, multi_vectors = None, overwrite = false,
        device = "cpu", progress = true, fields = None))]
    #[allow(clippy::too_many_arguments)]
    fn build(
        py: Python<'_>,
        corpus: PathBuf,
        out: PathBuf,
        dense: Option<&str>,
        sparse: Option<&str>,
        multi: Option<&str>,
        bm25_mode: &str,
        k1: Option<f32>,
        b: Option<f32>,
        hnsw: &str,
        dense_quantization: &str,
        multi_compression: &str,
        sparse_top_k: Option<usize>,
        sparse_threshold: f32,
        dense_vectors: Option<PathBuf>,
        sparse_vectors: Option<PathBuf>,
        multi_vectors: Option<PathBuf>,
        overwrite: bool,
        device: &str,
        progress: bool,
        fields: Option<Vec<String>>,
    ) -> PyResult<Self> {
        if dense_vectors.is_some() && dense.is_none() {
            return Err(PyValueError::new_err(
                "dense_vectors needs dense= (the model that encodes queries)",
            ));
        }
        if sparse_vectors.is_some() && sparse.is_none() {
            return Err(PyValueError::new_err(
                "sparse_vectors needs sparse= (the model that encodes queries)",
            ));
        }
        if multi_vectors.is_some() && multi.is_none() {
            return Err(PyValueError::new_err(
                "multi_vectors needs multi= (the model that encodes queries)",
            ));
        }
        let params = bm25_params(k1, b)?;
        let lexical = LexicalSettings::new(parse::<Bm25Mode>("bm25_mode", bm25_mode)?, params);
        let parts = Parts {
            dense,
            sparse,
            multi,
            hnsw,
            dense_quantization,
            multi_compression,
            sparse_top_k,
            sparse_threshold,
            fields: field_specs(fields)?,
        };
        let mut opts = parts.options(lexical)?;
        let corpus_opts = seine_datasets::CorpusOptions::default();
        opts.source = SourceInfo::of(
            &corpus,
            &seine_engine::build::format_name(&corpus, &corpus_opts),
        );
        opts.overwrite = overwrite;
        let spec: DeviceSpec = parse("device", device)?;
        let vectors = VectorFiles {
            dense: dense_vectors,
            sparse: sparse_vectors,
            multi: multi_vectors,
        };
        let dir = py
            .detach(|| {
                let dev = resolve_device(spec)?;
                let mut log = crate::LogProgress::new("indexed", progress);
                let r = seine_engine::build::build_corpus(
                    &corpus,
                    &corpus_opts,
                    &out,
                    opts,
                    &vectors,
                    &dev,
                    &mut |p, n| log.update(p, n),
                );
                if r.is_ok() {
                    log.finish();
                }
                r
            })
            .map_err(engine_err)?
            .0;
        Self::from_dir(dir, device)
    }

    /// Opens the index at `path` (its models resolved as `seine search` resolves them).
    #[staticmethod]
    #[pyo3(signature = (path, device = "cpu"))]
    fn open(py: Python<'_>, path: PathBuf, device: &str) -> PyResult<Self> {
        let dir = py
            .detach(|| IndexDir::open(&path))
            .map_err(|e| engine_err(e.into()))?;
        py.detach(|| Self::from_dir(dir, device))
    }

    /// The index's folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.current().index().root().to_path_buf()
    }

    /// The retrievers this index has (`bm25`, `dense`, `splade`, `maxsim`).
    #[getter]
    fn retrievers(&self) -> Vec<String> {
        self.current()
            .retrievers()
            .into_iter()
            .map(|k| k.to_string())
            .collect()
    }

    /// Live documents (generation + written − deleted).
    fn __len__(&self) -> usize {
        self.current().doc_count()
    }

    /// The `k` best documents for `query`, as dicts `{rank, id, score, title, text,
    /// sources}` (`sources`: each retriever's rank and score behind a fused hit;
    /// `token_maxima` with a rerank). `retriever`: one retriever or a fusion such as
    /// `"bm25+dense"` (default: the index's first). With `hops`, Baleen-style
    /// multi-hop retrieval: a dict `{hits, chain, stopped_early}`. `filter`: only
    /// documents whose metadata passes, inside every retriever — an expression
    /// (`'year >= 2015 AND type IN ("review", "trial")'`) or its JSON form as a dict;
    /// an unknown field or a value of the wrong type raises `ValueError`. `ef` (HNSW
    /// beam width), `k1` and `b` (BM25) override the index's for this call;
    /// `sparse_search` (splade): `"exact"` (default), `"approx"`, `"approx:ALPHA"` or
    /// `"approx:ALPHA:CUT"` (approximate: block bounds × ALPHA, the CUT heaviest terms).
    #[pyo3(signature = (query, k = DEFAULT_K, *, retriever = None, fusion = "rrf",
        weights = None, rerank = None, rerank_depth = DEFAULT_RERANK_DEPTH,
        flipr_k = DEFAULT_FLIPR_K, hops = None, fields = true, filter = None, ef = None,
        k1 = None, b = None, sparse_search = "exact"))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        query: &str,
        k: usize,
        retriever: Option<&str>,
        fusion: &str,
        weights: Option<Vec<f32>>,
        rerank: Option<&str>,
        rerank_depth: usize,
        flipr_k: usize,
        hops: Option<usize>,
        fields: bool,
        filter: Option<&Bound<'py, PyAny>>,
        ef: Option<usize>,
        k1: Option<f32>,
        b: Option<f32>,
        sparse_search: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_arg(filter)?;
        let sparse = parse("sparse_search", sparse_search)?;
        let s = self.current();
        let set: RetrieverSet = match retriever {
            Some(r) => parse("retriever", r)?,
            None => RetrieverSet::one(
                *s.retrievers()
                    .first()
                    .ok_or_else(|| PyValueError::new_err("the index has no retriever"))?,
            ),
        };
        let (fusion, rerank) = pipeline(fusion, weights, rerank, rerank_depth, flipr_k)?;
        let bm25 = (k1.is_some() || b.is_some()).then(|| {
            let base = s.bm25_params().unwrap_or_default();
            Bm25Params {
                k1: k1.unwrap_or(base.k1),
                b: b.unwrap_or(base.b),
            }
        });
        let req = SearchRequest {
            retrievers: set,
            k,
            fusion,
            rerank,
            params: QueryParams {
                bm25,
                ef,
                plaid: None,
                warp: None,
                sparse,
            },
            filter,
        };
        let query = query.to_string();
        let out = py
            .detach(|| -> seine_engine::Result<serde_json::Value> {
                s.check(&req)?;
                match hops {
                    None => {
                        let hits = s.search_fused(&query, &req)?;
                        hits_json(&s, hits, fields)
                    }
                    Some(hops) => {
                        let cfg = MultiHop {
                            hops,
                            retriever: req.retrievers.clone(),
                            fusion: req.fusion.clone(),
                            rerank: req.rerank,
                            rerank_later: MultiHop::default_later_rerank(req.rerank, flipr_k),
                            filter: req.filter.clone(),
                            params: req.params,
                            ..MultiHop::default()
                        };
                        let r = s.search_multihop(&query, k, &cfg)?;
                        let hits = r
                            .ranking
                            .into_iter()
                            .map(|hit| seine_engine::FusedSearchHit {
                                hit,
                                sources: Vec::new(),
                                token_maxima: None,
                            })
                            .collect();
                        Ok(serde_json::json!({
                            "hits": hits_json(&s, hits, fields)?,
                            "chain": serde_json::to_value(&r.hops).unwrap_or_default(),
                            "stopped_early": r.stopped_early,
                        }))
                    }
                }
            })
            .map_err(engine_err)?;
        to_py(py, &out)
    }

    /// The document with external id `id` (`{id, title, text}`), or None.
    fn get<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        let s = self.current();
        let Some((doc, d)) = s.get(id).map_err(engine_err)? else {
            return Ok(None);
        };
        let out = PyDict::new(py);
        out.set_item("id", id)?;
        out.set_item("title", d.title)?;
        out.set_item("text", d.text)?;
        if !s.fields().is_empty() {
            out.set_item(
                "metadata",
                to_py(py, &serde_json::Value::Object(s.metadata(doc)))?,
            )?;
        }
        Ok(Some(out))
    }

    /// Adds or replaces documents (dicts with `id`, `title`, `text`), encoded by the
    /// index's own models. When this returns they are in the fsynced write-ahead log
    /// and visible to every retriever (as `PUT /documents` of the server).
    fn add(&self, py: Python<'_>, docs: &Bound<'_, PyList>) -> PyResult<usize> {
        let docs = docs
            .iter()
            .enumerate()
            .map(|(i, d)| crate::doc_from(&d, i))
            .collect::<PyResult<Vec<_>>>()?;
        py.detach(|| self.write(|s| s.put_documents(&docs)))
            .map(|ids| ids.len())
            .map_err(engine_err)
    }

    /// Deletes documents by id; returns how many existed.
    fn delete(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<usize> {
        py.detach(|| {
            let mut n = 0;
            for id in &ids {
                n += usize::from(self.write(|s| s.delete(id))?);
            }
            Ok(n)
        })
        .map_err(engine_err)
    }

    /// Folds the written documents into a new generation (HNSW and BM25 statistics
    /// rebuilt); the index object continues on it.
    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        // Searches go on against the old generation meanwhile; a write that meets the
        // retired searcher is retried on the new one (`write`).
        let s = self.current();
        let next = py
            .detach(|| {
                let dir = s.compact()?;
                s.reopen(dir)
            })
            .map_err(engine_err)?;
        let old = std::mem::replace(
            &mut *self.searcher.write().expect("not poisoned"),
            Arc::new(next),
        );
        drop((old, s));
        // The replaced generation goes once nothing here reads it.
        self.current().index().remove_unused_generations();
        Ok(())
    }

    fn __repr__(&self) -> String {
        let s = self.current();
        format!(
            "Index({:?}, documents={}, retrievers={:?})",
            s.index().root(),
            s.doc_count(),
            self.retrievers()
        )
    }
}

/// Hits as the CLI's `--json` writes them, with `sources` always.
fn hits_json(
    s: &Searcher,
    hits: Vec<seine_engine::FusedSearchHit>,
    fields: bool,
) -> seine_engine::Result<serde_json::Value> {
    let mut out = Vec::with_capacity(hits.len());
    for (i, f) in hits.into_iter().enumerate() {
        let stored = if fields { s.stored(f.hit.doc)? } else { None };
        let mut row = serde_json::json!({
            "rank": i + 1,
            "id": f.hit.id,
            "score": f.hit.score,
            "title": stored.as_ref().map(|d| d.title.as_str()),
            "text": stored.as_ref().map(|d| d.text.as_str()),
            "sources": serde_json::to_value(&f.sources).unwrap_or_default(),
        });
        if let Some(m) = f.token_maxima {
            row["token_maxima"] = serde_json::json!(m);
        }
        if fields && !s.fields().is_empty() {
            row["metadata"] = serde_json::Value::Object(s.metadata(f.hit.doc));
        }
        out.push(row);
    }
    Ok(serde_json::Value::Array(out))
}
