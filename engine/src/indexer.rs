//! The indexing pipeline: a document stream → every index part → one atomic commit.

use std::time::Instant;

use seine_datasets::{Doc, DocStream, Progress};
use seine_index::{IndexDir, IndexWriter};

use crate::Result;
use crate::encoder::{Encoder, Side};

/// Documents encoded per chunk.
const CHUNK: usize = 256;

/// Summary of an indexing run.
#[derive(Debug, Clone)]
pub struct IndexStats {
    pub docs: u64,
    pub seconds: f64,
}

/// The text a dense encoder sees for a document: `title + " " + text`, trimmed (as
/// BEIR and MTEB encode corpora).
pub fn doc_text(doc: &Doc) -> String {
    format!("{} {}", doc.title, doc.text).trim().to_string()
}

/// Reads up to `n` documents into `chunk` (cleared first); an empty chunk means the
/// stream is done.
pub fn next_chunk(docs: &mut dyn DocStream, n: usize, chunk: &mut Vec<Doc>) -> Result<()> {
    chunk.clear();
    while chunk.len() < n {
        match docs.next() {
            Some(doc) => chunk.push(doc?),
            None => break,
        }
    }
    Ok(())
}

/// Feeds every document of `docs` to `writer` (encoding them with `dense` when given,
/// a chunk at a time) and commits. `on_progress(progress, docs)` is called after each
/// chunk. On error nothing is committed: the writer is dropped and its staging files
/// removed.
pub fn index_corpus(
    docs: &mut dyn DocStream,
    mut writer: IndexWriter,
    dense: Option<&dyn Encoder>,
    on_progress: &mut dyn FnMut(Progress, u64),
) -> Result<(IndexDir, IndexStats)> {
    let start = Instant::now();
    let mut n = 0u64;
    let mut chunk: Vec<Doc> = Vec::with_capacity(CHUNK);
    loop {
        next_chunk(docs, CHUNK, &mut chunk)?;
        if chunk.is_empty() {
            break;
        }
        let vectors = match dense {
            Some(enc) => {
                let texts: Vec<String> = chunk.iter().map(doc_text).collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                Some(enc.encode(&refs, Side::Document)?)
            }
            None => None,
        };
        for (i, doc) in chunk.iter().enumerate() {
            writer.add(doc, vectors.as_ref().map(|v| v.row(i)))?;
        }
        n += chunk.len() as u64;
        on_progress(docs.progress(), n);
    }
    let dir = writer.commit()?;
    Ok((
        dir,
        IndexStats {
            docs: n,
            seconds: start.elapsed().as_secs_f64(),
        },
    ))
}
