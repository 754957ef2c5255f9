//! seine-kernels: the numeric hot loops, with run-time SIMD dispatch on the CPU
//! (AVX2+FMA where the machine has it, portable code otherwise).

pub mod bert;
pub mod cuda;
pub mod maxsim;
pub mod simd;

pub use maxsim::{Reduce, Tokens, score_batch, token_maxima};
pub use simd::{dot, simd_level};
