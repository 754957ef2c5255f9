//! Late-interaction scoring (ColBERT MaxSim, Baleen's FLIPR) of one query against many
//! documents' token vectors.
//!
//! For query token vectors `q_1..q_Lq` and document token vectors `d_1..d_Ld` (all
//! `dim`-d, row-major), the per-query-token maxima are `m_i = max_j q_i · d_j`;
//! MaxSim is `Σ_i m_i`; focused late interaction (FLIPR, Baleen arXiv 2101.00436) is
//! the sum of the `k'` largest `m_i`. A document without tokens scores 0.
//!
//! Documents are f32, f16 or residual-compressed ([`Compressed`], decoded through
//! [`crate::residual::Codec`]). Implementations of the maxima: [`token_maxima_scalar`]
//! (the oracle, f64 accumulation over the decoded vectors), a portable one, and
//! register-blocked x86 micro-kernels (`x86.rs`, AVX-512 and AVX2+FMA) over a
//! [`PackedQuery`] — the query packed once into dimension-major panels, document tokens
//! streamed in tiles (f16 converted and compressed ones decoded into a small buffer
//! first), the running maxima folded into the epilogue. [`score_batch`] packs the
//! query once and runs over documents in parallel (rayon).

use half::f16;
use rayon::prelude::*;

use crate::cpu::Level;
use crate::residual::Codec;
use crate::simd::dot_portable;

#[cfg(target_arch = "x86_64")]
mod x86;

/// One document's residual-compressed token vectors.
#[derive(Debug, Clone, Copy)]
pub struct Compressed<'a> {
    pub codec: &'a Codec,
    /// One centroid id per token.
    pub cids: &'a [u32],
    /// `cids.len() × codec.row_bytes()` packed residual codes.
    pub codes: &'a [u8],
}

/// One document's token vectors, row-major, f32, f16 or compressed.
#[derive(Debug, Clone, Copy)]
pub enum Tokens<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    Compressed(Compressed<'a>),
}

impl Tokens<'_> {
    /// Number of token vectors of dimension `dim`.
    pub fn rows(&self, dim: usize) -> usize {
        match self {
            Tokens::F32(v) => v.len() / dim.max(1),
            Tokens::F16(v) => v.len() / dim.max(1),
            Tokens::Compressed(c) => c.cids.len(),
        }
    }

    /// Size in bytes (for bandwidth figures).
    pub fn bytes(&self) -> usize {
        match self {
            Tokens::F32(v) => v.len() * 4,
            Tokens::F16(v) => v.len() * 2,
            Tokens::Compressed(c) => c.cids.len() * 4 + c.codes.len(),
        }
    }

    /// Rows `j0..j0 + n` as f32 into `out` (`n × dim`; decoded when compressed).
    pub fn rows_f32(&self, j0: usize, n: usize, dim: usize, out: &mut [f32]) {
        let out = &mut out[..n * dim];
        match self {
            Tokens::F32(v) => out.copy_from_slice(&v[j0 * dim..(j0 + n) * dim]),
            Tokens::F16(v) => {
                let src = &v[j0 * dim..(j0 + n) * dim];
                #[cfg(target_arch = "x86_64")]
                if Level::active().has_avx2() {
                    // SAFETY: the level guarantees AVX2 and F16C; equal lengths.
                    unsafe { x86::f16_to_f32(src, out) };
                    return;
                }
                out.iter_mut().zip(src).for_each(|(o, x)| *o = x.to_f32());
            }
            Tokens::Compressed(c) => {
                assert_eq!(c.codec.dim(), dim, "codec dimension");
                c.codec.decode_rows(c.cids, c.codes, j0, n, out)
            }
        }
    }

    /// Every row as f32 (decoded when compressed).
    pub fn to_f32(&self, dim: usize) -> Vec<f32> {
        let n = self.rows(dim);
        let mut out = vec![0f32; n * dim];
        self.rows_f32(0, n, dim, &mut out);
        out
    }
}

/// What a document's score is made of its per-query-token maxima.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// ColBERT: the sum of all maxima.
    MaxSim,
    /// Baleen's focused late interaction: the sum of the `k` largest maxima.
    Flipr { k: usize },
}

impl Reduce {
    /// Reduces maxima (reorders `m`).
    pub fn apply(self, m: &mut [f32]) -> f32 {
        match self {
            Reduce::MaxSim => m.iter().sum(),
            Reduce::Flipr { k } => {
                let k = k.min(m.len());
                if k == 0 {
                    return 0.0;
                }
                if k < m.len() {
                    m.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
                }
                m[..k].iter().sum()
            }
        }
    }
}

fn check(q: &[f32], dim: usize) -> usize {
    assert!(dim > 0, "dimension must be positive");
    assert_eq!(
        q.len() % dim,
        0,
        "query is not a whole number of {dim}-d vectors"
    );
    q.len() / dim
}

/// The oracle: per-query-token maxima with f64 accumulation (0 for an empty document).
pub fn token_maxima_scalar(q: &[f32], dim: usize, doc: Tokens<'_>, out: &mut [f32]) {
    let lq = check(q, dim);
    assert_eq!(out.len(), lq);
    let ld = doc.rows(dim);
    let rows = doc.to_f32(dim);
    for (i, o) in out.iter_mut().enumerate() {
        let qi = &q[i * dim..(i + 1) * dim];
        let mut best = f64::NEG_INFINITY;
        for row in rows.chunks_exact(dim) {
            let s: f64 = qi.iter().zip(row).map(|(a, b)| *a as f64 * *b as f64).sum();
            best = best.max(s);
        }
        *o = if ld == 0 { 0.0 } else { best as f32 };
    }
}

/// Document rows converted or decoded per step (a multiple of the tiles' 6 and 8).
const CHUNK: usize = 24;

/// Per-call buffers of the kernels (reused across documents by [`score_batch`]).
#[derive(Default)]
pub struct Scratch {
    rows: Vec<f32>,
    best: Vec<f32>,
}

/// Portable per-query-token maxima.
pub fn token_maxima_portable(q: &[f32], dim: usize, doc: Tokens<'_>, out: &mut [f32]) {
    let lq = check(q, dim);
    assert_eq!(out.len(), lq);
    portable(q, dim, doc, out, &mut Scratch::default());
}

fn portable(q: &[f32], dim: usize, doc: Tokens<'_>, out: &mut [f32], s: &mut Scratch) {
    let ld = doc.rows(dim);
    out.iter_mut().for_each(|o| *o = f32::NEG_INFINITY);
    s.rows.resize(CHUNK * dim, 0.0);
    for j0 in (0..ld).step_by(CHUNK) {
        let n = (ld - j0).min(CHUNK);
        let rows: &[f32] = match doc {
            Tokens::F32(v) => &v[j0 * dim..(j0 + n) * dim],
            _ => {
                doc.rows_f32(j0, n, dim, &mut s.rows);
                &s.rows[..n * dim]
            }
        };
        for r in rows.chunks_exact(dim) {
            for (i, o) in out.iter_mut().enumerate() {
                *o = o.max(dot_portable(&q[i * dim..(i + 1) * dim], r));
            }
        }
    }
    if ld == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
    }
}

/// A panel of the packed query: `width` query tokens from `first`, dimension-major.
#[derive(Debug, Clone, Copy)]
struct Panel {
    offset: usize,
    width: usize,
    first: usize,
}

/// A query packed for the micro-kernels of one SIMD level: panels of 2 × lanes query
/// tokens (one of lanes when at most that many are left), dimension-major,
/// zero-padded. Pack once per query; score any number of documents with it.
pub struct PackedQuery {
    level: Level,
    dim: usize,
    lq: usize,
    /// The query, row-major (the portable path's operand).
    q: Vec<f32>,
    data: Vec<f32>,
    panels: Vec<Panel>,
    padded: usize,
}

impl PackedQuery {
    /// Packs `q` (`Lq × dim`, row-major) for this machine's level.
    pub fn new(q: &[f32], dim: usize) -> Self {
        Self::at(Level::active(), q, dim)
    }

    /// Packs for `level` (16-lane tiles at AVX-512, 8 at AVX2, the scalar loop below).
    pub fn at(level: Level, q: &[f32], dim: usize) -> Self {
        let lq = check(q, dim);
        let lanes = if level.has_avx512() {
            16
        } else if level.has_avx2() {
            8
        } else {
            0
        };
        let (mut data, mut panels, mut first) = (Vec::new(), Vec::new(), 0);
        while lanes > 0 && first < lq {
            let width = if lq - first > lanes { 2 * lanes } else { lanes };
            let offset = data.len();
            data.resize(offset + dim * width, 0.0);
            for i in first..(first + width).min(lq) {
                for k in 0..dim {
                    data[offset + k * width + (i - first)] = q[i * dim + k];
                }
            }
            panels.push(Panel {
                offset,
                width,
                first,
            });
            first += width;
        }
        PackedQuery {
            level,
            dim,
            lq,
            q: q.to_vec(),
            data,
            panels,
            padded: first,
        }
    }

    /// Query tokens.
    pub fn len(&self) -> usize {
        self.lq
    }

    pub fn is_empty(&self) -> bool {
        self.lq == 0
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Per-query-token maxima of one document into `out` (`Lq` long).
    pub fn maxima(&self, doc: Tokens<'_>, out: &mut [f32], s: &mut Scratch) {
        assert_eq!(out.len(), self.lq);
        let dim = self.dim;
        #[cfg(target_arch = "x86_64")]
        if self.level.has_avx2() {
            let ld = doc.rows(dim);
            if ld == 0 {
                out.iter_mut().for_each(|o| *o = 0.0);
                return;
            }
            s.best.clear();
            s.best.resize(self.padded, f32::NEG_INFINITY);
            let run = |rows: &[f32], n: usize, best: &mut [f32]| {
                // SAFETY: the level guarantees the features; `rows` holds `n × dim`
                // floats and `best` is `padded` long.
                unsafe {
                    if self.level.has_avx512() {
                        x86::run512(self, rows, n, best)
                    } else {
                        x86::run256(self, rows, n, best)
                    }
                }
            };
            match doc {
                Tokens::F32(v) => run(v, ld, &mut s.best),
                _ => {
                    s.rows.resize(CHUNK * dim, 0.0);
                    for j0 in (0..ld).step_by(CHUNK) {
                        let n = (ld - j0).min(CHUNK);
                        doc.rows_f32(j0, n, dim, &mut s.rows);
                        run(&s.rows, n, &mut s.best);
                    }
                }
            }
            out.copy_from_slice(&s.best[..self.lq]);
            return;
        }
        portable(&self.q, dim, doc, out, s)
    }
}

/// Per-query-token maxima with the best instruction set of this machine.
pub fn token_maxima(q: &[f32], dim: usize, doc: Tokens<'_>, out: &mut [f32]) {
    token_maxima_at(Level::active(), q, dim, doc, out)
}

/// Per-query-token maxima at a given level; tests run every level of
/// [`Level::available`].
pub fn token_maxima_at(level: Level, q: &[f32], dim: usize, doc: Tokens<'_>, out: &mut [f32]) {
    PackedQuery::at(level, q, dim).maxima(doc, out, &mut Scratch::default())
}

/// One score per document, in parallel over documents.
pub fn score_batch(q: &[f32], dim: usize, docs: &[Tokens<'_>], reduce: Reduce) -> Vec<f32> {
    let pq = PackedQuery::new(q, dim);
    score_packed(&pq, docs, reduce)
}

/// One score per document with a packed query, in parallel over documents.
pub fn score_packed(pq: &PackedQuery, docs: &[Tokens<'_>], reduce: Reduce) -> Vec<f32> {
    docs.par_iter()
        .with_min_len(8)
        .map_init(
            || (vec![0f32; pq.len()], Scratch::default()),
            |(m, s), doc| {
                pq.maxima(*doc, m, s);
                reduce.apply(m)
            },
        )
        .collect()
}

/// The same, on the calling thread only.
pub fn score_batch_serial(q: &[f32], dim: usize, docs: &[Tokens<'_>], reduce: Reduce) -> Vec<f32> {
    let pq = PackedQuery::new(q, dim);
    let (mut m, mut s) = (vec![0f32; pq.len()], Scratch::default());
    docs.iter()
        .map(|doc| {
            pq.maxima(*doc, &mut m, &mut s);
            reduce.apply(&mut m)
        })
        .collect()
}

/// MaxSim of one document (dispatched).
pub fn maxsim(q: &[f32], dim: usize, doc: Tokens<'_>) -> f32 {
    let mut m = vec![0f32; check(q, dim)];
    token_maxima(q, dim, doc, &mut m);
    Reduce::MaxSim.apply(&mut m)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            crate::rng::step(&mut self.0)
        }
        fn f(&mut self) -> f32 {
            (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1.0)
    }

    /// Random shapes: Lq and Ld from 1, dims that are and are not multiples of 8,
    /// f32, f16 and compressed (1, 2, 4 bits) documents, every reduction; every level
    /// equals the oracle (for compressed documents: MaxSim over the decoded vectors).
    #[test]
    fn fast_paths_equal_the_scalar_oracle() {
        let mut rng = Rng(0xabcdef);
        let mut codecs = std::collections::HashMap::new();
        for case in 0..400 {
            let dim = [1, 3, 7, 8, 9, 16, 31, 64, 96, 127, 128, 130, 384][case % 13];
            let lq = 1 + rng.below(40);
            let ld = 1 + rng.below(if case % 5 == 0 { 3 } else { 200 });
            let q: Vec<f32> = (0..lq * dim).map(|_| rng.f()).collect();
            let d32: Vec<f32> = (0..ld * dim).map(|_| rng.f()).collect();
            let d16: Vec<f16> = d32.iter().map(|&x| f16::from_f32(x)).collect();
            let bits = [1u8, 2, 4][case % 3];
            let codec = codecs.entry((dim, bits)).or_insert_with(|| {
                let sample: Vec<f32> = (0..256 * dim).map(|_| rng.f()).collect();
                Codec::train(&sample, dim, 16, bits, 2, case as u64)
            });
            let (mut cids, mut codes) = (Vec::new(), Vec::new());
            codec.encode(&d32, &mut cids, &mut codes);
            let comp = Tokens::Compressed(Compressed {
                codec,
                cids: &cids,
                codes: &codes,
            });
            for doc in [Tokens::F32(&d32), Tokens::F16(&d16), comp] {
                let mut want = vec![0f32; lq];
                token_maxima_scalar(&q, dim, doc, &mut want);
                let mut fast = vec![0f32; lq];
                token_maxima(&q, dim, doc, &mut fast);
                // Every level this machine has, the portable one included.
                for level in Level::available() {
                    let mut m = vec![0f32; lq];
                    token_maxima_at(level, &q, dim, doc, &mut m);
                    for i in 0..lq {
                        assert!(
                            close(m[i], want[i]),
                            "{level:?} case {case} i {i}: {} vs {}",
                            m[i],
                            want[i]
                        );
                    }
                }
                let mut portable = vec![0f32; lq];
                token_maxima_portable(&q, dim, doc, &mut portable);
                for i in 0..lq {
                    assert!(
                        close(fast[i], want[i]),
                        "case {case} dim {dim} lq {lq} ld {ld} i {i}: {} vs {}",
                        fast[i],
                        want[i]
                    );
                    assert!(close(portable[i], want[i]), "case {case}: portable");
                }
                for reduce in [
                    Reduce::MaxSim,
                    Reduce::Flipr { k: 1 },
                    Reduce::Flipr { k: lq / 2 + 1 },
                    Reduce::Flipr { k: lq + 5 },
                ] {
                    let w = reduce.apply(&mut want.clone());
                    let got = score_batch(&q, dim, &[doc], reduce)[0];
                    assert!(close(got, w), "case {case} {reduce:?}: {got} vs {w}");
                }
            }
        }
    }

    #[test]
    fn flipr_sums_the_largest_maxima() {
        let mut m = vec![0.1, 0.9, -0.3, 0.5];
        assert_eq!(Reduce::Flipr { k: 2 }.apply(&mut m), 1.4);
        assert_eq!(Reduce::Flipr { k: 0 }.apply(&mut m), 0.0);
        assert!((Reduce::MaxSim.apply(&mut m) - 1.2).abs() < 1e-6);
    }

    #[test]
    fn empty_documents_score_zero_and_batches_keep_order() {
        let q = vec![1.0, 0.0, 0.0, 1.0];
        let a = [0.5f32, 0.5];
        let b = [1.0f32, 0.0, 0.0, 2.0];
        let docs = [Tokens::F32(&a), Tokens::F32(&[]), Tokens::F32(&b)];
        let s = score_batch(&q, 2, &docs, Reduce::MaxSim);
        assert_eq!(s, vec![1.0, 0.0, 3.0]);
        assert_eq!(score_batch_serial(&q, 2, &docs, Reduce::MaxSim), s);
    }
}
