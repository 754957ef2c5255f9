//! The indexing pipeline: a document stream → every index part → one atomic commit.

use std::time::Instant;

use candle_core::Device;
use seine_datasets::{Doc, DocStream, Progress};
use seine_index::{BuildOptions, IndexDir, IndexWriter};

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

/// Dense vectors computed elsewhere (e.g. read from Parquet), looked up by document id.
/// Read from Parquet they are streamed into an anonymous temporary file and
/// memory-mapped ([`PrecomputedVectors::from_parquet`]): RAM holds the ids only.
pub struct PrecomputedVectors {
    pub dim: usize,
    by_id: std::collections::HashMap<String, usize>,
    data: VectorRows,
}

enum VectorRows {
    Owned(Vec<f32>),
    Mapped(memmap2::Mmap),
}

impl VectorRows {
    fn get(&self, i: usize, dim: usize) -> &[f32] {
        match self {
            VectorRows::Owned(v) => &v[i * dim..(i + 1) * dim],
            VectorRows::Mapped(m) => {
                let b = &m[i * dim * 4..(i + 1) * dim * 4];
                // SAFETY: the mapping is page-aligned, rows are whole f32s written by
                // `from_parquet`, every bit pattern is an f32 (little-endian targets).
                unsafe { std::slice::from_raw_parts(b.as_ptr() as *const f32, dim) }
            }
        }
    }
}

impl PrecomputedVectors {
    /// Streams a Parquet vectors file (`id`, `embedding`) row group by row group into
    /// a temporary file; duplicate ids are an error naming both rows.
    pub fn from_parquet(path: &std::path::Path) -> Result<Self> {
        use std::io::Write;
        let io =
            |e: std::io::Error| crate::Error::InvalidArgument(format!("{}: {e}", path.display()));
        let mut out = std::io::BufWriter::new(tempfile::tempfile().map_err(io)?);
        let mut by_id = std::collections::HashMap::new();
        let mut err = None;
        let dim = seine_datasets::embeddings::for_each_embedding(path, |id, v| {
            let row = by_id.len();
            if let Some(first) = by_id.insert(id.to_string(), row) {
                err.get_or_insert(format!(
                    "vectors file lists id {id:?} twice (rows {} and {})",
                    first + 1,
                    row + 1
                ));
            }
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            out.write_all(&bytes)
                .map_err(|e| seine_datasets::Error::io(path, e))
        })?;
        if let Some(m) = err {
            return Err(crate::Error::InvalidArgument(m));
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        let data = if by_id.is_empty() {
            VectorRows::Owned(Vec::new())
        } else {
            // SAFETY: the anonymous file is ours and no longer written.
            VectorRows::Mapped(unsafe { memmap2::Mmap::map(&file) }.map_err(io)?)
        };
        Ok(PrecomputedVectors { dim, by_id, data })
    }

    /// `ids[i]` has the vector `data[i*dim..(i+1)*dim]`; duplicate ids are an error.
    pub fn new(ids: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self> {
        let mut by_id = std::collections::HashMap::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            if let Some(first) = by_id.insert(id.clone(), i) {
                return Err(crate::Error::InvalidArgument(format!(
                    "vectors file lists id {id:?} twice (rows {} and {})",
                    first + 1,
                    i + 1
                )));
            }
        }
        Ok(PrecomputedVectors {
            dim,
            by_id,
            data: VectorRows::Owned(data),
        })
    }

    fn get(&self, id: &str) -> Result<&[f32]> {
        let i = *self.by_id.get(id).ok_or_else(|| {
            crate::Error::InvalidArgument(format!(
                "document {id:?} has no vector in the vectors file"
            ))
        })?;
        Ok(self.data.get(i, self.dim))
    }
}

/// Where an index's dense vectors come from.
#[derive(Clone, Copy)]
pub enum DenseSource<'a> {
    Encoder(&'a dyn Encoder),
    Vectors(&'a PrecomputedVectors),
}

/// Sparse vectors computed elsewhere (e.g. read from Parquet), looked up by document id.
/// Read from Parquet they are streamed into an anonymous temporary file
/// ([`PrecomputedSparse::from_parquet`]): RAM holds the ids and offsets only.
pub struct PrecomputedSparse {
    by_id: std::collections::HashMap<String, (usize, usize)>,
    /// Per row: (u32 term length, term bytes, f32 weight)*.
    data: Vec<u8>,
    mapped: Option<memmap2::Mmap>,
}

fn encode_sparse(terms: &[String], weights: &[f32], out: &mut Vec<u8>) {
    for (t, w) in terms.iter().zip(weights) {
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
        out.extend_from_slice(&w.to_le_bytes());
    }
}

impl PrecomputedSparse {
    /// `rows[i]` = (id, terms, weights); duplicate ids are an error.
    pub fn new(rows: Vec<(String, Vec<String>, Vec<f32>)>) -> Result<Self> {
        let mut s = PrecomputedSparse {
            by_id: Default::default(),
            data: Vec::new(),
            mapped: None,
        };
        for (i, (id, terms, weights)) in rows.into_iter().enumerate() {
            let start = s.data.len();
            encode_sparse(&terms, &weights, &mut s.data);
            let end = s.data.len();
            s.insert(id, i, start, end)?;
        }
        Ok(s)
    }

    fn insert(&mut self, id: String, row: usize, a: usize, b: usize) -> Result<()> {
        if self.by_id.insert(id.clone(), (a, b)).is_some() {
            return Err(crate::Error::InvalidArgument(format!(
                "sparse vectors file lists id {id:?} twice (second at row {})",
                row + 1
            )));
        }
        Ok(())
    }

    /// Streams a Parquet sparse vectors file (`id`, `terms`, `weights`) into a
    /// temporary file; duplicate ids are an error naming the row.
    pub fn from_parquet(path: &std::path::Path) -> Result<Self> {
        use std::io::Write;
        let io =
            |e: std::io::Error| crate::Error::InvalidArgument(format!("{}: {e}", path.display()));
        let mut out = std::io::BufWriter::new(tempfile::tempfile().map_err(io)?);
        let mut s = PrecomputedSparse {
            by_id: Default::default(),
            data: Vec::new(),
            mapped: None,
        };
        let (mut pos, mut row, mut err) = (0usize, 0usize, None);
        let mut buf = Vec::new();
        seine_datasets::sparse_io::for_each_sparse(path, |(id, terms, weights)| {
            buf.clear();
            encode_sparse(&terms, &weights, &mut buf);
            if let Err(e) = s.insert(id, row, pos, pos + buf.len()) {
                err.get_or_insert(e);
            }
            (row, pos) = (row + 1, pos + buf.len());
            out.write_all(&buf)
                .map_err(|e| seine_datasets::Error::io(path, e))
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        if pos > 0 {
            // SAFETY: the anonymous file is ours and no longer written.
            s.mapped = Some(unsafe { memmap2::Mmap::map(&file) }.map_err(io)?);
        }
        Ok(s)
    }

    fn get(&self, id: &str) -> Result<Vec<(String, f32)>> {
        let &(a, b) = self.by_id.get(id).ok_or_else(|| {
            crate::Error::InvalidArgument(format!(
                "document {id:?} has no entry in the sparse vectors file"
            ))
        })?;
        let bytes = match &self.mapped {
            Some(m) => &m[a..b],
            None => &self.data[a..b],
        };
        let (mut out, mut p) = (Vec::new(), 0);
        while p < bytes.len() {
            let n = u32::from_le_bytes(bytes[p..p + 4].try_into().expect("4 bytes")) as usize;
            let t = String::from_utf8_lossy(&bytes[p + 4..p + 4 + n]).into_owned();
            let w = f32::from_le_bytes(bytes[p + 4 + n..p + 8 + n].try_into().expect("4 bytes"));
            out.push((t, w));
            p += 8 + n;
        }
        Ok(out)
    }
}

/// Where an index's sparse term weights come from.
#[derive(Clone, Copy)]
pub enum SparseSource<'a> {
    Encoder(&'a crate::SpladeEncoder),
    Vectors(&'a PrecomputedSparse),
}

/// (term, weight) pairs of a sparse vector, terms as vocabulary strings.
pub fn sparse_terms(enc: &crate::SpladeEncoder, v: &crate::SparseVector) -> Vec<(String, f32)> {
    v.terms
        .iter()
        .zip(&v.weights)
        .map(|(&t, &w)| (enc.term(t).to_string(), w))
        .collect()
}

/// Where every encoded part of an index comes from.
#[derive(Clone, Copy, Default)]
pub struct Sources<'a> {
    pub dense: Option<DenseSource<'a>>,
    pub sparse: Option<SparseSource<'a>>,
    /// Token vectors for late interaction.
    pub multi: Option<&'a crate::MultiVectorEncoder>,
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
            Some(m) if multi_shares_dense => {
                let (e, t) = m.encode_both(&refs, Side::Document)?;
                (Some(e), Some(t))
            }
            Some(m) => (None, Some(m.encode(&refs, Side::Document)?)),
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
                Some(vs.iter().map(|v| sparse_terms(enc, v)).collect())
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
    let sources = Sources {
        dense,
        sparse,
        multi: enc.multi.as_deref(),
        multi_shares_dense: enc.multi_shares_dense() && imported.dense.is_none(),
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
