//! The encoder's element-wise and row-wise ops, fused: bias + activation, bias +
//! residual + LayerNorm, LayerNorm, softmax, bias, L2 normalization.
//!
//! Each op is written once as plain loops over slices (reductions over 16 independent
//! accumulators, so the compiler can vectorize them without reassociating) and compiled
//! three times by [`dispatched!`]: for AVX-512, for AVX2+FMA and for the portable
//! target; a [`Level`] picks one at run time. `exp` and `erf` are polynomial
//! approximations (relative error ~1e-7) that vectorize; the tests hold every level
//! against f64 oracles.

use crate::cpu::Level;

/// The feed-forward activation (`hidden_act` in a BERT `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `0.5 x (1 + erf(x / √2))` (`gelu`).
    GeluErf,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
}

/// `e^x` for f32, Cephes' polynomial after a power-of-two range reduction. Inputs are
/// clamped to [-87, 88] (results stay normal); relative error below 2e-7.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let p = p * (r * r) + r + 1.0;
    // 2^n without a float-to-int conversion (Rust's `as` saturates, which does not
    // vectorize): n + 127 is an integer in [0, 255], so 2^23 + (n + 127) holds it in the
    // low mantissa bits, and shifting those into the exponent field gives 2^n.
    let biased = (n + 127.0 + 8_388_608.0).to_bits();
    p * f32::from_bits(biased << 23)
}

/// erf for f32 (Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7).
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_74) * t
        + 0.254_829_6)
        * t;
    (1.0 - poly * exp_f32(-a * a)).copysign(x)
}

#[inline(always)]
fn activate(x: f32, act: Activation) -> f32 {
    match act {
        Activation::GeluErf => 0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2)),
        Activation::GeluTanh => {
            let u = 0.797_884_6 * (x + 0.044_715 * x * x * x);
            // tanh(u) = 1 - 2 / (e^{2u} + 1)
            0.5 * x * (2.0 - 2.0 / (exp_f32(2.0 * u) + 1.0))
        }
        Activation::Relu => {
            if x > 0.0 {
                x
            } else {
                0.0
            }
        }
    }
}

const LANES: usize = 16;

#[inline(always)]
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            acc[j] += c[j];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

#[inline(always)]
fn sum_sq_dev(v: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            let d = c[j] - mean;
            acc[j] += d * d;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>()
}

#[inline(always)]
fn max(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            acc[j] = if c[j] > acc[j] { c[j] } else { acc[j] };
        }
    }
    acc.iter()
        .chain(rest)
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

#[inline(always)]
fn normalize_row(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let inv = 1.0 / (sum_sq_dev(row, mean) / n + eps).sqrt();
    for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *x = (*x - mean) * inv * g + b;
    }
}

/// Defines `pub fn $name(args)` (at the detected level) and `pub fn ${name}_at(level,
/// args)`, compiling the body once per instruction-set level.
macro_rules! dispatched {
    ($(#[$m:meta])* fn $name:ident / $at:ident ($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        pub fn $name($($arg: $ty),*) {
            $at(Level::active(), $($arg),*)
        }

        /// The same op at a given level (tests and benchmarks).
        pub fn $at(level: Level, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
                unsafe fn v4($($arg: $ty),*) $body
                #[target_feature(enable = "avx2,fma,f16c")]
                unsafe fn v3($($arg: $ty),*) $body
                if level.has_avx512() {
                    // SAFETY: the level guarantees AVX-512F/BW/VL, AVX2, FMA and F16C.
                    return unsafe { v4($($arg),*) };
                }
                if level.has_avx2() {
                    // SAFETY: the level guarantees AVX2, FMA and F16C.
                    return unsafe { v3($($arg),*) };
                }
            }
            let _ = level;
            #[inline(always)]
            fn portable($($arg: $ty),*) $body
            portable($($arg),*)
        }
    };
}

dispatched! {
    /// `x = act(x + bias)` for every row of `x` (`rows × bias.len()`).
    fn bias_act / bias_act_at(x: &mut [f32], bias: &[f32], act: Activation) {
        // One loop per activation, so each vectorizes on its own.
        match act {
            Activation::GeluErf => {
                for row in x.chunks_exact_mut(bias.len()) {
                    for (v, b) in row.iter_mut().zip(bias) {
                        *v = activate(*v + b, Activation::GeluErf);
                    }
                }
            }
            Activation::GeluTanh => {
                for row in x.chunks_exact_mut(bias.len()) {
                    for (v, b) in row.iter_mut().zip(bias) {
                        *v = activate(*v + b, Activation::GeluTanh);
                    }
                }
            }
            Activation::Relu => {
                for row in x.chunks_exact_mut(bias.len()) {
                    for (v, b) in row.iter_mut().zip(bias) {
                        *v = activate(*v + b, Activation::Relu);
                    }
                }
            }
        }
    }
}

dispatched! {
    /// `x += bias` for every row of `x`.
    fn add_bias / add_bias_at(x: &mut [f32], bias: &[f32]) {
        for row in x.chunks_exact_mut(bias.len()) {
            for (v, b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
    }
}

dispatched! {
    /// The post-LN residual: `x = LayerNorm(x + y + bias)` row by row (`x`, `y`:
    /// `rows × gamma.len()`).
    fn residual_layer_norm / residual_layer_norm_at(
        x: &mut [f32],
        y: &[f32],
        bias: &[f32],
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
    ) {
        let h = gamma.len();
        for (xr, yr) in x.chunks_exact_mut(h).zip(y.chunks_exact(h)) {
            for ((v, a), b) in xr.iter_mut().zip(yr).zip(bias) {
                *v += a + b;
            }
            normalize_row(xr, gamma, beta, eps);
        }
    }
}

dispatched! {
    /// `x = LayerNorm(x)` row by row.
    fn layer_norm / layer_norm_at(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        for xr in x.chunks_exact_mut(gamma.len()) {
            normalize_row(xr, gamma, beta, eps);
        }
    }
}

dispatched! {
    /// Softmax of each row of `x` (`rows × n`), in place.
    fn softmax_rows / softmax_rows_at(x: &mut [f32], n: usize) {
        for row in x.chunks_exact_mut(n) {
            let m = max(row);
            for v in row.iter_mut() {
                *v = exp_f32(*v - m);
            }
            let inv = 1.0 / sum(row);
            for v in row.iter_mut() {
                *v *= inv;
            }
        }
    }
}

dispatched! {
    /// L2-normalizes each row of `x` (`rows × n`); zero rows stay zero.
    fn l2_normalize_rows / l2_normalize_rows_at(x: &mut [f32], n: usize) {
        for row in x.chunks_exact_mut(n) {
            let ss = sum_sq_dev(row, 0.0);
            if ss > 0.0 {
                let inv = 1.0 / ss.sqrt();
                for v in row.iter_mut() {
                    *v *= inv;
                }
            }
        }
    }
}

dispatched! {
    /// `acc[j] = max(acc[j], row[j])` for every row of `rows` (`rows × acc.len()`): the
    /// max-pool over tokens of SPLADE's logits.
    fn max_rows_into / max_rows_into_at(acc: &mut [f32], rows: &[f32]) {
        for row in rows.chunks_exact(acc.len()) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a = if v > *a { v } else { *a };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn f(&mut self, scale: f32) -> f32 {
            crate::rng::step(&mut self.0);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        }
    }

    fn gelu_oracle(x: f64) -> f64 {
        0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
    }

    #[test]
    fn exp_and_erf_match_f64() {
        let mut worst_exp = 0f64;
        let mut worst_erf = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            worst_exp = worst_exp.max(((exp_f32(x) as f64 - want) / want).abs());
            worst_erf =
                worst_erf.max((erf_f32(x / 20.0) as f64 - libm::erf(x as f64 / 20.0)).abs());
            x += 0.0137;
        }
        assert!(worst_exp < 3e-7, "exp relative error {worst_exp}");
        assert!(worst_erf < 6e-7, "erf absolute error {worst_erf}");
        assert_eq!(exp_f32(-1000.0), exp_f32(-87.0));
        assert!(exp_f32(-87.0) > 0.0);
    }

    #[test]
    fn every_level_matches_the_f64_oracles() {
        let mut rng = Rng(0x1234_5678);
        for level in Level::available() {
            for &(rows, h) in &[(1, 1), (3, 7), (5, 16), (4, 33), (2, 384), (1, 1536)] {
                let x0: Vec<f32> = (0..rows * h).map(|_| rng.f(6.0)).collect();
                let y: Vec<f32> = (0..rows * h).map(|_| rng.f(3.0)).collect();
                let bias: Vec<f32> = (0..h).map(|_| rng.f(1.0)).collect();
                let gamma: Vec<f32> = (0..h).map(|_| rng.f(2.0)).collect();
                let beta: Vec<f32> = (0..h).map(|_| rng.f(1.0)).collect();

                for act in [Activation::GeluErf, Activation::GeluTanh, Activation::Relu] {
                    let mut x = x0.clone();
                    bias_act_at(level, &mut x, &bias, act);
                    for (i, &got) in x.iter().enumerate() {
                        let v = x0[i] as f64 + bias[i % h] as f64;
                        let want = match act {
                            Activation::GeluErf => gelu_oracle(v),
                            Activation::GeluTanh => {
                                let u = (2.0 / std::f64::consts::PI).sqrt()
                                    * (v + 0.044715 * v * v * v);
                                0.5 * v * (1.0 + u.tanh())
                            }
                            Activation::Relu => v.max(0.0),
                        };
                        assert!(
                            (got as f64 - want).abs() < 2e-6 * (1.0 + want.abs()),
                            "{level:?} {act:?} {v}: {got} vs {want}"
                        );
                    }
                }

                let mut x = x0.clone();
                residual_layer_norm_at(level, &mut x, &y, &bias, &gamma, &beta, 1e-12);
                for r in 0..rows {
                    let v: Vec<f64> = (0..h)
                        .map(|j| x0[r * h + j] as f64 + y[r * h + j] as f64 + bias[j] as f64)
                        .collect();
                    let mean = v.iter().sum::<f64>() / h as f64;
                    let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / h as f64;
                    for j in 0..h {
                        let want = if h == 1 {
                            beta[j] as f64
                        } else {
                            (v[j] - mean) / (var + 1e-12).sqrt() * gamma[j] as f64 + beta[j] as f64
                        };
                        let got = x[r * h + j] as f64;
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "{level:?} ln {got} vs {want}"
                        );
                    }
                }

                let mut x = x0.clone();
                softmax_rows_at(level, &mut x, h);
                for r in 0..rows {
                    let row = &x0[r * h..(r + 1) * h];
                    let m = row.iter().fold(f64::MIN, |a, &b| a.max(b as f64));
                    let z: f64 = row.iter().map(|&a| (a as f64 - m).exp()).sum();
                    for j in 0..h {
                        let want = (row[j] as f64 - m).exp() / z;
                        assert!(
                            (x[r * h + j] as f64 - want).abs() < 1e-6,
                            "{level:?} softmax"
                        );
                    }
                }

                let mut x = x0.clone();
                l2_normalize_rows_at(level, &mut x, h);
                for r in 0..rows {
                    let n: f64 = x[r * h..(r + 1) * h]
                        .iter()
                        .map(|&a| (a as f64).powi(2))
                        .sum();
                    assert!((n - 1.0).abs() < 1e-5);
                }

                let mut acc = vec![f32::NEG_INFINITY; h];
                max_rows_into_at(level, &mut acc, &x0);
                for j in 0..h {
                    let want = (0..rows)
                        .map(|r| x0[r * h + j])
                        .fold(f32::NEG_INFINITY, f32::max);
                    assert_eq!(acc[j], want);
                }
            }
        }
    }
}
