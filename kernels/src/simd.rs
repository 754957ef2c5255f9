//! Vector primitives with run-time dispatch. The portable versions are the oracles the
//! SIMD versions are tested against.

use std::sync::OnceLock;

/// The instruction set the dispatched kernels use on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    /// AVX-512F (with AVX2, FMA, F16C): the MaxSim kernel uses 16-lane tiles; the other
    /// kernels use their AVX2 versions.
    Avx512,
    /// AVX2, FMA and F16C.
    Avx2Fma,
    Portable,
}

impl SimdLevel {
    /// AVX2+FMA+F16C kernels can run (true at the AVX-512 level too).
    pub fn has_avx2(self) -> bool {
        matches!(self, SimdLevel::Avx512 | SimdLevel::Avx2Fma)
    }

    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Avx512 => "avx512f",
            SimdLevel::Avx2Fma => "avx2+fma",
            SimdLevel::Portable => "portable",
        }
    }
}

/// The best level this CPU supports.
pub fn detected_level() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
    {
        if is_x86_feature_detected!("avx512f") {
            return SimdLevel::Avx512;
        }
        return SimdLevel::Avx2Fma;
    }
    SimdLevel::Portable
}

/// Detected once; `SEINE_SIMD=portable|avx2` caps it (for comparisons).
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let best = detected_level();
        match std::env::var("SEINE_SIMD").as_deref() {
            Ok("portable") => SimdLevel::Portable,
            Ok("avx2") if best.has_avx2() => SimdLevel::Avx2Fma,
            _ => best,
        }
    })
}

/// Dot product of two equal-length slices.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of slices of different lengths");
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: simd_level is at most what the CPU has.
        SimdLevel::Avx512 => return unsafe { x86::dot_avx512(a, b) },
        // SAFETY: as above.
        SimdLevel::Avx2Fma => return unsafe { x86::dot_avx2(a, b) },
        SimdLevel::Portable => {}
    }
    dot_portable(a, b)
}

/// [`dot`] at a given level (lowered to what the CPU has); tests run every level.
#[inline]
pub fn dot_at(level: SimdLevel, a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of slices of different lengths");
    #[cfg(target_arch = "x86_64")]
    {
        let best = detected_level();
        if level == SimdLevel::Avx512 && best == SimdLevel::Avx512 {
            // SAFETY: the CPU has AVX-512F (detected above).
            return unsafe { x86::dot_avx512(a, b) };
        }
        if level.has_avx2() && best.has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (detected above).
            return unsafe { x86::dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

/// Sum of a slice (a streaming read: the memory-bandwidth probe of the benchmarks).
pub fn sum(a: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd_level().has_avx2() {
        // SAFETY: AVX2 is present (checked at run time above).
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
    /// The CPU must support AVX-512F; `a` and `b` have the same length.
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
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for n in 0..200 {
            let a: Vec<f32> = (0..n).map(|_| rnd()).collect();
            let b: Vec<f32> = (0..n).map(|_| rnd()).collect();
            let want = naive(&a, &b);
            let levels = [SimdLevel::Avx512, SimdLevel::Avx2Fma, SimdLevel::Portable];
            for got in levels.map(|l| dot_at(l, &a, &b)) {
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
