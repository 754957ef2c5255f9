//! Documents encoded into a Parquet vectors file — what `seine embed`,
//! `seine.Encoder.write_parquet` and the Ray shards share: the text rule
//! ([`crate::encode::doc_text`]), the chunking and one writer per kind (dense `id` +
//! `embedding`, sparse `id` + `terms` + `weights`, token vectors `id` + `tokens`).

use std::path::Path;

use seine_datasets::Doc;
use seine_datasets::embeddings::EmbeddingWriter;
use seine_datasets::sparse_io::SparseWriter;
use seine_datasets::tokens_io::TokensWriter;

use crate::encode::doc_text;
use crate::{DenseEncoder, Encoder, MultiVectorEncoder, Result, Side, SpladeEncoder};

/// Documents encoded per call to the encoder.
pub use crate::settings::ENCODE_CHUNK as CHUNK;

/// An encoder and the Parquet file its vectors go to (written atomically: the file
/// appears at [`VectorsWriter::finish`]).
pub enum VectorsWriter<'a> {
    Dense(&'a DenseEncoder, EmbeddingWriter),
    Sparse(&'a SpladeEncoder, SparseWriter),
    Multi(&'a MultiVectorEncoder, TokensWriter),
}

impl<'a> VectorsWriter<'a> {
    pub fn dense(enc: &'a DenseEncoder, path: &Path) -> Result<Self> {
        Ok(VectorsWriter::Dense(
            enc,
            EmbeddingWriter::create(path, enc.dim())?,
        ))
    }

    pub fn sparse(enc: &'a SpladeEncoder, path: &Path) -> Result<Self> {
        Ok(VectorsWriter::Sparse(enc, SparseWriter::create(path)?))
    }

    pub fn multi(enc: &'a MultiVectorEncoder, path: &Path) -> Result<Self> {
        Ok(VectorsWriter::Multi(
            enc,
            TokensWriter::create(path, enc.dim())?,
        ))
    }

    /// Encodes `docs` (title + text) as `side`, [`CHUNK`] at a time, and appends
    /// them; returns what was written besides the rows: sparse terms, token vectors
    /// (0 for dense vectors).
    pub fn write(&mut self, docs: &[Doc], side: Side) -> Result<u64> {
        let mut units = 0u64;
        for chunk in docs.chunks(CHUNK) {
            let texts: Vec<String> = chunk.iter().map(doc_text).collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let ids: Vec<&str> = chunk.iter().map(|d| d.id.as_str()).collect();
            match self {
                VectorsWriter::Dense(enc, w) => w.write(&ids, &enc.encode(&refs, side)?.data)?,
                VectorsWriter::Sparse(enc, w) => {
                    let vs = enc.encode(&refs, side)?;
                    units += vs.iter().map(|v| v.len() as u64).sum::<u64>();
                    let rows: Vec<(&str, Vec<(String, f32)>)> = ids
                        .iter()
                        .zip(&vs)
                        .map(|(id, v)| (*id, enc.named_terms(v)))
                        .collect();
                    w.write(&rows)?;
                }
                VectorsWriter::Multi(enc, w) => {
                    let mats = enc.encode(&refs, side)?;
                    units += mats
                        .iter()
                        .map(|m| (m.len() / enc.dim()) as u64)
                        .sum::<u64>();
                    let rows: Vec<&[f32]> = mats.iter().map(Vec::as_slice).collect();
                    w.write(&ids, &rows)?;
                }
            }
        }
        Ok(units)
    }

    /// Renames the file into place; returns the rows written.
    pub fn finish(self) -> Result<u64> {
        Ok(match self {
            VectorsWriter::Dense(_, w) => w.finish()?,
            VectorsWriter::Sparse(_, w) => w.finish()?,
            VectorsWriter::Multi(_, w) => w.finish()?,
        })
    }
}
