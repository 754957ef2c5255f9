//! Block-max pruning over fixed ranges of documents (after BMP, Mallia, Suel &
//! Tonellotto, SIGIR'24, with tantivy's postings in place of a forward index): a
//! query's upper bound for every block of [`BLOCK`] consecutive documents of a segment
//! is `Σ_t q_t × max impact of t in the block` (one pass over the query terms' block
//! lists, [`super::blocks`]). The [`SEED_BLOCKS`] highest-bound blocks are scored first
//! to set the k-th score; then, in document order, every other block whose bound can
//! still reach the current k-th score — each scored term-at-a-time from the query
//! terms' postings, skipped to the block (so a block costs its query-term postings, not
//! its documents' other terms).
//!
//! Exact mode stops only when no document of the remaining blocks can enter the top k
//! (the bound inflated by the summation's worst rounding, ties by [`DocId`] kept), so its
//! top k equals the exhaustive one, scores bit for bit. Approximate mode (`alpha < 1`)
//! stops once `alpha × bound` falls below the k-th score: fewer blocks, a recall knob.
//! A filter is applied to each scored document before it enters the top k.

use std::cell::RefCell;

use tantivy::DocSet as _;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::schema::{Field, IndexRecordOption};

use super::blocks::{BLOCK, ImpactBlocks, SegmentBlocks};
use crate::topk::TopK;
use crate::{DocId, DocSet, Error, Result, ScoredDoc};

/// How the learned-sparse part is searched.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum SparseSearch {
    /// The exact top k (block-max pruning that never changes it).
    #[default]
    Exact,
    /// Blocks are skipped once `alpha ×` their bound falls below the k-th score
    /// (`alpha` in (0, 1]; 1 is exact), and the query keeps only its `query_cut`
    /// heaviest terms (0: all).
    Approx { alpha: f32, query_cut: usize },
}

/// `alpha` of `approx` when none is given.
pub const DEFAULT_APPROX_ALPHA: f32 = 0.9;

/// `query_cut` of `approx` when none is given (0: every term): SPLADE queries carry
/// most of their weight in their heaviest terms.
pub const DEFAULT_QUERY_CUT: usize = 20;

impl SparseSearch {
    /// The bound factor: 1 for exact search.
    pub fn alpha(self) -> f32 {
        match self {
            SparseSearch::Exact => 1.0,
            SparseSearch::Approx { alpha, .. } => alpha,
        }
    }

    /// Query terms kept (0: all).
    pub fn query_cut(self) -> usize {
        match self {
            SparseSearch::Exact => 0,
            SparseSearch::Approx { query_cut, .. } => query_cut,
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

    /// `exact`, `approx` (alpha [`DEFAULT_APPROX_ALPHA`], the [`DEFAULT_QUERY_CUT`]
    /// heaviest query terms), `approx:ALPHA` (that cut) or `approx:ALPHA:CUT` (the CUT
    /// heaviest query terms, 0 for all).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidSetting(format!(
                "sparse search must be exact, approx, approx:ALPHA or approx:ALPHA:CUT (ALPHA in (0, 1], CUT a term count, 0 for all), got {s:?}"
            ))
        };
        let mode = match s.trim() {
            "exact" => SparseSearch::Exact,
            "approx" => SparseSearch::Approx {
                alpha: DEFAULT_APPROX_ALPHA,
                query_cut: DEFAULT_QUERY_CUT,
            },
            other => {
                let rest = other.strip_prefix("approx:").ok_or_else(bad)?;
                let (a, cut) = match rest.split_once(':') {
                    Some((a, c)) => (a, c.trim().parse().map_err(|_| bad())?),
                    None => (rest, DEFAULT_QUERY_CUT),
                };
                SparseSearch::Approx {
                    alpha: a.trim().parse().map_err(|_| bad())?,
                    query_cut: cut,
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
            SparseSearch::Approx { alpha, query_cut } => write!(f, "approx:{alpha}:{query_cut}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_round_trip() {
        for s in [
            "exact",
            "approx:0.8",
            "approx:0.7:10",
            "approx:1",
            "approx:0.9:0",
        ] {
            let m: SparseSearch = s.parse().unwrap();
            assert_eq!(m.to_string().parse::<SparseSearch>().unwrap(), m, "{s}");
        }
        let d: SparseSearch = "approx".parse().unwrap();
        assert_eq!(
            (d.alpha(), d.query_cut()),
            (DEFAULT_APPROX_ALPHA, DEFAULT_QUERY_CUT)
        );
        for bad in [
            "approx:0",
            "approx:1.5",
            "approx:x",
            "approx:0.5:-1",
            "fast",
            "approx:nan",
        ] {
            let e = bad.parse::<SparseSearch>().unwrap_err().to_string();
            assert!(e.contains("approx:ALPHA"), "{bad}: {e}");
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

/// Blocks scored first (the highest bounds, in document order) to set a threshold
/// before the pass over every block that can still reach it.
const SEED_BLOCKS: usize = 16;

/// Consecutive candidate blocks scored as one run, at most (an accumulator of
/// `RUN_BLOCKS × BLOCK` scores, 4 KiB).
const RUN_BLOCKS: usize = 16;
const RUN_DOCS: usize = RUN_BLOCKS * BLOCK as usize;

/// Per-thread buffers reused across queries (cleared after each).
#[derive(Default)]
struct Scratch {
    /// Upper bound by block.
    ub: Vec<f32>,
    seen: Vec<bool>,
    done: Vec<bool>,
    touched: Vec<u32>,
    order: Vec<(f32, u32)>,
}

impl Scratch {
    fn reset(&mut self, blocks: usize) {
        for v in [&mut self.seen, &mut self.done] {
            v.clear();
            v.resize(blocks, false);
        }
        self.ub.clear();
        self.ub.resize(blocks, 0.0);
    }

    /// Fills `order` with (bound, block) for every block a query term (ord, weight)
    /// occurs in.
    fn bounds(&mut self, blocks: &SegmentBlocks, terms: impl Iterator<Item = (u64, f32)>) {
        for (o, w) in terms {
            let (bs, ms) = blocks.term(o);
            // A negative weight only lowers a score: it adds 0 to the bound.
            let w = w.max(0.0);
            for (&b, &m) in bs.iter().zip(ms) {
                self.ub[b as usize] += w * f32::from(m);
                if !self.seen[b as usize] {
                    self.seen[b as usize] = true;
                    self.touched.push(b);
                }
            }
        }
        self.order.clear();
        self.order
            .extend(self.touched.iter().map(|&b| (self.ub[b as usize], b)));
        self.touched.clear();
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// One query term in one segment: its postings and weight / scale.
type Cursor = (SegmentPostings, f32);

impl ImpactBlocks {
    /// The top `k` by `Σ q_t × impact_t` for `query` = (term, weight / scale) pairs
    /// (distinct terms in byte order, non-zero finite weights) among `allowed` (all when
    /// None), over every segment of `searcher`; `doc_ids[segment][local]` maps to
    /// [`DocId`]s.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn top_k(
        &self,
        searcher: &tantivy::Searcher,
        field: Field,
        query: &[(String, f32)],
        k: usize,
        allowed: Option<&DocSet>,
        doc_ids: &[Vec<DocId>],
        mode: SparseSearch,
    ) -> Result<(Vec<ScoredDoc>, BlockStats)> {
        let mut stats = BlockStats::default();
        let mut top = TopK::new(k);
        if k == 0 || query.is_empty() {
            return Ok((Vec::new(), stats));
        }
        // Worst-case rounding of two n-term f32 sums (the bound and a score).
        let inflate = 1.0 + 2.5e-7 * (query.len() as f32 + 1.0);
        let alpha = mode.alpha();
        let reach = |ub: f32| {
            if alpha < 1.0 {
                ub * alpha
            } else {
                ub * inflate
            }
        };
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let blocks = self.segment(reader).ok_or_else(|| {
                Error::Internal("the sparse block-max table does not cover a segment".into())
            })?;
            let inverted = reader.inverted_index(field)?;
            let mut terms = Vec::new();
            for (t, w) in query {
                let io = |e: std::io::Error| Error::Internal(format!("sparse terms: {e}"));
                let dict = inverted.terms();
                if let (Some(o), Some(info)) = (
                    dict.term_ord(t.as_bytes()).map_err(io)?,
                    dict.get(t.as_bytes()).map_err(io)?,
                ) {
                    terms.push((o, info, *w));
                }
            }
            let cursors = || -> Result<Vec<Cursor>> {
                terms
                    .iter()
                    .map(|(_, info, w)| {
                        let p = inverted
                            .read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)
                            .map_err(|e| Error::Internal(format!("sparse postings: {e}")))?;
                        Ok((p, *w))
                    })
                    .collect()
            };
            let seg = Segment {
                ids: &doc_ids[ord],
                alive: reader.alive_bitset(),
                allowed,
                max_doc: reader.max_doc(),
            };
            SCRATCH.with(|s| -> Result<()> {
                let s = &mut *s.borrow_mut();
                s.reset(blocks.n_blocks());
                s.bounds(blocks, terms.iter().map(|(o, _, w)| (*o, *w)));
                stats.candidates += s.order.len();
                // The seed: the highest bounds first, scored in document order.
                let by_bound = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0);
                let m = SEED_BLOCKS.min(s.order.len());
                if m > 0 && m < s.order.len() {
                    s.order.select_nth_unstable_by(m - 1, by_bound);
                }
                let mut seed: Vec<(f32, u32)> = s.order[..m].to_vec();
                seed.sort_unstable_by_key(|p| p.1);
                let mut cur = cursors()?;
                for &(ub, b) in &seed {
                    if reach(ub) >= top.threshold() {
                        seg.score(&mut cur, b, 1, &mut top);
                        stats.scored += 1;
                    }
                    s.done[b as usize] = true;
                }
                // Then every other block that can still reach the k-th score, in order,
                // consecutive ones as one run (one seek per term per run).
                let theta = top.threshold();
                s.order
                    .retain(|&(ub, b)| !s.done[b as usize] && reach(ub) >= theta);
                s.order.sort_unstable_by_key(|p| p.1);
                let mut cur = cursors()?;
                let mut i = 0;
                while i < s.order.len() {
                    let (first, mut best) = (s.order[i].1, s.order[i].0);
                    let mut j = i + 1;
                    while j < s.order.len()
                        && s.order[j].1 == first + (j - i) as u32
                        && j - i < RUN_BLOCKS
                    {
                        best = best.max(s.order[j].0);
                        j += 1;
                    }
                    if reach(best) >= top.threshold() {
                        seg.score(&mut cur, first, (j - i) as u32, &mut top);
                        stats.scored += j - i;
                    }
                    i = j;
                }
                Ok(())
            })?;
        }
        Ok((top.into_sorted(), stats))
    }
}

/// What scoring a block of one segment needs.
struct Segment<'a> {
    ids: &'a [DocId],
    alive: Option<&'a tantivy::fastfield::AliveBitSet>,
    allowed: Option<&'a DocSet>,
    max_doc: u32,
}

impl Segment<'_> {
    /// Scores blocks `b .. b + count` term-at-a-time into a run-sized accumulator
    /// (each document's products added in query-term order, as the exhaustive
    /// accumulator adds them), then pushes their allowed live documents into `top`.
    /// Cursors only move forward: runs come in ascending order.
    fn score(&self, cursors: &mut [Cursor], b: u32, count: u32, top: &mut TopK) {
        let lo = b * BLOCK;
        let hi = (lo + count * BLOCK).min(self.max_doc);
        let mut acc = [0f32; RUN_DOCS];
        let mut hit = [0u64; RUN_BLOCKS];
        for (p, w) in cursors.iter_mut() {
            let mut d = p.doc();
            if d >= hi {
                continue;
            }
            if d < lo {
                d = p.seek(lo);
            }
            while d < hi {
                let i = (d - lo) as usize;
                acc[i] += *w * p.term_freq() as f32;
                hit[i / 64] |= 1 << (i % 64);
                d = p.advance();
            }
        }
        for (wi, &word) in hit.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let i = wi * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let d = lo + i as u32;
                if self.alive.is_some_and(|a| !a.is_alive(d)) {
                    continue;
                }
                let id = self.ids[d as usize];
                if self.allowed.is_some_and(|a| !a.contains(id)) {
                    continue;
                }
                top.push(ScoredDoc::new(id, acc[i]));
            }
        }
    }
}
