use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{DocId, Error, Result};

/// External document id ↔ internal [`DocId`]. Stored as `doc_ids.jsonl`: line `n` holds
/// the JSON string of the external id of `DocId` `n`.
#[derive(Debug, Default, Clone)]
pub struct DocMap {
    ids: Vec<String>,
    by_id: HashMap<String, DocId>,
}

pub(crate) const DOC_IDS_FILE: &str = "doc_ids.jsonl";

impl DocMap {
    pub fn load(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut map = DocMap::default();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            let id: String = serde_json::from_str(&line).map_err(|e| Error::NotAnIndex {
                path: path.to_path_buf(),
                message: format!("line {}: {e}", n + 1),
            })?;
            map.push(id)?;
        }
        Ok(map)
    }

    fn push(&mut self, id: String) -> Result<DocId> {
        let doc = DocId::try_from(self.ids.len())
            .map_err(|_| Error::InvalidSetting("more than 2^32 documents".into()))?;
        if self.by_id.insert(id.clone(), doc).is_some() {
            return Err(Error::Internal(format!("duplicate id {id:?} in doc map")));
        }
        self.ids.push(id);
        Ok(doc)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The external id of `doc`.
    pub fn external(&self, doc: DocId) -> Option<&str> {
        self.ids.get(doc as usize).map(String::as_str)
    }

    /// The internal id of an external id.
    pub fn internal(&self, id: &str) -> Option<DocId> {
        self.by_id.get(id).copied()
    }
}

/// Appends ids to a `doc_ids.jsonl` being built.
pub(crate) struct DocMapWriter {
    path: PathBuf,
    out: BufWriter<File>,
    next: DocId,
}

impl DocMapWriter {
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(DocMapWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            next: 0,
        })
    }

    /// Records the next document; ids are checked for uniqueness by the corpus reader.
    pub(crate) fn push(&mut self, id: &str) -> Result<DocId> {
        let doc = self.next;
        self.next = self
            .next
            .checked_add(1)
            .ok_or_else(|| Error::InvalidSetting("more than 2^32 documents".into()))?;
        serde_json::to_writer(&mut self.out, id).map_err(|e| Error::io(&self.path, e.into()))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(doc)
    }

    pub(crate) fn len(&self) -> u64 {
        u64::from(self.next)
    }

    /// Flushes and syncs the file.
    pub(crate) fn finish(self) -> Result<()> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))
    }
}
