//! The calibrated dense and token generators of `seine bench scale`, drawn in the
//! eigenbasis of the fit ([`super::bench_scale_vecfit`]), deterministic from the
//! document (or query) number:
//!
//! - dense: cluster centres `mean + √between ⊙ z`, as many as keep the fitted
//!   documents per cluster (topics grow with the corpus); a document is a uniformly
//!   drawn cluster's centre plus `doc_gamma · √within ⊙ z`, a query the same with
//!   `query_gamma` (both fitted to nearest-neighbour cosines); unit length.
//! - tokens: cluster centres likewise; a corpus of `T` tokens has `K · (T / T_fit)^β`
//!   clusters (Heaps' exponent β of the BM25 fit: token clusters are word-like), drawn
//!   by the fitted Zipf law; a document's next token repeats the cluster of one of its
//!   earlier tokens with the fitted copy probability; query lengths log-normal.

use super::bench_scale::TOKENS;
use super::bench_scale_gen::{Rng, Zipf};
use super::bench_scale_vecfit::{SpaceFit, TokenFit};

const CENTRE_SALT: u64 = 0xc3a7;
const QUERY_SALT: u64 = 0x9e11;

/// Cluster centres and noise scales of one space.
pub(super) struct SpaceGen {
    dim: usize,
    centres: Vec<f32>,
    within: Vec<f32>,
    doc_gamma: f32,
    gamma: f32,
    salt: u64,
}

impl SpaceGen {
    /// The generator for a corpus of `n` documents.
    pub(super) fn new(fit: &SpaceFit, n: usize, salt: u64) -> Self {
        let per = fit.samples as f64 / fit.clusters.max(1) as f64;
        let k = ((n as f64 / per.max(1.0)).round() as usize).max(1);
        Self::with_clusters(fit, k, salt)
    }

    pub(super) fn with_clusters(fit: &SpaceFit, k: usize, salt: u64) -> Self {
        let d = fit.dim;
        let sb: Vec<f32> = fit.between.iter().map(|v| v.max(0.0).sqrt()).collect();
        let mut centres = vec![0f32; k * d];
        for (c, out) in centres.chunks_exact_mut(d).enumerate() {
            let mut r = Rng::new(salt ^ CENTRE_SALT, c as u64);
            for ((o, &m), &s) in out.iter_mut().zip(&fit.mean).zip(&sb) {
                *o = m + s * r.normal();
            }
        }
        SpaceGen {
            dim: d,
            centres,
            within: fit.within.iter().map(|v| v.max(0.0).sqrt()).collect(),
            doc_gamma: fit.doc_gamma,
            gamma: fit.query_gamma,
            salt,
        }
    }

    pub(super) fn clusters(&self) -> usize {
        self.centres.len() / self.dim
    }

    /// A unit vector of cluster `c`, noise scaled by `scale`, appended to `out`.
    fn draw_into(&self, c: usize, scale: f32, r: &mut Rng, out: &mut Vec<f32>) {
        let at = out.len();
        let centre = &self.centres[c * self.dim..(c + 1) * self.dim];
        out.extend(
            centre
                .iter()
                .zip(&self.within)
                .map(|(&m, &s)| m + scale * s * r.normal()),
        );
        seine_kernels::l2_normalize(&mut out[at..]);
    }

    pub(super) fn doc(&self, i: u64) -> Vec<f32> {
        let mut r = Rng::new(self.salt, i);
        let c = (r.next() % self.clusters() as u64) as usize;
        let mut v = Vec::with_capacity(self.dim);
        self.draw_into(c, self.doc_gamma, &mut r, &mut v);
        v
    }

    pub(super) fn query(&self, q: u64) -> Vec<f32> {
        let mut r = Rng::new(self.salt ^ QUERY_SALT, q);
        let c = (r.next() % self.clusters() as u64) as usize;
        let mut v = Vec::with_capacity(self.dim);
        self.draw_into(c, self.gamma, &mut r, &mut v);
        v
    }

    /// Documents `0..n`, one row each.
    pub(super) fn docs(&self, n: usize) -> Vec<f32> {
        (0..n as u64).flat_map(|i| self.doc(i)).collect()
    }

    pub(super) fn queries(&self, n: usize) -> Vec<f32> {
        (0..n as u64).flat_map(|q| self.query(q)).collect()
    }
}

/// Token bags: clusters by a Zipf law, repeated within a document.
pub(super) struct TokenGen {
    space: SpaceGen,
    zipf: Zipf,
    copy_prob: f64,
    query_mu: f64,
    query_sigma: f64,
}

impl TokenGen {
    /// The generator for a corpus of `n` documents of [`TOKENS`] tokens.
    pub(super) fn new(fit: &TokenFit, n: usize, heaps_beta: f64) -> Self {
        let fit_tokens = (fit.docs as f64 * fit.tokens_per_doc).max(1.0);
        let tokens = (n * TOKENS) as f64;
        let k = (fit.space.clusters as f64 * (tokens / fit_tokens).powf(heaps_beta)).round();
        let k = (k as usize).clamp(2, 1 << 20);
        TokenGen {
            space: SpaceGen::with_clusters(&fit.space, k, 0x70c5),
            zipf: Zipf::with_exponent(k, fit.cluster_zipf),
            copy_prob: fit.copy_prob,
            query_mu: fit.query_tokens_mu,
            query_sigma: fit.query_tokens_sigma,
        }
    }

    pub(super) fn clusters(&self) -> usize {
        self.space.clusters()
    }

    /// The clusters of a bag of `len` tokens.
    pub(super) fn doc_clusters(&self, r: &mut Rng, len: usize) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::with_capacity(len);
        for _ in 0..len {
            let c = if !out.is_empty() && r.unit() < self.copy_prob {
                out[(r.next() % out.len() as u64) as usize]
            } else {
                self.zipf.draw(r) as u32
            };
            out.push(c);
        }
        out
    }

    fn bag(&self, r: &mut Rng, len: usize, scale: f32) -> Vec<f32> {
        let clusters = self.doc_clusters(r, len);
        let mut v = Vec::with_capacity(len * self.space.dim);
        for c in clusters {
            self.space.draw_into(c as usize, scale, r, &mut v);
        }
        v
    }

    /// Document `i`'s [`TOKENS`] token vectors.
    pub(super) fn doc(&self, i: u64) -> Vec<f32> {
        self.bag(
            &mut Rng::new(self.space.salt, i),
            TOKENS,
            self.space.doc_gamma,
        )
    }

    /// Query `q`'s token vectors (a log-normal count, 1 to 64).
    pub(super) fn query(&self, q: u64) -> Vec<f32> {
        let mut r = Rng::new(self.space.salt ^ QUERY_SALT, q);
        let len = (self.query_mu + self.query_sigma * f64::from(r.normal()))
            .exp()
            .round()
            .clamp(1.0, 64.0) as usize;
        self.bag(&mut r, len, self.space.gamma)
    }

    pub(super) fn docs(&self, n: usize) -> Vec<f32> {
        (0..n as u64).flat_map(|i| self.doc(i)).collect()
    }

    pub(super) fn queries(&self, n: usize) -> Vec<f32> {
        (0..n as u64).flat_map(|q| self.query(q)).collect()
    }
}
