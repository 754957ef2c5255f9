//! Vector primitives with run-time dispatch (the level from [`crate::cpu`]). The
//! portable versions are the oracles the SIMD versions are tested against.

use crate::cpu::Level;

/// Dot product of two equal-length slices.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_at(Level::active(), a, b)
}

/// [`dot`] at a given level (tests run every level of [`Level::available`]).
#[inline]
pub fn dot_at(level: Level, a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of slices of different lengths");
    #[cfg(target_arch = "x86_64")]
    {
        if level.has_avx512() {
            // SAFETY: the level guarantees AVX-512F, AVX2 and FMA.
            return unsafe { x86::dot_avx512(a, b) };
        }
        if level.has_avx2() {
            // SAFETY: the level guarantees AVX2 and FMA.
            return unsafe { x86::dot_avx2(a, b) };
        }
    }
    let _ = level;
    dot_portable(a, b)
}

/// Sum of a slice (a streaming read: the memory-bandwidth probe of the benchmarks).
pub fn sum(a: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if Level::active().has_avx2() {
        // SAFETY: the level guarantees AVX2 and FMA.
        return unsafe { x86::sum_avx2(a) };
    }
    a.iter().sum()
}

/// Portable dot product: eight independent accumulators (the compiler vectorizes it
/// with whatever the build target allows).
pub fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = acc.iter().sum::<f32>();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    /// Horizontal sum of the eight lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn sum_avx2(a: &[f32]) -> f32 {
        let n = a.len();
        let p = a.as_ptr();
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: i + width <= n.
        unsafe {
            while i + 32 <= n {
                for (j, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_add_ps(*acc, _mm256_loadu_ps(p.add(i + 8 * j)));
                }
                i += 32;
            }
        }
        let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut s = hsum(v);
        while i < n {
            s += a[i];
            i += 1;
        }
        s
    }

    /// # Safety
    /// The CPU must support AVX-512F, AVX2 and FMA; `a` and `b` have the same length.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(crate) unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 2];
        let mut i = 0;
        // SAFETY (all loads): i + width <= n for both slices; the tail is masked.
        unsafe {
            while i + 32 <= n {
                for (j, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_loadu_ps(pa.add(i + 16 * j));
                    let y = _mm512_loadu_ps(pb.add(i + 16 * j));
                    *acc = _mm512_fmadd_ps(x, y, *acc);
                }
                i += 32;
            }
            while i + 16 <= n {
                let (x, y) = (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
                acc[0] = _mm512_fmadd_ps(x, y, acc[0]);
                i += 16;
            }
            if i < n {
                let m: __mmask16 = (1u16 << (n - i)) - 1;
                let x = _mm512_maskz_loadu_ps(m, pa.add(i));
                let y = _mm512_maskz_loadu_ps(m, pb.add(i));
                acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
            }
        }
        _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; `a` and `b` have the same length.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads): i + width <= n for both slices.
        unsafe {
            while i + 32 <= n {
                for (j, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_loadu_ps(pa.add(i + 8 * j));
                    let y = _mm256_loadu_ps(pb.add(i + 8 * j));
                    *acc = _mm256_fmadd_ps(x, y, *acc);
                }
                i += 32;
            }
            while i + 8 <= n {
                acc[0] = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(i)),
                    _mm256_loadu_ps(pb.add(i)),
                    acc[0],
                );
                i += 8;
            }
        }
        let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut s = hsum(v);
        while i < n {
            s += a[i] * b[i];
            i += 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn dot_equals_naive_for_every_length() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut rnd = || crate::rng::centered(&mut seed);
        for n in 0..200 {
            let a: Vec<f32> = (0..n).map(|_| rnd()).collect();
            let b: Vec<f32> = (0..n).map(|_| rnd()).collect();
            let want = naive(&a, &b);
            for got in Level::available().into_iter().map(|l| dot_at(l, &a, &b)) {
                assert!(
                    (got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "n={n}: {got} vs {want}"
                );
            }
        }
    }
}

#[cfg(test)]
mod sum_tests {
    #[test]
    fn sum_equals_naive() {
        for n in [0usize, 1, 7, 31, 32, 33, 1000] {
            let a: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.5).collect();
            let want: f32 = a.iter().sum();
            assert!((super::sum(&a) - want).abs() < 1e-3, "n={n}");
        }
    }
}
