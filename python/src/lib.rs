//! `seine._seine`: the native half of the `seine` Python package (`python/seine/`).
//!
//! The classes wrap the engine's own types — the same loaders, settings and
//! defaults as the CLI — and release the GIL while they encode, index or search.
//! Errors raise Python exceptions carrying the CLI's messages: `ValueError` for a bad
//! argument, `FileNotFoundError` for a missing model or file, `seine.SeineError` for
//! anything else.

use std::path::PathBuf;

use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

mod encoder;
mod eval;
mod index;

pyo3::create_exception!(
    seine,
    SeineError,
    pyo3::exceptions::PyException,
    "An error from seine's engine (the message is the CLI's)."
);

/// The error and its causes, joined as the CLI prints them (`a: b: c`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let m = s.to_string();
        if !msg.ends_with(&m) {
            msg.push_str(": ");
            msg.push_str(&m);
        }
        source = s.source();
    }
    msg
}

/// An engine error as the Python exception of its kind.
pub(crate) fn engine_err(e: seine_engine::Error) -> PyErr {
    use seine_engine::Error as E;
    let msg = chain(&e);
    match &e {
        E::InvalidArgument(_) | E::UnknownRetriever { .. } => PyValueError::new_err(msg),
        E::ModelNotFound(_) => PyFileNotFoundError::new_err(msg),
        E::Index(seine_index::Error::InvalidSetting(_)) => PyValueError::new_err(msg),
        E::Index(seine_index::Error::NotAnIndex { .. }) => PyFileNotFoundError::new_err(msg),
        E::Data(d) | E::Index(seine_index::Error::Input(d)) if missing(d) => {
            PyFileNotFoundError::new_err(msg)
        }
        _ => SeineError::new_err(msg),
    }
}

/// The input named does not exist.
fn missing(e: &seine_datasets::Error) -> bool {
    match e {
        seine_datasets::Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        seine_datasets::Error::UnsupportedInput { path, .. } => !path.exists(),
        _ => false,
    }
}

pub(crate) fn data_err(e: seine_datasets::Error) -> PyErr {
    engine_err(e.into())
}

pub(crate) fn eval_err(e: seine_eval::Error) -> PyErr {
    match e {
        seine_eval::Error::Engine(e) => engine_err(e),
        seine_eval::Error::Data(e) => data_err(e),
        seine_eval::Error::Index(e) => engine_err(e.into()),
        other => SeineError::new_err(chain(&other)),
    }
}

/// Parses a setting with its `FromStr` (the CLI's parser), naming the argument.
pub(crate) fn parse<T: std::str::FromStr>(what: &str, s: &str) -> PyResult<T>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// A JSON value as Python objects (dict, list, str, int, float, bool, None).
pub(crate) fn to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(f)) => f.into_pyobject(py)?.into_any(),
            _ => n.to_string().into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// A document from a Python value: a dict with `id` (or `_id`), `title`, `text`.
pub(crate) fn doc_from(item: &Bound<'_, PyAny>, i: usize) -> PyResult<seine_datasets::Doc> {
    let d = item.cast::<PyDict>().map_err(|_| {
        PyValueError::new_err(format!(
            "document {i}: expected a dict with \"id\", \"title\" and \"text\""
        ))
    })?;
    let field = |name: &str| -> PyResult<Option<String>> {
        match d.get_item(name)? {
            Some(v) if !v.is_none() => Ok(Some(v.extract().map_err(|_| {
                PyValueError::new_err(format!("document {i}: \"{name}\" must be a string"))
            })?)),
            _ => Ok(None),
        }
    };
    let id = match field("id")? {
        Some(id) => id,
        None => field("_id")?.ok_or_else(|| {
            PyValueError::new_err(format!("document {i}: no \"id\" (or \"_id\")"))
        })?,
    };
    if id.is_empty() {
        return Err(PyValueError::new_err(format!("document {i}: empty id")));
    }
    // As the JSONL reader: the other keys, and a `metadata` dict's entries.
    let mut metadata = seine_datasets::Metadata::new();
    if let Some(m) = d.get_item("metadata")?.filter(|m| !m.is_none()) {
        match from_py(&m)? {
            serde_json::Value::Object(m) => metadata.extend(m),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "document {i}: \"metadata\" must be a dict"
                )));
            }
        }
    }
    for (k, v) in d.iter() {
        let k: String = k.extract()?;
        if !["id", "_id", "title", "text", "metadata"].contains(&k.as_str()) {
            metadata.insert(k, from_py(&v)?);
        }
    }
    Ok(seine_datasets::Doc {
        id,
        title: field("title")?.unwrap_or_default(),
        text: field("text")?.unwrap_or_default(),
        metadata,
    })
}

/// A Python value as JSON (through the `json` module: what it cannot write is an error).
pub(crate) fn from_py(v: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let s: String = v
        .py()
        .import("json")?
        .call_method1("dumps", (v,))?
        .extract()?;
    serde_json::from_str(&s).map_err(|e| PyValueError::new_err(format!("not JSON: {e}")))
}

/// Progress of a long job as lines on stderr (at most one per 5 s, and a last one):
/// readable in a terminal, a notebook and a log file alike.
pub(crate) struct LogProgress {
    what: &'static str,
    enabled: bool,
    start: std::time::Instant,
    last: std::time::Instant,
    docs: u64,
}

impl LogProgress {
    pub(crate) fn new(what: &'static str, enabled: bool) -> Self {
        let now = std::time::Instant::now();
        LogProgress {
            what,
            enabled,
            start: now,
            last: now,
            docs: 0,
        }
    }

    pub(crate) fn update(&mut self, p: seine_datasets::Progress, docs: u64) {
        self.docs = docs;
        if !self.enabled || self.last.elapsed().as_secs_f64() < 5.0 {
            return;
        }
        self.last = std::time::Instant::now();
        let secs = self.start.elapsed().as_secs_f64();
        let pct = p
            .total
            .filter(|&t| t > 0)
            .map(|t| format!(", {:.0}% of the input", 100.0 * p.done as f64 / t as f64))
            .unwrap_or_default();
        eprintln!(
            "seine: {} {docs} documents ({:.0} docs/s{pct}, {secs:.0} s)",
            self.what,
            docs as f64 / secs.max(1e-9)
        );
    }

    pub(crate) fn line(&self, msg: &str) {
        if self.enabled {
            eprintln!("seine: {msg}");
        }
    }

    pub(crate) fn finish(&self) {
        if self.enabled && self.docs > 0 {
            let secs = self.start.elapsed().as_secs_f64();
            eprintln!(
                "seine: {} {} documents in {secs:.1} s ({:.0} docs/s)",
                self.what,
                self.docs,
                self.docs as f64 / secs.max(1e-9)
            );
        }
    }
}

/// Reads documents `start..stop` of a corpus (a BEIR folder, `.jsonl`, `.parquet` or a
/// folder of text files; the CLI's readers) as dicts `{"id", "title", "text"}`.
#[pyfunction]
#[pyo3(signature = (path, start = 0, stop = None))]
fn read_corpus(
    py: Python<'_>,
    path: PathBuf,
    start: usize,
    stop: Option<usize>,
) -> PyResult<Py<PyList>> {
    let docs = py
        .detach(|| {
            let s = seine_datasets::open_corpus(&path, &Default::default())?;
            let mut out = Vec::new();
            for (i, d) in s.enumerate() {
                let d = d?;
                if stop.is_some_and(|e| i >= e) {
                    break;
                }
                if i >= start {
                    out.push(d);
                }
            }
            Ok::<_, seine_datasets::Error>(out)
        })
        .map_err(data_err)?;
    let list = PyList::empty(py);
    for d in docs {
        let x = PyDict::new(py);
        x.set_item("id", d.id)?;
        x.set_item("title", d.title)?;
        x.set_item("text", d.text)?;
        list.append(x)?;
    }
    Ok(list.unbind())
}

/// Counts a corpus's documents (one streaming pass).
#[pyfunction]
fn count_docs(py: Python<'_>, path: PathBuf) -> PyResult<usize> {
    py.detach(|| {
        let s = seine_datasets::open_corpus(&path, &Default::default())?;
        let mut n = 0;
        for d in s {
            d?;
            n += 1;
        }
        Ok(n)
    })
    .map_err(data_err)
}

#[pymodule]
fn _seine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SeineError", m.py().get_type::<SeineError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<encoder::Encoder>()?;
    m.add_class::<index::Index>()?;
    m.add_function(wrap_pyfunction!(eval::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(eval::read_qrels, m)?)?;
    m.add_function(wrap_pyfunction!(eval::read_trec_run, m)?)?;
    m.add_function(wrap_pyfunction!(eval::write_trec_run, m)?)?;
    m.add_function(wrap_pyfunction!(eval::evaluate_run, m)?)?;
    m.add_function(wrap_pyfunction!(read_corpus, m)?)?;
    m.add_function(wrap_pyfunction!(count_docs, m)?)?;
    Ok(())
}
