//! A set of documents as a bitset over `DocId`s: what a metadata filter allows.

use crate::DocId;

/// Documents `0..universe` that pass a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSet {
    bits: Vec<u64>,
    universe: usize,
    count: usize,
}

impl DocSet {
    /// No document of `universe`.
    pub fn empty(universe: usize) -> Self {
        DocSet {
            bits: vec![0; universe.div_ceil(64)],
            universe,
            count: 0,
        }
    }

    /// The documents of `0..universe` for which `keep` holds.
    pub fn from_fn(universe: usize, mut keep: impl FnMut(DocId) -> bool) -> Self {
        let mut s = DocSet::empty(universe);
        for d in 0..universe as DocId {
            if keep(d) {
                s.insert(d);
            }
        }
        s
    }

    pub fn insert(&mut self, doc: DocId) {
        let d = doc as usize;
        assert!(d < self.universe, "doc {d} outside 0..{}", self.universe);
        let (w, b) = (d / 64, 1u64 << (d % 64));
        if self.bits[w] & b == 0 {
            self.bits[w] |= b;
            self.count += 1;
        }
    }

    pub fn remove(&mut self, doc: DocId) {
        let d = doc as usize;
        if d < self.universe {
            let (w, b) = (d / 64, 1u64 << (d % 64));
            if self.bits[w] & b != 0 {
                self.bits[w] &= !b;
                self.count -= 1;
            }
        }
    }

    #[inline]
    pub fn contains(&self, doc: DocId) -> bool {
        let d = doc as usize;
        d < self.universe && self.bits[d / 64] & (1u64 << (d % 64)) != 0
    }

    /// Documents in the set.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Documents the set is over.
    pub fn universe(&self) -> usize {
        self.universe
    }

    /// `len / universe`.
    pub fn selectivity(&self) -> f64 {
        self.count as f64 / self.universe.max(1) as f64
    }

    /// The documents, ascending.
    pub fn iter(&self) -> impl Iterator<Item = DocId> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            let mut x = word;
            std::iter::from_fn(move || {
                if x == 0 {
                    return None;
                }
                let t = x.trailing_zeros();
                x &= x - 1;
                Some((w * 64 + t as usize) as DocId)
            })
        })
    }
}

/// tantivy's top `k` for `query`, keeping only documents whose `doc_id` fast field is
/// in `allowed` (when given): the filter runs inside the collector, before the top-k.
pub(crate) fn collect_top(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
    k: usize,
    allowed: Option<&DocSet>,
) -> tantivy::Result<Vec<(f32, tantivy::DocAddress)>> {
    use tantivy::collector::{FilterCollector, TopDocs};
    let top = TopDocs::with_limit(k).order_by_score();
    match allowed {
        None => searcher.search(query, &top),
        Some(set) => {
            let set = std::sync::Arc::new(set.clone());
            let keep = move |v: u64| u32::try_from(v).is_ok_and(|d| set.contains(d));
            searcher.search(query, &FilterCollector::new("doc_id".into(), keep, top))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bitset_agrees_with_a_hash_set() {
        let keep = |d: DocId| (u64::from(d) * 2_654_435_761) % 7 < 2;
        let s = DocSet::from_fn(1000, keep);
        let want: Vec<DocId> = (0..1000).filter(|&d| keep(d)).collect();
        assert_eq!(s.iter().collect::<Vec<_>>(), want);
        assert_eq!(s.len(), want.len());
        assert!((0..1000).all(|d| s.contains(d) == keep(d)));
        assert!(!s.contains(5000));
        assert!((s.selectivity() - want.len() as f64 / 1000.0).abs() < 1e-12);
    }
}
