//! The indexing pipeline: a document stream → every index part → one atomic commit.

use std::time::Instant;

use seine_datasets::{DocStream, Progress};
use seine_index::{IndexDir, IndexWriter};

use crate::Result;

/// Summary of an indexing run.
#[derive(Debug, Clone)]
pub struct IndexStats {
    pub docs: u64,
    pub seconds: f64,
}

/// Feeds every document of `docs` to `writer` and commits. `on_progress(progress, docs)`
/// is called every few hundred documents. On error nothing is committed: the writer is
/// dropped and its staging files removed.
pub fn index_corpus(
    docs: &mut dyn DocStream,
    mut writer: IndexWriter,
    on_progress: &mut dyn FnMut(Progress, u64),
) -> Result<(IndexDir, IndexStats)> {
    let start = Instant::now();
    let mut n = 0u64;
    while let Some(doc) = docs.next() {
        let doc = doc?;
        writer.add(&doc)?;
        n += 1;
        if n.is_multiple_of(256) {
            on_progress(docs.progress(), n);
        }
    }
    on_progress(docs.progress(), n);
    let dir = writer.commit()?;
    Ok((
        dir,
        IndexStats {
            docs: n,
            seconds: start.elapsed().as_secs_f64(),
        },
    ))
}
