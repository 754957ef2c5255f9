//! seine-engine: the query pipeline and the index's write path, laid out by role.
//!
//! - [`encode`]: model folders, tokenization, devices; the dense, SPLADE and
//!   late-interaction encoders, loaded through one factory ([`Encoders`]).
//! - [`search`]: the read path ([`Reader`]): first-stage retrievers behind the
//!   [`Retriever`] trait (bm25, dense, splade, maxsim/PLAID), fusion, late-interaction
//!   rerank, filters, explain. It never imports [`write`].
//! - [`write`]: building an index (corpus → every part → one atomic commit), `seine
//!   embed`'s writers, and writes to an open index (write-ahead log, put/delete,
//!   compaction).
//! - [`multihop`]: the condenser and the hop loop over the read path.
//! - [`settings`]: typed pipeline settings and their defaults, parsed into by the CLI,
//!   the server and Python.
//!
//! [`Searcher`] joins the read path and the write side of one open index.

pub mod encode;
mod error;
pub mod multihop;
pub mod search;
mod searcher;
pub mod settings;
pub mod write;

// The modules' former root paths, so callers did not have to change.
pub use encode::{colbert, dense, encoder, encoders, model, multi, splade};
pub use search::{fusion, live, plaid, warp};
pub use write::{build, embed, indexer};

pub use encode::{
    ColbertEncoder, DenseEncoder, Embeddings, Encoder, Encoders, MultiVectorEncoder, Pruning, Side,
    SparseVector, SpladeEncoder,
};
pub use error::{Error, Result};
pub use search::fusion::{Fusion, FusionMethod};
pub use search::{
    Bm25Retriever, DenseRetriever, FusedSearchHit, Hit, MaxsimRetriever, Reader, Retriever,
    SparseRetriever, TermContribution,
};
pub use searcher::Searcher;
pub use seine_index::filter::{FieldSpec, FieldType, Filter};
pub use seine_kernels::Reduce;
pub use settings::{
    Plaid, QueryParams, Rerank, RerankKind, RetrieverKind, RetrieverSet, SearchRequest, Warp,
};
pub use write::check_doc_id;
