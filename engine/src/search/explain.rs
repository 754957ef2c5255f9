//! Why a document scored what it did: the SPLADE terms behind a sparse score.

use seine_index::DocId;
use serde::Serialize;

use super::Reader;
use crate::Result;

/// One query term's share of a SPLADE score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermContribution {
    pub term: String,
    pub query_weight: f32,
    /// The document's stored weight (quantized impact / scale).
    pub doc_weight: f32,
    /// `query_weight × doc_weight`: the term's part of the score.
    pub contribution: f32,
}

impl Reader {
    /// The query terms `doc` shares with `query_terms` (from
    /// [`crate::SparseRetriever::query_terms`]), heaviest contribution first; empty
    /// when the index has no SPLADE part.
    pub fn explain_splade(
        &self,
        query_terms: &[(String, f32)],
        doc: DocId,
    ) -> Result<Vec<TermContribution>> {
        let Some(sp) = &self.sparse else {
            return Ok(Vec::new());
        };
        let mut out: Vec<TermContribution> = {
            let live = self.live.read().expect("live lock");
            match live.get(doc).and_then(|d| d.sparse.as_ref()) {
                Some(weights) => query_terms
                    .iter()
                    .filter_map(|(t, w)| {
                        weights.get(t).map(|x| TermContribution {
                            term: t.clone(),
                            query_weight: *w,
                            doc_weight: *x,
                            contribution: w * x,
                        })
                    })
                    .collect(),
                None => {
                    let refs: Vec<(&str, f32)> =
                        query_terms.iter().map(|(t, w)| (t.as_str(), *w)).collect();
                    let scale = sp.index().scale();
                    sp.index()
                        .explain(&refs, doc)?
                        .into_iter()
                        .map(|(term, w, impact)| {
                            let x = impact as f32 / scale;
                            TermContribution {
                                term,
                                query_weight: w,
                                doc_weight: x,
                                contribution: w * x,
                            }
                        })
                        .collect()
                }
            }
        };
        out.sort_by(|a, b| {
            seine_index::score_order(a.contribution, b.contribution).then(a.term.cmp(&b.term))
        });
        Ok(out)
    }
}
