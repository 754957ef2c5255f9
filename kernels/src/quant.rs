//! Quantized dense vectors for the first pass of a search (the full-precision vectors
//! rescore the survivors):
//!
//! - [`ScalarQuant`]: int8 codes with per-dimension ranges, `x_t ≈ min_t + scale_t·c_t`
//!   (`c_t` in 0..=255). A query is prepared once as `q'_t = q_t·scale_t` (quantized
//!   to i8) and `q·min`, so `q·x ≈ q·min + Σ q'_t·c_t` — one integer u8 × i8 dot per
//!   vector ([`QuantQuery`]); [`dot_u8`] is the f32 × u8 form.
//! - Binary (sign) codes: bit `t` set when `x_t > 0`, packed in u64 words; similarity
//!   `dim − 2·popcount(q ⊕ x)` (the dot of the ±1 vectors).
//!
//! Dot kernels: AVX-512 (16 codes per step), AVX2+FMA (8), portable (the oracle); the
//! f32 dot itself is in [`crate::simd`].

use crate::cpu::Level;

/// Per-dimension int8 ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarQuant {
    pub min: Vec<f32>,
    pub scale: Vec<f32>,
}

/// A query prepared for [`ScalarQuant`] codes: `q'_t = q_t·scale_t` quantized to i8
/// with one scale, so a vector's similarity is one integer `u8 × i8` dot (AVX-512 VNNI
/// `vpdpbusd`: 64 products per instruction) plus `q·min`.
pub struct QuantQuery {
    w8: Vec<i8>,
    qscale: f32,
    offset: f32,
    level: Level,
}

impl ScalarQuant {
    /// Ranges from the min and max of each dimension over `vectors` (row-major).
    pub fn fit(vectors: &[f32], dim: usize) -> Self {
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for v in vectors.chunks_exact(dim) {
            for t in 0..dim {
                lo[t] = lo[t].min(v[t]);
                hi[t] = hi[t].max(v[t]);
            }
        }
        let (mut min, mut scale) = (Vec::with_capacity(dim), Vec::with_capacity(dim));
        for t in 0..dim {
            let (a, b) = if lo[t].is_finite() {
                (lo[t], hi[t])
            } else {
                (0.0, 0.0)
            };
            min.push(a);
            scale.push(if b > a { (b - a) / 255.0 } else { 1.0 });
        }
        ScalarQuant { min, scale }
    }

    pub fn dim(&self) -> usize {
        self.min.len()
    }

    /// Appends the codes of one vector (values outside the ranges are clamped).
    pub fn encode(&self, v: &[f32], out: &mut Vec<u8>) {
        out.extend(
            v.iter()
                .zip(&self.min)
                .zip(&self.scale)
                .map(|((&x, &m), &s)| ((x - m) / s).round().clamp(0.0, 255.0) as u8),
        );
    }

    /// Decodes one vector's codes.
    pub fn decode(&self, codes: &[u8]) -> Vec<f32> {
        codes
            .iter()
            .zip(&self.min)
            .zip(&self.scale)
            .map(|((&c, &m), &s)| m + s * c as f32)
            .collect()
    }

    pub fn prepare(&self, q: &[f32]) -> QuantQuery {
        self.prepare_at(Level::active(), q)
    }

    /// [`ScalarQuant::prepare`] for a given level (VNNI, AVX2 or portable integer dot).
    pub fn prepare_at(&self, level: Level, q: &[f32]) -> QuantQuery {
        let w: Vec<f32> = q.iter().zip(&self.scale).map(|(a, b)| a * b).collect();
        let m = w.iter().fold(0f32, |m, x| m.max(x.abs()));
        let qscale = if m > 0.0 { m / 127.0 } else { 1.0 };
        QuantQuery {
            w8: w
                .iter()
                .map(|x| (x / qscale).round().clamp(-127.0, 127.0) as i8)
                .collect(),
            qscale,
            offset: q.iter().zip(&self.min).map(|(a, b)| a * b).sum(),
            level,
        }
    }
}

impl QuantQuery {
    /// `≈ q · decode(codes)`: off by at most `qscale/2 · Σ codes` (the query's rounding).
    #[inline]
    pub fn dot(&self, codes: &[u8]) -> f32 {
        self.offset + self.qscale * self.int_dot(codes) as f32
    }

    /// The exact integer `Σ c_t · w8_t`.
    #[inline]
    pub fn int_dot(&self, codes: &[u8]) -> i32 {
        assert_eq!(codes.len(), self.w8.len(), "codes of another dimension");
        #[cfg(target_arch = "x86_64")]
        {
            if self.level.has_vnni() {
                // SAFETY: the level guarantees AVX-512F/BW and VNNI.
                return unsafe { x86::dot_u8i8_vnni(codes, &self.w8) };
            }
            if self.level.has_avx2() {
                // SAFETY: the level guarantees AVX2.
                return unsafe { x86::dot_u8i8_avx2(codes, &self.w8) };
            }
        }
        dot_u8i8_portable(codes, &self.w8)
    }

    /// The query's quantization step.
    pub fn qscale(&self) -> f32 {
        self.qscale
    }
}

/// `Σ c_t · w_t` in integers (the oracle).
pub fn dot_u8i8_portable(c: &[u8], w: &[i8]) -> i32 {
    c.iter().zip(w).map(|(&a, &b)| a as i32 * b as i32).sum()
}

/// `Σ w_t · c_t` (portable oracle).
pub fn dot_u8_portable(w: &[f32], c: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    let (cw, cc) = (w.chunks_exact(8), c.chunks_exact(8));
    let (rw, rc) = (cw.remainder(), cc.remainder());
    for (x, y) in cw.zip(cc) {
        for i in 0..8 {
            acc[i] += x[i] * y[i] as f32;
        }
    }
    acc.iter().sum::<f32>() + rw.iter().zip(rc).map(|(a, &b)| a * b as f32).sum::<f32>()
}

/// `Σ w_t · c_t`, dispatched.
#[inline]
pub fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
    dot_u8_at(Level::active(), w, c)
}

/// [`dot_u8`] at a given level.
pub fn dot_u8_at(level: Level, w: &[f32], c: &[u8]) -> f32 {
    assert_eq!(w.len(), c.len(), "dot of slices of different lengths");
    #[cfg(target_arch = "x86_64")]
    {
        if level.has_avx512() {
            // SAFETY: the level guarantees AVX-512F/BW and AVX2+FMA.
            return unsafe { x86::dot_u8_512(w, c) };
        }
        if level.has_avx2() {
            // SAFETY: the level guarantees AVX2 and FMA.
            return unsafe { x86::dot_u8_256(w, c) };
        }
    }
    let _ = level;
    dot_u8_portable(w, c)
}

/// Sign bits of a vector, packed into `⌈dim/64⌉` words.
pub fn sign_bits(v: &[f32], out: &mut Vec<u64>) {
    for chunk in v.chunks(64) {
        let mut w = 0u64;
        for (i, &x) in chunk.iter().enumerate() {
            if x > 0.0 {
                w |= 1 << i;
            }
        }
        out.push(w);
    }
}

/// `dim − 2·hamming(a, b)`: the dot product of the ±1 vectors.
#[inline]
pub fn sign_similarity(a: &[u64], b: &[u64], dim: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if Level::active().has_avx2() {
        // SAFETY: the AVX2 tier guarantees POPCNT.
        return unsafe { x86::sign_similarity_popcnt(a, b, dim) };
    }
    let h: u32 = a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum();
    dim as f32 - 2.0 * h as f32
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-512F present; equal lengths.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn dot_u8_512(w: &[f32], c: &[u8]) -> f32 {
        let n = w.len();
        let full = n / 16 * 16;
        let (wp, cp) = (w.as_ptr(), c.as_ptr());
        let mut acc0 = _mm512_setzero_ps();
        let mut acc1 = _mm512_setzero_ps();
        let mut i = 0;
        // SAFETY: i + 16 <= n (and i + 32 <= n in the unrolled step).
        unsafe {
            while i + 32 <= full {
                let c0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(cp.add(i) as *const __m128i));
                let c1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(cp.add(i + 16) as *const __m128i));
                acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(wp.add(i)), _mm512_cvtepi32_ps(c0), acc0);
                acc1 = _mm512_fmadd_ps(
                    _mm512_loadu_ps(wp.add(i + 16)),
                    _mm512_cvtepi32_ps(c1),
                    acc1,
                );
                i += 32;
            }
            if i < full {
                let c0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(cp.add(i) as *const __m128i));
                acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(wp.add(i)), _mm512_cvtepi32_ps(c0), acc0);
                i += 16;
            }
        }
        let mut s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        for t in i..n {
            s += w[t] * c[t] as f32;
        }
        s
    }

    /// # Safety
    /// AVX2 and FMA present; equal lengths.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_u8_256(w: &[f32], c: &[u8]) -> f32 {
        let n = w.len();
        let full = n / 8 * 8;
        let (wp, cp) = (w.as_ptr(), c.as_ptr());
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY: i + 8 <= n.
        unsafe {
            while i < full {
                let c8 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(cp.add(i) as *const __m128i));
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(wp.add(i)), _mm256_cvtepi32_ps(c8), acc);
                i += 8;
            }
        }
        let mut s = crate::simd::x86::hsum(acc);
        for t in i..n {
            s += w[t] * c[t] as f32;
        }
        s
    }

    /// # Safety
    /// AVX-512F, BW and VNNI present; equal lengths.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn dot_u8i8_vnni(c: &[u8], w: &[i8]) -> i32 {
        let n = c.len();
        let (cp, wp) = (c.as_ptr(), w.as_ptr());
        let mut acc = [_mm512_setzero_si512(); 2];
        let mut i = 0;
        // SAFETY: full loads stay below n; the tail load is masked to n − i bytes.
        unsafe {
            while i + 128 <= n {
                for (j, a) in acc.iter_mut().enumerate() {
                    let x = _mm512_loadu_si512(cp.add(i + 64 * j) as *const _);
                    let y = _mm512_loadu_si512(wp.add(i + 64 * j) as *const _);
                    *a = _mm512_dpbusd_epi32(*a, x, y);
                }
                i += 128;
            }
            while i < n {
                let m: __mmask64 = if n - i >= 64 {
                    !0
                } else {
                    (1u64 << (n - i)) - 1
                };
                let x = _mm512_maskz_loadu_epi8(m, cp.add(i) as *const i8);
                let y = _mm512_maskz_loadu_epi8(m, wp.add(i));
                acc[0] = _mm512_dpbusd_epi32(acc[0], x, y);
                i += 64;
            }
        }
        _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]))
    }

    /// # Safety
    /// AVX2 present; equal lengths.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot_u8i8_avx2(c: &[u8], w: &[i8]) -> i32 {
        let n = c.len();
        let full = n / 16 * 16;
        let (cp, wp) = (c.as_ptr(), w.as_ptr());
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        // SAFETY: i + 16 <= n.
        unsafe {
            while i < full {
                let x = _mm256_cvtepu8_epi16(_mm_loadu_si128(cp.add(i) as *const __m128i));
                let y = _mm256_cvtepi8_epi16(_mm_loadu_si128(wp.add(i) as *const __m128i));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
                i += 16;
            }
        }
        let mut lanes = [0i32; 8];
        // SAFETY: 8 i32 lanes into an 8-element array.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc) };
        let mut s: i32 = lanes.iter().sum();
        for t in full..n {
            s += c[t] as i32 * w[t] as i32;
        }
        s
    }

    /// # Safety
    /// POPCNT present.
    #[target_feature(enable = "popcnt")]
    pub(super) unsafe fn sign_similarity_popcnt(a: &[u64], b: &[u64], dim: usize) -> f32 {
        let h: u32 = a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum();
        dim as f32 - 2.0 * h as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_dot_equals_the_decoded_dot_at_every_level() {
        let mut x = 0x9e37u64;
        let mut f = || crate::rng::centered(&mut x);
        for dim in [1, 7, 8, 15, 16, 31, 33, 64, 100, 384] {
            let vs: Vec<f32> = (0..50 * dim).map(|_| f()).collect();
            let sq = ScalarQuant::fit(&vs, dim);
            let q: Vec<f32> = (0..dim).map(|_| f()).collect();
            let pq = sq.prepare(&q);
            for v in vs.chunks_exact(dim) {
                let mut codes = Vec::new();
                sq.encode(v, &mut codes);
                let dec = sq.decode(&codes);
                // Within half a step per dimension of the original.
                for t in 0..dim {
                    assert!((dec[t] - v[t]).abs() <= sq.scale[t] * 0.5 + 1e-6);
                }
                let want: f64 = q.iter().zip(&dec).map(|(a, b)| *a as f64 * *b as f64).sum();
                let exact = dot_u8i8_portable(&codes, &pq.w8);
                for level in Level::available() {
                    let p = sq.prepare_at(level, &q);
                    assert_eq!(p.int_dot(&codes), exact, "{level:?} dim {dim}");
                    // The query's rounding bounds the error against the decoded dot.
                    let bound =
                        p.qscale() as f64 * 0.5 * codes.iter().map(|&c| c as f64).sum::<f64>();
                    assert!(
                        (p.dot(&codes) as f64 - want).abs() <= bound + 1e-4,
                        "{level:?}"
                    );
                }
                for level in Level::available() {
                    let w: Vec<f32> = q.iter().zip(&sq.scale).map(|(a, b)| a * b).collect();
                    let off: f32 = q.iter().zip(&sq.min).map(|(a, b)| a * b).sum();
                    let got = off + dot_u8_at(level, &w, &codes);
                    assert!((got as f64 - want).abs() < 1e-4, "{level:?} dim {dim}");
                }
            }
        }
    }

    #[test]
    fn sign_similarity_is_the_dot_of_the_signs() {
        let a: Vec<f32> = (0..130).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
        let b: Vec<f32> = (0..130).map(|i| ((i * 3) % 4) as f32 - 1.5).collect();
        let (mut ba, mut bb) = (Vec::new(), Vec::new());
        sign_bits(&a, &mut ba);
        sign_bits(&b, &mut bb);
        assert_eq!(ba.len(), 3);
        let s = |x: f32| if x > 0.0 { 1.0 } else { -1.0 };
        let want: f32 = a.iter().zip(&b).map(|(x, y)| s(*x) * s(*y)).sum();
        // Padding bits are 0 in both: they never count as disagreeing.
        assert_eq!(sign_similarity(&ba, &bb, 130), want);
    }
}
