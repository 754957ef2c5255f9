//! Int8 products for the encoder's linear layers: weights quantized once per output
//! channel (symmetric, `w ≈ s_w[o] · q_w`, `q_w ∈ [-127, 127]`), activations
//! quantized per row (token) at run time (`x ≈ s_x[r] · (q_x − 128)`, `q_x ∈ [1, 255]`
//! as `u8`), products accumulated exactly in `i32`, then `y = s_x · s_w · acc`.
//!
//! Three kernels give the same integers: AVX-512 VNNI (`vpdpbusd`: 4 `u8 × i8`
//! products summed into each `i32` lane, 4 rows × 64 outputs per tile, the `+128`
//! offset of the activations removed with the weights' column sums), AVX2
//! (`vpmaddubsw` on `|q_x − 128|` and the sign-adjusted weights, which cannot
//! saturate, then `vpmaddwd`), and a portable loop (the oracle). Weights are packed as
//! `[out / 16][inp / 4][16][4]`: one 64-byte load feeds 16 outputs × 4 inputs.

use std::cell::RefCell;

use super::tiles::{self, SharedOut};
use crate::cpu::Level;

/// Outputs per packed block (one 512-bit register of `i32`).
const NB: usize = 16;

/// The integer kernel a product runs on at `level` (for benchmark reports).
pub fn kernel_name(level: Level) -> &'static str {
    if level.has_vnni() {
        "avx512-vnni"
    } else if level.has_avx2() {
        "avx2"
    } else {
        "portable"
    }
}

/// A linear layer's weight in int8, packed for the kernels.
#[derive(Debug, Clone)]
pub struct QuantLinear {
    pub inp: usize,
    pub out: usize,
    /// `inp` rounded up to a multiple of 4 (padding is zero).
    kp: usize,
    /// `[out.div_ceil(16)][kp / 4][16][4]`.
    packed: Vec<i8>,
    /// Per output channel.
    scale: Vec<f32>,
    /// `scale` and `128 · Σ_k q_w[k][o]` padded to whole blocks (the VNNI epilogue
    /// removes the activations' `+128` with the column sums).
    scale_pad: Vec<f32>,
    colsum128_pad: Vec<i32>,
}

/// Quantizes `x` to `q ∈ [1, 255]` (`x ≈ s · (q − 128)`); returns `s` (1 for a zero
/// row). `q` gets `x.len()` values; the caller pads.
fn quantize_row(x: &[f32], q: &mut [u8]) -> f32 {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if amax == 0.0 || !amax.is_finite() {
        q[..x.len()].fill(128);
        return if amax == 0.0 { 1.0 } else { f32::NAN };
    }
    let inv = 127.0 / amax;
    for (d, &v) in q.iter_mut().zip(x) {
        *d = ((v * inv).round_ties_even().clamp(-127.0, 127.0) as i32 + 128) as u8;
    }
    amax / 127.0
}

/// [`quantize_row`] on `level` (the same integers on every level).
fn quantize_row_at(level: Level, x: &[f32], q: &mut [u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if level.has_vnni() {
        // SAFETY: the level guarantees AVX-512F/BW.
        return unsafe { x86::quantize_row_avx512(x, q) };
    }
    let _ = level;
    quantize_row(x, q)
}

thread_local! {
    /// Quantized activations and their row scales, reused across products.
    static ACT: RefCell<(Vec<u8>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl QuantLinear {
    /// From a PyTorch `nn.Linear` weight (`out × inp`, row-major).
    pub fn from_torch(weight: &[f32], out: usize, inp: usize) -> Self {
        assert_eq!(weight.len(), out * inp, "linear weight shape");
        let kp = inp.div_ceil(4) * 4;
        let blocks = out.div_ceil(NB);
        let mut packed = vec![0i8; blocks * kp * NB];
        let mut scale = vec![1f32; out];
        let mut colsum = vec![0i32; out];
        for o in 0..out {
            let row = &weight[o * inp..(o + 1) * inp];
            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            scale[o] = s;
            let (b, j) = (o / NB, o % NB);
            for (k, &v) in row.iter().enumerate() {
                let q = (v / s).round().clamp(-127.0, 127.0) as i8;
                packed[((b * (kp / 4) + k / 4) * NB + j) * 4 + k % 4] = q;
                colsum[o] += i32::from(q);
            }
        }
        let mut scale_pad = scale.clone();
        scale_pad.resize(blocks * NB, 0.0);
        let mut colsum128_pad: Vec<i32> = colsum.iter().map(|c| 128 * c).collect();
        colsum128_pad.resize(blocks * NB, 0);
        QuantLinear {
            inp,
            out,
            kp,
            packed,
            scale,
            scale_pad,
            colsum128_pad,
        }
    }

    /// `y = x · Wᵀ` (no bias; `x`: `rows × inp`, `y`: `rows × out`) on the best level.
    pub fn product(&self, x: &[f32], rows: usize, y: &mut [f32]) {
        self.product_at(Level::active(), x, rows, y);
    }

    /// [`QuantLinear::product`] on a given level.
    pub fn product_at(&self, level: Level, x: &[f32], rows: usize, y: &mut [f32]) {
        assert!(x.len() >= rows * self.inp && y.len() >= rows * self.out);
        let out = SharedOut(y.as_mut_ptr());
        tiles::split_product(
            &ACT,
            rows,
            self.out.div_ceil(NB),
            |r0, r1, (q, s)| self.quantize(level, &x[r0 * self.inp..r1 * self.inp], q, s),
            // SAFETY: each task alone writes its rows × blocks of y.
            |(q, s), r0, n, b0, b1| unsafe { self.tile_range(level, q, s, r0, n, b0, b1, out) },
        );
    }

    /// Quantizes the rows of `x` into `q` (`rows × kp`, padding 128) and `s`.
    fn quantize(&self, level: Level, x: &[f32], q: &mut Vec<u8>, s: &mut Vec<f32>) {
        let rows = x.len() / self.inp;
        q.clear();
        q.resize(rows * self.kp, 128);
        s.clear();
        s.resize(rows, 0.0);
        for r in 0..rows {
            s[r] = quantize_row_at(
                level,
                &x[r * self.inp..(r + 1) * self.inp],
                &mut q[r * self.kp..(r + 1) * self.kp],
            );
        }
    }

    /// The `rows` quantized rows of `q`/`s` × output blocks `b0..b1`, written into
    /// `out` (`· × self.out`) from row `r0`.
    ///
    /// # Safety
    /// `out` must point to a buffer of at least `(r0 + rows) × self.out` floats of
    /// which no one else writes this range.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_range(
        &self,
        level: Level,
        q: &[u8],
        s: &[f32],
        r0: usize,
        rows: usize,
        b0: usize,
        b1: usize,
        out: SharedOut,
    ) {
        #[cfg(target_arch = "x86_64")]
        if level.has_vnni() {
            // SAFETY: the level guarantees AVX-512F/BW and VNNI; the caller's contract.
            unsafe { x86::range_vnni(self, q, s, r0, rows, b0, b1, out.0) };
            return;
        }
        let mut acc = [0i32; 4 * 4 * NB];
        let mut r = 0;
        while r < rows {
            let nr = (rows - r).min(4);
            let mut b = b0;
            while b < b1 {
                let nb = (b1 - b).min(4);
                self.tile(level, q, r, nr, b, nb, &mut acc);
                for i in 0..nr {
                    for bj in 0..nb {
                        for j in 0..NB {
                            let o = (b + bj) * NB + j;
                            if o < self.out {
                                let v =
                                    acc[(i * 4 + bj) * NB + j] as f32 * (self.scale[o] * s[r + i]);
                                // SAFETY: (r0 + r + i, o) is in this task's range.
                                unsafe { *out.0.add((r0 + r + i) * self.out + o) = v };
                            }
                        }
                    }
                }
                b += nb;
            }
            r += nr;
        }
    }

    /// Exact `Σ_k (q[r][k] − 128) · w[k][o]` for `nr ≤ 4` rows from `r` and `nb ≤ 4`
    /// blocks from `b`, into `acc[(i * 4 + bj) * 16 + j]`.
    #[allow(clippy::too_many_arguments)]
    fn tile(
        &self,
        level: Level,
        q: &[u8],
        r: usize,
        nr: usize,
        b: usize,
        nb: usize,
        acc: &mut [i32; 4 * 4 * NB],
    ) {
        #[cfg(target_arch = "x86_64")]
        if level.has_avx2() {
            // SAFETY: the level guarantees AVX2.
            return unsafe { x86::tile_avx2(self, q, r, nr, b, nb, acc) };
        }
        let _ = level;
        self.tile_portable(q, r, nr, b, nb, acc)
    }

    fn tile_portable(
        &self,
        q: &[u8],
        r: usize,
        nr: usize,
        b: usize,
        nb: usize,
        acc: &mut [i32; 4 * 4 * NB],
    ) {
        let k4s = self.kp / 4;
        for i in 0..nr {
            let a = &q[(r + i) * self.kp..(r + i + 1) * self.kp];
            for bj in 0..nb {
                let w = &self.packed[(b + bj) * k4s * NB * 4..(b + bj + 1) * k4s * NB * 4];
                let dst = &mut acc[(i * 4 + bj) * NB..(i * 4 + bj + 1) * NB];
                dst.fill(0);
                for k4 in 0..k4s {
                    for (j, d) in dst.iter_mut().enumerate() {
                        for t in 0..4 {
                            let x = i32::from(a[k4 * 4 + t]) - 128;
                            *d += x * i32::from(w[(k4 * NB + j) * 4 + t]);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rng::centered_vec as rand_vec;

    /// Every level gives the portable loop's integers (so the same floats), for shapes
    /// with tails in rows, outputs and inputs.
    #[test]
    fn every_level_equals_the_portable_kernel() {
        crate::bert::tiles::check_every_level(
            11,
            QuantLinear::from_torch,
            |l, level, x, rows, y| l.product_at(level, x, rows, y),
            |level, (rows, inp, out), _, _, want, got| {
                assert_eq!(
                    got,
                    want,
                    "{} rows {rows} inp {inp} out {out}",
                    level.name()
                )
            },
        );
    }

    /// Against the f32 product: the error stays within what the two quantizations
    /// allow (per element, half a step of each operand summed over the inputs).
    #[test]
    fn close_to_the_f32_product() {
        let (rows, inp, out) = (9, 384, 96);
        let w = rand_vec(out * inp, 21);
        let x = rand_vec(rows * inp, 22);
        let l = QuantLinear::from_torch(&w, out, inp);
        let mut got = vec![0f32; rows * out];
        l.product(&x, rows, &mut got);
        for r in 0..rows {
            let xr = &x[r * inp..(r + 1) * inp];
            let sx = xr.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for o in 0..out {
                let wo = &w[o * inp..(o + 1) * inp];
                let sw = wo.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                let exact: f64 = xr
                    .iter()
                    .zip(wo)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum();
                let bound: f64 = xr
                    .iter()
                    .zip(wo)
                    .map(|(a, b)| f64::from(a.abs() * sw + b.abs() * sx) * 0.5)
                    .sum::<f64>()
                    + inp as f64 * f64::from(sx * sw) * 0.25;
                let e = (f64::from(got[r * out + o]) - exact).abs();
                assert!(
                    e <= bound * 1.001 + 1e-6,
                    "({r}, {o}): error {e} > bound {bound}"
                );
            }
        }
    }

    #[test]
    fn zero_rows_stay_zero() {
        let l = QuantLinear::from_torch(&rand_vec(32 * 8, 3), 32, 8);
        let mut y = vec![1f32; 2 * 32];
        l.product(&[0f32; 16], 2, &mut y);
        assert!(y.iter().all(|v| *v == 0.0));
    }
}
