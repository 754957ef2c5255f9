//! seine-kernels: the numeric hot loops, with run-time SIMD dispatch on the CPU: the
//! level ([`cpu::Level`]: portable, AVX2, AVX-512, + VNNI, + BF16) is decided once in
//! [`cpu`], and every kernel picks its body from it.

pub mod bert;
pub mod cpu;
pub mod cuda;
pub mod gemm;
pub mod kmeans;
pub mod maxsim;
pub mod ops;
pub mod quant;
pub mod residual;
pub mod rng;
pub mod simd;

pub use cpu::Level;
pub use maxsim::{Compressed, PackedQuery, Reduce, Tokens, score_batch, token_maxima};
pub use simd::dot;

/// L2-normalizes `v` in place: the one normalization of seine (encoders, the dense
/// index, the write path). Returns false, leaving `v` unchanged, when its norm is zero
/// or not finite.
pub fn l2_normalize(v: &mut [f32]) -> bool {
    let ss: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if !(ss.is_finite() && ss > 0.0) {
        return false;
    }
    ops::l2_normalize_rows(v, v.len());
    true
}
