//! seine-index: storage and candidate generation.
//!
//! - [`IndexDir`]: the on-disk index directory, its [`Manifest`] and atomic commits.
//! - [`lexical`]: the tantivy inverted index with Lucene-equivalent English analysis
//!   and BM25 with configurable `k1`/`b` (our own tantivy `Query → Weight → Scorer`).
//! - [`DocMap`]: external document id ↔ internal [`DocId`].
//! - Shared vocabulary: [`DocId`], [`Score`], [`ScoredDoc`].

pub mod dense;
pub mod dense_quant;
mod dir;
mod docmap;
pub mod docset;
mod error;
pub mod fields;
pub mod filter;
mod hnsw_graph;
pub mod lexical;
pub mod lock;
mod manifest;
pub mod multi;
pub mod sparse;
mod types;

pub use dense::{DenseIndex, DenseSettings, HnswParams};
pub use dense_quant::Quantization;
pub use dir::{BuildOptions, DocParts, IndexDir, IndexWriter};
pub use docmap::DocMap;
pub use docset::DocSet;
pub use error::{Error, Result};
pub use fields::FieldStore;
pub use lock::WriterLock;
pub use manifest::{FORMAT_VERSION, LexicalSettings, Manifest, ModelId, SourceInfo};
pub use multi::{Compression, MultiIndex, MultiSettings, VectorDtype, auto_centroids};
pub use sparse::{Forward, SparseIndex, SparseSettings};
pub use types::{DocId, Score, ScoredDoc, score_order, sort_hits};
