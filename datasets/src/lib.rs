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

pub mod beir;
mod corpus;
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

/// `YYYY-MM-DD` of days since 1970-01-01 (Howard Hinnant's civil-from-days).
pub fn civil_date(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
