//! The vector statistics `seine bench scale`'s calibrated dense and maxsim corpora are
//! drawn from, measured in the same command on SciFact through MiniLM (its pooled
//! document vectors, and its token vectors as the multi-vector representation):
//!
//! - the spectrum: mean and eigenvalues of the covariance (the vectors' anisotropy and
//!   how their variance spreads over directions);
//! - the cluster structure: k-means on the sample, each eigendirection's variance split
//!   into between-cluster and within-cluster parts (they add up exactly);
//! - queries: the noise scale `gamma` whose synthetic queries have the real queries'
//!   mean cosine to their nearest document (token: nearest document token), searched
//!   on a synthetic sample of the real one's size;
//! - tokens only: projected on their top [`TOK_DIM`] principal directions (as a
//!   ColBERT projection would shrink them), cluster frequencies (Zipf exponent), and
//!   how often two tokens of one document share a cluster (repeated words), matched by
//!   a copy probability; query token counts (log-normal).
//!
//! Generation happens in the eigenbasis (inner products do not depend on the basis),
//! so a vector costs `dim` normal draws; see [`super::bench_scale_vecgen`].

use serde::{Deserialize, Serialize};

use super::bench_scale::{DENSE_DIM, TOK_DIM, TOKENS};
use super::bench_scale_gen::Rng;
use super::bench_scale_vecgen::{SpaceGen, TokenGen};

/// A vector space's fit, in its eigenbasis (direction 0 the largest eigenvalue).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SpaceFit {
    pub dim: usize,
    pub samples: usize,
    pub clusters: usize,
    /// The mean's coordinates.
    pub mean: Vec<f32>,
    /// Per direction: variance of the cluster means (size-weighted) and within clusters.
    pub between: Vec<f32>,
    pub within: Vec<f32>,
    /// Noise of a synthetic document and of a query, relative to the fitted
    /// within-cluster spread (fitted to the nearest-neighbour cosines below).
    #[serde(default = "one")]
    pub doc_gamma: f32,
    pub query_gamma: f32,
    /// Checks: mean cosine of a document to its nearest other document, and of a query
    /// to its nearest document, real and synthetic (same sample size).
    pub doc_nn_cos: (f64, f64),
    pub query_nn_cos: (f64, f64),
}

fn one() -> f32 {
    1.0
}

impl SpaceFit {
    /// Share of the variance between clusters.
    pub fn between_share(&self) -> f64 {
        let b: f64 = self.between.iter().map(|&x| f64::from(x)).sum();
        let w: f64 = self.within.iter().map(|&x| f64::from(x)).sum();
        b / (b + w).max(1e-30)
    }
    /// Directions holding 90 % of the variance.
    pub fn dims_for_90(&self) -> usize {
        let tot: Vec<f64> = (0..self.dim)
            .map(|j| f64::from(self.between[j] + self.within[j]))
            .collect();
        let all: f64 = tot.iter().sum();
        let mut acc = 0.0;
        tot.iter()
            .take_while(|&&x| {
                acc += x;
                acc - x < 0.9 * all
            })
            .count()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TokenFit {
    pub space: SpaceFit,
    pub model_dim: usize,
    /// Share of the token variance the kept directions hold.
    pub kept_variance: f64,
    pub docs: usize,
    pub tokens_per_doc: f64,
    pub cluster_zipf: f64,
    /// Share of same-document token pairs in one cluster: real, and the copy probability
    /// that reproduces it on synthetic documents of [`TOKENS`] tokens.
    pub same_cluster_pairs: f64,
    pub copy_prob: f64,
    pub query_tokens_mu: f64,
    pub query_tokens_sigma: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct VecFit {
    pub model: String,
    pub dense: SpaceFit,
    pub tokens: TokenFit,
}

/// Eigen-decomposition of the symmetric `d × d` matrix `a` (cyclic Jacobi): eigenvalues
/// descending and the eigenvectors as rows, in that order.
pub(super) fn sym_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    for _sweep in 0..30 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j].powi(2))
            .sum();
        let diag: f64 = (0..d).map(|i| a[i * d + i].powi(2)).sum();
        if off <= 1e-22 * diag.max(1e-300) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vp, vq) = (v[p * d + k], v[q * d + k]);
                    v[p * d + k] = c * vp - s * vq;
                    v[q * d + k] = s * vp + c * vq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| a[j * d + j].total_cmp(&a[i * d + i]));
    let vals = order.iter().map(|&i| a[i * d + i]).collect();
    let vecs = order
        .iter()
        .flat_map(|&i| v[i * d..(i + 1) * d].to_vec())
        .collect();
    (vals, vecs)
}

/// Mean and covariance (f64) of the `n × d` rows of `x`.
fn mean_cov(x: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
    use seine_kernels::gemm::{MatRef, Par, matmul};
    let n = x.len() / d;
    let mut mean = vec![0f64; d];
    for row in x.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut g = vec![0f32; d * d];
    let xm = MatRef::row_major(x, n, d);
    matmul(&mut g, d, xm.t(), xm, 1.0 / n as f32, false, Par::Rayon);
    let cov = (0..d * d)
        .map(|ij| f64::from(g[ij]) - mean[ij / d] * mean[ij % d])
        .collect();
    (mean, cov)
}

/// Coordinates of the rows of `x` on the first `keep` eigenvectors (rows of `vecs`).
pub(super) fn project(x: &[f32], d: usize, vecs: &[f64], keep: usize) -> Vec<f32> {
    x.chunks_exact(d)
        .flat_map(|row| {
            (0..keep).map(move |j| {
                let u = &vecs[j * d..(j + 1) * d];
                u.iter()
                    .zip(row)
                    .map(|(a, &b)| a * f64::from(b))
                    .sum::<f64>() as f32
            })
        })
        .collect()
}

/// Spectrum and cluster split of the unit rows of `x` (`d` wide), `k` clusters; with
/// each row's cluster.
fn fit_space(x: &[f32], d: usize, k: usize) -> (SpaceFit, Vec<u32>) {
    let n = x.len() / d;
    let (mean, cov) = mean_cov(x, d);
    let (vals, vecs) = sym_eigen(&cov, d);
    let centroids = seine_kernels::kmeans::kmeans(x, d, k, 10, 7);
    let labels = seine_kernels::kmeans::assign(x, d, &centroids);
    // Cluster means (of the final assignment), projected on the eigenbasis.
    let mut sums = vec![0f64; k * d];
    let mut counts = vec![0usize; k];
    for (row, &l) in x.chunks_exact(d).zip(&labels) {
        counts[l as usize] += 1;
        for (s, &v) in sums[l as usize * d..(l as usize + 1) * d]
            .iter_mut()
            .zip(row)
        {
            *s += f64::from(v);
        }
    }
    let mut between = vec![0f64; d];
    for c in 0..k {
        if counts[c] == 0 {
            continue;
        }
        let w = counts[c] as f64 / n as f64;
        let cm: Vec<f64> = (0..d)
            .map(|t| sums[c * d + t] / counts[c] as f64 - mean[t])
            .collect();
        for (j, b) in between.iter_mut().enumerate() {
            let u = &vecs[j * d..(j + 1) * d];
            let p: f64 = u.iter().zip(&cm).map(|(a, b)| a * b).sum();
            *b += w * p * p;
        }
    }
    let mean_e: Vec<f32> = (0..d)
        .map(|j| {
            let u = &vecs[j * d..(j + 1) * d];
            u.iter().zip(&mean).map(|(a, b)| a * b).sum::<f64>() as f32
        })
        .collect();
    let within = (0..d)
        .map(|j| (vals[j].max(0.0) - between[j]).max(0.0) as f32)
        .collect();
    let fit = SpaceFit {
        dim: d,
        samples: n,
        clusters: counts.iter().filter(|&&c| c > 0).count(),
        mean: mean_e,
        between: between.iter().map(|&b| b as f32).collect(),
        within,
        doc_gamma: 1.0,
        query_gamma: 1.0,
        doc_nn_cos: (0.0, 0.0),
        query_nn_cos: (0.0, 0.0),
    };
    (fit, labels)
}

/// Mean over the rows of `a` of the largest dot product with a row of `b` (`skip_self`:
/// the same index in a square comparison is left out).
pub(super) fn mean_nn_cos(a: &[f32], b: &[f32], d: usize, skip_self: bool) -> f64 {
    use seine_kernels::gemm::{MatRef, Par, matmul};
    let (na, nb) = (a.len() / d, b.len() / d);
    if na == 0 || nb == 0 {
        return 0.0;
    }
    let mut s = vec![0f32; na * nb];
    matmul(
        &mut s,
        nb,
        MatRef::row_major(a, na, d),
        MatRef::row_major(b, nb, d).t(),
        1.0,
        false,
        Par::Rayon,
    );
    let tot: f64 = s
        .chunks_exact(nb)
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .enumerate()
                .filter(|&(j, _)| !(skip_self && i == j))
                .map(|(_, &x)| x)
                .fold(f32::NEG_INFINITY, f32::max) as f64
        })
        .sum();
    tot / na as f64
}

/// The noise scale `gamma` (of a grid, 0.1 to 3.0) whose synthetic sample's statistic
/// `synth(gamma)` (a mean nearest-neighbour cosine) is closest to the real `target`;
/// returns (gamma, the synthetic value).
fn fit_gamma(target: f64, synth: impl Fn(f32) -> f64) -> (f32, f64) {
    let mut best = (1.0f32, f64::INFINITY, 0.0);
    for step in 1..=30 {
        let g = 0.1 * step as f32;
        let v = synth(g);
        if (v - target).abs() < best.1 {
            best = (g, (v - target).abs(), v);
        }
    }
    (best.0, best.2)
}

/// Fits the dense space on `docs` / `queries` (unit rows, `DENSE_DIM` wide).
pub(super) fn fit_dense(docs: &[f32], queries: &[f32]) -> SpaceFit {
    let d = DENSE_DIM;
    let n = docs.len() / d;
    let k = (n / 40).clamp(2, 256);
    let mut fit = fit_space(docs, d, k).0;
    let real_doc = mean_nn_cos(docs, docs, d, true);
    let real_q = mean_nn_cos(queries, docs, d, false);
    let sample = |g: &SpaceFit| SpaceGen::new(g, n, 101);
    let (doc_gamma, synth_doc) = fit_gamma(real_doc, |g| {
        let mut f = fit.clone();
        f.doc_gamma = g;
        let x = sample(&f).docs(n);
        mean_nn_cos(&x, &x, d, true)
    });
    fit.doc_gamma = doc_gamma;
    fit.doc_nn_cos = (real_doc, synth_doc);
    let synth_docs = sample(&fit).docs(n);
    let nq = (queries.len() / d).clamp(1, 300);
    let (gamma, synth_q) = fit_gamma(real_q, |g| {
        let mut f = fit.clone();
        f.query_gamma = g;
        mean_nn_cos(&sample(&f).queries(nq), &synth_docs, d, false)
    });
    fit.query_gamma = gamma;
    fit.query_nn_cos = (real_q, synth_q);
    fit
}

/// Share of same-document token pairs that fall in one cluster.
pub(super) fn same_cluster_pairs(labels: &[u32], lens: &[usize]) -> f64 {
    let (mut same, mut pairs, mut at) = (0u64, 0u64, 0usize);
    for &l in lens {
        let doc = &labels[at..at + l];
        at += l;
        let mut counts = std::collections::HashMap::new();
        for &c in doc {
            *counts.entry(c).or_insert(0u64) += 1;
        }
        same += counts.values().map(|&c| c * (c - 1) / 2).sum::<u64>();
        pairs += (l as u64) * (l as u64).saturating_sub(1) / 2;
    }
    same as f64 / pairs.max(1) as f64
}

/// Fits the token space: the model's token vectors `tokens` (`model_dim` wide, one
/// document after another, `lens` tokens each) and the query tokens.
pub(super) fn fit_tokens(
    tokens: &[f32],
    lens: &[usize],
    model_dim: usize,
    queries: &[f32],
    query_lens: &[usize],
    heaps_beta: f64,
) -> TokenFit {
    let d = TOK_DIM.min(model_dim);
    let (_, cov) = mean_cov(tokens, model_dim);
    let (vals, vecs) = sym_eigen(&cov, model_dim);
    let kept: f64 = vals[..d].iter().map(|v| v.max(0.0)).sum::<f64>()
        / vals.iter().map(|v| v.max(0.0)).sum::<f64>().max(1e-30);
    let unit = |x: &[f32]| {
        let mut p = project(x, model_dim, &vecs, d);
        for row in p.chunks_exact_mut(d) {
            seine_kernels::l2_normalize(row);
        }
        p
    };
    let (pt, pq) = (unit(tokens), unit(queries));
    let n = pt.len() / d;
    let k = (n / 64).clamp(2, 1024);
    let (mut space, labels) = fit_space(&pt, d, k);
    let mut sizes = vec![0u64; k];
    for &l in &labels {
        sizes[l as usize] += 1;
    }
    sizes.sort_by(|a, b| b.cmp(a));
    let zipf = super::bench_scale_calib::zipf_exponent(&sizes);
    let same = same_cluster_pairs(&labels, lens);
    let (qmu, qsigma) =
        super::bench_scale_calib::lognormal_fit(query_lens.iter().map(|&l| l as f64));
    let mut fit = TokenFit {
        space: space.clone(),
        model_dim,
        kept_variance: kept,
        docs: lens.len(),
        tokens_per_doc: n as f64 / lens.len().max(1) as f64,
        cluster_zipf: zipf,
        same_cluster_pairs: same,
        copy_prob: 0.0,
        query_tokens_mu: qmu,
        query_tokens_sigma: qsigma,
    };
    // Synthetic samples hold as many tokens as the real one, in TOKENS-token bags.
    let nd = (n / TOKENS).max(1);
    // The copy probability: synthetic cluster draws of TOKENS-token documents.
    let mut best = (0.0f64, f64::INFINITY);
    for step in 0..20 {
        let f = step as f64 * 0.05;
        fit.copy_prob = f;
        let g = TokenGen::new(&fit, nd, heaps_beta);
        let mut r = Rng::new(71, 0);
        let labels: Vec<u32> = (0..2000)
            .flat_map(|_| g.doc_clusters(&mut r, TOKENS))
            .collect();
        let v = same_cluster_pairs(&labels, &[TOKENS; 2000]);
        if (v - same).abs() < best.1 {
            best = (f, (v - same).abs());
        }
    }
    fit.copy_prob = best.0;
    // The document and query noise, on synthetic samples of the real one's size.
    let real_doc = mean_nn_cos(&pt[..pt.len().min(2000 * d)], &pt, d, true);
    let real_q = mean_nn_cos(&pq, &pt, d, false);
    let (doc_gamma, synth_doc) = fit_gamma(real_doc, |g| {
        let mut f = fit.clone();
        f.space.doc_gamma = g;
        let x = TokenGen::new(&f, nd, heaps_beta).docs(nd);
        mean_nn_cos(&x[..x.len().min(2000 * d)], &x, d, true)
    });
    space.doc_gamma = doc_gamma;
    fit.space.doc_gamma = doc_gamma;
    space.doc_nn_cos = (real_doc, synth_doc);
    let synth_docs = TokenGen::new(&fit, nd, heaps_beta).docs(nd);
    let (gamma, synth_q) = fit_gamma(real_q, |gm| {
        let mut f = fit.clone();
        f.space.query_gamma = gm;
        let q = TokenGen::new(&f, nd, heaps_beta).queries(100);
        mean_nn_cos(&q, &synth_docs, d, false)
    });
    space.query_gamma = gamma;
    space.query_nn_cos = (real_q, synth_q);
    fit.space = space;
    fit
}

/// Encodes `docs` and `queries` with `model` (pooled and token vectors from one forward
/// pass; tokens of the first `token_docs` documents) and fits both spaces.
pub(super) fn fit(
    model: &str,
    docs: &[seine_datasets::Doc],
    queries: &[String],
    token_docs: usize,
    heaps_beta: f64,
) -> anyhow::Result<VecFit> {
    use anyhow::Context;
    use seine_engine::settings::EmbedKind;
    use seine_engine::{Encoders, Pruning, Side};
    let enc = Encoders::standalone(
        EmbedKind::Multi,
        model,
        Pruning::default(),
        &candle_core::Device::Cpu,
    )?
    .multi
    .context("a token-vector encoder")?;
    let model_dim = enc.dim();
    anyhow::ensure!(
        model_dim == DENSE_DIM,
        "{model} gives {model_dim}-d vectors; the dense calibration needs {DENSE_DIM}"
    );
    let texts: Vec<String> = docs.iter().map(seine_engine::encode::doc_text).collect();
    let (mut dense, mut tokens, mut lens) = (Vec::new(), Vec::new(), Vec::new());
    let t = std::time::Instant::now();
    for (i, chunk) in texts.chunks(32).enumerate() {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let (pooled, toks) = enc.encode_both(&refs, Side::Document)?;
        for (j, row) in pooled.rows().enumerate() {
            dense.extend_from_slice(row);
            if i * 32 + j < token_docs {
                tokens.extend_from_slice(&toks[j]);
                lens.push(toks[j].len() / model_dim);
            }
        }
        if i % 16 == 15 {
            eprintln!(
                "  calibration: {} of {} SciFact documents through {model} ({:.0} s)",
                dense.len() / model_dim,
                texts.len(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let (qpooled, qtoks) = enc.encode_both(&refs, Side::Query)?;
    let qdense: Vec<f32> = qpooled.rows().flatten().copied().collect();
    let qlens: Vec<usize> = qtoks.iter().map(|q| q.len() / model_dim).collect();
    let qtokens: Vec<f32> = qtoks.concat();
    eprintln!("  calibration: fitting the dense and token spaces");
    Ok(VecFit {
        model: model.to_string(),
        dense: fit_dense(&dense, &qdense),
        tokens: fit_tokens(&tokens, &lens, model_dim, &qtokens, &qlens, heaps_beta),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_recovers_a_known_spectrum() {
        // A = Qᵀ diag(5, 2, 1, 0.5) Q for a rotation Q in the (0,1) and (2,3) planes.
        let (c, s) = (0.6f64, 0.8f64);
        let q = [
            [c, s, 0.0, 0.0],
            [-s, c, 0.0, 0.0],
            [0.0, 0.0, s, c],
            [0.0, 0.0, -c, s],
        ];
        let l = [5.0, 2.0, 1.0, 0.5];
        let mut a = vec![0f64; 16];
        for i in 0..4 {
            for j in 0..4 {
                a[i * 4 + j] = (0..4).map(|k| q[k][i] * l[k] * q[k][j]).sum();
            }
        }
        let (vals, vecs) = sym_eigen(&a, 4);
        for (v, want) in vals.iter().zip(l) {
            assert!((v - want).abs() < 1e-9, "{vals:?}");
        }
        // A·u = λ·u for each returned row.
        for k in 0..4 {
            let u = &vecs[k * 4..(k + 1) * 4];
            for i in 0..4 {
                let au: f64 = (0..4).map(|j| a[i * 4 + j] * u[j]).sum();
                assert!((au - vals[k] * u[i]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn same_cluster_pairs_counts_pairs_within_documents() {
        // Doc 1: [1, 1, 2] → 1 of 3 pairs; doc 2: [3, 3] → 1 of 1.
        let v = same_cluster_pairs(&[1, 1, 2, 3, 3], &[3, 2]);
        assert!((v - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_fitted_space_is_reproduced_by_its_generator() {
        // Two well-separated clusters in 8 dims: the generator's samples have the
        // fitted between / within split and nearest-neighbour cosines.
        let d = 8;
        let mut r = Rng::new(5, 0);
        let mut x = Vec::new();
        for i in 0..400 {
            let mut v: Vec<f32> = (0..d).map(|_| 0.1 * r.normal()).collect();
            v[i % 2] += 1.0;
            seine_kernels::l2_normalize(&mut v);
            x.extend(v);
        }
        let (fit, labels) = fit_space(&x, d, 2);
        assert_eq!(fit.clusters, 2);
        assert!(labels.iter().filter(|&&l| l == labels[0]).count() > 150);
        assert!(fit.between_share() > 0.8, "{}", fit.between_share());
        let g = SpaceGen::new(&fit, 400, 3);
        assert_eq!(g.clusters(), 2);
        let y = g.docs(400);
        let real = mean_nn_cos(&x, &x, d, true);
        let synth = mean_nn_cos(&y, &y, d, true);
        assert!((real - synth).abs() < 0.05, "{real} vs {synth}");
    }
}
