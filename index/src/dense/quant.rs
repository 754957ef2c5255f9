//! Quantized codes of the dense vectors, searched first (HNSW walk or exact scan over the
//! codes), then the best `rescore × k` candidates rescored with the full-precision
//! vectors (memory-mapped `vectors.f32`):
//!
//! ```text
//! dense/quant.json    {"kind": "int8", "min": [...], "scale": [...]}
//!                     or {"kind": "binary", "mean": [...]}
//! dense/codes.u8      int8: n × dim per-dimension scalar codes
//! dense/codes.sign    binary: n × ⌈dim/64⌉ u64 words of the signs of x − mean
//!                     (centred: embeddings share a common direction, and raw signs
//!                     would mostly encode it)
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mean: Vec<f32>,
}

/// The codes of every vector.
pub(crate) enum Codes {
    Int8 {
        sq: ScalarQuant,
        codes: Vec<u8>,
    },
    Binary {
        words: usize,
        mean: Vec<f32>,
        bits: Vec<u64>,
    },
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
                let n = (vectors.len() / dim).max(1);
                let mut mean = vec![0f64; dim];
                for v in vectors.chunks_exact(dim) {
                    mean.iter_mut().zip(v).for_each(|(m, &x)| *m += x as f64);
                }
                let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
                let mut bits = Vec::with_capacity(n * words);
                let mut c = vec![0f32; dim];
                for v in vectors.chunks_exact(dim) {
                    c.iter_mut()
                        .zip(v.iter().zip(&mean))
                        .for_each(|(o, (x, m))| *o = x - m);
                    sign_bits(&c, &mut bits);
                }
                Some(Codes::Binary { words, mean, bits })
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
                    mean: Vec::new(),
                },
                INT8_FILE,
                codes.clone(),
            ),
            Codes::Binary { bits, mean, .. } => (
                QuantFile {
                    kind: Quantization::Binary,
                    min: Vec::new(),
                    scale: Vec::new(),
                    mean: mean.clone(),
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
                if raw.len() != n * words * 8 || meta.mean.len() != dim {
                    return Err(bad(
                        &path,
                        format!("{} bytes for {n} × {words} words", raw.len()),
                    ));
                }
                let bits = raw
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect();
                Codes::Binary {
                    words,
                    mean: meta.mean,
                    bits,
                }
            }
        }))
    }

    pub(crate) fn prepare(&self, q: &[f32]) -> Prepared<'_> {
        match self {
            Codes::Int8 { sq, codes } => Prepared::Int8(sq.prepare(q), codes),
            Codes::Binary { words, mean, bits } => {
                let mut qb = Vec::with_capacity(*words);
                let c: Vec<f32> = q.iter().zip(mean).map(|(x, m)| x - m).collect();
                sign_bits(&c, &mut qb);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::hnsw_tests::data;
    use crate::dense::{DenseIndex, DenseSettings, DenseWriter, GraphMode, HnswParams};

    fn recall(index: &DenseIndex, queries: &[f32], dim: usize, ef: usize) -> f64 {
        let (mut hit, mut all) = (0, 0);
        for q in queries.chunks_exact(dim) {
            let truth: Vec<u32> = index
                .search_exact(q, 10)
                .unwrap()
                .iter()
                .map(|h| h.doc)
                .collect();
            let got = index.search(q, 10, Some(ef)).unwrap();
            // Scores are the full-precision cosines, best first.
            for h in &got {
                let v = index.vector(h.doc).unwrap();
                let s: f32 = v.iter().zip(q).map(|(a, b)| a * b).sum();
                assert!((h.score - s).abs() < 1e-4);
            }
            assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
            hit += got.iter().filter(|h| truth.contains(&h.doc)).count();
            all += truth.len();
        }
        hit as f64 / all as f64
    }

    #[test]
    fn quantized_search_rescored_recalls_exact_search() {
        let (n, dim) = (3000, 48);
        let (vectors, queries) = (data(n, dim, 3), data(100, dim, 77));
        let p = HnswParams {
            m: 16,
            ef_construction: 100,
            ef_search: 64,
        };
        for graph in [false, true] {
            let mut idx = DenseIndex::build(dim, vectors.clone(), graph.then_some(p)).unwrap();
            let r32 = recall(&idx, &queries, dim, 64);
            idx.quantize(Quantization::Int8, 4);
            assert_eq!(idx.code_bytes(), n * dim);
            let r = recall(&idx, &queries, dim, 64);
            // As good as the f32 search (the exact scan: exact after rescoring).
            assert!(
                r >= r32 - 0.01 && r >= 0.9,
                "int8 (graph {graph}): {r} vs f32 {r32}"
            );
            idx.quantize(Quantization::Binary, 10);
            assert_eq!(idx.code_bytes(), n * 8);
            // 48 sign bits are coarse (MiniLM's 384 reach 0.95 on SciFact, see
            // `seine bench hnsw`), yet far above chance (10 of 3000).
            let r = recall(&idx, &queries, dim, 128);
            assert!(r >= 0.35, "binary (graph {graph}): recall@10 {r}");
            if !graph {
                // Rescoring every candidate is exact search.
                idx.quantize(Quantization::Binary, n);
                let r = recall(&idx, &queries, dim, 128);
                assert_eq!(r, 1.0, "binary, everything rescored");
            }
        }
    }

    #[test]
    fn codes_are_written_at_commit_and_read_back() {
        let t = tempfile::tempdir().unwrap();
        let dim = 16;
        let vectors = data(500, dim, 9);
        for kind in [Quantization::Int8, Quantization::Binary] {
            let dir = t.path().join(kind.to_string());
            let mut w = DenseWriter::create(&dir, dim).unwrap();
            for (i, v) in vectors.chunks_exact(dim).enumerate() {
                w.push(&i.to_string(), v).unwrap();
            }
            w.finish(None, None, kind).unwrap();
            let s = DenseSettings {
                dim,
                quantization: kind,
                ..DenseSettings::new("m", GraphMode::Off, HnswParams::default())
            };
            let idx = DenseIndex::open(&dir, &s).unwrap();
            assert!(idx.code_bytes() > 0);
            let r = recall(&idx, &data(20, dim, 5), dim, 10);
            if kind == Quantization::Int8 {
                assert!(r >= 0.9, "int8 read back: recall@10 {r}");
            }
            // The manifest asking for other codes than the files hold is an error.
            let other = DenseSettings {
                quantization: if kind == Quantization::Int8 {
                    Quantization::Binary
                } else {
                    Quantization::Int8
                },
                ..s
            };
            assert!(DenseIndex::open(&dir, &other).is_err());
        }
        assert!("int4".parse::<Quantization>().is_err());
    }
}
