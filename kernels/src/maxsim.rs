//! Late-interaction scoring (ColBERT MaxSim, Baleen's FLIPR) of one query against many
//! documents' token vectors.
//!
//! For query token vectors `q_1..q_Lq` and document token vectors `d_1..d_Ld` (all
//! `dim`-d, row-major), the per-query-token maxima are `m_i = max_j q_i · d_j`;
//! MaxSim is `Σ_i m_i`; focused late interaction (FLIPR, Baleen arXiv 2101.00436) is
//! the sum of the `k'` largest `m_i`. A document without tokens scores 0.
//!
//! Three implementations of the maxima: [`token_maxima_scalar`] (the oracle, f64
//! accumulation), a portable one, and an AVX2+FMA(+F16C) one that computes a tile of 4
//! query tokens × 2 document tokens per pass over `dim`, loading each document vector
//! once per 4 query tokens, converting f16 documents to f32 on the fly. The query
//! (Lq × dim floats, 16–48 KB) stays in L1/L2 while documents stream through.
//! [`score_batch`] runs over documents in parallel (rayon).

use half::f16;
use rayon::prelude::*;

use crate::simd::{SimdLevel, dot_portable, simd_level};

/// One document's token vectors, row-major, f32 or f16.
#[derive(Debug, Clone, Copy)]
pub enum Tokens<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

impl Tokens<'_> {
    /// Number of token vectors of dimension `dim`.
    pub fn rows(&self, dim: usize) -> usize {
        match self {
            Tokens::F32(v) => v.len() / dim.max(1),
            Tokens::F16(v) => v.len() / dim.max(1),
        }
    }

    /// Size in bytes (for bandwidth figures).
    pub fn bytes(&self) -> usize {
        match self {
            Tokens::F32(v) => v.len() * 4,
            Tokens::F16(v) => v.len() * 2,
        }
    }

    fn row_f32(&self, j: usize, dim: usize, buf: &mut Vec<f32>) {
        buf.clear();
        match self {
            Tokens::F32(v) => buf.extend_from_slice(&v[j * dim..(j + 1) * dim]),
            Tokens::F16(v) => buf.extend(v[j * dim..(j + 1) * dim].iter().map(|x| x.to_f32())),
        }
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
    let mut row = Vec::with_capacity(dim);
    for (i, o) in out.iter_mut().enumerate() {
        let qi = &q[i * dim..(i + 1) * dim];
        let mut best = f64::NEG_INFINITY;
        for j in 0..ld {
            doc.row_f32(j, dim, &mut row);
            let s: f64 = qi
                .iter()
                .zip(&row)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            best = best.max(s);
        }
        *o = if ld == 0 { 0.0 } else { best as f32 };
    }
}

/// Portable per-query-token maxima.
pub fn token_maxima_portable(q: &[f32], dim: usize, doc: Tokens<'_>, out: &mut [f32]) {
    let lq = check(q, dim);
    assert_eq!(out.len(), lq);
    let ld = doc.rows(dim);
    out.iter_mut().for_each(|o| *o = f32::NEG_INFINITY);
    let mut row = Vec::with_capacity(dim);
    for j in 0..ld {
        let r: &[f32] = match doc {
            Tokens::F32(v) => &v[j * dim..(j + 1) * dim],
            Tokens::F16(_) => {
                doc.row_f32(j, dim, &mut row);
                &row
            }
        };
        for (i, o) in out.iter_mut().enumerate() {
            *o = o.max(dot_portable(&q[i * dim..(i + 1) * dim], r));
        }
    }
    if ld == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
    }
}

/// Per-query-token maxima with the best instruction set of this machine.
pub fn token_maxima(q: &[f32], dim: usize, doc: Tokens<'_>, out: &mut [f32]) {
    token_maxima_at(simd_level(), q, dim, doc, out)
}

/// Per-query-token maxima at a given level (falls back to a lower level the CPU
/// lacks); tests run every level the machine has.
pub fn token_maxima_at(level: SimdLevel, q: &[f32], dim: usize, doc: Tokens<'_>, out: &mut [f32]) {
    let level = match (level, crate::simd::detected_level()) {
        (SimdLevel::Avx512, SimdLevel::Avx512) => SimdLevel::Avx512,
        (SimdLevel::Avx512 | SimdLevel::Avx2Fma, d) if d.has_avx2() => SimdLevel::Avx2Fma,
        _ => SimdLevel::Portable,
    };
    #[cfg(target_arch = "x86_64")]
    if level == SimdLevel::Avx512 {
        check(q, dim);
        assert_eq!(out.len(), q.len() / dim);
        // SAFETY: AVX-512F, AVX2, FMA and F16C are present (detected_level checks them).
        unsafe {
            match doc {
                Tokens::F32(d) => x86::maxima512::<f32>(q, d, dim, out),
                Tokens::F16(d) => x86::maxima512::<f16>(q, d, dim, out),
            }
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level == SimdLevel::Avx2Fma {
        check(q, dim);
        assert_eq!(out.len(), q.len() / dim);
        // SAFETY: AVX2, FMA and F16C are present (simd_level checks them).
        unsafe {
            match doc {
                Tokens::F32(d) => x86::maxima::<f32>(q, d, dim, out),
                Tokens::F16(d) => x86::maxima::<f16>(q, d, dim, out),
            }
        }
        return;
    }
    token_maxima_portable(q, dim, doc, out)
}

/// One score per document, in parallel over documents.
pub fn score_batch(q: &[f32], dim: usize, docs: &[Tokens<'_>], reduce: Reduce) -> Vec<f32> {
    let lq = check(q, dim);
    docs.par_iter()
        .with_min_len(8)
        .map_init(
            || vec![0f32; lq],
            |m, doc| {
                token_maxima(q, dim, *doc, m);
                reduce.apply(m)
            },
        )
        .collect()
}

/// The same, on the calling thread only.
pub fn score_batch_serial(q: &[f32], dim: usize, docs: &[Tokens<'_>], reduce: Reduce) -> Vec<f32> {
    let lq = check(q, dim);
    let mut m = vec![0f32; lq];
    docs.iter()
        .map(|doc| {
            token_maxima(q, dim, *doc, &mut m);
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

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use half::f16;

    use crate::simd::x86::hsum;

    /// Element types a document row can be loaded from, 8 lanes at a time.
    pub(super) trait Lanes: Copy {
        /// # Safety
        /// `p..p+8` is readable; the CPU has AVX2 and F16C.
        unsafe fn load8(p: *const Self) -> __m256;
        fn to_f32(self) -> f32;
    }

    impl Lanes for f32 {
        #[inline(always)]
        unsafe fn load8(p: *const f32) -> __m256 {
            // SAFETY: caller guarantees 8 readable floats and AVX.
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        fn to_f32(self) -> f32 {
            self
        }
    }

    impl Lanes for f16 {
        #[inline(always)]
        unsafe fn load8(p: *const f16) -> __m256 {
            // SAFETY: caller guarantees 8 readable halves and F16C.
            unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
        }
        #[inline(always)]
        fn to_f32(self) -> f32 {
            f16::to_f32(self)
        }
    }

    /// Maxima of query rows `i0..i0+R` over document rows `j0..j0+C`, folded into `best`.
    #[inline(always)]
    unsafe fn tile<T: Lanes, const R: usize, const C: usize>(
        q: &[f32],
        d: &[T],
        dim: usize,
        i0: usize,
        j0: usize,
        best: &mut [f32; R],
    ) {
        // SAFETY: AVX is present (callers run under target_feature avx2).
        let mut acc = [[unsafe { _mm256_setzero_ps() }; C]; R];
        let full = dim / 8 * 8;
        let (qp, dp) = (q.as_ptr(), d.as_ptr());
        let mut k = 0;
        // SAFETY: rows i0+r < Lq and j0+c < Ld, and k + 8 <= dim.
        unsafe {
            while k < full {
                let mut dv = [_mm256_setzero_ps(); C];
                for (c, v) in dv.iter_mut().enumerate() {
                    *v = T::load8(dp.add((j0 + c) * dim + k));
                }
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let qv = _mm256_loadu_ps(qp.add((i0 + r) * dim + k));
                    for c in 0..C {
                        acc_r[c] = _mm256_fmadd_ps(qv, dv[c], acc_r[c]);
                    }
                }
                k += 8;
            }
        }
        for r in 0..R {
            for c in 0..C {
                // SAFETY: AVX is present.
                let mut s = unsafe { hsum(acc[r][c]) };
                for t in full..dim {
                    s += q[(i0 + r) * dim + t] * d[(j0 + c) * dim + t].to_f32();
                }
                if s > best[r] {
                    best[r] = s;
                }
            }
        }
    }

    /// All rows of a block of `R` query tokens against the whole document.
    #[inline(always)]
    unsafe fn rows<T: Lanes, const R: usize>(
        q: &[f32],
        d: &[T],
        dim: usize,
        i0: usize,
        out: &mut [f32],
    ) {
        let ld = d.len() / dim;
        let mut best = [f32::NEG_INFINITY; R];
        let mut j = 0;
        // SAFETY: forwarded bounds (j + 2 <= ld, then j < ld).
        unsafe {
            while j + 2 <= ld {
                tile::<T, R, 2>(q, d, dim, i0, j, &mut best);
                j += 2;
            }
            if j < ld {
                tile::<T, R, 1>(q, d, dim, i0, j, &mut best);
            }
        }
        out[i0..i0 + R].copy_from_slice(&best);
    }

    /// 16-lane loads for the AVX-512 tiles.
    pub(super) trait Lanes16: Lanes {
        /// # Safety
        /// `p..p+16` is readable; the CPU has AVX-512F.
        unsafe fn load16(p: *const Self) -> __m512;
    }

    impl Lanes16 for f32 {
        #[inline(always)]
        unsafe fn load16(p: *const f32) -> __m512 {
            // SAFETY: caller guarantees 16 readable floats and AVX-512F.
            unsafe { _mm512_loadu_ps(p) }
        }
    }

    impl Lanes16 for f16 {
        #[inline(always)]
        unsafe fn load16(p: *const f16) -> __m512 {
            // SAFETY: caller guarantees 16 readable halves and AVX-512F.
            unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)) }
        }
    }

    /// The AVX-512 tile: 16 lanes per step, the last `dim % 16` through the 8-lane tile.
    #[inline(always)]
    unsafe fn tile512<T: Lanes16, const R: usize, const C: usize>(
        q: &[f32],
        d: &[T],
        dim: usize,
        i0: usize,
        j0: usize,
        best: &mut [f32; R],
    ) {
        // SAFETY: AVX-512F is present (callers run under target_feature avx512f).
        let mut acc = [[unsafe { _mm512_setzero_ps() }; C]; R];
        let full = dim / 16 * 16;
        let (qp, dp) = (q.as_ptr(), d.as_ptr());
        let mut k = 0;
        // SAFETY: rows i0+r < Lq and j0+c < Ld, and k + 16 <= dim.
        unsafe {
            while k < full {
                let mut dv = [_mm512_setzero_ps(); C];
                for (c, v) in dv.iter_mut().enumerate() {
                    *v = T::load16(dp.add((j0 + c) * dim + k));
                }
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let qv = _mm512_loadu_ps(qp.add((i0 + r) * dim + k));
                    for c in 0..C {
                        acc_r[c] = _mm512_fmadd_ps(qv, dv[c], acc_r[c]);
                    }
                }
                k += 16;
            }
        }
        for r in 0..R {
            for c in 0..C {
                // SAFETY: AVX-512F is present.
                let mut s = unsafe { _mm512_reduce_add_ps(acc[r][c]) };
                for t in full..dim {
                    s += q[(i0 + r) * dim + t] * d[(j0 + c) * dim + t].to_f32();
                }
                if s > best[r] {
                    best[r] = s;
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn rows512<T: Lanes16, const R: usize>(
        q: &[f32],
        d: &[T],
        dim: usize,
        i0: usize,
        out: &mut [f32],
    ) {
        let ld = d.len() / dim;
        let mut best = [f32::NEG_INFINITY; R];
        let mut j = 0;
        // SAFETY: forwarded bounds.
        unsafe {
            while j + 2 <= ld {
                tile512::<T, R, 2>(q, d, dim, i0, j, &mut best);
                j += 2;
            }
            if j < ld {
                tile512::<T, R, 1>(q, d, dim, i0, j, &mut best);
            }
        }
        out[i0..i0 + R].copy_from_slice(&best);
    }

    /// # Safety
    /// The CPU has AVX-512F, AVX2, FMA and F16C; shapes as for [`maxima`].
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub(super) unsafe fn maxima512<T: Lanes16>(q: &[f32], d: &[T], dim: usize, out: &mut [f32]) {
        let lq = out.len();
        if d.len() < dim {
            out.iter_mut().for_each(|o| *o = 0.0);
            return;
        }
        let mut i = 0;
        // SAFETY: blocks stay within lq.
        unsafe {
            while i + 4 <= lq {
                rows512::<T, 4>(q, d, dim, i, out);
                i += 4;
            }
            match lq - i {
                3 => rows512::<T, 3>(q, d, dim, i, out),
                2 => rows512::<T, 2>(q, d, dim, i, out),
                1 => rows512::<T, 1>(q, d, dim, i, out),
                _ => {}
            }
        }
    }

    /// # Safety
    /// The CPU has AVX2, FMA and F16C; `q` is `out.len() × dim`, `d` is `ld × dim`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn maxima<T: Lanes>(q: &[f32], d: &[T], dim: usize, out: &mut [f32]) {
        let lq = out.len();
        if d.len() < dim {
            out.iter_mut().for_each(|o| *o = 0.0);
            return;
        }
        let mut i = 0;
        // SAFETY: blocks stay within lq.
        unsafe {
            while i + 4 <= lq {
                rows::<T, 4>(q, d, dim, i, out);
                i += 4;
            }
            match lq - i {
                3 => rows::<T, 3>(q, d, dim, i, out),
                2 => rows::<T, 2>(q, d, dim, i, out),
                1 => rows::<T, 1>(q, d, dim, i, out),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
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
    /// f32 and f16 documents, every reduction; fast paths equal the oracle.
    #[test]
    fn fast_paths_equal_the_scalar_oracle() {
        let mut rng = Rng(0xabcdef);
        for case in 0..400 {
            let dim = [1, 3, 7, 8, 9, 16, 31, 64, 96, 127, 128, 130, 384][case % 13];
            let lq = 1 + rng.below(40);
            let ld = 1 + rng.below(if case % 5 == 0 { 3 } else { 200 });
            let q: Vec<f32> = (0..lq * dim).map(|_| rng.f()).collect();
            let d32: Vec<f32> = (0..ld * dim).map(|_| rng.f()).collect();
            let d16: Vec<f16> = d32.iter().map(|&x| f16::from_f32(x)).collect();
            for doc in [Tokens::F32(&d32), Tokens::F16(&d16)] {
                let mut want = vec![0f32; lq];
                token_maxima_scalar(&q, dim, doc, &mut want);
                let mut fast = vec![0f32; lq];
                token_maxima(&q, dim, doc, &mut fast);
                // Every level this machine has (the AVX-512 one only where the CPU has it).
                for level in [SimdLevel::Avx512, SimdLevel::Avx2Fma] {
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
