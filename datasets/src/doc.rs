use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{Error, Location, Result};

/// A document's metadata: the fields of its line or row besides id, title and text
/// (JSONL: other top-level fields and the entries of a `metadata` object).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// One document of a corpus.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Doc {
    pub id: String,
    /// Empty when the corpus has no titles.
    pub title: String,
    pub text: String,
    /// Empty when the corpus has none. Not indexed yet (metadata filters: issue 17).
    pub metadata: Metadata,
}

/// One query (BEIR `queries.jsonl` line).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub id: String,
    pub text: String,
    /// The line's `metadata` object (`Null` when absent).
    pub metadata: serde_json::Value,
}

/// How far a stream has got, in the stream's own unit (bytes, rows or files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
    pub unit: &'static str,
}

/// A stream of documents read lazily from disk.
pub trait DocStream: Iterator<Item = Result<Doc>> + Send {
    /// The file or folder being read.
    fn source(&self) -> &Path;
    /// Progress so far (for progress bars and ETAs).
    fn progress(&self) -> Progress;
}

/// Remembers the ids seen so far and where, to report duplicates. Holds ids only, never
/// document text.
#[derive(Debug, Default)]
pub struct IdSet {
    seen: HashMap<String, Location>,
}

impl IdSet {
    /// Records `id` seen at `loc`; a second sighting is an error naming both places.
    pub fn insert(&mut self, path: &Path, id: &str, loc: Location) -> Result<()> {
        if let Some(first) = self.seen.get(id) {
            return Err(Error::DuplicateId {
                path: PathBuf::from(path),
                location: loc,
                id: id.to_string(),
                first: first.clone(),
            });
        }
        self.seen.insert(id.to_string(), loc);
        Ok(())
    }
}
