//! Late interaction as a first stage, WARP-style (Scheerer et al., SIGIR'25, "WARP: An
//! Efficient Engine for Multi-Vector Retrieval"), over the compressed token store's
//! centroid-major token lists (`seine_index::WarpLists`):
//!
//! 1. Centroid scores `S = C · Qᵀ` (one GEMM), as PLAID.
//! 2. WARPselect: each query token `i` probes its `nprobe` best centroids; the score of
//!    the best centroid it did *not* probe is `m_i`, the estimate for a document none
//!    of whose tokens it saw.
//! 3. Implicit decompression: for each query token a table over the packed code bytes
//!    (`lut[p][byte] = Σ q_i[d] · w[bucket of d in byte]` for the dimensions `d` of byte
//!    position `p`), so a token's score is `(S[c, i] + Σ_p lut[p][code[p]]) · norm`
//!    (`norm = 1/‖c + r̂‖`, stored per token): the exact score of the decoded,
//!    normalized vector, with no vector rebuilt.
//! 4. Two-stage reduction: per query token the max over each document's scored tokens;
//!    then per document `Σ_i m_i + Σ_{i saw d} (max_i − m_i)`, accumulated in dense
//!    per-thread arrays (no sort, no hash map).
//! 5. The best `rescore` candidates are rescored by exact MaxSim (0: WARP's scores are
//!    final) → the top `k`.
//!
//! With every centroid probed, every token of every document is scored exactly and the
//! result is exhaustive MaxSim's (`warp_tests`).

use std::cell::RefCell;

use seine_index::{DocSet, MultiIndex, ScoredDoc};
use seine_kernels::gemm::{MatRef, Par, matmul};

use super::plaid;
use crate::settings::Warp;

/// Per-thread scratch: per-document running max of the current query token, the
/// per-document sum, and which documents were touched.
#[derive(Default)]
struct Scratch {
    best: Vec<f32>,
    sum: Vec<f32>,
    token_docs: Vec<u32>,
    seen: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// WARP's top `k` of `store` for query tokens `q` (`params`: [`Warp::for_k`] when
/// `None`), only `allowed` documents when given. `None` when the store has no WARP
/// lists (uncompressed, or written before them): the caller runs PLAID.
pub fn search(
    store: &MultiIndex,
    q: &[f32],
    k: usize,
    params: Option<Warp>,
    allowed: Option<&DocSet>,
) -> Option<Vec<ScoredDoc>> {
    let (codec, lists) = (store.codec()?, store.warp()?);
    let p = params.unwrap_or_else(|| Warp::for_k(k));
    let (dim, kc, n) = (store.dim(), codec.k(), store.len());
    let lq = q.len() / dim;
    if lq == 0 || k == 0 || n == 0 {
        return Some(Vec::new());
    }
    if let Some(a) = allowed {
        // A filter keeping few documents: score them all exactly.
        if a.len() <= p.rescore.max(4 * k) {
            let docs: Vec<u32> = a.iter().take_while(|&d| (d as usize) < n).collect();
            return Some(plaid::rescore(store, q, &docs, k));
        }
    }
    // 1. Centroid scores, [query token][centroid] (each token's row contiguous).
    let mut s = vec![0f32; lq * kc];
    matmul(
        &mut s,
        kc,
        MatRef::row_major(q, lq, dim),
        MatRef::row_major(codec.centroids(), kc, dim).t(),
        1.0,
        false,
        Par::Rayon,
    );
    let (bits, rb) = (codec.bits() as usize, codec.row_bytes());
    let nprobe = p.nprobe.min(kc);
    let mut top: Vec<(f32, u32)> = Vec::with_capacity(nprobe + 2);
    let mut lut = vec![0f32; rb * 256];
    let mut nib = [[0f32; 16]; 2];
    let hits = SCRATCH.with(|cell| {
        let sc = &mut *cell.borrow_mut();
        if sc.best.len() < n {
            sc.best.resize(n, f32::NEG_INFINITY);
            sc.sum.resize(n, f32::NAN);
        }
        sc.seen.clear();
        let mut missing_total = 0f32;
        for i in 0..lq {
            let qi = &q[i * dim..(i + 1) * dim];
            // 2. WARPselect: the best nprobe + 1 centroids, one pass with a threshold.
            best_centroids(&s[i * kc..(i + 1) * kc], nprobe + 1, &mut top);
            let miss = if nprobe < kc { top[nprobe].0 } else { 0.0 };
            missing_total += miss;
            // 3. The query token's table over code bytes, from two nibble tables per
            // byte position (16 + 16 entries instead of 256 sums).
            token_table(codec, qi, bits, &mut nib, &mut lut);
            // 4a. Max per document over its tokens in the probed centroids.
            sc.token_docs.clear();
            for &(sc_c, c) in &top[..nprobe] {
                let cl = lists.cluster(c as usize);
                for ((&d, code), &norm) in
                    cl.docs.iter().zip(cl.codes.chunks_exact(rb)).zip(cl.norms)
                {
                    let mut r = sc_c;
                    for (pos, &b) in code.iter().enumerate() {
                        r += lut[pos * 256 + b as usize];
                    }
                    let score = r * norm;
                    let slot = &mut sc.best[d as usize];
                    if *slot == f32::NEG_INFINITY {
                        sc.token_docs.push(d);
                    }
                    if score > *slot {
                        *slot = score;
                    }
                }
            }
            // 4b. Into the per-document sums, as the gain over the estimate.
            for &d in &sc.token_docs {
                let gain = sc.best[d as usize] - miss;
                sc.best[d as usize] = f32::NEG_INFINITY;
                let total = &mut sc.sum[d as usize];
                if total.is_nan() {
                    *total = 0.0;
                    sc.seen.push(d);
                }
                *total += gain;
            }
        }
        let mut hits: Vec<ScoredDoc> = Vec::with_capacity(sc.seen.len());
        for &d in &sc.seen {
            let total = std::mem::replace(&mut sc.sum[d as usize], f32::NAN);
            if allowed.is_none_or(|a| a.contains(d)) {
                hits.push(ScoredDoc::new(d, total + missing_total));
            }
        }
        hits
    });
    // 5. The best candidates, rescored exactly.
    let mut hits = hits;
    let keep = p.rescore.max(k);
    if hits.len() > keep {
        hits.select_nth_unstable_by(keep - 1, |a, b| {
            b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc))
        });
        hits.truncate(keep);
    }
    if p.rescore > 0 {
        let docs: Vec<u32> = hits.iter().map(|h| h.doc).collect();
        return Some(plaid::rescore(store, q, &docs, k));
    }
    seine_index::sort_hits(&mut hits);
    hits.truncate(k);
    Some(hits)
}

/// The `m` best (score, centroid) of `row`, best first (ties: lower id first).
fn best_centroids(row: &[f32], m: usize, top: &mut Vec<(f32, u32)>) {
    top.clear();
    let m = m.min(row.len());
    let better = |a: (f32, u32), b: (f32, u32)| a.0 > b.0 || (a.0 == b.0 && a.1 < b.1);
    for (c, &x) in row.iter().enumerate() {
        if top.len() == m && x <= top[m - 1].0 {
            continue;
        }
        let item = (x, c as u32);
        let at = top.partition_point(|&t| better(t, item));
        top.insert(at, item);
        top.truncate(m);
    }
}

/// `lut[p·256 + byte]` = the query token's dot product with the bucket values the
/// code byte at position `p` encodes, built from each byte's two nibbles.
fn token_table(
    codec: &seine_kernels::residual::Codec,
    qi: &[f32],
    bits: usize,
    nib: &mut [[f32; 16]; 2],
    lut: &mut [f32],
) {
    let (dim, weights) = (codec.dim(), codec.weights());
    let per_nib = 4 / bits;
    let mask = (1usize << bits) - 1;
    for (pos, t) in lut.chunks_exact_mut(256).enumerate() {
        for (h, table) in nib.iter_mut().enumerate() {
            let d0 = pos * 2 * per_nib + h * per_nib;
            for (x, slot) in table.iter_mut().enumerate() {
                let mut acc = 0f32;
                for e in 0..per_nib {
                    if let Some(&qd) = qi.get(d0 + e).filter(|_| d0 + e < dim) {
                        acc += qd * weights[(x >> (e * bits)) & mask];
                    }
                }
                *slot = acc;
            }
        }
        for (byte, slot) in t.iter_mut().enumerate() {
            *slot = nib[0][byte & 15] + nib[1][byte >> 4];
        }
    }
}
