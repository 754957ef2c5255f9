//! The bounded top-k of the pruned scans (BM25's MaxScore, SPLADE's block-max
//! traversal): ranking order as everywhere in seine — score descending, ties by
//! [`DocId`] ascending — so a pruned scan and the exhaustive one keep the same `k`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::{ScoredDoc, sort_hits};

/// A top-k entry; the heap's greatest is the worst hit (lowest score, then highest id).
#[derive(Clone, Copy)]
struct Worst(ScoredDoc);

impl PartialEq for Worst {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Worst {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.score
            .total_cmp(&self.0.score)
            .then(self.0.doc.cmp(&o.0.doc))
    }
}

/// The best `k` hits pushed so far.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// The score a document must reach (−∞ until k hits are held).
    #[inline]
    pub(crate) fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |w| w.0.score)
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, hit: ScoredDoc) {
        if self.heap.len() < self.k {
            self.heap.push(Worst(hit));
        } else if let Some(mut top) = self.heap.peek_mut()
            && Worst(hit) < *top
        {
            *top = Worst(hit);
        }
    }

    /// The hits in ranking order.
    pub(crate) fn into_sorted(self) -> Vec<ScoredDoc> {
        let mut hits: Vec<ScoredDoc> = self.heap.into_iter().map(|w| w.0).collect();
        sort_hits(&mut hits);
        hits
    }
}
