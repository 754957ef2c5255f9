//! Residual compression of token vectors (ColBERTv2 / PLAID): each vector is stored as
//! the id of its nearest centroid plus its residual quantized to `b` bits per dimension
//! (b = 1, 2 or 4). The bucket cut-offs are quantiles of the residual values of a
//! training sample (`i / 2^b`), each bucket decodes to the sample quantile in its middle
//! (`(i + ½) / 2^b`), so a residual value inside the cut-offs' range is off by at most
//! its bucket's width. Codes are packed little-end first: dimension `t` sits at bits
//! `t·b..(t+1)·b` of the row. Decoding goes through a 256-entry table per byte; the
//! decoded vector `c + r̂` is L2-normalized when the training vectors were (as ColBERTv2
//! does), which is what MaxSim on compressed tokens scores.

use crate::kmeans::{assign, kmeans};
use crate::rng::Rng;

/// A trained codec: centroids, cut-offs and bucket values.
#[derive(Debug, Clone)]
pub struct Codec {
    dim: usize,
    bits: u8,
    centroids: Vec<f32>,
    cutoffs: Vec<f32>,
    weights: Vec<f32>,
    normalize: bool,
    /// For every byte value, the `8 / bits` bucket values it encodes.
    lut: Vec<f32>,
}

/// Bits per dimension a codec may use.
pub const BITS: [u8; 3] = [1, 2, 4];

impl Codec {
    /// A codec from its parts (as stored); checks their shapes.
    pub fn new(
        dim: usize,
        bits: u8,
        centroids: Vec<f32>,
        cutoffs: Vec<f32>,
        weights: Vec<f32>,
        normalize: bool,
    ) -> Result<Self, String> {
        if !BITS.contains(&bits) {
            return Err(format!("{bits} bits per dimension (expected 1, 2 or 4)"));
        }
        let buckets = 1usize << bits;
        if dim == 0 || centroids.is_empty() || !centroids.len().is_multiple_of(dim) {
            return Err(format!(
                "{} centroid floats for dimension {dim}",
                centroids.len()
            ));
        }
        if cutoffs.len() != buckets - 1 || weights.len() != buckets {
            return Err(format!(
                "{} cut-offs and {} bucket values for {bits} bits",
                cutoffs.len(),
                weights.len()
            ));
        }
        if cutoffs.windows(2).any(|w| w[0] > w[1]) {
            return Err("cut-offs are not sorted".into());
        }
        let per = 8 / bits as usize;
        let mask = (buckets - 1) as u32;
        let lut = (0..256u32)
            .flat_map(|byte| (0..per).map(move |e| (byte >> (e * bits as usize)) & mask))
            .map(|code| weights[code as usize])
            .collect();
        Ok(Codec {
            dim,
            bits,
            centroids,
            cutoffs,
            weights,
            normalize,
            lut,
        })
    }

    /// Trains a codec on `sample` (row-major `dim`-d vectors): `k` centroids by seeded
    /// k-means (`iters` Lloyd iterations), then the cut-offs and bucket values from the
    /// sample's residuals. Centroids are normalized when the sample's vectors are.
    pub fn train(sample: &[f32], dim: usize, k: usize, bits: u8, iters: usize, seed: u64) -> Self {
        let n = sample.len() / dim;
        let normalize = sample.chunks_exact(dim).all(|r| {
            let s: f32 = r.iter().map(|x| x * x).sum();
            (s - 1.0).abs() < 1e-2
        });
        let mut centroids = kmeans(sample, dim, k, iters, seed);
        if normalize {
            for c in centroids.chunks_exact_mut(dim) {
                crate::l2_normalize(c);
            }
        }
        let a = assign(sample, dim, &centroids);
        // Residual values of (at most) 2^20 sampled coordinates, sorted, for quantiles.
        let mut rng = Rng::new(seed ^ 0x5eed);
        let take = (n * dim).min(1 << 20);
        let mut vals: Vec<f32> = (0..take)
            .map(|t| {
                let flat = if take == n * dim {
                    t
                } else {
                    rng.below(n * dim)
                };
                let (r, j) = (flat / dim, flat % dim);
                sample[flat] - centroids[a[r] as usize * dim + j]
            })
            .collect();
        vals.sort_by(f32::total_cmp);
        let buckets = 1usize << bits;
        let q = |p: f64| vals[((p * vals.len() as f64) as usize).min(vals.len() - 1)];
        let cutoffs = (1..buckets).map(|i| q(i as f64 / buckets as f64)).collect();
        let weights = (0..buckets)
            .map(|i| q((i as f64 + 0.5) / buckets as f64))
            .collect();
        Codec::new(dim, bits, centroids, cutoffs, weights, normalize).expect("consistent shapes")
    }

    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn bits(&self) -> u8 {
        self.bits
    }
    pub fn k(&self) -> usize {
        self.centroids.len() / self.dim
    }
    pub fn centroids(&self) -> &[f32] {
        &self.centroids
    }
    pub fn cutoffs(&self) -> &[f32] {
        &self.cutoffs
    }
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
    pub fn normalize(&self) -> bool {
        self.normalize
    }

    /// Bytes of one token's packed residual.
    pub fn row_bytes(&self) -> usize {
        (self.dim * self.bits as usize).div_ceil(8)
    }

    /// The bucket of one residual value: how many cut-offs are ≤ it.
    pub fn bucket(&self, r: f32) -> u8 {
        self.cutoffs.partition_point(|&c| c <= r) as u8
    }

    /// Encodes rows: appends one centroid id per row to `cids` and the packed residual
    /// codes to `codes`.
    pub fn encode(&self, rows: &[f32], cids: &mut Vec<u32>, codes: &mut Vec<u8>) {
        let a = assign(rows, self.dim, &self.centroids);
        self.encode_assigned(rows, &a, codes);
        cids.extend_from_slice(&a);
    }

    /// Packs the residuals of rows whose centroids are already known.
    pub fn encode_assigned(&self, rows: &[f32], cids: &[u32], codes: &mut Vec<u8>) {
        let (dim, b) = (self.dim, self.bits as usize);
        for (row, &c) in rows.chunks_exact(dim).zip(cids) {
            let cen = &self.centroids[c as usize * dim..(c as usize + 1) * dim];
            let start = codes.len();
            codes.resize(start + self.row_bytes(), 0);
            let out = &mut codes[start..];
            for (t, (&x, &m)) in row.iter().zip(cen).enumerate() {
                let code = self.bucket(x - m);
                out[t * b / 8] |= code << (t * b % 8);
            }
        }
    }

    /// `c + r̂` without normalization.
    pub fn decode_raw(&self, cid: u32, code: &[u8], out: &mut [f32]) {
        let dim = self.dim;
        let per = 8 / self.bits as usize;
        let cen = &self.centroids[cid as usize * dim..(cid as usize + 1) * dim];
        for (i, (o, c)) in out[..dim].chunks_mut(per).zip(cen.chunks(per)).enumerate() {
            let lut = &self.lut[code[i] as usize * per..][..o.len()];
            for ((o, &c), &r) in o.iter_mut().zip(c).zip(lut) {
                *o = c + r;
            }
        }
    }

    /// The decoded vector MaxSim scores: `c + r̂`, normalized when the codec is.
    pub fn decode(&self, cid: u32, code: &[u8], out: &mut [f32]) {
        self.decode_raw(cid, code, out);
        if self.normalize {
            crate::l2_normalize(&mut out[..self.dim]);
        }
    }

    /// Decodes rows `j0..j0 + n` of a document into `out` (`n × dim`).
    pub fn decode_rows(&self, cids: &[u32], codes: &[u8], j0: usize, n: usize, out: &mut [f32]) {
        self.decode_rows_at(crate::cpu::Level::active(), cids, codes, j0, n, out)
    }

    /// [`Codec::decode_rows`] at a given level: AVX-512 decodes 16 dimensions per step
    /// (byte gather, variable shift, bucket-value permute, centroid add, sum of squares
    /// for the norm); other levels go through the byte table.
    pub fn decode_rows_at(
        &self,
        level: crate::cpu::Level,
        cids: &[u32],
        codes: &[u8],
        j0: usize,
        n: usize,
        out: &mut [f32],
    ) {
        let (dim, rb) = (self.dim, self.row_bytes());
        assert!(cids.len() >= j0 + n && codes.len() >= (j0 + n) * rb && out.len() >= n * dim);
        #[cfg(target_arch = "x86_64")]
        if level.has_avx512() {
            // SAFETY: the level guarantees AVX-512F/BW; rows, centroids and `out` are in bounds
            // (asserted above and by the codec's shapes).
            unsafe { x86::decode512(self, &cids[j0..j0 + n], &codes[j0 * rb..(j0 + n) * rb], out) };
            return;
        }
        let _ = level;
        for (r, o) in out[..n * dim].chunks_exact_mut(dim).enumerate() {
            let j = j0 + r;
            self.decode(cids[j], &codes[j * rb..(j + 1) * rb], o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Codec;

    /// Rows: `out[r] = normalize?(c[cids[r]] + w[code_r])`.
    ///
    /// # Safety
    /// AVX-512F and BW present; `codes` holds `cids.len()` rows, `out` as many × dim.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn decode512(codec: &Codec, cids: &[u32], codes: &[u8], out: &mut [f32]) {
        let (dim, b, rb) = (codec.dim, codec.bits as usize, codec.row_bytes());
        let mut wv = [0f32; 16];
        wv[..codec.weights.len()].copy_from_slice(&codec.weights);
        // Lane l of a 16-dimension step reads byte (l·b)/8 of the step, bits (l·b)%8.
        let (mut byte_idx, mut shift) = ([0i32; 16], [0i32; 16]);
        for l in 0..16 {
            byte_idx[l] = (l * b / 8) as i32;
            shift[l] = (l * b % 8) as i32;
        }
        let step_bytes = 2 * b; // 16 dimensions × b bits
        // SAFETY: loads are masked to the row and the centroid; stores to `out`.
        unsafe {
            let w = _mm512_loadu_ps(wv.as_ptr());
            let idx = _mm512_loadu_si512(byte_idx.as_ptr() as *const _);
            let sh = _mm512_loadu_si512(shift.as_ptr() as *const _);
            let mask = _mm512_set1_epi32((1 << b) - 1);
            for (r, &cid) in cids.iter().enumerate() {
                let code = &codes[r * rb..(r + 1) * rb];
                let cen = &codec.centroids[cid as usize * dim..(cid as usize + 1) * dim];
                let out = &mut out[r * dim..(r + 1) * dim];
                row(
                    code,
                    cen,
                    out,
                    dim,
                    step_bytes,
                    w,
                    idx,
                    sh,
                    mask,
                    codec.normalize,
                );
            }
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn row(
        code: &[u8],
        cen: &[f32],
        out: &mut [f32],
        dim: usize,
        step_bytes: usize,
        w: __m512,
        idx: __m512i,
        sh: __m512i,
        mask: __m512i,
        normalize: bool,
    ) {
        // SAFETY: masked loads within `code` and `cen`; masked stores within `out`.
        unsafe {
            let mut ss = _mm512_setzero_ps();
            let mut t = 0;
            while t < dim {
                let lanes = (dim - t).min(16);
                let lm: __mmask16 = if lanes == 16 { !0 } else { (1u16 << lanes) - 1 };
                let off = t / 16 * step_bytes;
                let avail = code.len().saturating_sub(off).min(16);
                let bm: __mmask16 = if avail == 16 { !0 } else { (1u16 << avail) - 1 };
                let bytes = _mm_maskz_loadu_epi8(bm, code.as_ptr().add(off) as *const i8);
                let v = _mm512_permutexvar_epi32(idx, _mm512_cvtepu8_epi32(bytes));
                let c = _mm512_and_si512(_mm512_srlv_epi32(v, sh), mask);
                let r = _mm512_permutexvar_ps(c, w);
                let x = _mm512_maskz_add_ps(lm, _mm512_maskz_loadu_ps(lm, cen.as_ptr().add(t)), r);
                ss = _mm512_fmadd_ps(x, x, ss);
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(t), lm, x);
                t += 16;
            }
            if normalize {
                let n = _mm512_reduce_add_ps(ss);
                if n > 0.0 && n.is_finite() {
                    let inv = _mm512_set1_ps(1.0 / n.sqrt());
                    let mut t = 0;
                    while t < dim {
                        let lanes = (dim - t).min(16);
                        let lm: __mmask16 = if lanes == 16 { !0 } else { (1u16 << lanes) - 1 };
                        let p = out.as_mut_ptr().add(t);
                        _mm512_mask_storeu_ps(
                            p,
                            lm,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(lm, p), inv),
                        );
                        t += 16;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let mut v: Vec<f32> = (0..n * dim)
            .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        for r in v.chunks_exact_mut(dim) {
            crate::l2_normalize(r);
        }
        v
    }

    /// Property: for fresh vectors, every dimension's code is the bucket holding its
    /// residual, and the decoded residual is within that bucket's width (the edge
    /// buckets: within the distance to the edge bucket value).
    #[test]
    fn decode_of_encode_is_within_the_bucket_the_quantizer_promises() {
        for (bits, dim) in [(1u8, 48), (2, 37), (4, 64)] {
            let codec = Codec::train(&sample(2000, dim, 1), dim, 32, bits, 4, 9);
            assert_eq!(codec.k(), 32);
            let fresh = sample(300, dim, 2);
            let (mut cids, mut codes) = (Vec::new(), Vec::new());
            codec.encode(&fresh, &mut cids, &mut codes);
            assert_eq!(codes.len(), 300 * codec.row_bytes());
            let mut out = vec![0f32; dim];
            let cut = codec.cutoffs();
            for (r, row) in fresh.chunks_exact(dim).enumerate() {
                let code = &codes[r * codec.row_bytes()..(r + 1) * codec.row_bytes()];
                codec.decode_raw(cids[r], code, &mut out);
                let cen = &codec.centroids()[cids[r] as usize * dim..][..dim];
                for t in 0..dim {
                    let res = row[t] - cen[t];
                    let b = codec.bucket(res) as usize;
                    let stored = (code[t * bits as usize / 8] >> (t * bits as usize % 8))
                        & ((1u8 << bits) - 1);
                    assert_eq!(stored as usize, b, "the code is the residual's bucket");
                    let got = codec.weights()[b];
                    assert!((out[t] - (cen[t] + got)).abs() <= 1e-6);
                    let lo = if b == 0 { got.min(res) } else { cut[b - 1] };
                    let hi = if b == cut.len() { got.max(res) } else { cut[b] };
                    assert!(res >= lo && res <= hi && got >= lo && got <= hi);
                    assert!((got - res).abs() <= hi - lo + 1e-6, "bits {bits} t {t}");
                }
            }
            // The quantized residual removes most of the error of the centroid alone.
            let (mut err, mut err0) = (0f32, 0f32);
            for (r, row) in fresh.chunks_exact(dim).enumerate() {
                let code = &codes[r * codec.row_bytes()..(r + 1) * codec.row_bytes()];
                codec.decode(cids[r], code, &mut out);
                let cen = &codec.centroids()[cids[r] as usize * dim..][..dim];
                err += row
                    .iter()
                    .zip(&out)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f32>();
                err0 += row
                    .iter()
                    .zip(cen)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f32>();
            }
            let bound = match bits {
                1 => 0.6,
                2 => 0.25,
                _ => 0.05,
            } * err0;
            assert!(err < bound, "bits {bits}: mean squared error {err}");
        }
    }

    #[test]
    fn every_decode_level_equals_the_table_decode() {
        use crate::cpu::Level;
        for (bits, dim) in [(1u8, 40), (2, 37), (2, 384), (4, 33), (4, 128), (1, 7)] {
            let codec = Codec::train(&sample(500, dim, 3), dim, 8, bits, 2, 4);
            let rows = sample(20, dim, 5);
            let (mut cids, mut codes) = (Vec::new(), Vec::new());
            codec.encode(&rows, &mut cids, &mut codes);
            let mut want = vec![0f32; 18 * dim];
            let rb = codec.row_bytes();
            for (r, o) in want.chunks_exact_mut(dim).enumerate() {
                codec.decode(cids[r + 2], &codes[(r + 2) * rb..(r + 3) * rb], o);
            }
            for level in Level::available() {
                let mut got = vec![0f32; 18 * dim];
                codec.decode_rows_at(level, &cids, &codes, 2, 18, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() < 1e-5,
                        "{level:?} bits {bits} dim {dim}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_parts_are_refused() {
        assert!(Codec::new(4, 3, vec![0.0; 4], vec![0.0; 7], vec![0.0; 8], false).is_err());
        assert!(Codec::new(4, 1, vec![0.0; 5], vec![0.0], vec![0.0; 2], false).is_err());
        assert!(Codec::new(4, 2, vec![0.0; 4], vec![0.0; 2], vec![0.0; 4], false).is_err());
        assert!(Codec::new(4, 1, vec![0.0; 4], vec![0.0], vec![0.0; 2], true).is_ok());
    }
}
