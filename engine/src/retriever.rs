use std::sync::Arc;

use seine_index::{DenseIndex, ScoredDoc};

use crate::encoder::{Encoder, Side};
use seine_index::lexical::{Bm25Params, LexicalIndex};

use crate::Result;

/// A first-stage retriever: query text → the top `k` documents, in ranking order.
pub trait Retriever: Send + Sync {
    /// Short name (`bm25`, `dense`, ...), used on the command line and in reports.
    fn name(&self) -> &str;
    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<ScoredDoc>>;
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

    /// Overrides `k1`/`b` (they are query-time parameters).
    pub fn with_params(mut self, params: Bm25Params) -> Result<Self> {
        params.validate()?;
        self.params = params;
        Ok(self)
    }

    pub fn index(&self) -> &LexicalIndex {
        &self.index
    }

    pub fn params(&self) -> Bm25Params {
        self.params
    }
}

impl Retriever for Bm25Retriever {
    fn name(&self) -> &str {
        "bm25"
    }

    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<ScoredDoc>> {
        Ok(self.index.search_with(query, k, self.params)?)
    }
}

/// Dense retrieval: the query encoder, then HNSW (or exact) search.
pub struct DenseRetriever {
    encoder: Arc<dyn Encoder>,
    index: DenseIndex,
    ef: Option<usize>,
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
        Ok(DenseRetriever {
            encoder,
            index,
            ef: None,
        })
    }

    /// HNSW beam width for the searches that follow.
    pub fn set_ef(&mut self, ef: Option<usize>) {
        self.ef = ef;
    }

    pub fn index(&self) -> &DenseIndex {
        &self.index
    }

    pub fn encoder(&self) -> &Arc<dyn Encoder> {
        &self.encoder
    }

    pub fn ef(&self) -> Option<usize> {
        self.ef
    }

    /// The query's vector.
    pub fn encode_query(&self, query: &str) -> Result<Vec<f32>> {
        Ok(self.encoder.encode(&[query], Side::Query)?.row(0).to_vec())
    }

    /// The top `k` for an encoded query.
    pub fn search_vector(&self, q: &[f32], k: usize) -> Result<Vec<ScoredDoc>> {
        Ok(self.index.search(q, k, self.ef)?)
    }
}

impl Retriever for DenseRetriever {
    fn name(&self) -> &str {
        "dense"
    }

    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<ScoredDoc>> {
        let q = self.encoder.encode(&[query], Side::Query)?;
        Ok(self.index.search(q.row(0), k, self.ef)?)
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
        Ok(v.terms
            .iter()
            .zip(&v.weights)
            .map(|(&t, &w)| (self.encoder.term(t).to_string(), w))
            .collect())
    }
}

impl Retriever for SparseRetriever {
    fn name(&self) -> &str {
        "splade"
    }

    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<ScoredDoc>> {
        let terms = self.query_terms(query)?;
        let refs: Vec<(&str, f32)> = terms.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        Ok(self.index.search(&refs, k)?)
    }
}
