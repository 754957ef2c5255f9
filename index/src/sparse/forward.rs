//! The forward view of an impact index read back from its postings: what a rebuild
//! (compaction) and the block forward index ([`super::blocks`]) start from.

use tantivy::postings::Postings;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocSet, TERMINATED};

use super::SparseIndex;
use crate::{DocId, Error, Result};

/// Every document's (term, weight) pairs read back from the postings, compactly: each
/// term once, then per document a slice of (term number, weight) pairs (CSR), 8 bytes
/// per posting.
pub struct Forward {
    terms: Vec<String>,
    offsets: Vec<usize>,
    pairs: Vec<(u32, f32)>,
}

impl Forward {
    /// Document slots.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One document's (term, weight) pairs.
    pub fn doc(&self, doc: usize) -> impl Iterator<Item = (&str, f32)> + '_ {
        self.pairs[self.offsets[doc]..self.offsets[doc + 1]]
            .iter()
            .map(|&(t, w)| (self.terms[t as usize].as_str(), w))
    }
}

impl SparseIndex {
    /// Every document's (term, weight) pairs, by [`DocId`] (`docs` slots), read back from
    /// the postings: the forward view a rebuild needs (weights are the quantized impacts
    /// divided by the scale). Two passes over the postings (count, then fill), so each
    /// posting is held once, as 8 bytes.
    pub fn forward(&self, docs: usize) -> Result<Forward> {
        let searcher = self.reader.searcher();
        let mut terms = Vec::new();
        let mut numbers: std::collections::HashMap<Vec<u8>, u32> = Default::default();
        let mut number = |key: &[u8]| match numbers.get(key) {
            Some(&t) => t,
            None => {
                let t = terms.len() as u32;
                terms.push(String::from_utf8_lossy(key).into_owned());
                numbers.insert(key.to_vec(), t);
                t
            }
        };
        let mut counts = vec![0usize; docs + 1];
        walk_postings(
            &searcher,
            self.impacts,
            &self.seg_doc_ids,
            &mut number,
            |_, doc, _| {
                if (doc as usize) < docs {
                    counts[doc as usize + 1] += 1;
                }
            },
        )?;
        for i in 0..docs {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut pairs = vec![(0u32, 0f32); counts[docs]];
        let scale = self.scale;
        walk_postings(
            &searcher,
            self.impacts,
            &self.seg_doc_ids,
            &mut number,
            |t, doc, tf| {
                let doc = doc as usize;
                if doc < docs {
                    pairs[fill[doc]] = (t, tf as f32 / scale);
                    fill[doc] += 1;
                }
            },
        )?;
        Ok(Forward {
            terms,
            offsets: counts,
            pairs,
        })
    }
}

/// Calls `f(term number, doc, impact)` for every live posting of `field`, segment by
/// segment, each segment's terms in dictionary (byte) order; `number(term bytes)` gives
/// the term number (called once per term per segment). `seg_doc_ids[segment][local]`
/// maps to [`DocId`]s.
pub(super) fn walk_postings(
    searcher: &tantivy::Searcher,
    field: Field,
    seg_doc_ids: &[Vec<DocId>],
    number: &mut dyn FnMut(&[u8]) -> u32,
    mut f: impl FnMut(u32, DocId, u32),
) -> Result<()> {
    for (ord, seg) in searcher.segment_readers().iter().enumerate() {
        let inverted = seg.inverted_index(field)?;
        let io = |e: std::io::Error| Error::Internal(format!("reading sparse postings: {e}"));
        let mut stream = inverted.terms().stream().map_err(io)?;
        while stream.advance() {
            let t = number(stream.key());
            let mut postings = inverted
                .read_postings_from_terminfo(stream.value(), IndexRecordOption::WithFreqs)
                .map_err(io)?;
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if seg.alive_bitset().is_none_or(|a| a.is_alive(doc)) {
                    f(t, seg_doc_ids[ord][doc as usize], postings.term_freq());
                }
                doc = postings.advance();
            }
        }
    }
    Ok(())
}
