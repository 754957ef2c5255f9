//! The x86 kernels: AVX-512 VNNI tiles with a fused epilogue, AVX-512 activation
//! quantization, and the AVX2 tile.

use std::arch::x86_64::*;

use super::{NB, QuantLinear};

/// 4-byte groups of activation row `row` as one `u32` each.
#[inline(always)]
fn group(q: &[u8], kp: usize, row: usize, k4: usize) -> i32 {
    let i = row * kp + k4 * 4;
    i32::from_le_bytes([q[i], q[i + 1], q[i + 2], q[i + 3]])
}

/// [`super::quantize_row`] with AVX-512: the same integers (the conversion rounds
/// to nearest even, as `round_ties_even`).
///
/// # Safety
/// The CPU must have AVX-512F/BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn quantize_row_avx512(x: &[f32], q: &mut [u8]) -> f32 {
    let n = x.len();
    let mut m = _mm512_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: 16 floats inside x.
        let v = unsafe { _mm512_loadu_ps(x.as_ptr().add(i)) };
        m = _mm512_max_ps(m, _mm512_abs_ps(v));
        i += 16;
    }
    let mut amax = _mm512_reduce_max_ps(m);
    for &v in &x[i..] {
        amax = amax.max(v.abs());
    }
    if amax == 0.0 || !amax.is_finite() {
        return super::quantize_row(x, q);
    }
    let inv = 127.0 / amax;
    let vinv = _mm512_set1_ps(inv);
    let (lo, hi, off) = (
        _mm512_set1_epi32(-127),
        _mm512_set1_epi32(127),
        _mm512_set1_epi32(128),
    );
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: 16 floats inside x, 16 bytes inside q (q.len() >= x.len()).
        unsafe {
            let v = _mm512_mul_ps(_mm512_loadu_ps(x.as_ptr().add(i)), vinv);
            let r = _mm512_cvtps_epi32(v);
            let r = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(r, lo), hi), off);
            _mm_storeu_si128(q.as_mut_ptr().add(i).cast(), _mm512_cvtusepi32_epi8(r));
        }
        i += 16;
    }
    for (d, &v) in q[i..n].iter_mut().zip(&x[i..]) {
        *d = ((v * inv).round_ties_even().clamp(-127.0, 127.0) as i32 + 128) as u8;
    }
    amax / 127.0
}

/// `R` rows × `N` blocks of 16 outputs: `vpdpbusd` over the packed weights, the
/// `+128` removed with the column sums, scaled and stored straight into `out`.
///
/// # Safety
/// AVX-512F/BW/VNNI; `q` holds rows `r..r + R` (stride `kp`); `out` rows
/// `orow..orow + R` (stride `l.out`) are this caller's.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_vnni<const R: usize, const N: usize>(
    l: &QuantLinear,
    q: *const u8,
    s: &[f32],
    r: usize,
    b: usize,
    out: *mut f32,
    orow: usize,
) {
    let k4s = l.kp / 4;
    // SAFETY (whole body): AVX-512 is present (the caller's contract); indices stay
    // inside `packed` (block < blocks, k4 < k4s), `q` (rows r..r+R of kp bytes),
    // the padded scale/colsum arrays and the caller's rows of `out`; stores past
    // `l.out` are masked off.
    unsafe {
        let mut c = [[_mm512_setzero_si512(); N]; R];
        let wbase = l.packed.as_ptr();
        for k4 in 0..k4s {
            let mut w = [_mm512_setzero_si512(); N];
            for (bj, wb) in w.iter_mut().enumerate() {
                *wb = _mm512_loadu_si512(wbase.add(((b + bj) * k4s + k4) * NB * 4).cast());
            }
            for (i, ci) in c.iter_mut().enumerate() {
                let a = _mm512_set1_epi32(
                    q.add((r + i) * l.kp + k4 * 4)
                        .cast::<i32>()
                        .read_unaligned(),
                );
                for bj in 0..N {
                    ci[bj] = _mm512_dpbusd_epi32(ci[bj], a, w[bj]);
                }
            }
        }
        for bj in 0..N {
            let o0 = (b + bj) * NB;
            let cs = _mm512_loadu_si512(l.colsum128_pad.as_ptr().add(o0).cast());
            let sw = _mm512_loadu_ps(l.scale_pad.as_ptr().add(o0));
            let valid = l.out.saturating_sub(o0).min(NB);
            let mask: __mmask16 = if valid == NB {
                0xffff
            } else {
                (1u16 << valid) - 1
            };
            for (i, ci) in c.iter().enumerate() {
                let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(ci[bj], cs));
                let v = _mm512_mul_ps(v, _mm512_mul_ps(sw, _mm512_set1_ps(s[r + i])));
                _mm512_mask_storeu_ps(out.add((orow + i) * l.out + o0), mask, v);
            }
        }
    }
}

/// Rows `0..rows` of `q` × blocks `b0..b1` into `out` from row `r0`: tiles of 6
/// rows × 4 blocks (24 accumulators), smaller at the edges.
///
/// # Safety
/// AVX-512F/BW/VNNI; see [`QuantLinear::tile_range`].
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn range_vnni(
    l: &QuantLinear,
    q: &[u8],
    s: &[f32],
    r0: usize,
    rows: usize,
    b0: usize,
    b1: usize,
    out: *mut f32,
) {
    assert!(q.len() >= rows * l.kp && s.len() >= rows);
    let qp = q.as_ptr();
    // SAFETY: the caller's contract; every tile's rows and blocks are in range.
    unsafe {
        walk_tiles!(rows, b0, b1, |row, b| kernel_vnni(
            l,
            qp,
            s,
            row,
            b,
            out,
            r0 + row
        ))
    }
}

/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn tile_avx2(
    l: &QuantLinear,
    q: &[u8],
    r: usize,
    nr: usize,
    b: usize,
    nb: usize,
    acc: &mut [i32; 4 * 4 * NB],
) {
    let k4s = l.kp / 4;
    let ones = _mm256_set1_epi16(1);
    let flip = _mm256_set1_epi8(-128);
    let base = l.packed.as_ptr();
    // 16 outputs = two 256-bit halves; 4 rows × up to 4 blocks × 2 halves.
    let mut c = [_mm256_setzero_si256(); 32];
    for k4 in 0..k4s {
        for i in 0..nr {
            // q − 128 as i8: flip the top bit.
            let a = _mm256_xor_si256(_mm256_set1_epi32(group(q, l.kp, r + i, k4)), flip);
            let abs_a = _mm256_abs_epi8(a);
            for bj in 0..nb {
                let off = ((b + bj) * k4s + k4) * NB * 4;
                for h in 0..2 {
                    // SAFETY: 32 bytes inside `packed` (see tile_vnni).
                    let w = unsafe { _mm256_loadu_si256(base.add(off + 32 * h).cast()) };
                    // |a| · (w · sign(a)) = a · w, pair sums ≤ 2 · 127 · 127: no saturation.
                    let p = _mm256_maddubs_epi16(abs_a, _mm256_sign_epi8(w, a));
                    let k = (i * 4 + bj) * 2 + h;
                    c[k] = _mm256_add_epi32(c[k], _mm256_madd_epi16(p, ones));
                }
            }
        }
    }
    for i in 0..nr {
        for bj in 0..nb {
            for h in 0..2 {
                let k = (i * 4 + bj) * 2 + h;
                // SAFETY: 8 i32 inside `acc`.
                unsafe {
                    _mm256_storeu_si256(
                        acc.as_mut_ptr().add((i * 4 + bj) * NB + 8 * h).cast(),
                        c[k],
                    )
                };
            }
        }
    }
}
