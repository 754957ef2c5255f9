//! seine-kernels: the numeric hot loops, with run-time SIMD dispatch on the CPU
//! (AVX2+FMA where the machine has it, portable code otherwise).

pub mod bert;
pub mod cuda;
pub mod kmeans;
pub mod maxsim;
pub mod quant;
pub mod residual;
pub mod simd;

pub use maxsim::{Compressed, PackedQuery, Reduce, Tokens, score_batch, token_maxima};
pub use simd::{dot, simd_level};

/// L2-normalizes `v` in place: the one normalization of seine (encoders, the dense
/// index, the write path). Returns false, leaving `v` unchanged, when its norm is zero
/// or not finite.
pub fn l2_normalize(v: &mut [f32]) -> bool {
    let ss: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if !(ss.is_finite() && ss > 0.0) {
        return false;
    }
    bert::ops::l2_normalize_rows(v, v.len());
    true
}
