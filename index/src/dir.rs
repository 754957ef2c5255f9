//! The index directory and its atomic commits.
//!
//! Layout:
//! ```text
//! <index>/manifest.json          what the index holds (written last, atomically)
//! <index>/gen-000001/doc_ids.jsonl
//! <index>/gen-000001/lexical/    tantivy files (BM25)
//! <index>/gen-000001/dense/      vectors.f32 and the HNSW graph
//! <index>/gen-000001/sparse/     tantivy files (SPLADE impacts)
//! <index>/gen-000001/multi/      token vectors (tokens.f16|f32, offsets.u64)
//! <index>/gen-000001/fields/     tantivy fast fields (metadata for filters)
//! ```
//! A new index is built in a hidden sibling folder (`.<name>.building-<pid>`) and renamed
//! into place when complete. Rebuilding an existing index (`overwrite`) builds the next
//! generation folder beside the current one and then swaps `manifest.json` atomically.
//! Either way, a build killed at any point leaves no index, or the previous committed
//! one; leftovers of dead builds are removed by the next build.

use std::path::{Path, PathBuf};

use seine_datasets::Doc;

use crate::dense::DenseWriter;
use crate::docmap::{DOC_IDS_FILE, DocMapWriter};
use crate::lexical::{LexicalIndex, LexicalWriter};
use crate::manifest::{now_rfc3339, sync_dir};
use crate::multi::{MultiIndex, MultiWriter};
use crate::sparse::{SparseIndex, SparseWriter};
use crate::{BuildOptions, DenseIndex, DocId, DocMap, Error, FORMAT_VERSION, Manifest, Result};

const LEXICAL_DIR: &str = "lexical";
const DENSE_DIR: &str = "dense";
const SPARSE_DIR: &str = "sparse";
const MULTI_DIR: &str = "multi";
const FIELDS_DIR: &str = "fields";

fn gen_name(generation: u64) -> String {
    format!("gen-{generation:06}")
}

/// An open, committed index, with a reader lease on its generation
/// ([`crate::lock`]): a compaction elsewhere leaves it readable until the last clone is
/// dropped.
#[derive(Debug, Clone)]
pub struct IndexDir {
    root: PathBuf,
    manifest: Manifest,
    _lease: Option<std::sync::Arc<crate::lock::ReaderLease>>,
}

impl IndexDir {
    /// Opens the committed index at `root` (reads its manifest, takes a reader lease;
    /// writes nothing).
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::NotAnIndex {
                path: root.to_path_buf(),
                message: "no such index directory".into(),
            });
        }
        let mut manifest = Manifest::read(root)?;
        // The lease is taken after reading which generation is current; if a commit
        // moved past it meanwhile, read again.
        for _ in 0..20 {
            let lease = crate::lock::ReaderLease::take(root, manifest.generation)?;
            let again = Manifest::read(root)?;
            if again.generation == manifest.generation {
                return Ok(IndexDir {
                    root: root.to_path_buf(),
                    manifest,
                    _lease: lease.map(std::sync::Arc::new),
                });
            }
            manifest = again;
        }
        Err(Error::NotAnIndex {
            path: root.to_path_buf(),
            message: "the index kept changing while it was opened".into(),
        })
    }

    /// Removes generations a compaction replaced that no reader has open any more, and
    /// creates the current generation's readers file where it is missing (an index
    /// from before reader leases). For the index's writer only.
    pub fn remove_unused_generations(&self) {
        let _ = crate::lock::create_readers_file(&self.root, self.manifest.generation);
        remove_stale_generations(&self.root, self.manifest.generation);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn generation_dir(&self) -> PathBuf {
        self.root.join(gen_name(self.manifest.generation))
    }

    /// The external ↔ internal id map.
    pub fn doc_map(&self) -> Result<DocMap> {
        DocMap::load(&self.generation_dir().join(DOC_IDS_FILE))
    }

    /// The late-interaction token-vector store.
    pub fn multi(&self) -> Result<MultiIndex> {
        let settings = self
            .manifest
            .multi
            .as_ref()
            .ok_or_else(|| Error::NotAnIndex {
                path: self.root.clone(),
                message: "this index has no token vectors (index with --multi MODEL)".into(),
            })?;
        MultiIndex::open(&self.generation_dir().join(MULTI_DIR), settings)
    }

    /// The learned-sparse impact index.
    pub fn sparse(&self) -> Result<SparseIndex> {
        let settings = self
            .manifest
            .sparse
            .as_ref()
            .ok_or_else(|| Error::NotAnIndex {
                path: self.root.clone(),
                message: "this index has no sparse part (index with --sparse MODEL)".into(),
            })?;
        SparseIndex::open(&self.generation_dir().join(SPARSE_DIR), settings)
    }

    /// The dense index (vectors and, when built, the HNSW graph).
    pub fn dense(&self) -> Result<DenseIndex> {
        let settings = self
            .manifest
            .dense
            .as_ref()
            .ok_or_else(|| Error::NotAnIndex {
                path: self.root.clone(),
                message: "this index has no dense part (index with --dense MODEL)".into(),
            })?;
        DenseIndex::open(&self.generation_dir().join(DENSE_DIR), settings)
    }

    /// The stored metadata fields (None when the index declares none).
    pub fn fields(&self) -> Result<Option<crate::FieldStore>> {
        if self.manifest.fields.is_empty() {
            return Ok(None);
        }
        let dir = self.generation_dir().join(FIELDS_DIR);
        let len = self.manifest.doc_count as usize;
        crate::FieldStore::open(&dir, &self.manifest.fields, len).map(Some)
    }

    /// The lexical index, searching with the manifest's BM25 parameters.
    pub fn lexical(&self) -> Result<LexicalIndex> {
        let settings = self.manifest.lexical.ok_or_else(|| Error::NotAnIndex {
            path: self.root.clone(),
            message: "this index has no lexical (BM25) part".into(),
        })?;
        LexicalIndex::open(
            &self.generation_dir().join(LEXICAL_DIR),
            settings.mode,
            settings.params(),
        )
    }
}

/// Everything of one document besides its text, for [`IndexWriter::add_doc`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DocParts<'a> {
    pub dense: Option<&'a [f32]>,
    pub sparse: Option<&'a [(&'a str, f32)]>,
    /// Token vectors, row-major.
    pub tokens: Option<&'a [f32]>,
}

/// Where a build writes until it commits.
enum Staging {
    /// No index at the target yet: the whole directory is built aside.
    Fresh { dir: PathBuf },
    /// Replacing a committed index: a new generation inside it.
    NextGeneration { previous: u64 },
}

/// Builds an index; nothing is visible at the target until [`IndexWriter::commit`].
/// Dropping the writer without committing removes what it wrote.
pub struct IndexWriter {
    root: PathBuf,
    staging: Staging,
    /// Where this build's generation is written.
    work_dir: PathBuf,
    generation: u64,
    opts: BuildOptions,
    ids: Option<DocMapWriter>,
    lexical: Option<LexicalWriter>,
    dense: Option<DenseWriter>,
    sparse: Option<SparseWriter>,
    multi: Option<MultiWriter>,
    fields: Option<crate::filter::fields::FieldsWriter>,
    committed: bool,
}

fn pid_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes leftovers of builds whose process is gone: names `<prefix><pid>`.
fn remove_dead_builds(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !pid_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Where a build is staged: beside the target (a new index, or an empty folder to
/// replace), or inside it as the next generation (`overwrite` of an existing index).
fn plan_staging(
    root: &Path,
    parent: &Path,
    name: &str,
    overwrite: bool,
) -> Result<(Staging, PathBuf, u64)> {
    Ok(if root.exists() {
        let manifest = match Manifest::read(root) {
            Ok(m) => Some(m),
            Err(Error::NotAnIndex { .. }) if dir_is_empty(root) => None,
            Err(e @ Error::NotAnIndex { .. }) => {
                return Err(Error::Target {
                    path: root.to_path_buf(),
                    message: format!(
                        "exists and is not a seine index ({e}); refusing to overwrite it"
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        match manifest {
            None => {
                // An empty directory: build aside, rename over it.
                let dir = parent.join(format!(".{name}.building-{}", std::process::id()));
                (
                    Staging::Fresh { dir: dir.clone() },
                    dir.join(gen_name(1)),
                    1,
                )
            }
            Some(m) => {
                if !overwrite {
                    return Err(Error::Target {
                        path: root.to_path_buf(),
                        message: "an index already exists here (use --overwrite to replace it)"
                            .into(),
                    });
                }
                remove_dead_builds(root, ".building-");
                remove_stale_generations(root, m.generation);
                let generation = m.generation + 1;
                let work = root.join(format!(".building-{}", std::process::id()));
                (
                    Staging::NextGeneration {
                        previous: m.generation,
                    },
                    work,
                    generation,
                )
            }
        }
    } else {
        let dir = parent.join(format!(".{name}.building-{}", std::process::id()));
        (
            Staging::Fresh { dir: dir.clone() },
            dir.join(gen_name(1)),
            1,
        )
    })
}

impl IndexWriter {
    pub fn create(root: &Path, opts: BuildOptions) -> Result<Self> {
        if let Some(l) = &opts.lexical {
            l.params().validate()?;
        }
        if let Some(d) = &opts.dense {
            d.validate()?;
        }
        if let Some(s) = &opts.sparse {
            s.validate()?;
        }
        let name = root
            .file_name()
            .ok_or_else(|| Error::Target {
                path: root.to_path_buf(),
                message: "index path has no final component".into(),
            })?
            .to_string_lossy()
            .into_owned();
        let parent = match root.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (staging, work_dir, generation) = plan_staging(root, &parent, &name, opts.overwrite)?;
        remove_dead_builds(&parent, &format!(".{name}.building-"));
        let _ = std::fs::remove_dir_all(&work_dir);
        std::fs::create_dir_all(&work_dir).map_err(|e| Error::io(&work_dir, e))?;
        let mut writer = IndexWriter {
            root: root.to_path_buf(),
            staging,
            work_dir,
            generation,
            opts,
            ids: None,
            lexical: None,
            dense: None,
            sparse: None,
            multi: None,
            fields: None,
            committed: false,
        };
        if !writer.opts.fields.is_empty() {
            let dir = writer.work_dir.join(FIELDS_DIR);
            writer.fields = Some(crate::filter::fields::FieldsWriter::create(
                &dir,
                &writer.opts.fields,
            )?);
        }
        if let Some(m) = &writer.opts.multi {
            writer.multi = Some(MultiWriter::create(&writer.work_dir.join(MULTI_DIR), m)?);
        }
        if let Some(d) = &writer.opts.dense {
            writer.dense = Some(DenseWriter::create(
                &writer.work_dir.join(DENSE_DIR),
                d.dim,
            )?);
        }
        writer.ids = Some(DocMapWriter::create(&writer.work_dir.join(DOC_IDS_FILE))?);
        let threads = match writer.opts.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        if let Some(s) = &writer.opts.sparse {
            writer.sparse = Some(SparseWriter::create(
                &writer.work_dir.join(SPARSE_DIR),
                s.scale,
                threads,
                threads * 64_000_000,
            )?);
        }
        if let Some(l) = writer.opts.lexical {
            writer.lexical = Some(LexicalWriter::create(
                &writer.work_dir.join(LEXICAL_DIR),
                l.mode,
                threads,
                threads * 64_000_000,
            )?);
        }
        Ok(writer)
    }

    /// Adds a document with its dense vector (required when the index has a dense
    /// part, ignored otherwise); returns its [`DocId`].
    pub fn add(&mut self, doc: &Doc, vector: Option<&[f32]>) -> Result<DocId> {
        self.add_with(doc, vector, None)
    }

    /// Adds a document with its dense vector and sparse (term, weight) pairs, each
    /// required when the index has that part and ignored otherwise.
    pub fn add_with(
        &mut self,
        doc: &Doc,
        vector: Option<&[f32]>,
        sparse: Option<&[(&str, f32)]>,
    ) -> Result<DocId> {
        self.add_doc(
            doc,
            DocParts {
                dense: vector,
                sparse,
                tokens: None,
            },
        )
    }

    /// Adds a document with every part the index has (each required when the index has
    /// that part, ignored otherwise); returns its [`DocId`].
    /// Compress token vectors with `codec` instead of training one (compaction).
    pub fn reuse_codec(&mut self, codec: seine_kernels::residual::Codec) {
        if let Some(m) = &mut self.multi {
            m.reuse_codec(codec);
        }
    }

    pub fn add_doc(&mut self, doc: &Doc, parts: DocParts<'_>) -> Result<DocId> {
        let DocParts {
            dense: vector,
            sparse,
            tokens,
        } = parts;
        match (&mut self.multi, tokens) {
            (Some(m), Some(t)) => m.push(&doc.id, t)?,
            (Some(_), None) => {
                return Err(Error::Internal(format!(
                    "document {:?} has no token vectors",
                    doc.id
                )));
            }
            _ => {}
        }
        if self.sparse.is_some() && sparse.is_none() {
            return Err(Error::Internal(format!(
                "document {:?} has no sparse vector",
                doc.id
            )));
        }
        match (&mut self.dense, vector) {
            (Some(d), Some(v)) => d.push(&doc.id, v)?,
            (Some(_), None) => {
                return Err(Error::Internal(format!(
                    "document {:?} has no dense vector",
                    doc.id
                )));
            }
            _ => {}
        }
        let ids = self.ids.as_mut().expect("writer not committed");
        let id = ids.push(&doc.id)?;
        if let Some(f) = &mut self.fields {
            f.add(id, doc)?;
        }
        if let Some(l) = &mut self.lexical {
            l.add(id, doc)?;
        }
        if let (Some(w), Some(terms)) = (&mut self.sparse, sparse) {
            w.add(id, terms)?;
        }
        Ok(id)
    }

    /// Documents added so far.
    pub fn len(&self) -> u64 {
        self.ids.as_ref().map_or(0, |i| i.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes the build durable and visible at the target, atomically.
    pub fn commit(mut self) -> Result<IndexDir> {
        let doc_count = self.len();
        if let Some(l) = self.lexical.take() {
            l.commit()?;
        }
        if let Some(s) = self.sparse.take() {
            s.commit()?;
        }
        if let Some(f) = self.fields.take() {
            f.commit()?;
        }
        let mut multi = self.opts.multi.clone();
        if let (Some(w), Some(m)) = (self.multi.take(), &mut multi) {
            let stats = w.finish()?;
            (m.tokens, m.centroids) = (stats.tokens, stats.centroids);
        }
        self.ids.take().expect("writer not committed").finish()?;
        let mut dense = self.opts.dense.clone();
        if let Some(d) = &mut dense {
            d.graph = d.graph_for(doc_count);
            let graph = d.hnsw.filter(|_| d.graph);
            d.beam = self.dense.take().expect("dense writer").finish(
                graph,
                d.target_recall,
                d.quantization,
            )?;
            if let (Some(fit), Some(p)) = (d.beam, &mut d.hnsw) {
                p.ef_search = fit.ef;
            }
        }
        let gen_dir_name = gen_name(self.generation);
        let mut files = Vec::new();
        list_files(&self.work_dir, &self.work_dir, &gen_dir_name, &mut files)?;
        files.sort();
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            seine_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: now_rfc3339(),
            command: self.opts.command.clone(),
            generation: self.generation,
            doc_count,
            source: self.opts.source.clone(),
            lexical: self.opts.lexical,
            dense,
            sparse: self.opts.sparse.clone(),
            multi,
            fields: self.opts.fields.clone(),
            files,
        };
        sync_tree(&self.work_dir)?;
        crate::faults::pause("commit-start");
        match &self.staging {
            Staging::Fresh { dir } => {
                crate::lock::create_readers_file(dir, self.generation)?;
                manifest.write_atomic(dir)?;
                crate::faults::pause("commit-rename");
                // rename(2) replaces an empty directory, fails on a non-empty one: a
                // concurrent build that committed first is never overwritten.
                std::fs::rename(dir, &self.root).map_err(|e| Error::Target {
                    path: self.root.clone(),
                    message: format!("cannot move the new index into place: {e}"),
                })?;
                if let Some(parent) = self.root.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(parent)?;
                }
            }
            Staging::NextGeneration { previous } => {
                let gen_dir = self.root.join(&gen_dir_name);
                crate::faults::pause("commit-rename");
                std::fs::rename(&self.work_dir, &gen_dir).map_err(|e| Error::io(&gen_dir, e))?;
                crate::lock::create_readers_file(&self.root, self.generation)?;
                sync_dir(&self.root)?;
                crate::faults::pause("commit-manifest");
                manifest.write_atomic(&self.root)?;
                // Readers of the previous generation keep it until they close; the
                // writer removes it later (`remove_unused_generations`) if it is open.
                if crate::lock::unread(&self.root, *previous) {
                    let _ = std::fs::remove_dir_all(self.root.join(gen_name(*previous)));
                }
            }
        }
        self.committed = true;
        IndexDir::open(&self.root)
    }
}

impl Drop for IndexWriter {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Stop tantivy's threads before removing their files.
        drop(self.lexical.take());
        drop(self.fields.take());
        let dir = match &self.staging {
            Staging::Fresh { dir } => dir,
            Staging::NextGeneration { .. } => &self.work_dir,
        };
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[path = "dir_files.rs"]
mod files;
use files::{dir_is_empty, list_files, remove_stale_generations, sync_tree};
