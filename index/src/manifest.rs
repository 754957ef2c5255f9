use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::lexical::{Bm25Mode, Bm25Params};
use crate::{Error, Result};

/// The on-disk format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

pub(crate) const MANIFEST_FILE: &str = "manifest.json";

/// `manifest.json`: what an index holds. Written last, atomically: an index directory
/// is whatever its manifest names, nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// The seine version that wrote the index.
    pub seine_version: String,
    /// RFC 3339 UTC time of the commit.
    pub created_at: String,
    /// The command line that built it, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Bumped by every commit; names the `gen-NNNNNN` folder holding the data.
    pub generation: u64,
    pub doc_count: u64,
    pub source: SourceInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexical: Option<LexicalSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dense: Option<crate::DenseSettings>,
    /// Learned-sparse impacts (absent in indexes without a sparse part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse: Option<crate::SparseSettings>,
    /// Late-interaction token vectors (absent in indexes without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi: Option<crate::MultiSettings>,
    /// Metadata fields stored for filtering (`--fields`; empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<crate::filter::FieldSpec>,
    /// Files of the generation, relative to the index directory.
    pub files: Vec<String>,
}

/// What identifies a model an index was built with: the folder it was loaded from and
/// a hash of the files that define it (weights, config, tokenizer). Opening the index
/// with other files under the same name is an error, not a silent change of model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelId {
    /// Absolute path of the model folder at build time.
    pub path: String,
    /// `sha256:<hex>` over the model's defining files.
    pub sha256: String,
}

/// Where the documents came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SourceInfo {
    pub path: String,
    pub format: String,
    /// Size and modification time of the input, to tell whether an index is stale.
    #[serde(default)]
    pub fingerprint: String,
}

impl SourceInfo {
    /// Describes the corpus at `path` (made absolute when possible).
    pub fn of(path: &Path, format: &str) -> Self {
        let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        SourceInfo {
            path: abs.to_string_lossy().into_owned(),
            format: format.to_string(),
            fingerprint: fingerprint(&abs),
        }
    }
}

/// `<bytes>-<mtime ns>` of a file, or of a folder's `corpus.jsonl` when it has one.
fn fingerprint(path: &Path) -> String {
    let target = if path.is_dir() && path.join("corpus.jsonl").is_file() {
        path.join("corpus.jsonl")
    } else {
        path.to_path_buf()
    };
    match std::fs::metadata(&target) {
        Ok(m) => {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}-{mtime}", m.len())
        }
        Err(_) => String::new(),
    }
}

/// Settings of the lexical (BM25) index. `k1`/`b` are the defaults searches use; they
/// can be overridden per search without re-indexing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LexicalSettings {
    pub mode: Bm25Mode,
    pub analyzer: AnalyzerName,
    pub k1: f32,
    pub b: f32,
}

impl LexicalSettings {
    pub fn new(mode: Bm25Mode, params: Bm25Params) -> Self {
        LexicalSettings {
            mode,
            analyzer: AnalyzerName::LuceneEnglish,
            k1: params.k1,
            b: params.b,
        }
    }

    pub fn params(&self) -> Bm25Params {
        Bm25Params {
            k1: self.k1,
            b: self.b,
        }
    }
}

/// The text analysis chain of the lexical index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnalyzerName {
    /// UAX#29 words, possessives, lower-case, Lucene English stop words, Porter.
    LuceneEnglish,
}

impl Manifest {
    /// How this index differs from what `opts` would build (empty: it is that index).
    /// Compares the source (path and fingerprint) and every part's settings; models by
    /// their identity when both sides have one, else by name.
    pub fn differences(&self, opts: &crate::BuildOptions) -> Vec<String> {
        fn model(a: &str, ai: &Option<ModelId>, b: &str, bi: &Option<ModelId>) -> bool {
            match (ai, bi) {
                (Some(x), Some(y)) => x.sha256 == y.sha256,
                _ => a == b,
            }
        }
        let mut d = Vec::new();
        if self.source.path != opts.source.path
            || self.source.fingerprint != opts.source.fingerprint
        {
            d.push(format!(
                "built from {} (or an older copy of it)",
                self.source.path
            ));
        }
        if self.lexical.map(|l| (l.mode, l.analyzer)) != opts.lexical.map(|l| (l.mode, l.analyzer))
        {
            d.push(format!(
                "lexical part {:?}, wanted {:?}",
                self.lexical.map(|l| l.mode.to_string()),
                opts.lexical.map(|l| l.mode.to_string())
            ));
        }
        let dense_same = match (&self.dense, &opts.dense) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                model(&a.model, &a.model_id, &b.model, &b.model_id)
                    && a.hnsw.map(|p| (p.m, p.ef_construction))
                        == b.hnsw.map(|p| (p.m, p.ef_construction))
                    && a.hnsw_auto == b.hnsw_auto
                    && a.quantization == b.quantization
            }
            _ => false,
        };
        if !dense_same {
            let show = |x: Option<&crate::DenseSettings>| {
                x.map_or("none".to_string(), |x| {
                    format!("{} ({})", x.model, x.quantization)
                })
            };
            d.push(format!(
                "dense part {}, wanted {}",
                show(self.dense.as_ref()),
                show(opts.dense.as_ref())
            ));
        }
        let sparse_same = match (&self.sparse, &opts.sparse) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                model(&a.model, &a.model_id, &b.model, &b.model_id)
                    && a.query_model == b.query_model
                    && a.scale == b.scale
                    && a.top_k == b.top_k
                    && a.threshold == b.threshold
            }
            _ => false,
        };
        if !sparse_same {
            d.push(format!(
                "sparse part {:?}, wanted {:?}",
                self.sparse.as_ref().map(|x| &x.model),
                opts.sparse.as_ref().map(|x| &x.model)
            ));
        }
        let multi_same = match (&self.multi, &opts.multi) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                model(&a.model, &a.model_id, &b.model, &b.model_id)
                    && a.dtype == b.dtype
                    && a.compression == b.compression
                    && (b.centroids.is_none() || a.centroids == b.centroids)
            }
            _ => false,
        };
        if !multi_same {
            let show = |m: Option<&crate::MultiSettings>| {
                m.map_or("none".to_string(), |m| {
                    let k = m
                        .centroids
                        .map_or(String::new(), |k| format!(", {k} centroids"));
                    format!("{} {:?} {}{k}", m.model, m.dtype, m.compression)
                })
            };
            d.push(format!(
                "token vectors {}, wanted {}",
                show(self.multi.as_ref()),
                show(opts.multi.as_ref())
            ));
        }
        if self.fields != opts.fields {
            let show = |f: &[crate::filter::FieldSpec]| {
                let v: Vec<String> = f.iter().map(|f| format!("{}:{}", f.name, f.ty)).collect();
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(",")
                }
            };
            d.push(format!(
                "metadata fields {}, wanted {}",
                show(&self.fields),
                show(&opts.fields)
            ));
        }
        d
    }

    /// Whether this index is what `opts` would build ([`Manifest::differences`]).
    pub fn matches(&self, opts: &crate::BuildOptions) -> bool {
        self.differences(opts).is_empty()
    }

    pub(crate) fn read(root: &Path) -> Result<Self> {
        let path = root.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotAnIndex {
                    path: root.to_path_buf(),
                    message: "no manifest.json: not a seine index (or never committed)".into(),
                });
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::NotAnIndex {
            path: path.clone(),
            message: format!("unreadable manifest: {e}"),
        })?;
        if m.format_version != FORMAT_VERSION {
            return Err(Error::NotAnIndex {
                path,
                message: format!(
                    "index format version {} (this seine reads version {FORMAT_VERSION}): \
                     rebuild the index",
                    m.format_version
                ),
            });
        }
        m.check(root)
            .map_err(|message| Error::NotAnIndex { path, message })?;
        Ok(m)
    }

    /// The manifest against the files it names: a hand-edited or damaged manifest is
    /// refused with what is wrong, before anything is sized by it.
    fn check(&self, root: &Path) -> std::result::Result<(), String> {
        if self.files.is_empty() {
            return Err("the manifest lists no files".into());
        }
        let generation = format!("gen-{:06}/", self.generation);
        for f in &self.files {
            let bad = f.starts_with('/') || f.split('/').any(|c| c == ".." || c.is_empty());
            if bad || !f.starts_with(&generation) {
                return Err(format!(
                    "file {f:?} is not inside this generation's folder {generation}"
                ));
            }
            if !root.join(f).is_file() {
                return Err(format!("file {f} is missing"));
            }
        }
        let ids = format!("{generation}{}", crate::docmap::DOC_IDS_FILE);
        let ids_len = std::fs::metadata(root.join(&ids)).map_or(0, |m| m.len());
        // Each id is a JSON string on its own line: at least 3 bytes.
        if self.doc_count > ids_len / 3 {
            return Err(format!(
                "doc_count {} does not fit {ids} ({ids_len} bytes)",
                self.doc_count
            ));
        }
        let mut names = std::collections::HashSet::new();
        for f in &self.fields {
            let spec = format!("{}:{}", f.name, f.ty);
            if spec.parse::<crate::filter::FieldSpec>().is_err() || !names.insert(&f.name) {
                return Err(format!(
                    "metadata field {:?} is invalid or repeated",
                    f.name
                ));
            }
        }
        if self.lexical.is_none()
            && self.dense.is_none()
            && self.sparse.is_none()
            && self.multi.is_none()
        {
            return Err(
                "the manifest names no part to search (lexical, dense, sparse, multi)".into(),
            );
        }
        Ok(())
    }

    /// Writes `manifest.json` atomically: a temporary file, synced, renamed over the old
    /// one, and the directory synced.
    pub(crate) fn write_atomic(&self, root: &Path) -> Result<()> {
        let path = root.join(MANIFEST_FILE);
        let tmp = root.join(format!(".{MANIFEST_FILE}.tmp-{}", std::process::id()));
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(e.to_string()))?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&json).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        sync_dir(root)
    }
}

/// fsyncs a directory so renames inside it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

pub(crate) use seine_datasets::dates::now_rfc3339;

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_shape() {
        let s = super::now_rfc3339();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'));
    }
}
