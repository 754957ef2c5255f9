//! The machine's peak f32 FMA throughput, measured: independent FMA chains on every
//! thread of the rayon pool (AVX-512 or AVX2+FMA, whichever the CPU has), so benchmarks
//! can state the fraction of peak an encoder reaches.

use std::time::Instant;

use rayon::prelude::*;

use crate::cpu::Level;

/// Measured GFLOP/s (one FMA = 2 FLOP) over all threads of the rayon pool, at the
/// widest level this CPU has; `None` without AVX2+FMA.
pub fn peak_fma_gflops() -> Option<f64> {
    let level = Level::active();
    if !level.has_avx2() {
        return None;
    }
    let threads = rayon::current_num_threads();
    let iters: u64 = 20_000_000;
    let t = Instant::now();
    let flops: f64 = (0..threads)
        .into_par_iter()
        .map(|_| {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: the level guarantees AVX2+FMA (and AVX-512F when wide).
                unsafe { x86::chains(level.has_avx512(), iters) }
            }
            #[cfg(not(target_arch = "x86_64"))]
            0.0
        })
        .sum();
    Some(flops / t.elapsed().as_secs_f64() / 1e9)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// 12 independent accumulators (enough to cover FMA latency × ports); returns FLOP.
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn chains512(iters: u64) -> f64 {
        let m = _mm512_set1_ps(0.999_999);
        let a = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm512_fmadd_ps(*v, m, a);
            }
        }
        let mut s = _mm512_setzero_ps();
        for v in acc {
            s = _mm512_add_ps(s, v);
        }
        std::hint::black_box(s);
        (iters * 12 * 16 * 2) as f64
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn chains256(iters: u64) -> f64 {
        let m = _mm256_set1_ps(0.999_999);
        let a = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, m, a);
            }
        }
        let mut s = _mm256_setzero_ps();
        for v in acc {
            s = _mm256_add_ps(s, v);
        }
        std::hint::black_box(s);
        (iters * 12 * 8 * 2) as f64
    }

    /// # Safety
    /// The CPU must have AVX2+FMA (and AVX-512F when `wide`).
    pub unsafe fn chains(wide: bool, iters: u64) -> f64 {
        // SAFETY: the caller checked the features.
        unsafe {
            if wide {
                chains512(iters / 2)
            } else {
                chains256(iters)
            }
        }
    }
}
