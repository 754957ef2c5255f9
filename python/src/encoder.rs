//! `seine.Encoder`: dense, SPLADE and token-vector (ColBERT) encoders.

use std::path::PathBuf;
use std::sync::Arc;

use numpy::{IntoPyArray, PyArrayMethods};
use pyo3::exceptions::{PyImportError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use seine_engine::embed::VectorsWriter;
use seine_engine::encoders::Encoders;
use seine_engine::model::{DeviceSpec, resolve_device};
use seine_engine::settings::EmbedKind;
use seine_engine::{DenseEncoder, Encoder as _, MultiVectorEncoder, Pruning, Side, SpladeEncoder};

use crate::{engine_err, parse};

enum Kind {
    Dense(Arc<DenseEncoder>),
    Sparse(Arc<SpladeEncoder>),
    Multi(Arc<MultiVectorEncoder>),
}

/// An encoder loaded the way `seine embed` and `seine index` load it.
#[pyclass(frozen, module = "seine", name = "Encoder")]
pub struct Encoder {
    kind: Kind,
}

/// Texts from a list of `str` or of document dicts (`title` + `text` as the index
/// encodes documents).
fn texts(items: &Bound<'_, PyList>) -> PyResult<Vec<String>> {
    items
        .iter()
        .enumerate()
        .map(|(i, x)| match x.extract::<String>() {
            Ok(s) => Ok(s),
            Err(_) => Ok(seine_engine::encode::doc_text(&crate::doc_from(&x, i)?)),
        })
        .collect()
}

impl Encoder {
    fn name(&self) -> &str {
        match &self.kind {
            Kind::Dense(e) => e.name(),
            Kind::Sparse(e) => e.name(),
            Kind::Multi(e) => e.name(),
        }
    }
}

#[pymethods]
impl Encoder {
    /// Loads `model` (a folder or a name under `$SEINE_MODELS` / `./models`) as a
    /// `dense` bi-encoder, a `sparse` (SPLADE) encoder or a `multi` token-vector
    /// encoder (a ColBERT checkpoint, or a dense model's normalized token outputs).
    #[new]
    #[pyo3(signature = (model, kind = "dense", device = "cpu", sparse_top_k = None, sparse_threshold = 0.0))]
    fn new(
        py: Python<'_>,
        model: &str,
        kind: &str,
        device: &str,
        sparse_top_k: Option<usize>,
        sparse_threshold: f32,
    ) -> PyResult<Self> {
        let spec: DeviceSpec = parse("device", device)?;
        let model = model.to_string();
        let kind: EmbedKind = parse("kind", kind)?;
        py.detach(move || {
            let device = resolve_device(spec)?;
            let pruning = Pruning {
                top_k: sparse_top_k,
                threshold: sparse_threshold,
            };
            let e = Encoders::standalone(kind, &model, pruning, &device)?;
            Ok(match (e.dense, e.sparse, e.multi) {
                (Some(d), _, _) => Kind::Dense(d),
                (_, Some(s), _) => Kind::Sparse(s),
                (_, _, Some(m)) => Kind::Multi(m),
                _ => unreachable!("standalone loads the kind asked for"),
            })
        })
        .map(|kind| Encoder { kind })
        .map_err(engine_err)
    }

    /// `dense`, `sparse` or `multi`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Dense(_) => "dense",
            Kind::Sparse(_) => "sparse",
            Kind::Multi(_) => "multi",
        }
    }

    /// The model's name.
    #[getter(name)]
    fn py_name(&self) -> String {
        self.name().to_string()
    }

    /// Vector dimension (dense, multi) or vocabulary size (sparse).
    #[getter]
    fn dim(&self) -> usize {
        match &self.kind {
            Kind::Dense(e) => e.dim(),
            Kind::Sparse(e) => e.vocab().len(),
            Kind::Multi(e) => e.dim(),
        }
    }

    /// The vocabulary (sparse encoders): `vocab[i]` is the term of column `i`.
    #[getter]
    fn vocab(&self) -> PyResult<Vec<String>> {
        match &self.kind {
            Kind::Sparse(e) => Ok(e.vocab().to_vec()),
            _ => Err(PyValueError::new_err(
                "only sparse encoders have a vocabulary",
            )),
        }
    }

    /// Encodes `texts` (strings, or dicts with `title` and `text`) as `side`
    /// (`"query"` or `"document"`). Dense: `float32[n, dim]`. Sparse: a
    /// `scipy.sparse.csr_matrix` `[n, vocab]` (`sparse_format="csr"`), or a list of
    /// `(term ids, weights)` arrays (`"lists"`). Multi: a list of `float32[tokens, dim]`.
    #[pyo3(signature = (texts, side = "document", sparse_format = "csr"))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyList>,
        side: &str,
        sparse_format: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let side: Side = parse("side", side)?;
        let owned = self::texts(texts)?;
        match &self.kind {
            Kind::Dense(e) => {
                let e = e.clone();
                let emb = py
                    .detach(move || {
                        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                        e.encode(&refs, side)
                    })
                    .map_err(engine_err)?;
                let n = emb.len();
                let dim = emb.dim;
                // The Vec moves into numpy (no copy); the reshape is a view.
                Ok(emb.data.into_pyarray(py).reshape([n, dim])?.into_any())
            }
            Kind::Sparse(e) => {
                let enc = e.clone();
                let vs = py
                    .detach(move || {
                        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                        enc.encode(&refs, side)
                    })
                    .map_err(engine_err)?;
                sparse_out(py, vs, e.vocab().len(), sparse_format)
            }
            Kind::Multi(e) => {
                let e = e.clone();
                let dim = e.dim();
                let mats = py
                    .detach(move || {
                        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                        e.encode(&refs, side)
                    })
                    .map_err(engine_err)?;
                let arrays = mats
                    .into_iter()
                    .map(|m| {
                        let rows = m.len() / dim.max(1);
                        m.into_pyarray(py).reshape([rows, dim])
                    })
                    .collect::<PyResult<Vec<_>>>()?;
                Ok(PyList::new(py, arrays)?.into_any())
            }
        }
    }

    /// Encodes documents (dicts with `id`, `title`, `text`) and writes them to `path`
    /// in exactly the Parquet schema `seine embed` writes (dense: `id`, `embedding`;
    /// sparse: `id`, `terms`, `weights`; multi: `id`, `tokens`), atomically: the file appears complete or
    /// not at all. Returns the rows written.
    fn write_parquet(
        &self,
        py: Python<'_>,
        path: PathBuf,
        docs: &Bound<'_, PyList>,
    ) -> PyResult<usize> {
        let docs = docs
            .iter()
            .enumerate()
            .map(|(i, d)| crate::doc_from(&d, i))
            .collect::<PyResult<Vec<_>>>()?;
        let kind = match &self.kind {
            Kind::Dense(e) => Kind::Dense(e.clone()),
            Kind::Sparse(e) => Kind::Sparse(e.clone()),
            Kind::Multi(e) => Kind::Multi(e.clone()),
        };
        py.detach(move || {
            let mut w = match &kind {
                Kind::Dense(e) => VectorsWriter::dense(e, &path),
                Kind::Sparse(e) => VectorsWriter::sparse(e, &path),
                Kind::Multi(e) => VectorsWriter::multi(e, &path),
            }?;
            w.write(&docs, Side::Document)?;
            w.finish()
        })
        .map(|n| n as usize)
        .map_err(engine_err)
    }

    fn __repr__(&self) -> String {
        format!(
            "Encoder({:?}, kind={:?}, dim={})",
            self.name(),
            self.kind(),
            self.dim()
        )
    }
}

/// SPLADE vectors as a CSR matrix (scipy) or as `(ids, weights)` pairs.
fn sparse_out<'py>(
    py: Python<'py>,
    vs: Vec<seine_engine::SparseVector>,
    vocab: usize,
    format: &str,
) -> PyResult<Bound<'py, PyAny>> {
    match format {
        "csr" => {
            let mut indptr = Vec::with_capacity(vs.len() + 1);
            indptr.push(0i64);
            let (mut indices, mut data) = (Vec::new(), Vec::new());
            for v in &vs {
                indices.extend(v.terms.iter().map(|&t| t as i32));
                data.extend_from_slice(&v.weights);
                indptr.push(indices.len() as i64);
            }
            let sp = py.import("scipy.sparse").map_err(|_| {
                PyImportError::new_err(
                    "sparse_format=\"csr\" needs scipy (pip install scipy); \
                     sparse_format=\"lists\" does not",
                )
            })?;
            let args = PyTuple::new(
                py,
                [
                    data.into_pyarray(py).into_any(),
                    indices.into_pyarray(py).into_any(),
                    indptr.into_pyarray(py).into_any(),
                ],
            )?;
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("shape", (vs.len(), vocab))?;
            sp.getattr("csr_matrix")?.call((args,), Some(&kwargs))
        }
        "lists" => {
            let pairs = vs
                .into_iter()
                .map(|v| {
                    PyTuple::new(
                        py,
                        [
                            v.terms.into_pyarray(py).into_any(),
                            v.weights.into_pyarray(py).into_any(),
                        ],
                    )
                })
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, pairs)?.into_any())
        }
        other => Err(PyValueError::new_err(format!(
            "sparse_format must be \"csr\" or \"lists\", got {other:?}"
        ))),
    }
}
