use std::cmp::Ordering;

/// Internal document number: dense, assigned in corpus order from 0, shared by every
/// structure of an index (lexical, dense, multi-vector).
pub type DocId = u32;

/// A relevance score (higher is better).
pub type Score = f32;

/// A scored document. Ordered by score descending, then [`DocId`] ascending: a total,
/// deterministic order (NaN scores sort last).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredDoc {
    pub doc: DocId,
    pub score: Score,
}

impl ScoredDoc {
    pub fn new(doc: DocId, score: Score) -> Self {
        ScoredDoc { doc, score }
    }

    /// The ranking order: better first.
    pub fn rank_cmp(&self, other: &Self) -> Ordering {
        score_order(self.score, other.score).then(self.doc.cmp(&other.doc))
    }
}

/// The one score order of every ranking in seine: higher first, NaN last (ties are
/// left `Equal` for the caller's tie-break, usually the document id ascending).
pub fn score_order(a: Score, b: Score) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// Sorts hits into ranking order.
pub fn sort_hits(hits: &mut [ScoredDoc]) {
    hits.sort_unstable_by(ScoredDoc::rank_cmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_score_desc_then_doc_asc_with_nan_last() {
        let mut hits = vec![
            ScoredDoc::new(3, 1.0),
            ScoredDoc::new(1, f32::NAN),
            ScoredDoc::new(2, 2.0),
            ScoredDoc::new(0, 1.0),
        ];
        sort_hits(&mut hits);
        let docs: Vec<DocId> = hits.iter().map(|h| h.doc).collect();
        assert_eq!(docs, vec![2, 0, 3, 1]);
    }
}
