//! seine-index: storage and candidate generation.
//!
//! - [`IndexDir`]: the on-disk index directory, its [`Manifest`] and atomic commits.
//! - [`lexical`]: the tantivy inverted index with Lucene-equivalent English analysis
//!   and BM25 with configurable `k1`/`b` (our own tantivy `Query → Weight → Scorer`).
//! - [`DocMap`]: external document id ↔ internal [`DocId`].
//! - Shared vocabulary: [`DocId`], [`Score`], [`ScoredDoc`].

mod build_options;
pub mod dense;
mod dir;
mod docmap;
mod error;
pub mod faults;
pub mod filter;
pub mod lexical;
pub mod lock;
mod manifest;
pub mod multi;
pub mod sparse;
mod table_file;
mod topk;
mod types;

pub use build_options::BuildOptions;
pub use dense::quant::Quantization;
pub use dense::{BeamFit, DEFAULT_TARGET_RECALL, DenseIndex, DenseSettings, GraphMode, HnswParams};
pub use dir::{DocParts, IndexDir, IndexWriter};
pub use docmap::DocMap;
pub use error::{Error, Result};
pub use filter::docset::DocSet;
pub use filter::fields::FieldStore;
pub use lock::WriterLock;
pub use manifest::{FORMAT_VERSION, LexicalSettings, Manifest, ModelId, SourceInfo};
pub use multi::{Compression, MultiIndex, MultiSettings, VectorDtype, auto_centroids};
pub use sparse::{Forward, SparseIndex, SparseSettings};
pub use types::{DocId, Score, ScoredDoc, score_order, sort_hits};
