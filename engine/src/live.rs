//! Incremental writes on top of a committed generation: a write-ahead log and the
//! documents added or deleted since the generation was built.
//!
//! A write is appended to `<index>/wal-<generation>.jsonl` and fsynced before it is
//! applied (and before the caller is told it succeeded); opening the index replays
//! the log, re-encoding the documents it adds. Added documents get [`DocId`]s after
//! the generation's; deleted or replaced generation documents are hidden (tombstones)
//! from every retriever at once. [`crate::Searcher::compact`] folds everything into a
//! new generation (HNSW has no delete) and starts an empty log.
//!
//! Added documents are searched exhaustively (dense dot products, sparse dot
//! products, BM25 with the generation's statistics) next to the generation's own
//! indexes; compaction is what makes them part of the HNSW graph and the BM25
//! statistics.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use seine_datasets::Doc;
use seine_index::DocId;
use seine_index::lexical::LexDoc;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One record of the write-ahead log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum WalRecord {
    Put {
        id: String,
        #[serde(default)]
        title: String,
        text: String,
        /// The document's metadata (what `--fields` filters read).
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        metadata: seine_datasets::Metadata,
    },
    Del {
        id: String,
    },
}

/// An added document with every part the index has.
#[derive(Debug, Clone, Default)]
pub struct LiveDoc {
    pub doc: Doc,
    pub dense: Option<Vec<f32>>,
    /// term → weight.
    pub sparse: Option<HashMap<String, f32>>,
    /// Token vectors, row-major.
    pub tokens: Option<Vec<f32>>,
    pub lex: Option<LexDoc>,
}

/// The log file of one generation.
pub struct Wal {
    path: PathBuf,
    /// Opened at the first append (reading an index never creates files in it).
    file: Option<File>,
}

pub fn wal_path(root: &Path, generation: u64) -> PathBuf {
    root.join(format!("wal-{generation:06}.jsonl"))
}

impl Wal {
    /// Opens (or creates) the log of `generation` and reads its records. A torn last
    /// line (a write cut short by a crash, never acknowledged) is cut off; a bad line
    /// anywhere else is an error naming it. Logs of other generations (left by a
    /// compaction that was interrupted after its commit) are removed.
    pub fn open(root: &Path, generation: u64) -> Result<(Wal, Vec<WalRecord>)> {
        let path = wal_path(root, generation);
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("wal-") && name.ends_with(".jsonl") && e.path() != path {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let io = |e: std::io::Error| Error::Index(seine_index::Error::io(&path, e));
        let mut records = Vec::new();
        let mut good_len = 0u64;
        if path.exists() {
            let bytes = std::fs::read(&path).map_err(io)?;
            let mut start = 0usize;
            let mut line_no = 0usize;
            while start < bytes.len() {
                line_no += 1;
                let Some(nl) = bytes[start..].iter().position(|&b| b == b'\n') else {
                    break; // torn tail: no newline, never acknowledged
                };
                let line = &bytes[start..start + nl];
                match serde_json::from_slice::<WalRecord>(line) {
                    Ok(r) => records.push(r),
                    Err(e) if start + nl + 1 == bytes.len() => {
                        // The last line is complete but unreadable: torn as well.
                        let _ = e;
                        break;
                    }
                    Err(e) => {
                        return Err(Error::InvalidArgument(format!(
                            "{}:{line_no}: corrupt write-ahead log record: {e}",
                            path.display()
                        )));
                    }
                }
                start += nl + 1;
                good_len = start as u64;
            }
        }
        let mut file = None;
        if path.exists() {
            let f = OpenOptions::new().append(true).open(&path).map_err(io)?;
            if f.metadata().map_err(io)?.len() != good_len {
                f.set_len(good_len).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            file = Some(f);
        }
        Ok((Wal { path, file }, records))
    }

    /// Appends records and fsyncs: when this returns they survive a crash.
    pub fn append(&mut self, records: &[WalRecord]) -> Result<()> {
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, r)
                .map_err(|e| Error::InvalidArgument(format!("cannot encode log record: {e}")))?;
            buf.push(b'\n');
        }
        let io = |e: std::io::Error| Error::Index(seine_index::Error::io(&self.path, e));
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(io)?;
            // The new name must survive a crash too.
            if let Some(dir) = self.path.parent() {
                File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
            self.file = Some(f);
        }
        let file = self.file.as_mut().expect("opened above");
        file.write_all(&buf).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the log (after a compaction committed its records).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The documents added and deleted since the generation was built.
pub struct Live {
    /// Documents in the generation; added documents get ids from here on.
    pub base_len: u32,
    /// `DocId - base_len` → document (None once deleted or replaced).
    pub docs: Vec<Option<LiveDoc>>,
    /// Current added documents by external id.
    pub by_id: HashMap<String, DocId>,
    /// Generation documents deleted or replaced.
    pub hidden: HashSet<DocId>,
    /// None once a compaction has retired this state.
    pub wal: Option<Wal>,
}

impl Live {
    pub fn new(base_len: u32, wal: Option<Wal>) -> Self {
        Live {
            base_len,
            docs: Vec::new(),
            by_id: HashMap::new(),
            hidden: HashSet::new(),
            wal,
        }
    }

    pub fn get(&self, doc: DocId) -> Option<&LiveDoc> {
        doc.checked_sub(self.base_len)
            .and_then(|i| self.docs.get(i as usize))
            .and_then(|d| d.as_ref())
    }

    /// Live (visible) added documents with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (DocId, &LiveDoc)> {
        self.docs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|d| (self.base_len + i as u32, d)))
    }

    pub fn live_count(&self) -> usize {
        self.by_id.len()
    }

    /// Hides the current version of `id` (`base` is its generation DocId, if any).
    /// Returns whether something was visible.
    pub fn remove(&mut self, id: &str, base: Option<DocId>) -> bool {
        if let Some(doc) = self.by_id.remove(id) {
            let slot = (doc - self.base_len) as usize;
            self.docs[slot] = None;
            return true;
        }
        match base {
            Some(b) => self.hidden.insert(b),
            None => false,
        }
    }

    /// Adds (or replaces) a document.
    pub fn put(&mut self, doc: LiveDoc, base: Option<DocId>) -> DocId {
        let id = doc.doc.id.clone();
        self.remove(&id, base);
        let doc_id = self.base_len + self.docs.len() as u32;
        self.docs.push(Some(doc));
        self.by_id.insert(id, doc_id);
        doc_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(id: &str) -> WalRecord {
        WalRecord::Put {
            id: id.into(),
            title: String::new(),
            metadata: Default::default(),
            text: format!("text of {id}"),
        }
    }

    #[test]
    fn log_round_trip_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, recs) = Wal::open(dir.path(), 3).unwrap();
        assert!(recs.is_empty());
        // Opening creates nothing: a read-only index stays untouched by readers.
        assert!(!wal.path().exists());
        wal.append(&[put("a"), WalRecord::Del { id: "a".into() }, put("b")])
            .unwrap();
        let path = wal.path().to_path_buf();
        drop(wal);
        // A crash mid-append leaves half a record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"op":"put","id":"c","te"#).unwrap();
        drop(f);
        let (mut wal, recs) = Wal::open(dir.path(), 3).unwrap();
        assert_eq!(
            recs,
            vec![put("a"), WalRecord::Del { id: "a".into() }, put("b")]
        );
        // The torn tail was cut: the next append starts on a clean line.
        wal.append(&[put("d")]).unwrap();
        drop(wal);
        let (_, recs) = Wal::open(dir.path(), 3).unwrap();
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[3], put("d"));
        // Another generation's log is stale and removed.
        Wal::open(dir.path(), 4).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn corrupt_middle_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = wal_path(dir.path(), 1);
        std::fs::write(
            &path,
            "{\"op\":\"del\",\"id\":\"x\"}\nnot json\n{\"op\":\"del\",\"id\":\"y\"}\n",
        )
        .unwrap();
        let err = Wal::open(dir.path(), 1).err().unwrap().to_string();
        assert!(err.contains("wal-000001.jsonl:2"), "{err}");
    }

    #[test]
    fn put_replace_delete() {
        let mut live = Live::new(10, None);
        let d = |id: &str| LiveDoc {
            doc: Doc {
                id: id.into(),
                ..Doc::default()
            },
            ..LiveDoc::default()
        };
        assert_eq!(live.put(d("a"), None), 10);
        // Replacing a generation document hides it.
        assert_eq!(live.put(d("b"), Some(3)), 11);
        assert!(live.hidden.contains(&3));
        // Replacing an added document frees its slot.
        assert_eq!(live.put(d("a"), None), 12);
        assert!(live.get(10).is_none());
        assert_eq!(live.live_count(), 2);
        assert!(live.remove("b", Some(3)));
        assert!(!live.remove("zzz", None));
        assert_eq!(live.iter().map(|(i, _)| i).collect::<Vec<_>>(), vec![12]);
    }
}
