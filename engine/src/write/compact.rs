//! Compaction: the generation's documents less the deleted, plus the added, written as
//! one new generation with the same settings (HNSW `auto` included: an index that grew
//! past the threshold gets its graph).

use seine_datasets::Doc;
use seine_index::{BuildOptions, DocParts, IndexDir, IndexWriter};

use crate::search::Live;
use crate::{Result, Searcher};

impl Searcher {
    /// Rebuilds the index as one new generation: the generation's documents less the
    /// deleted, plus the added (vectors, sparse weights and token vectors are copied,
    /// not re-encoded; the HNSW graph and BM25 statistics are rebuilt). Writers wait
    /// meanwhile; searches go on. Afterwards this searcher refuses writes
    /// ([`crate::Error::Retired`]): open the returned directory with [`Searcher::reopen`].
    pub fn compact(&self) -> Result<IndexDir> {
        let mut w = self.writer.lock().expect("writer lock");
        self.ensure_writer(&mut w, None)?;
        let dir = {
            // One read lock for the whole copy: helpers take `&Live`, never the lock
            // again (a re-entrant read can deadlock behind a waiting writer).
            let live = self.live.read().expect("live lock");
            let m = self.index.manifest();
            let opts = BuildOptions::like(m, "compact").with_overwrite(true);
            let mut writer = IndexWriter::create(self.index.root(), opts)?;
            // Compressed token vectors keep their codec (re-encoding decoded vectors
            // with the same centroids and buckets gives back the same codes).
            if let Some(codec) = self.multi.as_ref().and_then(|m| m.codec()) {
                writer.reuse_codec(codec.clone());
            }
            self.copy_generation(&live, &mut writer)?;
            for (_, d) in live.iter() {
                let sparse: Option<Vec<(&str, f32)>> = d
                    .sparse
                    .as_ref()
                    .map(|m| m.iter().map(|(t, w)| (t.as_str(), *w)).collect());
                writer.add_doc(
                    &d.doc,
                    DocParts {
                        dense: d.dense.as_deref(),
                        sparse: sparse.as_deref(),
                        tokens: d.tokens.as_deref(),
                    },
                )?;
            }
            writer.commit()?
        };
        // Committed: the old log is folded in; this searcher's state is retired.
        if let Some(wal) = w.wal.take() {
            wal.remove();
        }
        w.retired = true;
        Ok(dir)
    }

    /// The generation's visible documents with every stored part, into `writer`.
    fn copy_generation(&self, live: &Live, writer: &mut IndexWriter) -> Result<()> {
        let forward = match &self.sparse {
            Some(s) => Some(s.index().forward(live.base_len as usize)?),
            None => None,
        };
        for doc in 0..live.base_len {
            if live.hidden.contains(&doc) {
                continue;
            }
            let id = self.doc_map.external(doc).unwrap_or_default().to_string();
            let d = match self.stored_in(live, doc)? {
                Some(s) => Doc {
                    id,
                    title: s.title,
                    text: s.text,
                    metadata: self.metadata_in(live, doc),
                },
                None => Doc {
                    id,
                    metadata: self.metadata_in(live, doc),
                    ..Doc::default()
                },
            };
            let sparse: Option<Vec<(&str, f32)>> =
                forward.as_ref().map(|f| f.doc(doc as usize).collect());
            let tokens = self.doc_tokens_in(live, doc);
            writer.add_doc(
                &d,
                DocParts {
                    dense: self.dense.as_ref().and_then(|r| r.index().vector(doc)),
                    sparse: sparse.as_deref(),
                    tokens: tokens.as_deref(),
                },
            )?;
        }
        Ok(())
    }
}
