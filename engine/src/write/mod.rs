//! The write path: building an index from a corpus ([`build`], [`indexer`], with
//! vectors imported from files or encoded on the way), `seine embed`'s writers
//! ([`embed`]), and writes to an open index — documents put and deleted through the
//! write-ahead log ([`wal`]) into the read path's view of them
//! ([`crate::search::Live`]), and compaction into a new generation.
//!
//! Invariants: a record is in the log (fsynced) before the in-memory state changes;
//! writers are serialized by [`crate::Searcher`]'s writer lock; a retired searcher
//! (after compaction) refuses writes.

pub mod build;
mod compact;
pub mod embed;
mod imported;
pub mod indexer;
mod put;
pub mod wal;
mod writer;

pub(crate) use put::replay;
pub use put::{MAX_ID_BYTES, check_doc_id};
pub(crate) use writer::WriterState;
