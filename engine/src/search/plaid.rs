//! Late interaction as a first stage (`--retriever maxsim`): [`first_stage`] picks WARP
//! (`warp.rs`, the default) or PLAID (Santhanam et al., arXiv 2205.09707, here) over the
//! residual-compressed token store.
//!
//! 1. Centroid scores `S = C · Qᵀ` (`k × Lq`, one GEMM).
//! 2. Candidate generation: each query token's `nprobe` best centroids; the documents
//!    of their lists.
//! 3. Centroid interaction with pruning: a document's approximate score is
//!    `Σ_i max_j S[c_j, i]` over its tokens' centroids `c_j`, skipping centroids whose
//!    best score over the query is below `centroid_threshold`; the top `ndocs` go on.
//! 4. The same without pruning on those; the top `ndocs / 4` go on.
//! 5. Exact MaxSim with decompression (the kernels' fused path) → the top `k`.
//!
//! On an uncompressed store the retriever is exhaustive MaxSim over every document
//! (exact, for small corpora), which is also the oracle [`MaxsimRetriever::exact`].

use std::sync::Arc;

use rayon::prelude::*;
use seine_index::{DocSet, MultiIndex, ScoredDoc};
use seine_kernels::gemm::{MatRef, Par, matmul};
use seine_kernels::{PackedQuery, Reduce};

use super::Live;
use super::retriever::{Retriever, finish};
use crate::Result;
use crate::encoder::Side;
use crate::multi::MultiVectorEncoder;
use crate::settings::{Plaid, QueryParams, RetrieverKind, Warp};

/// PLAID first-stage retrieval over an index's token vectors.
pub struct MaxsimRetriever {
    encoder: Arc<MultiVectorEncoder>,
    store: Arc<MultiIndex>,
}

impl MaxsimRetriever {
    pub fn new(encoder: Arc<MultiVectorEncoder>, store: Arc<MultiIndex>) -> Self {
        MaxsimRetriever { encoder, store }
    }

    /// The query's token vectors.
    pub fn encode_query(&self, query: &str) -> Result<Vec<f32>> {
        Ok(self.encoder.encode(&[query], Side::Query)?.remove(0))
    }

    /// Exhaustive MaxSim over every document of the generation: the oracle.
    pub fn exact(&self, q: &[f32], k: usize) -> Vec<ScoredDoc> {
        exact(&self.store, q, k)
    }

    /// [`Retriever::retrieve`] for encoded query tokens, with this call's PLAID
    /// parameters (`None`: [`Plaid::for_k`] of `k`).
    fn retrieve_tokens(
        &self,
        q: &[f32],
        k: usize,
        live: &Live,
        allowed: Option<&DocSet>,
        plaid: Option<Plaid>,
        warp: Option<Warp>,
    ) -> Vec<ScoredDoc> {
        let dim = self.store.dim();
        let mut hits = first_stage(&self.store, q, k + live.hidden.len(), plaid, warp, allowed);
        hits.extend(live.iter().filter_map(|(id, d)| {
            if !super::retriever::passes(allowed, id) {
                return None;
            }
            let t = d.tokens.as_deref()?;
            Some(ScoredDoc::new(
                id,
                seine_kernels::maxsim::maxsim(q, dim, seine_kernels::Tokens::F32(t)),
            ))
        }));
        finish(hits, live, k, allowed)
    }
}

impl Retriever for MaxsimRetriever {
    fn kind(&self) -> RetrieverKind {
        RetrieverKind::Maxsim
    }

    fn retrieve(
        &self,
        query: &str,
        k: usize,
        live: &Live,
        allowed: Option<&DocSet>,
        params: &QueryParams,
    ) -> Result<Vec<ScoredDoc>> {
        let q = self.encode_query(query)?;
        Ok(self.retrieve_tokens(&q, k, live, allowed, params.plaid, params.warp))
    }
}

/// The late-interaction first stage of a store: WARP when asked for (`warp`) and the
/// store carries its token lists; PLAID otherwise (`plaid` or [`Plaid::for_k`], the
/// default: WARP measured slower than PLAID at 10k–1M documents, README "Dense and late
/// interaction at scale"); exhaustive MaxSim on an uncompressed store.
pub fn first_stage(
    store: &MultiIndex,
    q: &[f32],
    k: usize,
    plaid: Option<Plaid>,
    warp: Option<Warp>,
    allowed: Option<&DocSet>,
) -> Vec<ScoredDoc> {
    if plaid.is_none()
        && warp.is_some()
        && let Some(hits) = super::warp::search(store, q, k, warp, allowed)
    {
        return hits;
    }
    search(store, q, k, plaid, allowed)
}

/// Exhaustive MaxSim over every document of the generation: the oracle.
pub fn exact(store: &MultiIndex, q: &[f32], k: usize) -> Vec<ScoredDoc> {
    let all: Vec<u32> = (0..store.len() as u32).collect();
    rescore(store, q, &all, k)
}

/// Exact MaxSim of `docs` (decompressed when stored compressed), the top `k`.
pub(super) fn rescore(store: &MultiIndex, q: &[f32], docs: &[u32], k: usize) -> Vec<ScoredDoc> {
    let pq = PackedQuery::new(q, store.dim());
    let toks: Vec<_> = docs
        .iter()
        .map(|&d| store.doc(d).expect("doc in store"))
        .collect();
    let scores = seine_kernels::maxsim::score_packed(&pq, &toks, Reduce::MaxSim);
    let mut hits: Vec<ScoredDoc> = docs
        .iter()
        .zip(scores)
        .map(|(&d, s)| ScoredDoc::new(d, s))
        .collect();
    seine_index::sort_hits(&mut hits);
    hits.truncate(k);
    hits
}

/// PLAID's top `k` of `store` for query tokens `q` (`params`: [`Plaid::for_k`]
/// when `None`); exhaustive MaxSim when the store is not compressed. With `allowed`,
/// only those documents are candidates; when they are few (at most PLAID's own
/// final candidate count), all of them are scored exactly.
pub fn search(
    store: &MultiIndex,
    q: &[f32],
    k: usize,
    params: Option<Plaid>,
    allowed: Option<&DocSet>,
) -> Vec<ScoredDoc> {
    let p = params.unwrap_or_else(|| Plaid::for_k(k));
    let n = store.len() as u32;
    let in_store = |a: &DocSet| a.iter().take_while(|&d| d < n).collect::<Vec<u32>>();
    let codec = match (store.codec(), allowed) {
        (None, None) => return exact(store, q, k),
        (None, Some(a)) => return rescore(store, q, &in_store(a), k),
        (Some(_), Some(a)) if a.len() <= p.ndocs.max(4 * k) => {
            return rescore(store, q, &in_store(a), k);
        }
        (Some(c), _) => c,
    };
    let (dim, kc) = (store.dim(), codec.k());
    let lq = q.len() / dim;
    if lq == 0 || k == 0 {
        return Vec::new();
    }
    // 1. Centroid scores, [centroid][query token].
    let mut s = vec![0f32; kc * lq];
    matmul(
        &mut s,
        lq,
        MatRef::row_major(codec.centroids(), kc, dim),
        MatRef::row_major(q, lq, dim).t(),
        1.0,
        false,
        Par::Rayon,
    );
    // 2. Each query token's nprobe best centroids, and their documents.
    let mut cells = Vec::with_capacity(lq * p.nprobe);
    let mut col: Vec<(f32, u32)> = Vec::with_capacity(kc);
    for i in 0..lq {
        col.clear();
        col.extend((0..kc).map(|c| (s[c * lq + i], c as u32)));
        let n = p.nprobe.min(kc);
        col.select_nth_unstable_by(n - 1, |a, b| b.0.total_cmp(&a.0));
        cells.extend(col[..n].iter().map(|x| x.1));
    }
    cells.sort_unstable();
    cells.dedup();
    let mut cand: Vec<u32> = cells
        .iter()
        .flat_map(|&c| store.centroid_docs(c as usize).iter().copied())
        .collect();
    cand.sort_unstable();
    cand.dedup();
    if let Some(a) = allowed {
        cand.retain(|&d| a.contains(d));
    }
    // 3–4. Centroid interaction, pruned then full.
    let best: Vec<f32> = s
        .chunks_exact(lq)
        .map(|r| r.iter().copied().fold(f32::NEG_INFINITY, f32::max))
        .collect();
    let approx = |docs: &[u32], prune: bool, keep: usize| -> Vec<u32> {
        let mut scored: Vec<ScoredDoc> = docs
            .par_iter()
            .map_init(
                || vec![0f32; lq],
                |m, &d| {
                    m.fill(f32::NEG_INFINITY);
                    for &c in store.doc_centroids(d).unwrap_or(&[]) {
                        if prune && best[c as usize] < p.centroid_threshold {
                            continue;
                        }
                        let row = &s[c as usize * lq..(c as usize + 1) * lq];
                        m.iter_mut().zip(row).for_each(|(a, &b)| *a = a.max(b));
                    }
                    let score = m.iter().map(|&x| if x.is_finite() { x } else { 0.0 }).sum();
                    ScoredDoc::new(d, score)
                },
            )
            .collect();
        seine_index::sort_hits(&mut scored);
        scored.truncate(keep);
        scored.into_iter().map(|h| h.doc).collect()
    };
    let stage3 = approx(&cand, true, p.ndocs.max(k));
    let stage4 = approx(&stage3, false, (p.ndocs / 4).max(k));
    // 5. Exact MaxSim on the survivors.
    rescore(store, q, &stage4, k)
}
