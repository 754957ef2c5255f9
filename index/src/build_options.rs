//! What a build writes: [`BuildOptions`], built by every front end through its
//! `with_*` methods.

use crate::multi::MultiSettings;
use crate::sparse::SparseSettings;
use crate::{DenseSettings, LexicalSettings, Manifest, SourceInfo};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub source: SourceInfo,
    pub lexical: Option<LexicalSettings>,
    /// Dense vectors (given to [`IndexWriter::add`]) and how to search them.
    pub dense: Option<DenseSettings>,
    /// Learned-sparse term weights (given to [`IndexWriter::add_with`]).
    pub sparse: Option<SparseSettings>,
    /// Late-interaction token vectors (given to [`IndexWriter::add_doc`]).
    pub multi: Option<MultiSettings>,
    /// Replace an existing index at the target (atomically).
    pub overwrite: bool,
    /// Recorded in the manifest.
    pub command: Option<String>,
    /// Indexing threads (tantivy); 0 = all cores.
    pub threads: usize,
    /// Metadata fields stored for filtering.
    pub fields: Vec<crate::filter::FieldSpec>,
}

impl BuildOptions {
    /// A build of `source` (recorded with `command` in the manifest): no part yet,
    /// not replacing an index, every core, no metadata fields. The `with_*` methods
    /// add the rest; every front end builds its options this way.
    pub fn new(source: SourceInfo, command: impl Into<String>) -> Self {
        BuildOptions {
            source,
            lexical: None,
            dense: None,
            sparse: None,
            multi: None,
            overwrite: false,
            command: Some(command.into()),
            threads: 0,
            fields: Vec::new(),
        }
    }

    /// The settings `manifest` records (a rebuild of that index: compaction).
    pub fn like(manifest: &Manifest, command: impl Into<String>) -> Self {
        BuildOptions::new(manifest.source.clone(), command)
            .with_lexical(manifest.lexical)
            .with_dense(manifest.dense.clone())
            .with_sparse(manifest.sparse.clone())
            .with_multi(manifest.multi.clone())
            .with_fields(manifest.fields.clone())
    }

    pub fn with_lexical(mut self, lexical: Option<LexicalSettings>) -> Self {
        self.lexical = lexical;
        self
    }

    pub fn with_dense(mut self, dense: Option<DenseSettings>) -> Self {
        self.dense = dense;
        self
    }

    pub fn with_sparse(mut self, sparse: Option<SparseSettings>) -> Self {
        self.sparse = sparse;
        self
    }

    pub fn with_multi(mut self, multi: Option<MultiSettings>) -> Self {
        self.multi = multi;
        self
    }

    /// Replace an index already at the target (atomically).
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Indexing threads (0: every core).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    pub fn with_fields(mut self, fields: Vec<crate::filter::FieldSpec>) -> Self {
        self.fields = fields;
        self
    }
}
