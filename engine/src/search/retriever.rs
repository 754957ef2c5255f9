//! First-stage retrievers. Each one searches the committed generation and scores the
//! documents written since ([`Live`]) itself, so every first stage sees the same
//! documents: the generation's less those deleted or replaced, plus the added ones.

use std::sync::Arc;

use seine_index::{DenseIndex, DocSet, ScoredDoc};

use super::Live;
use crate::encoder::{Encoder, Side};
use crate::settings::{QueryParams, RetrieverKind};
use seine_index::lexical::{Bm25Params, LexicalIndex};

use crate::Result;

/// A first-stage retriever: query text → the top `k` visible documents, in ranking
/// order.
pub trait Retriever: Send + Sync {
    fn kind(&self) -> RetrieverKind;

    /// The top `k` of the generation (less what `live` hides) and of `live`'s added
    /// documents; with `allowed` (a metadata filter's documents), the top `k` of those
    /// only — the filter applies inside the search, not to its top `k`.
    /// `params` override the retriever's own parameters for this call.
    fn retrieve(
        &self,
        query: &str,
        k: usize,
        live: &Live,
        allowed: Option<&DocSet>,
        params: &QueryParams,
    ) -> Result<Vec<ScoredDoc>>;
}

/// Whether `doc` passes the filter (every document without one).
pub(crate) fn passes(allowed: Option<&DocSet>, doc: seine_index::DocId) -> bool {
    allowed.is_none_or(|a| a.contains(doc))
}

/// Drops hidden documents (and any the filter does not allow), sorts into ranking
/// order, keeps the top `k`.
pub(crate) fn finish(
    mut hits: Vec<ScoredDoc>,
    live: &Live,
    k: usize,
    allowed: Option<&DocSet>,
) -> Vec<ScoredDoc> {
    if !live.hidden.is_empty() || allowed.is_some() {
        hits.retain(|h| !live.hidden.contains(&h.doc) && passes(allowed, h.doc));
    }
    seine_index::sort_hits(&mut hits);
    hits.truncate(k);
    hits
}

/// BM25 over the lexical index.
pub struct Bm25Retriever {
    index: LexicalIndex,
    params: Bm25Params,
}

impl Bm25Retriever {
    /// Searches with the index's own parameters.
    pub fn new(index: LexicalIndex) -> Self {
        let params = index.params();
        Bm25Retriever { index, params }
    }

    pub fn index(&self) -> &LexicalIndex {
        &self.index
    }

    pub fn params(&self) -> Bm25Params {
        self.params
    }
}

impl Retriever for Bm25Retriever {
    fn kind(&self) -> RetrieverKind {
        RetrieverKind::Bm25
    }

    fn retrieve(
        &self,
        query: &str,
        k: usize,
        live: &Live,
        allowed: Option<&DocSet>,
        params: &QueryParams,
    ) -> Result<Vec<ScoredDoc>> {
        let want = k + live.hidden.len();
        let mut hits =
            self.index
                .search_within(query, want, params.bm25.unwrap_or(self.params), allowed)?;
        let added: Vec<_> = live
            .iter()
            .filter(|(id, _)| passes(allowed, *id))
            .filter_map(|(id, d)| d.lex.as_ref().map(|l| (id, l)))
            .collect();
        if !added.is_empty() {
            let refs: Vec<_> = added.iter().map(|(_, l)| *l).collect();
            // With the generation's statistics (compaction rebuilds them).
            let scores = self.index.score_outside(query, self.params, &refs)?;
            hits.extend(
                added
                    .iter()
                    .zip(scores)
                    .filter(|(_, s)| *s > 0.0)
                    .map(|((id, _), s)| ScoredDoc::new(*id, s)),
            );
        }
        Ok(finish(hits, live, k, allowed))
    }
}

/// Dense retrieval: the query encoder, then HNSW (or exact) search.
pub struct DenseRetriever {
    encoder: Arc<dyn Encoder>,
    index: DenseIndex,
}

impl DenseRetriever {
    pub fn new(encoder: Arc<dyn Encoder>, index: DenseIndex) -> Result<Self> {
        if encoder.dim() != index.dim() {
            return Err(crate::Error::InvalidArgument(format!(
                "query encoder {} gives {}-d vectors, the index holds {}-d vectors",
                encoder.name(),
                encoder.dim(),
                index.dim()
            )));
        }
        Ok(DenseRetriever { encoder, index })
    }

    pub fn index(&self) -> &DenseIndex {
        &self.index
    }

    pub fn encoder(&self) -> &Arc<dyn Encoder> {
        &self.encoder
    }

    /// The query's vector.
    pub fn encode_query(&self, query: &str) -> Result<Vec<f32>> {
        Ok(self.encoder.encode(&[query], Side::Query)?.row(0).to_vec())
    }

    /// [`Retriever::retrieve`] for an encoded query, with this call's HNSW beam width
    /// (`None`: the index's).
    fn retrieve_vector(
        &self,
        q: &[f32],
        k: usize,
        live: &Live,
        allowed: Option<&DocSet>,
        ef: Option<usize>,
    ) -> Result<Vec<ScoredDoc>> {
        let want = k + live.hidden.len();
        let mut hits = match allowed {
            None => self.index.search(q, want, ef)?,
            Some(a) => self.index.search_filtered(q, want, ef, a, None)?.0,
        };
        hits.extend(live.iter().filter_map(|(id, d)| {
            d.dense
                .as_ref()
                .map(|x| ScoredDoc::new(id, seine_kernels::simd::dot(q, x)))
        }));
        Ok(finish(hits, live, k, allowed))
    }
}

impl Retriever for DenseRetriever {
    fn kind(&self) -> RetrieverKind {
        RetrieverKind::Dense
    }

    fn retrieve(
        &self,
        query: &str,
        k: usize,
        live: &Live,
        allowed: Option<&DocSet>,
        params: &QueryParams,
    ) -> Result<Vec<ScoredDoc>> {
        let q = self.encode_query(query)?;
        self.retrieve_vector(&q, k, live, allowed, params.ef)
    }
}

/// SPLADE retrieval: the query side of the encoder, then the impact index.
pub struct SparseRetriever {
    encoder: Arc<crate::SpladeEncoder>,
    index: seine_index::SparseIndex,
}

impl SparseRetriever {
    pub fn new(encoder: Arc<crate::SpladeEncoder>, index: seine_index::SparseIndex) -> Self {
        SparseRetriever { encoder, index }
    }

    pub fn encoder(&self) -> &Arc<crate::SpladeEncoder> {
        &self.encoder
    }

    pub fn index(&self) -> &seine_index::SparseIndex {
        &self.index
    }

    /// The query's (term, weight) pairs.
    pub fn query_terms(&self, query: &str) -> Result<Vec<(String, f32)>> {
        let v = self.encoder.encode(&[query], Side::Query)?.remove(0);
        Ok(self.encoder.named_terms(&v))
    }
}

impl Retriever for SparseRetriever {
    fn kind(&self) -> RetrieverKind {
        RetrieverKind::Splade
    }

    fn retrieve(
        &self,
        query: &str,
        k: usize,
        live: &Live,
        allowed: Option<&DocSet>,
        params: &QueryParams,
    ) -> Result<Vec<ScoredDoc>> {
        let terms = self.query_terms(query)?;
        let refs: Vec<(&str, f32)> = terms.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        let mut hits =
            self.index
                .search_within(&refs, k + live.hidden.len(), allowed, params.sparse)?;
        hits.extend(live.iter().filter_map(|(id, d)| {
            let weights = d.sparse.as_ref()?;
            let mut s = 0f32;
            let mut matched = false;
            for (t, w) in &terms {
                if let Some(x) = weights.get(t) {
                    s += w * x;
                    matched = true;
                }
            }
            matched.then(|| ScoredDoc::new(id, s))
        }));
        Ok(finish(hits, live, k, allowed))
    }
}
