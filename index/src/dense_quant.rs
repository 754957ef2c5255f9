//! Quantized codes of the dense vectors, searched first (HNSW walk or exact scan over the
//! codes), then the best `rescore × k` candidates rescored with the full-precision
//! vectors (memory-mapped `vectors.f32`):
//!
//! ```text
//! dense/quant.json    {"kind": "int8", "min": [...], "scale": [...]} or {"kind": "binary"}
//! dense/codes.u8      int8: n × dim per-dimension scalar codes
//! dense/codes.sign    binary: n × ⌈dim/64⌉ u64 words of sign bits
//! ```

use std::path::Path;

use seine_kernels::quant::{ScalarQuant, sign_bits, sign_similarity};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const QUANT_FILE: &str = "quant.json";
const INT8_FILE: &str = "codes.u8";
const SIGN_FILE: &str = "codes.sign";

/// Candidates rescored with full precision, per hit asked for, by default.
pub const DEFAULT_RESCORE: usize = 4;

/// How dense vectors are searched first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// Full-precision f32 only.
    #[default]
    None,
    /// Per-dimension scalar int8 codes.
    Int8,
    /// Sign bits (1 bit per dimension).
    Binary,
}

impl std::str::FromStr for Quantization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Quantization::None),
            "int8" => Ok(Quantization::Int8),
            "binary" => Ok(Quantization::Binary),
            _ => Err(Error::InvalidSetting(format!(
                "unknown dense quantization {s:?} (expected none, int8 or binary)"
            ))),
        }
    }
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Quantization::None => "none",
            Quantization::Int8 => "int8",
            Quantization::Binary => "binary",
        })
    }
}

#[derive(Serialize, Deserialize)]
struct QuantFile {
    kind: Quantization,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    min: Vec<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scale: Vec<f32>,
}

/// The codes of every vector.
pub(crate) enum Codes {
    Int8 { sq: ScalarQuant, codes: Vec<u8> },
    Binary { words: usize, bits: Vec<u64> },
}

/// A query prepared for the codes.
pub(crate) enum Prepared<'a> {
    Int8(seine_kernels::quant::QuantQuery, &'a [u8]),
    Binary(Vec<u64>, &'a [u64], usize),
}

impl Prepared<'_> {
    /// The approximate similarity of vector `i`.
    #[inline]
    pub(crate) fn sim(&self, i: u32, dim: usize) -> f32 {
        let i = i as usize;
        match self {
            Prepared::Int8(q, codes) => q.dot(&codes[i * dim..(i + 1) * dim]),
            Prepared::Binary(q, bits, words) => {
                sign_similarity(q, &bits[i * words..(i + 1) * words], dim)
            }
        }
    }
}

impl Codes {
    /// Codes of row-major `vectors`.
    pub(crate) fn build(vectors: &[f32], dim: usize, kind: Quantization) -> Option<Codes> {
        match kind {
            Quantization::None => None,
            Quantization::Int8 => {
                let sq = ScalarQuant::fit(vectors, dim);
                let mut codes = Vec::with_capacity(vectors.len());
                vectors
                    .chunks_exact(dim)
                    .for_each(|v| sq.encode(v, &mut codes));
                Some(Codes::Int8 { sq, codes })
            }
            Quantization::Binary => {
                let words = dim.div_ceil(64);
                let mut bits = Vec::with_capacity(vectors.len() / dim * words);
                vectors
                    .chunks_exact(dim)
                    .for_each(|v| sign_bits(v, &mut bits));
                Some(Codes::Binary { words, bits })
            }
        }
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let (meta, file, bytes) = match self {
            Codes::Int8 { sq, codes } => (
                QuantFile {
                    kind: Quantization::Int8,
                    min: sq.min.clone(),
                    scale: sq.scale.clone(),
                },
                INT8_FILE,
                codes.clone(),
            ),
            Codes::Binary { bits, .. } => (
                QuantFile {
                    kind: Quantization::Binary,
                    min: Vec::new(),
                    scale: Vec::new(),
                },
                SIGN_FILE,
                bits.iter().flat_map(|w| w.to_le_bytes()).collect(),
            ),
        };
        let path = dir.join(file);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        let qpath = dir.join(QUANT_FILE);
        let json = serde_json::to_vec_pretty(&meta).expect("serializable");
        std::fs::write(&qpath, json).map_err(|e| Error::io(&qpath, e))
    }

    /// Reads the codes of `n` vectors of dimension `dim`.
    pub(crate) fn open(
        dir: &Path,
        dim: usize,
        n: usize,
        kind: Quantization,
    ) -> Result<Option<Codes>> {
        if kind == Quantization::None {
            return Ok(None);
        }
        let bad = |p: &Path, m: String| Error::NotAnIndex {
            path: p.to_path_buf(),
            message: m,
        };
        let qpath = dir.join(QUANT_FILE);
        let raw = std::fs::read(&qpath).map_err(|e| Error::io(&qpath, e))?;
        let meta: QuantFile =
            serde_json::from_slice(&raw).map_err(|e| bad(&qpath, e.to_string()))?;
        if meta.kind != kind {
            return Err(bad(
                &qpath,
                format!("{} codes, the manifest says {kind}", meta.kind),
            ));
        }
        Ok(Some(match kind {
            Quantization::Int8 => {
                let path = dir.join(INT8_FILE);
                let codes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                if codes.len() != n * dim || meta.min.len() != dim || meta.scale.len() != dim {
                    return Err(bad(&path, format!("{} codes for {n} × {dim}", codes.len())));
                }
                let sq = ScalarQuant {
                    min: meta.min,
                    scale: meta.scale,
                };
                Codes::Int8 { sq, codes }
            }
            _ => {
                let path = dir.join(SIGN_FILE);
                let raw = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let words = dim.div_ceil(64);
                if raw.len() != n * words * 8 {
                    return Err(bad(
                        &path,
                        format!("{} bytes for {n} × {words} words", raw.len()),
                    ));
                }
                let bits = raw
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect();
                Codes::Binary { words, bits }
            }
        }))
    }

    pub(crate) fn prepare(&self, q: &[f32]) -> Prepared<'_> {
        match self {
            Codes::Int8 { sq, codes } => Prepared::Int8(sq.prepare(q), codes),
            Codes::Binary { words, bits } => {
                let mut qb = Vec::with_capacity(*words);
                sign_bits(q, &mut qb);
                Prepared::Binary(qb, bits, *words)
            }
        }
    }

    /// Bytes the codes take.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Codes::Int8 { codes, .. } => codes.len(),
            Codes::Binary { bits, .. } => bits.len() * 8,
        }
    }
}
