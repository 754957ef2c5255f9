//! The x86 MaxSim micro-kernels, written once over a vector type ([`Isa`]) and
//! compiled for AVX-512 (16 lanes) and AVX2+FMA (8 lanes).
//!
//! The query is packed once ([`super::PackedQuery`]): panels of `P × LANES` query tokens
//! stored dimension-major (`panel[k][i]`), zero-padded. A tile of `C` document tokens
//! (f32 rows, converted or decoded into a small buffer first when stored otherwise)
//! is streamed against a panel: for each dimension `k`, `P` panel vectors are loaded,
//! each document value `d[c][k]` is broadcast, and `P × C` accumulators hold the dot
//! products of `P × LANES` query tokens with `C` document tokens — the layout of a GEMM
//! micro-kernel with the document as the broadcast operand. The epilogue folds the
//! accumulators into the running per-query-token maxima with vertical `max`: no
//! horizontal sums, and no tail loop over `dim` (every `k` is one broadcast).

use std::arch::x86_64::*;

/// One vector instruction set: the handful of operations the micro-kernel needs.
pub(super) trait Isa {
    type V: Copy;
    const LANES: usize;
    unsafe fn zero() -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    unsafe fn splat(p: *const f32) -> Self::V;
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
}

pub(super) struct Avx512;
pub(super) struct Avx2;

impl Isa for Avx512 {
    type V = __m512;
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY (all methods): callers run under target_feature avx512f.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> __m512 {
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_max_ps(a, b) }
    }
}

impl Isa for Avx2 {
    type V = __m256;
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY (all methods): callers run under target_feature avx2,fma.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> __m256 {
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_max_ps(a, b) }
    }
}

/// `best[0..P·LANES] = max(best, panel · docᵀ)` over `C` document rows.
///
/// # Safety
/// `panel` holds `dim × P·LANES` floats, `doc` holds `C × dim`, `best` `P·LANES`.
#[inline(always)]
unsafe fn tile<I: Isa, const P: usize, const C: usize>(
    panel: *const f32,
    doc: *const f32,
    dim: usize,
    best: *mut f32,
) {
    let w = P * I::LANES;
    // SAFETY: in bounds as documented; the ISA is present.
    unsafe {
        let mut acc = [[I::zero(); P]; C];
        for k in 0..dim {
            let mut a = [I::zero(); P];
            for (p, v) in a.iter_mut().enumerate() {
                *v = I::load(panel.add(k * w + p * I::LANES));
            }
            for (c, acc_c) in acc.iter_mut().enumerate() {
                let b = I::splat(doc.add(c * dim + k));
                for p in 0..P {
                    acc_c[p] = I::fma(a[p], b, acc_c[p]);
                }
            }
        }
        for p in 0..P {
            let mut m = I::load(best.add(p * I::LANES));
            for acc_c in &acc {
                m = I::max(m, acc_c[p]);
            }
            I::store(best.add(p * I::LANES), m);
        }
    }
}

/// One panel against `rows` document rows, in tiles of `C` then the remainder.
#[inline(always)]
unsafe fn panel_rows<I: Isa, const P: usize, const C: usize>(
    panel: &[f32],
    doc: &[f32],
    rows: usize,
    dim: usize,
    best: &mut [f32],
) {
    debug_assert!(panel.len() >= dim * P * I::LANES && best.len() >= P * I::LANES);
    debug_assert!(doc.len() >= rows * dim);
    let (pp, dp, bp) = (panel.as_ptr(), doc.as_ptr(), best.as_mut_ptr());
    let mut j = 0;
    // SAFETY: j + C <= rows in the loop; the remainder is below C ≤ 8.
    unsafe {
        while j + C <= rows {
            tile::<I, P, C>(pp, dp.add(j * dim), dim, bp);
            j += C;
        }
        let d = dp.add(j * dim);
        match rows - j {
            0 => {}
            1 => tile::<I, P, 1>(pp, d, dim, bp),
            2 => tile::<I, P, 2>(pp, d, dim, bp),
            3 => tile::<I, P, 3>(pp, d, dim, bp),
            4 => tile::<I, P, 4>(pp, d, dim, bp),
            5 => tile::<I, P, 5>(pp, d, dim, bp),
            6 => tile::<I, P, 6>(pp, d, dim, bp),
            _ => tile::<I, P, 7>(pp, d, dim, bp),
        }
    }
}

/// Runs every panel of a packed query over `rows` f32 document rows.
#[inline(always)]
unsafe fn run<I: Isa>(pq: &super::PackedQuery, doc: &[f32], rows: usize, best: &mut [f32]) {
    let dim = pq.dim;
    for panel in &pq.panels {
        let data = &pq.data[panel.offset..panel.offset + dim * panel.width];
        let b = &mut best[panel.first..panel.first + panel.width];
        // SAFETY: shapes as packed; the ISA is present.
        unsafe {
            match (panel.width / I::LANES, I::LANES) {
                (2, 16) => panel_rows::<I, 2, 8>(data, doc, rows, dim, b),
                (2, _) => panel_rows::<I, 2, 6>(data, doc, rows, dim, b),
                _ => panel_rows::<I, 1, 8>(data, doc, rows, dim, b),
            }
        }
    }
}

/// # Safety
/// The CPU has AVX-512F; `doc` holds `rows × pq.dim` floats; `best` is
/// `pq.padded()` long.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn run512(pq: &super::PackedQuery, doc: &[f32], rows: usize, best: &mut [f32]) {
    // SAFETY: forwarded.
    unsafe { run::<Avx512>(pq, doc, rows, best) }
}

/// # Safety
/// The CPU has AVX2 and FMA; shapes as for [`run512`].
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn run256(pq: &super::PackedQuery, doc: &[f32], rows: usize, best: &mut [f32]) {
    // SAFETY: forwarded.
    unsafe { run::<Avx2>(pq, doc, rows, best) }
}

/// f16 → f32 conversion of a run of values (F16C, 8 at a time).
///
/// # Safety
/// The CPU has F16C and AVX; `out.len() == src.len()`.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn f16_to_f32(src: &[half::f16], out: &mut [f32]) {
    let n = src.len().min(out.len());
    let full = n / 8 * 8;
    let (s, o) = (src.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    // SAFETY: i + 8 <= n.
    unsafe {
        while i < full {
            let v = _mm256_cvtph_ps(_mm_loadu_si128(s.add(i) as *const __m128i));
            _mm256_storeu_ps(o.add(i), v);
            i += 8;
        }
    }
    for t in full..n {
        out[t] = src[t].to_f32();
    }
}
