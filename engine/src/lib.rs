//! seine-engine: encoders, retrievers, fusion, rerank and the query pipeline.
//!
//! This crate turns query text into ranked hits: encoders (dense, SPLADE), first-stage
//! retrievers behind the [`Retriever`] trait (bm25, dense, splade) and their fusion.

pub mod build;
pub mod colbert;
pub mod dense;
pub mod embed;
pub mod encoder;
pub mod encoders;
mod error;
pub mod fusion;
mod imported;
pub mod indexer;
pub mod live;
pub mod model;
pub mod multi;
pub mod multihop;
pub mod plaid;
mod retriever;
mod searcher;
pub mod settings;
pub mod splade;

pub use colbert::ColbertEncoder;
pub use dense::DenseEncoder;
pub use encoder::{Embeddings, Encoder, Side};
pub use encoders::Encoders;
pub use error::{Error, Result};
pub use fusion::{Fusion, FusionMethod};
pub use multi::MultiVectorEncoder;
pub use plaid::MaxsimRetriever;
pub use retriever::{Bm25Retriever, DenseRetriever, Retriever, SparseRetriever};
pub use searcher::{FusedSearchHit, Hit, Searcher, TermContribution, check_doc_id};
pub use seine_index::filter::{FieldSpec, FieldType, Filter};
pub use seine_kernels::Reduce;
pub use settings::{
    Plaid, QueryParams, Rerank, RerankKind, RetrieverKind, RetrieverSet, SearchRequest,
};
pub use splade::{Pruning, SparseVector, SpladeEncoder};
