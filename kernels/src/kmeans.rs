//! Seeded k-means (Lloyd) over row-major f32 vectors, and nearest-centroid assignment
//! through the GEMM: `argmin_c ‖x − c‖² = argmax_c (x·c − ‖c‖²/2)`, computed for blocks
//! of rows × blocks of centroids with [`crate::gemm::matmul`], in parallel over
//! row blocks. Used to train the residual codec of the token-vector store.

use rayon::prelude::*;

use crate::gemm::{MatRef, Par, matmul};
use crate::rng::Rng;

const ROW_BLOCK: usize = 128;
const CENTROID_BLOCK: usize = 2048;

/// The index of the nearest centroid (L2) of every row of `data`.
pub fn assign(data: &[f32], dim: usize, centroids: &[f32]) -> Vec<u32> {
    assert!(dim > 0 && data.len().is_multiple_of(dim) && centroids.len().is_multiple_of(dim));
    let k = centroids.len() / dim;
    assert!(k > 0, "no centroids");
    let half_norm: Vec<f32> = centroids
        .chunks_exact(dim)
        .map(|c| 0.5 * c.iter().map(|x| x * x).sum::<f32>())
        .collect();
    let n = data.len() / dim;
    let mut out = vec![0u32; n];
    out.par_chunks_mut(ROW_BLOCK).enumerate().for_each_init(
        || vec![0f32; ROW_BLOCK * CENTROID_BLOCK],
        |buf, (b, o)| {
            let rows = &data[b * ROW_BLOCK * dim..(b * ROW_BLOCK + o.len()) * dim];
            let mut best = vec![f32::NEG_INFINITY; o.len()];
            for c0 in (0..k).step_by(CENTROID_BLOCK) {
                let nc = (k - c0).min(CENTROID_BLOCK);
                let cs = &centroids[c0 * dim..(c0 + nc) * dim];
                matmul(
                    buf,
                    nc,
                    MatRef::row_major(rows, o.len(), dim),
                    MatRef::row_major(cs, nc, dim).t(),
                    1.0,
                    false,
                    Par::Serial,
                );
                for (r, (oi, bi)) in o.iter_mut().zip(best.iter_mut()).enumerate() {
                    let s = &buf[r * nc..(r + 1) * nc];
                    for (j, (&x, &h)) in s.iter().zip(&half_norm[c0..c0 + nc]).enumerate() {
                        let v = x - h;
                        if v > *bi {
                            *bi = v;
                            *oi = (c0 + j) as u32;
                        }
                    }
                }
            }
        },
    );
    out
}

/// `k` centroids of `data` after `iters` Lloyd iterations from `k` distinct rows drawn
/// with `seed` (a centroid left empty is re-drawn from the data). Deterministic for a
/// given seed and thread count-independent (sums are per centroid, in row order).
pub fn kmeans(data: &[f32], dim: usize, k: usize, iters: usize, seed: u64) -> Vec<f32> {
    assert!(dim > 0 && data.len().is_multiple_of(dim));
    let n = data.len() / dim;
    assert!(n > 0 && k > 0, "k-means needs data and k ≥ 1");
    let k = k.min(n);
    let mut rng = Rng::new(seed);
    // k distinct rows: a partial Fisher-Yates shuffle of the row indices.
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    let mut centroids: Vec<f32> = idx[..k]
        .iter()
        .flat_map(|&r| data[r * dim..(r + 1) * dim].iter().copied())
        .collect();
    for _ in 0..iters {
        let a = assign(data, dim, &centroids);
        let mut sums = vec![0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (r, &c) in a.iter().enumerate() {
            let c = c as usize;
            counts[c] += 1;
            for (s, &x) in sums[c * dim..(c + 1) * dim]
                .iter_mut()
                .zip(&data[r * dim..(r + 1) * dim])
            {
                *s += x as f64;
            }
        }
        for c in 0..k {
            let dst = &mut centroids[c * dim..(c + 1) * dim];
            if counts[c] == 0 {
                let r = rng.below(n);
                dst.copy_from_slice(&data[r * dim..(r + 1) * dim]);
            } else {
                for (d, s) in dst.iter_mut().zip(&sums[c * dim..(c + 1) * dim]) {
                    *d = (*s / counts[c] as f64) as f32;
                }
            }
        }
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_equals_brute_force_and_kmeans_finds_clusters() {
        let mut rng = Rng::new(7);
        let dim = 5;
        let f = |rng: &mut Rng| rng.centered();
        let data: Vec<f32> = (0..3000 * dim).map(|_| f(&mut rng)).collect();
        let cs: Vec<f32> = (0..2100 * dim).map(|_| f(&mut rng)).collect();
        let got = assign(&data, dim, &cs);
        for (r, &g) in got.iter().enumerate() {
            let x = &data[r * dim..(r + 1) * dim];
            let d = |c: usize| -> f64 {
                x.iter()
                    .zip(&cs[c * dim..(c + 1) * dim])
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum()
            };
            let best = (0..2100).map(d).fold(f64::INFINITY, f64::min);
            assert!(d(g as usize) <= best + 1e-5, "row {r}");
        }
        // Three well-separated blobs: k-means with k = 3 puts one centroid in each.
        let centers = [[5.0f32, 0.0], [-5.0, 0.0], [0.0, 5.0]];
        let pts: Vec<f32> = (0..300)
            .flat_map(|i| {
                let c = centers[i % 3];
                [c[0] + 0.3 * f(&mut rng), c[1] + 0.3 * f(&mut rng)]
            })
            .collect();
        let km = kmeans(&pts, 2, 3, 10, 1);
        for c in centers {
            assert!(
                km.chunks(2)
                    .any(|m| (m[0] - c[0]).abs() < 0.2 && (m[1] - c[1]).abs() < 0.2),
                "{km:?}"
            );
        }
        assert_eq!(km, kmeans(&pts, 2, 3, 10, 1), "seeded");
    }
}
