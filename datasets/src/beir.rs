//! BEIR folders: `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::jsonl::{JsonlDocs, JsonlFields, LineReader, parse_object, string_field};
use crate::{Error, Location, Query, Result};

/// Relevance judgments: query id → (doc id → grade).
pub type Qrels = BTreeMap<String, BTreeMap<String, i32>>;

/// A BEIR dataset folder.
#[derive(Debug, Clone)]
pub struct BeirDir {
    root: PathBuf,
}

impl BeirDir {
    /// Checks that `root` looks like a BEIR folder (has `corpus.jsonl`).
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::UnsupportedInput {
                path: root.to_path_buf(),
                message: "not a directory (expected a BEIR folder with corpus.jsonl)".into(),
            });
        }
        if !root.join("corpus.jsonl").is_file() {
            return Err(Error::UnsupportedInput {
                path: root.to_path_buf(),
                message: "no corpus.jsonl: not a BEIR folder".into(),
            });
        }
        Ok(BeirDir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The dataset's name (the folder name).
    pub fn name(&self) -> String {
        self.root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into())
    }

    pub fn corpus_path(&self) -> PathBuf {
        self.root.join("corpus.jsonl")
    }

    pub fn corpus(&self) -> Result<JsonlDocs> {
        JsonlDocs::open(&self.corpus_path(), JsonlFields::default())
    }

    pub fn queries_path(&self) -> PathBuf {
        self.root.join("queries.jsonl")
    }

    pub fn queries(&self) -> Result<Vec<Query>> {
        read_queries(&self.queries_path())
    }

    pub fn qrels_path(&self, split: &str) -> PathBuf {
        self.root.join("qrels").join(format!("{split}.tsv"))
    }

    pub fn qrels(&self, split: &str) -> Result<Qrels> {
        read_qrels(&self.qrels_path(split))
    }

    /// The queries judged in `split`, in file order, with their judgments.
    pub fn split(&self, split: &str) -> Result<(Vec<Query>, Qrels)> {
        let qrels = self.qrels(split)?;
        let queries: Vec<Query> = self
            .queries()?
            .into_iter()
            .filter(|q| qrels.contains_key(&q.id))
            .collect();
        Ok((queries, qrels))
    }
}

/// Reads a BEIR `queries.jsonl` (`_id`, `text`, optional `metadata`).
pub fn read_queries(path: &Path) -> Result<Vec<Query>> {
    let mut lines = LineReader::open(path)?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    while let Some(item) = lines.next_line() {
        let (line, path, text) = item?;
        let mut obj = parse_object(path, line, text)?;
        let id = string_field(path, line, &mut obj, &["_id", "id"], true)?.unwrap_or_default();
        let text = string_field(path, line, &mut obj, &["text"], true)?.unwrap_or_default();
        if !seen.insert(id.clone()) {
            return Err(Error::malformed(
                path,
                Location::Line(line),
                format!("duplicate query id {id:?}"),
            ));
        }
        let metadata = obj.remove("metadata").unwrap_or(serde_json::Value::Null);
        out.push(Query { id, text, metadata });
    }
    Ok(out)
}

/// Reads a BEIR qrels TSV: a `query-id<TAB>corpus-id<TAB>score` header, then one
/// judgment per line with an integer grade.
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let mut lines = LineReader::open(path)?;
    let mut qrels = Qrels::new();
    let mut header_seen = false;
    while let Some(item) = lines.next_line() {
        let (line, path, text) = item?;
        let cols: Vec<&str> = text.split('\t').map(str::trim).collect();
        if !header_seen {
            if cols != ["query-id", "corpus-id", "score"] {
                return Err(Error::malformed(
                    path,
                    Location::Line(line),
                    format!(
                        "bad qrels header {text:?}: expected \"query-id<TAB>corpus-id<TAB>score\""
                    ),
                ));
            }
            header_seen = true;
            continue;
        }
        if cols.len() != 3 {
            return Err(Error::malformed(
                path,
                Location::Line(line),
                format!(
                    "expected 3 tab-separated columns (query-id, corpus-id, score), found {}",
                    cols.len()
                ),
            ));
        }
        if cols[0].is_empty() || cols[1].is_empty() {
            return Err(Error::malformed(
                path,
                Location::Line(line),
                "empty query-id or corpus-id",
            ));
        }
        let grade: i32 = cols[2].parse().map_err(|_| {
            Error::malformed(
                path,
                Location::Line(line),
                format!("bad grade {:?}: expected an integer", cols[2]),
            )
        })?;
        let docs = qrels.entry(cols[0].to_string()).or_default();
        if docs.insert(cols[1].to_string(), grade).is_some() {
            return Err(Error::malformed(
                path,
                Location::Line(line),
                format!("judgment for ({}, {}) given twice", cols[0], cols[1]),
            ));
        }
    }
    if !header_seen {
        return Err(Error::malformed(
            path,
            Location::File,
            "empty qrels file (expected a header line)",
        ));
    }
    Ok(qrels)
}
