//! BM25 as Lucene (and so Anserini/Pyserini) computes it, with configurable `k1` and
//! `b`, as a tantivy `Query → Weight → Scorer` for one term. tantivy's own BM25 fixes
//! `k1 = 1.2, b = 0.75`; a bag-of-words query is a `BooleanQuery` of these term queries
//! as `Should` clauses, whose scores add up.
//!
//! `score(t, d) = w_t · idf(t) · tf / (tf + k1 · (1 − b + b · |d| / avgdl))` with
//! `idf(t) = ln(1 + (N − n_t + 0.5) / (n_t + 0.5))` and `w_t` the query-side weight
//! (the number of times the term occurs in the query). `|d|` is the field length in
//! tokens after analysis, stored by tantivy with one byte of precision exactly as Lucene
//! stores its norms.

use std::sync::Arc;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term};

use crate::{Error, Result};

/// BM25 parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bm25Params {
    pub k1: f32,
    pub b: f32,
}

impl Default for Bm25Params {
    /// Anserini's defaults (`k1 = 0.9, b = 0.4`), used by Pyserini's BEIR baselines.
    fn default() -> Self {
        Bm25Params { k1: 0.9, b: 0.4 }
    }
}

impl Bm25Params {
    pub fn validate(&self) -> Result<()> {
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return Err(Error::InvalidSetting(format!(
                "bm25 k1 must be a finite number >= 0, got {}",
                self.k1
            )));
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(Error::InvalidSetting(format!(
                "bm25 b must be within [0, 1], got {}",
                self.b
            )));
        }
        Ok(())
    }
}

/// The one BM25 term-frequency part: `tf / (tf + norm)`, `norm` from [`length_norm`].
#[inline]
pub fn tf_saturation(tf: f32, norm: f32) -> f32 {
    tf / (tf + norm)
}

/// `k1 · (1 − b + b · len / avgdl)` (`len` as stored: one byte of precision, like
/// Lucene's norms).
pub fn length_norm(params: Bm25Params, len: f32, avgdl: f32) -> f32 {
    params.k1 * (1.0 - params.b + params.b * len / avgdl)
}

/// Average field length over the segments of `searcher` (1 for an empty index), and
/// the document count.
pub fn field_stats(
    searcher: &tantivy::Searcher,
    field: tantivy::schema::Field,
) -> tantivy::Result<(f32, u64)> {
    let mut total_tokens = 0u64;
    let mut doc_count = 0u64;
    for reader in searcher.segment_readers() {
        total_tokens += reader.inverted_index(field)?.total_num_tokens();
        doc_count += u64::from(reader.max_doc());
    }
    let avgdl = if doc_count == 0 {
        1.0
    } else {
        (total_tokens as f64 / doc_count as f64).max(f64::MIN_POSITIVE) as f32
    };
    Ok((avgdl, doc_count))
}

/// Lucene's BM25 idf.
pub fn idf(doc_freq: u64, doc_count: u64) -> f32 {
    let x = (doc_count.saturating_sub(doc_freq) as f64 + 0.5) / (doc_freq as f64 + 0.5);
    (1.0 + x).ln() as f32
}

/// One query term scored with BM25.
#[derive(Debug, Clone)]
pub struct Bm25TermQuery {
    term: Term,
    params: Bm25Params,
    /// Query-side weight (term count in the query, times any field boost).
    weight: f32,
}

impl Bm25TermQuery {
    pub fn new(term: Term, params: Bm25Params, weight: f32) -> Self {
        Bm25TermQuery {
            term,
            params,
            weight,
        }
    }
}

impl Query for Bm25TermQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let searcher = enable_scoring.searcher().ok_or_else(|| {
            TantivyError::InvalidArgument("Bm25TermQuery needs a searcher".into())
        })?;
        let (avgdl, doc_count) = field_stats(searcher, self.term.field())?;
        let doc_freq = searcher.doc_freq(&self.term)?;
        let mut norm_cache = [0f32; 256];
        for (id, slot) in norm_cache.iter_mut().enumerate() {
            let len = FieldNormReader::id_to_fieldnorm(id as u8) as f32;
            *slot = length_norm(self.params, len, avgdl);
        }
        let idf = idf(doc_freq, doc_count);
        Ok(Box::new(Bm25TermWeight {
            term: self.term.clone(),
            idf,
            doc_freq,
            doc_count,
            query_weight: self.weight,
            norm_cache: Arc::new(norm_cache),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        visitor(&self.term, false);
    }
}

struct Bm25TermWeight {
    term: Term,
    idf: f32,
    doc_freq: u64,
    doc_count: u64,
    query_weight: f32,
    norm_cache: Arc<[f32; 256]>,
}

impl Bm25TermWeight {
    fn term_scorer(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<Option<Bm25TermScorer>> {
        let field = self.term.field();
        let inverted = reader.inverted_index(field)?;
        let Some(postings) = inverted.read_postings(&self.term, IndexRecordOption::WithFreqs)?
        else {
            return Ok(None);
        };
        Ok(Some(Bm25TermScorer {
            postings,
            fieldnorms: reader.get_fieldnorms_reader(field)?,
            weight: self.idf * self.query_weight * boost,
            norm_cache: self.norm_cache.clone(),
        }))
    }
}

impl Weight for Bm25TermWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match self.term_scorer(reader, boost)? {
            Some(s) => Box::new(s),
            None => Box::new(EmptyScorer),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let not_found = || TantivyError::InvalidArgument(format!("document {doc} does not match"));
        let mut scorer = self.term_scorer(reader, 1.0)?.ok_or_else(not_found)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(not_found());
        }
        let tf = scorer.postings.term_freq();
        let len = scorer.fieldnorms.fieldnorm(doc);
        let mut e = Explanation::new_with_string(format!("bm25({:?})", self.term), scorer.score());
        e.add_const("idf = ln(1 + (N - n + 0.5) / (n + 0.5))", self.idf);
        e.add_const("n, documents with the term", self.doc_freq as f32);
        e.add_const("N, documents", self.doc_count as f32);
        e.add_const("query weight", self.query_weight);
        e.add_const("tf", tf as f32);
        e.add_const("field length", len as f32);
        Ok(e)
    }
}

struct Bm25TermScorer {
    postings: SegmentPostings,
    fieldnorms: FieldNormReader,
    weight: f32,
    norm_cache: Arc<[f32; 256]>,
}

impl DocSet for Bm25TermScorer {
    #[inline]
    fn advance(&mut self) -> DocId {
        self.postings.advance()
    }

    #[inline]
    fn seek(&mut self, target: DocId) -> DocId {
        self.postings.seek(target)
    }

    #[inline]
    fn doc(&self) -> DocId {
        self.postings.doc()
    }

    fn size_hint(&self) -> u32 {
        self.postings.size_hint()
    }
}

impl Scorer for Bm25TermScorer {
    #[inline]
    fn score(&mut self) -> Score {
        let doc = self.postings.doc();
        let tf = self.postings.term_freq() as f32;
        let norm = self.norm_cache[self.fieldnorms.fieldnorm_id(doc) as usize];
        self.weight * tf_saturation(tf, norm)
    }
}
