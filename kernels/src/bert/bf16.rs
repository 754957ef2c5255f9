//! bf16 products for the encoder's linear layers on CPUs with AVX512-BF16: weights
//! rounded to bf16 once (round to nearest even), activations rounded per product,
//! `vdpbf16ps` multiplies pairs and accumulates in f32. Packed as
//! `[out / 16][inp / 2][16][2]`: one 64-byte load feeds 16 outputs × 2 inputs. The
//! portable loop computes the same bf16 products in f32 (the oracle, and the path of
//! CPUs without BF16).

use std::cell::RefCell;

use super::tiles::{self, SharedOut};
use crate::cpu::Level;

const NB: usize = 16;

/// f32 → bf16 bits, round to nearest even (NaN stays NaN).
pub fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

pub fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// A linear layer's weight in bf16, packed for the kernels.
#[derive(Debug, Clone)]
pub struct Bf16Linear {
    pub inp: usize,
    pub out: usize,
    /// `inp` rounded up to even (padding is zero).
    kp: usize,
    /// `[out.div_ceil(16)][kp / 2][16][2]` bf16 bits.
    packed: Vec<u16>,
}

thread_local! {
    /// Activations as bf16 pairs (one `u32` per pair), reused across products.
    static ACT: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

impl Bf16Linear {
    /// From a PyTorch `nn.Linear` weight (`out × inp`, row-major).
    pub fn from_torch(weight: &[f32], out: usize, inp: usize) -> Self {
        assert_eq!(weight.len(), out * inp, "linear weight shape");
        let kp = inp.div_ceil(2) * 2;
        let blocks = out.div_ceil(NB);
        let mut packed = vec![0u16; blocks * kp * NB];
        for o in 0..out {
            let (b, j) = (o / NB, o % NB);
            for k in 0..inp {
                packed[((b * (kp / 2) + k / 2) * NB + j) * 2 + k % 2] =
                    to_bf16(weight[o * inp + k]);
            }
        }
        Bf16Linear {
            inp,
            out,
            kp,
            packed,
        }
    }

    /// `y = x · Wᵀ` (no bias; `x`: `rows × inp`, `y`: `rows × out`).
    pub fn product(&self, x: &[f32], rows: usize, y: &mut [f32]) {
        self.product_at(Level::active(), x, rows, y);
    }

    /// [`Bf16Linear::product`] at `level`: the AVX512-BF16 kernel where the level has
    /// it, the portable loop (the same bf16 products) otherwise.
    pub fn product_at(&self, level: Level, x: &[f32], rows: usize, y: &mut [f32]) {
        let native = level.has_bf16();
        assert!(x.len() >= rows * self.inp && y.len() >= rows * self.out);
        let out = SharedOut(y.as_mut_ptr());
        tiles::split_product(
            &ACT,
            rows,
            self.out.div_ceil(NB),
            |r0, r1, a| self.convert(&x[r0 * self.inp..r1 * self.inp], a),
            // SAFETY: each task alone writes its rows × blocks of y.
            |a, r0, n, b0, b1| unsafe { self.range(native, a, r0, n, b0, b1, out) },
        );
    }

    /// Rows of `x` as bf16 pairs (`rows × kp/2`, zero padding).
    fn convert(&self, x: &[f32], a: &mut Vec<u32>) {
        let rows = x.len() / self.inp;
        let k2s = self.kp / 2;
        a.clear();
        a.resize(rows * k2s, 0);
        for r in 0..rows {
            let row = &x[r * self.inp..(r + 1) * self.inp];
            for (k2, d) in a[r * k2s..(r + 1) * k2s].iter_mut().enumerate() {
                let lo = to_bf16(row[2 * k2]);
                let hi = row.get(2 * k2 + 1).map_or(0, |v| to_bf16(*v));
                *d = u32::from(lo) | (u32::from(hi) << 16);
            }
        }
    }

    /// # Safety
    /// `out` points to a buffer of at least `(r0 + rows) × self.out` floats of which no
    /// one else writes this range.
    #[allow(clippy::too_many_arguments)]
    unsafe fn range(
        &self,
        native: bool,
        a: &[u32],
        r0: usize,
        rows: usize,
        b0: usize,
        b1: usize,
        out: SharedOut,
    ) {
        #[cfg(target_arch = "x86_64")]
        if native {
            // SAFETY: `native` comes from a level that guarantees AVX512-BF16.
            unsafe { x86::range_bf16(self, a, r0, rows, b0, b1, out.0) };
            return;
        }
        let _ = native;
        let k2s = self.kp / 2;
        for r in 0..rows {
            for o in b0 * NB..(b1 * NB).min(self.out) {
                let (b, j) = (o / NB, o % NB);
                let mut acc = 0f32;
                for k2 in 0..k2s {
                    let p = a[r * k2s + k2];
                    let w = &self.packed[((b * k2s + k2) * NB + j) * 2..][..2];
                    acc += from_bf16(p as u16) * from_bf16(w[0])
                        + from_bf16((p >> 16) as u16) * from_bf16(w[1]);
                }
                // SAFETY: (r0 + r, o) is in this task's range.
                unsafe { *out.0.add((r0 + r) * self.out + o) = acc };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Bf16Linear, NB};

    /// `R` rows × `N` blocks of 16 outputs with `vdpbf16ps`, stored straight into `out`.
    ///
    /// # Safety
    /// AVX-512F + BF16; rows `r..r + R` of `a` exist; `out` rows `orow..orow + R` are
    /// the caller's; stores past `l.out` are masked off.
    #[inline(always)]
    unsafe fn kernel<const R: usize, const N: usize>(
        l: &Bf16Linear,
        a: *const u32,
        r: usize,
        b: usize,
        out: *mut f32,
        orow: usize,
    ) {
        let k2s = l.kp / 2;
        // SAFETY (whole body): see the function's contract; indices stay inside
        // `packed` (block < blocks, k2 < k2s) and `a` (rows r..r+R of k2s pairs).
        unsafe {
            let mut c = [[_mm512_setzero_ps(); N]; R];
            let wbase = l.packed.as_ptr();
            for k2 in 0..k2s {
                let mut w = [_mm512_setzero_si512(); N];
                for (bj, wb) in w.iter_mut().enumerate() {
                    *wb = _mm512_loadu_si512(wbase.add(((b + bj) * k2s + k2) * NB * 2).cast());
                }
                for (i, ci) in c.iter_mut().enumerate() {
                    let x = _mm512_set1_epi32(a.add((r + i) * k2s + k2).read() as i32);
                    let x: __m512bh = std::mem::transmute(x);
                    for bj in 0..N {
                        let wb: __m512bh = std::mem::transmute(w[bj]);
                        ci[bj] = _mm512_dpbf16_ps(ci[bj], x, wb);
                    }
                }
            }
            for bj in 0..N {
                let o0 = (b + bj) * NB;
                let valid = l.out.saturating_sub(o0).min(NB);
                let mask: __mmask16 = if valid == NB {
                    0xffff
                } else {
                    (1u16 << valid) - 1
                };
                for (i, ci) in c.iter().enumerate() {
                    _mm512_mask_storeu_ps(out.add((orow + i) * l.out + o0), mask, ci[bj]);
                }
            }
        }
    }

    /// # Safety
    /// AVX-512F + BF16; see `Bf16Linear::range`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn range_bf16(
        l: &Bf16Linear,
        a: &[u32],
        r0: usize,
        rows: usize,
        b0: usize,
        b1: usize,
        out: *mut f32,
    ) {
        assert!(a.len() >= rows * (l.kp / 2));
        let ap = a.as_ptr();
        // SAFETY: the caller's contract; every tile's rows and blocks are in range.
        unsafe { walk_tiles!(rows, b0, b1, |row, b| kernel(l, ap, row, b, out, r0 + row)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounding() {
        assert_eq!(from_bf16(to_bf16(1.0)), 1.0);
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), to_bf16(1.0)); // tie to even
        assert_eq!(from_bf16(to_bf16(1.0 + 3.0 / 256.0)), 1.0 + 4.0 / 256.0);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
    }

    /// The BF16 kernel (when the CPU has it) against the portable loop, and both
    /// against the f32 product within bf16's rounding.
    #[test]
    fn kernels_agree_and_stay_close_to_f32() {
        crate::bert::tiles::check_every_level(
            31,
            Bf16Linear::from_torch,
            |l, level, x, rows, y| l.product_at(level, x, rows, y),
            |level, (rows, inp, out), w, x, port, best| {
                for r in 0..rows {
                    for o in 0..out {
                        let (xr, wo) = (&x[r * inp..(r + 1) * inp], &w[o * inp..(o + 1) * inp]);
                        let mag: f32 = xr.iter().zip(wo).map(|(a, b)| (a * b).abs()).sum();
                        let exact: f32 = xr.iter().zip(wo).map(|(a, b)| a * b).sum();
                        let i = r * out + o;
                        assert!(
                            (best[i] - port[i]).abs() <= 1e-5 * mag + 1e-6,
                            "{level} kernel vs portable"
                        );
                        // Each operand within 2^-9 relative: products within ~2^-8.
                        assert!((port[i] - exact).abs() <= mag / 128.0 + 1e-6, "bf16 vs f32");
                    }
                }
            },
        );
    }
}
