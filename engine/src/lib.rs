//! seine-engine: encoders, retrievers, fusion, rerank and the query pipeline.
//!
//! This crate turns query text into ranked hits. Today it has the lexical (BM25)
//! retriever; dense, SPLADE and late-interaction encoders and the fusion/rerank stages
//! plug in behind the same [`Retriever`] trait.

pub mod dense;
pub mod encoder;
mod error;
pub mod indexer;
pub mod model;
mod retriever;
mod searcher;
pub mod splade;

pub use dense::DenseEncoder;
pub use encoder::{Embeddings, Encoder, Side};
pub use error::{Error, Result};
pub use retriever::{Bm25Retriever, DenseRetriever, Retriever};
pub use searcher::{Hit, Searcher};
pub use splade::{Pruning, SparseVector, SpladeEncoder};
