//! BM25 top-k with exact dynamic pruning, under seine's own `k1`/`b`: MaxScore over the
//! query's (field, term) cursors — terms whose bounds summed cannot lift a document
//! past the current k-th score are only looked up, never iterated — with block-max
//! bounds ([`super::blockmax`]) checked before a candidate is scored.
//!
//! Exact: every bound is an upper bound of the scores it stands for (inflated by a
//! relative 1e-5 against rounding), a candidate is dropped only when its bound is
//! strictly below the k-th score, and a kept document's score is summed in the
//! query's clause order, as the exhaustive path sums it. `prune = false` runs the same
//! document-at-a-time union without pruning: the oracle the tests compare against.

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocSet as _, TERMINATED, Term};

use super::blockmax::{Block, BlockMax};
use super::bm25::{self, Bm25Params, tf_saturation};
use crate::topk::TopK;
use crate::{DocId, DocSet, Result, ScoredDoc};

/// Bounds are raised by this much (relative) so that rounding never makes one lower
/// than a score it bounds.
const INFLATE: f32 = 1.0 + 1e-5;

/// One clause of a BM25 query: a term of a field with its query-side weight.
pub(crate) struct Clause {
    pub field: Field,
    pub term: Term,
    pub weight: f32,
}

struct Cursor<'a> {
    postings: SegmentPostings,
    norms: FieldNormReader,
    norm_cache: &'a [f32; 256],
    /// idf × query weight.
    weight: f32,
    /// The clause's position in the query (the summation order).
    clause: usize,
    /// Upper bound of this cursor's score on any document.
    ub: f32,
    /// Upper bound per block (empty without a block-max table: `ub` stands for all).
    blocks: &'a [Block],
    block_ub: Vec<f32>,
    bi: usize,
}

impl Cursor<'_> {
    #[inline]
    fn doc(&self) -> u32 {
        self.postings.doc()
    }

    #[inline]
    fn score(&self) -> f32 {
        let d = self.postings.doc();
        let tf = self.postings.term_freq() as f32;
        let norm = self.norm_cache[self.norms.fieldnorm_id(d) as usize];
        self.weight * tf_saturation(tf, norm)
    }

    /// A bound of this cursor's score on document `d` (its block's, else the term's).
    #[inline]
    fn bound_at(&mut self, d: u32) -> f32 {
        if self.blocks.is_empty() {
            return self.ub;
        }
        while self.bi < self.blocks.len() && self.blocks[self.bi].last_doc < d {
            self.bi += 1;
        }
        self.block_ub.get(self.bi).copied().unwrap_or(0.0)
    }
}

/// The top `k` of `clauses` by BM25 under `params` among `allowed` (all when None),
/// over every segment of `searcher`; `doc_ids[segment][local]` maps to [`DocId`]s.
#[allow(clippy::too_many_arguments)]
pub(crate) fn top_k(
    searcher: &tantivy::Searcher,
    clauses: &[Clause],
    params: Bm25Params,
    k: usize,
    allowed: Option<&DocSet>,
    doc_ids: &[Vec<DocId>],
    table: Option<&BlockMax>,
    prune: bool,
) -> Result<Vec<ScoredDoc>> {
    let mut top = TopK::new(k);
    if k == 0 || clauses.is_empty() {
        return Ok(Vec::new());
    }
    // Per field: the document count and the length norms under `params` (statistics
    // read once per field); per clause: idf × query weight.
    let mut fields: Vec<(Field, u64, [f32; 256])> = Vec::new();
    let mut weights = Vec::with_capacity(clauses.len());
    for c in clauses {
        let doc_count = match fields.iter().find(|(f, _, _)| *f == c.field) {
            Some((_, n, _)) => *n,
            None => {
                let (avgdl, doc_count) = bm25::field_stats(searcher, c.field)?;
                let mut cache = [0f32; 256];
                for (id, slot) in cache.iter_mut().enumerate() {
                    let len = FieldNormReader::id_to_fieldnorm(id as u8) as f32;
                    *slot = bm25::length_norm(params, len, avgdl);
                }
                fields.push((c.field, doc_count, cache));
                doc_count
            }
        };
        let df = searcher.doc_freq(&c.term)?;
        weights.push(bm25::idf(df, doc_count) * c.weight);
    }
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let seg = reader.segment_id().uuid_string();
        let mut cursors: Vec<Cursor<'_>> = Vec::new();
        for (i, c) in clauses.iter().enumerate() {
            let inverted = reader.inverted_index(c.field)?;
            let Some(info) = inverted
                .get_term_info(&c.term)
                .map_err(tantivy::TantivyError::from)?
            else {
                continue;
            };
            let postings = inverted
                .read_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)
                .map_err(tantivy::TantivyError::from)?;
            let norm_cache = &fields
                .iter()
                .find(|(f, _, _)| *f == c.field)
                .expect("added")
                .2;
            let weight = weights[i];
            let blocks: &[Block] = match (table, prune) {
                (Some(t), true) => {
                    let ord = inverted
                        .terms()
                        .term_ord(c.term.serialized_value_bytes())
                        .map_err(tantivy::TantivyError::from)?;
                    ord.and_then(|o| t.term(&seg, c.field, o)).unwrap_or(&[])
                }
                _ => &[],
            };
            let block_ub: Vec<f32> = blocks
                .iter()
                .map(|b| {
                    weight
                        * tf_saturation(b.max_tf as f32, norm_cache[b.min_norm as usize])
                        * INFLATE
                })
                .collect();
            // Without blocks: tf / (tf + norm) ≤ 1.
            let ub = if blocks.is_empty() {
                weight * INFLATE
            } else {
                block_ub.iter().copied().fold(0f32, f32::max)
            };
            cursors.push(Cursor {
                postings,
                norms: reader.get_fieldnorms_reader(c.field)?,
                norm_cache,
                weight,
                clause: i,
                ub,
                blocks,
                block_ub,
                bi: 0,
            });
        }
        search_segment(
            &mut cursors,
            clauses.len(),
            &mut top,
            allowed,
            &doc_ids[ord],
            prune,
        );
    }
    Ok(top.into_sorted())
}

/// Document-at-a-time over one segment's cursors, into `top`.
fn search_segment(
    cursors: &mut [Cursor<'_>],
    n_clauses: usize,
    top: &mut TopK,
    allowed: Option<&DocSet>,
    doc_ids: &[DocId],
    prune: bool,
) {
    if cursors.is_empty() {
        return;
    }
    // Ascending bounds: the non-essential cursors are a prefix.
    cursors.sort_by(|a, b| a.ub.total_cmp(&b.ub).then(a.clause.cmp(&b.clause)));
    let mut prefix = Vec::with_capacity(cursors.len());
    let mut acc = 0f32;
    for c in cursors.iter() {
        acc += c.ub;
        prefix.push(acc * INFLATE);
    }
    let essential_from = |theta: f32| {
        if prune {
            prefix.iter().take_while(|&&p| p < theta).count()
        } else {
            0
        }
    };
    let mut theta = top.threshold();
    let mut ne = essential_from(theta);
    let mut contrib = vec![0f32; n_clauses];
    while ne < cursors.len() {
        let d = cursors[ne..]
            .iter()
            .map(Cursor::doc)
            .min()
            .unwrap_or(TERMINATED);
        if d == TERMINATED {
            break;
        }
        let id = doc_ids[d as usize];
        let mut skip = allowed.is_some_and(|a| !a.contains(id));
        if !skip && prune && theta > f32::NEG_INFINITY {
            // Block-max bound of every cursor on d (an essential one off d adds 0).
            let mut bound = 0f32;
            for (i, c) in cursors.iter_mut().enumerate() {
                if i < ne || c.doc() == d {
                    bound += c.bound_at(d);
                }
            }
            skip = bound < theta;
        }
        if !skip {
            contrib.iter_mut().for_each(|x| *x = 0.0);
            let mut partial = 0f32;
            for c in cursors[ne..].iter() {
                if c.doc() == d {
                    let s = c.score();
                    contrib[c.clause] = s;
                    partial += s;
                }
            }
            let mut pruned = false;
            for i in (0..ne).rev() {
                if partial * INFLATE + prefix[i] < theta {
                    pruned = true;
                    break;
                }
                let c = &mut cursors[i];
                if c.doc() < d {
                    c.postings.seek(d);
                }
                if c.doc() == d {
                    let s = c.score();
                    contrib[c.clause] = s;
                    partial += s;
                }
            }
            if !pruned {
                // The clause order, as the exhaustive query sums.
                let score: f32 = contrib.iter().sum();
                top.push(ScoredDoc::new(id, score));
                let t = top.threshold();
                if t > theta {
                    theta = t;
                    ne = essential_from(theta);
                }
            }
        }
        for c in cursors[ne..].iter_mut() {
            if c.doc() == d {
                c.postings.advance();
            }
        }
    }
}
