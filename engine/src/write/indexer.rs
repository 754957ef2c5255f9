//! The indexing pipeline: a document stream → every index part → one atomic commit.

use std::time::Instant;

use candle_core::Device;
use seine_datasets::{Doc, DocStream, Progress};
use seine_index::{BuildOptions, IndexDir, IndexWriter};

use crate::Result;
use crate::encode::doc_text;
use crate::encoder::{Encoder, Side};

use crate::settings::ENCODE_CHUNK as CHUNK;

pub use super::imported::{PrecomputedSparse, PrecomputedTokens, PrecomputedVectors};

/// Summary of an indexing run.
#[derive(Debug, Clone)]
pub struct IndexStats {
    pub docs: u64,
    pub seconds: f64,
}

/// Where an index's dense vectors come from.
#[derive(Clone, Copy)]
pub enum DenseSource<'a> {
    Encoder(&'a dyn Encoder),
    Vectors(&'a PrecomputedVectors),
}

/// Where an index's sparse term weights come from.
#[derive(Clone, Copy)]
pub enum SparseSource<'a> {
    Encoder(&'a crate::SpladeEncoder),
    Vectors(&'a PrecomputedSparse),
}

/// Where an index's token vectors come from.
#[derive(Clone, Copy)]
pub enum MultiSource<'a> {
    Encoder(&'a crate::MultiVectorEncoder),
    Tokens(&'a PrecomputedTokens),
}

/// Where every encoded part of an index comes from.
#[derive(Clone, Copy, Default)]
pub struct Sources<'a> {
    pub dense: Option<DenseSource<'a>>,
    pub sparse: Option<SparseSource<'a>>,
    /// Token vectors for late interaction.
    pub multi: Option<MultiSource<'a>>,
    /// The multi-vector encoder is the dense model: take the dense vectors from the
    /// same forward pass (the `dense` source is then not used).
    pub multi_shares_dense: bool,
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

/// Feeds every document of `docs` to `writer` (encoding them with `dense` and
/// `sparse` when given, a chunk at a time) and commits. `on_progress(progress, docs)` is called after each
/// chunk. On error nothing is committed: the writer is dropped and its staging files
/// removed.
pub fn index_corpus(
    docs: &mut dyn DocStream,
    mut writer: IndexWriter,
    sources: Sources<'_>,
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
        let Sources {
            dense,
            sparse,
            multi,
            multi_shares_dense,
        } = sources;
        let texts: Vec<String> = chunk.iter().map(doc_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (shared_dense, tokens) = match multi {
            Some(MultiSource::Encoder(m)) if multi_shares_dense => {
                let (e, t) = m.encode_both(&refs, Side::Document)?;
                (Some(e), Some(t))
            }
            Some(MultiSource::Encoder(m)) => (None, Some(m.encode(&refs, Side::Document)?)),
            Some(MultiSource::Tokens(p)) => {
                let t = chunk.iter().map(|d| p.get(&d.id).map(<[f32]>::to_vec));
                (None, Some(t.collect::<Result<Vec<_>>>()?))
            }
            None => (None, None),
        };
        let vectors = match dense {
            _ if shared_dense.is_some() => shared_dense,
            Some(DenseSource::Vectors(v)) => {
                let mut data = Vec::with_capacity(chunk.len() * v.dim);
                for doc in &chunk {
                    data.extend_from_slice(v.get(&doc.id)?);
                }
                Some(crate::Embeddings { dim: v.dim, data })
            }
            Some(DenseSource::Encoder(enc)) => Some(enc.encode(&refs, Side::Document)?),
            None => None,
        };
        let encoded: Option<Vec<Vec<(String, f32)>>> = match sparse {
            Some(SparseSource::Encoder(enc)) => {
                let vs = enc.encode(&refs, Side::Document)?;
                Some(vs.iter().map(|v| enc.named_terms(v)).collect())
            }
            _ => None,
        };
        for (i, doc) in chunk.iter().enumerate() {
            let imported = match sparse {
                Some(SparseSource::Vectors(p)) => Some(p.get(&doc.id)?),
                _ => None,
            };
            let terms: Option<&[(String, f32)]> = match (&imported, &encoded) {
                (Some(t), _) => Some(t),
                (_, Some(e)) => Some(&e[i]),
                _ => None,
            };
            let refs: Option<Vec<(&str, f32)>> =
                terms.map(|t| t.iter().map(|(s, w)| (s.as_str(), *w)).collect());
            writer.add_doc(
                doc,
                seine_index::DocParts {
                    dense: vectors.as_ref().map(|v| v.row(i)),
                    sparse: refs.as_deref(),
                    tokens: tokens.as_ref().map(|t| t[i].as_slice()),
                },
            )?;
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

/// Parts computed elsewhere, used instead of encoding the documents (their models
/// still encode queries).
#[derive(Default)]
pub struct Imported {
    pub dense: Option<PrecomputedVectors>,
    pub sparse: Option<PrecomputedSparse>,
    pub multi: Option<PrecomputedTokens>,
}

/// Builds the index `opts` describes at `root` from `docs`: the encoders come from
/// [`crate::Encoders::for_build`] (the same loader searching uses), imported parts
/// replace encoding where given. Nothing is written at `root` unless it all succeeds.
pub fn build(
    docs: &mut dyn DocStream,
    root: &std::path::Path,
    mut opts: BuildOptions,
    imported: &Imported,
    device: &Device,
    on_progress: &mut dyn FnMut(Progress, u64),
) -> Result<(IndexDir, IndexStats)> {
    let enc = crate::Encoders::for_build(&mut opts, device)?;
    if let (Some(v), Some(e)) = (&imported.dense, &enc.dense)
        && v.dim != e.dim()
    {
        return Err(crate::Error::InvalidArgument(format!(
            "the imported vectors are {}-d, but the query encoder gives {}-d vectors",
            v.dim,
            e.dim()
        )));
    }
    let dense = match (&imported.dense, &enc.dense) {
        (Some(v), _) => Some(DenseSource::Vectors(v)),
        (None, Some(e)) => Some(DenseSource::Encoder(e.as_ref() as &dyn Encoder)),
        _ => None,
    };
    let sparse = match (&imported.sparse, &enc.sparse) {
        (Some(v), _) => Some(SparseSource::Vectors(v)),
        (None, Some(e)) => Some(SparseSource::Encoder(e)),
        _ => None,
    };
    if let (Some(t), Some(e)) = (&imported.multi, &enc.multi)
        && t.dim != e.dim()
    {
        return Err(crate::Error::InvalidArgument(format!(
            "the imported token vectors are {}-d, but the query encoder gives {}-d vectors",
            t.dim,
            e.dim()
        )));
    }
    let multi = match (&imported.multi, &enc.multi) {
        (Some(t), _) => Some(MultiSource::Tokens(t)),
        (None, Some(e)) => Some(MultiSource::Encoder(e)),
        _ => None,
    };
    let sources = Sources {
        dense,
        sparse,
        multi,
        multi_shares_dense: enc.multi_shares_dense()
            && imported.dense.is_none()
            && imported.multi.is_none(),
    };
    let writer = IndexWriter::create(root, opts)?;
    index_corpus(docs, writer, sources, on_progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use seine_datasets::embeddings::EmbeddingWriter;

    #[test]
    fn parquet_vectors_are_streamed_and_read_back_by_id() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("v.parquet");
        let mut w = EmbeddingWriter::create(&path, 3).unwrap();
        w.write(&["a", "b"], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .unwrap();
        w.write(&["c"], &[7.0, 8.0, 9.0]).unwrap();
        w.finish().unwrap();
        let v = PrecomputedVectors::from_parquet(&path).unwrap();
        assert_eq!(v.dim, 3);
        assert_eq!(v.get("b").unwrap(), &[4.0, 5.0, 6.0]);
        assert_eq!(v.get("c").unwrap(), &[7.0, 8.0, 9.0]);
        assert!(v.get("d").is_err());
        let dup = t.path().join("dup.parquet");
        let mut w = EmbeddingWriter::create(&dup, 1).unwrap();
        w.write(&["a", "b", "a"], &[1.0, 2.0, 3.0]).unwrap();
        w.finish().unwrap();
        let e = PrecomputedVectors::from_parquet(&dup)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("\"a\" twice (rows 1 and 3)"), "{e}");
    }

    #[test]
    fn parquet_sparse_vectors_are_streamed_and_read_back_by_id() {
        use seine_datasets::sparse_io::SparseWriter;
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("s.parquet");
        let mut w = SparseWriter::create(&path).unwrap();
        let rows = vec![
            (
                "a",
                vec![("héllo".to_string(), 1.5), ("x".to_string(), 0.25)],
            ),
            ("b", vec![]),
            ("c", vec![("y".to_string(), 2.0)]),
        ];
        w.write(&rows).unwrap();
        w.finish().unwrap();
        let s = PrecomputedSparse::from_parquet(&path).unwrap();
        for (id, want) in &rows {
            assert_eq!(&s.get(id).unwrap(), want);
        }
        assert!(s.get("d").is_err());
        let dup = t.path().join("dup.parquet");
        let mut w = SparseWriter::create(&dup).unwrap();
        w.write(&[("a", vec![]), ("a", vec![])]).unwrap();
        w.finish().unwrap();
        let e = PrecomputedSparse::from_parquet(&dup)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("\"a\" twice (second at row 2)"), "{e}");
    }
}
