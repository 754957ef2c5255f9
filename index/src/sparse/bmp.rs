//! Block-max pruning over the block forward index (after BMP, Mallia, Suel &
//! Tonellotto, SIGIR'24): a query's upper bound for every block of [`BLOCK`] documents
//! is `Σ_t q_t × max impact of t in the block` (one pass over the query terms' block
//! lists); blocks are then scored in descending bound, each document through its
//! forward pairs, until the next bound cannot reach the k-th score.
//!
//! Exact mode stops only when no document of the remaining blocks can enter the top k
//! (the bound inflated by the summation's worst rounding, ties by [`DocId`] kept), so its
//! top k equals the exhaustive one, scores bit for bit. Approximate mode (`alpha < 1`)
//! stops once `alpha × bound` falls below the k-th score: fewer blocks, a recall knob.
//! A filter is applied per block word: a block with no allowed document is skipped
//! without being scored, and only allowed documents are scored.

use std::cell::RefCell;

use super::blocks::{BLOCK, ImpactBlocks};
use crate::topk::TopK;
use crate::{DocId, DocSet, Error, Result, ScoredDoc};

/// How the learned-sparse part is searched.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum SparseSearch {
    /// The exact top k (block-max pruning that never changes it).
    #[default]
    Exact,
    /// Blocks are skipped once `alpha ×` their bound falls below the k-th score
    /// (`alpha` in (0, 1]; 1 is exact).
    Approx { alpha: f32 },
}

/// `alpha` of `approx` when none is given.
pub const DEFAULT_APPROX_ALPHA: f32 = 0.9;

impl SparseSearch {
    /// The bound factor: 1 for exact search.
    pub fn alpha(self) -> f32 {
        match self {
            SparseSearch::Exact => 1.0,
            SparseSearch::Approx { alpha } => alpha,
        }
    }

    pub fn validate(self) -> Result<()> {
        let a = self.alpha();
        if !(a > 0.0 && a <= 1.0) {
            return Err(Error::InvalidSetting(format!(
                "approximate sparse search needs alpha within (0, 1], got {a}"
            )));
        }
        Ok(())
    }
}

impl std::str::FromStr for SparseSearch {
    type Err = Error;

    /// `exact`, `approx` (alpha [`DEFAULT_APPROX_ALPHA`]) or `approx:ALPHA`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidSetting(format!(
                "sparse search must be exact, approx or approx:ALPHA (ALPHA in (0, 1]), got {s:?}"
            ))
        };
        let mode = match s.trim() {
            "exact" => SparseSearch::Exact,
            "approx" => SparseSearch::Approx {
                alpha: DEFAULT_APPROX_ALPHA,
            },
            other => {
                let a = other.strip_prefix("approx:").ok_or_else(bad)?;
                SparseSearch::Approx {
                    alpha: a.trim().parse().map_err(|_| bad())?,
                }
            }
        };
        mode.validate().map_err(|_| bad())?;
        Ok(mode)
    }
}

impl std::fmt::Display for SparseSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SparseSearch::Exact => f.write_str("exact"),
            SparseSearch::Approx { alpha } => write!(f, "approx:{alpha}"),
        }
    }
}

/// What a search counted (for benchmarks and explanations).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockStats {
    /// Blocks with a query term.
    pub candidates: usize,
    /// Blocks scored.
    pub scored: usize,
}

/// Per-thread buffers reused across queries (cleared after each).
#[derive(Default)]
struct Scratch {
    /// Query weight by term number (0 for terms not in the query).
    q: Vec<f32>,
    /// Upper bound by block.
    ub: Vec<f32>,
    seen: Vec<bool>,
    touched: Vec<u32>,
    order: Vec<(f32, u32)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

impl ImpactBlocks {
    /// The top `k` by `Σ q_t × impact_t` for `query` = (term number, weight / scale)
    /// pairs (distinct terms, non-zero finite weights) among `allowed` (all when None).
    pub(super) fn top_k(
        &self,
        query: &[(u32, f32)],
        k: usize,
        allowed: Option<&DocSet>,
        mode: SparseSearch,
    ) -> (Vec<ScoredDoc>, BlockStats) {
        let mut stats = BlockStats::default();
        if k == 0 || query.is_empty() {
            return (Vec::new(), stats);
        }
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            s.q.resize(self.terms.len(), 0.0);
            s.ub.resize(self.blocks(), 0.0);
            s.seen.resize(self.blocks(), false);
            for &(t, w) in query {
                s.q[t as usize] = w;
            }
            self.bounds(query, allowed, s);
            stats.candidates = s.order.len();
            let mut top = TopK::new(k);
            // Worst-case rounding of two n-term f32 sums (the bound and a score).
            let inflate = 1.0 + 2.5e-7 * (query.len() as f32 + 1.0);
            let alpha = mode.alpha();
            let (mut start, mut chunk) = (0, 64);
            'blocks: while start < s.order.len() {
                let end = (start + chunk).min(s.order.len());
                let by_bound = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0);
                if end < s.order.len() {
                    s.order[start..].select_nth_unstable_by(end - start - 1, by_bound);
                }
                s.order[start..end].sort_unstable_by(by_bound);
                for &(ub, b) in &s.order[start..end] {
                    let reach = if alpha < 1.0 {
                        ub * alpha
                    } else {
                        ub * inflate
                    };
                    if reach < top.threshold() {
                        break 'blocks;
                    }
                    self.score_block(b as usize, &s.q, allowed, &mut top);
                    stats.scored += 1;
                }
                (start, chunk) = (end, chunk * 2);
            }
            for &(t, _) in query {
                s.q[t as usize] = 0.0;
            }
            for &b in &s.touched {
                s.ub[b as usize] = 0.0;
                s.seen[b as usize] = false;
            }
            s.touched.clear();
            s.order.clear();
            (top.into_sorted(), stats)
        })
    }

    /// Fills `s.order` with (bound, block) of every block a query term occurs in and
    /// that holds an allowed document.
    fn bounds(&self, query: &[(u32, f32)], allowed: Option<&DocSet>, s: &mut Scratch) {
        for &(t, w) in query {
            let (lo, hi) = (
                self.bm_offsets[t as usize] as usize,
                self.bm_offsets[t as usize + 1] as usize,
            );
            // A negative weight only lowers a score: it adds 0 to the bound.
            let w = w.max(0.0);
            for (&b, &m) in self.bm_blocks[lo..hi].iter().zip(&self.bm_max[lo..hi]) {
                s.ub[b as usize] += w * f32::from(m);
                if !s.seen[b as usize] {
                    s.seen[b as usize] = true;
                    s.touched.push(b);
                }
            }
        }
        s.order.extend(
            s.touched
                .iter()
                .filter(|&&b| allowed.is_none_or(|a| a.word(b as usize) != 0))
                .map(|&b| (s.ub[b as usize], b)),
        );
    }

    /// Scores the documents of block `b` (the allowed ones) into `top`.
    #[inline]
    fn score_block(&self, b: usize, q: &[f32], allowed: Option<&DocSet>, top: &mut TopK) {
        let lo = b * BLOCK;
        let hi = (lo + BLOCK).min(self.docs());
        let mut word = allowed.map_or(u64::MAX, |a| a.word(b));
        if hi - lo < BLOCK {
            word &= (1u64 << (hi - lo)) - 1;
        }
        while word != 0 {
            let d = lo + word.trailing_zeros() as usize;
            word &= word - 1;
            let (s, e) = (self.offsets[d] as usize, self.offsets[d + 1] as usize);
            // Adding +0.0 for a term the query lacks leaves an f32 sum unchanged (a sum
            // started at +0.0 is never -0.0), so this equals the accumulator's sum over
            // matching terms only, in the same order.
            let mut score = 0f32;
            let mut hit = false;
            for (&t, &imp) in self.pair_terms[s..e].iter().zip(&self.pair_impacts[s..e]) {
                let w = q[t as usize];
                hit |= w != 0.0;
                score += w * f32::from(imp);
            }
            if hit {
                top.push(ScoredDoc::new(d as DocId, score));
            }
        }
    }
}
