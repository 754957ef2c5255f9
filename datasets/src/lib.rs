//! seine-datasets: streaming readers and writers for corpora, queries and relevance
//! judgments.
//!
//! Every reader streams: a corpus is never held in memory as a whole. Readers yield
//! [`Doc`]s one at a time through the [`DocStream`] trait, which also reports how far
//! the stream has got (for progress bars). Errors name the file and the line (or the
//! Parquet row group and row) where the input went wrong.
//!
//! Formats:
//! - BEIR folders: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv` ([`beir`]).
//! - JSONL with configurable id/title/text fields ([`jsonl`]).
//! - Parquet with `id`, optional `title`, `text` columns, read in record batches, and a
//!   writer ([`parquet_io`]).
//! - A folder of `.txt` / `.md` files, id = relative path ([`textdir`]).
//!
//! [`open_corpus`] picks the reader from the path.

pub mod atomic_parquet;
pub mod beir;
mod corpus;
pub mod dates;
mod doc;
pub mod embeddings;
mod error;
pub mod jsonl;
pub mod parquet_io;
pub mod parquet_meta;
pub mod shards;
pub mod sparse_io;
pub mod textdir;
pub mod tokens_io;

pub use corpus::{CorpusFormat, CorpusOptions, open_corpus};
pub use doc::{Doc, DocStream, IdSet, Metadata, Progress, Query};
pub use error::{Error, Location, Result};

pub use dates::{civil_date, date_days};
