//! Multi-vector (late-interaction) encoding. Where no ColBERT checkpoint is given, the
//! dense model's last hidden states, L2-normalized per token, are the token vectors
//! (`--multi minilm`); one forward pass then yields both the pooled dense vector and
//! the token vectors. Documents drop punctuation tokens (ColBERT's skiplist); queries
//! keep every token, `[CLS]` and `[SEP]` included.

use std::collections::HashSet;
use std::sync::Arc;

use crate::encoder::{Embeddings, Encoder, Side};
use crate::{DenseEncoder, Result};

/// Token vectors of one text, row-major `rows × dim`.
pub type TokenMatrix = Vec<f32>;

pub struct MultiVectorEncoder {
    dense: Arc<DenseEncoder>,
    /// Token ids left out of documents.
    skiplist: HashSet<u32>,
}

impl MultiVectorEncoder {
    /// Token vectors from a dense encoder's hidden states.
    pub fn from_dense(dense: Arc<DenseEncoder>) -> Self {
        // ColBERT's skiplist: every ASCII punctuation character that is a token.
        let skiplist = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
            .chars()
            .filter_map(|c| dense.tokenizer().token_id(&c.to_string()))
            .collect();
        MultiVectorEncoder { dense, skiplist }
    }

    pub fn name(&self) -> &str {
        self.dense.name()
    }

    pub fn dim(&self) -> usize {
        self.dense.dim()
    }

    pub fn dense(&self) -> &Arc<DenseEncoder> {
        &self.dense
    }

    fn skip(&self, side: Side) -> HashSet<u32> {
        match side {
            Side::Document => self.skiplist.clone(),
            Side::Query => HashSet::new(),
        }
    }

    /// Token vectors of each text.
    pub fn encode(&self, texts: &[&str], side: Side) -> Result<Vec<TokenMatrix>> {
        Ok(self
            .dense
            .encode_with_tokens(texts, Some(&self.skip(side)))?
            .1)
    }

    /// Pooled dense vectors and token vectors from one forward pass.
    pub fn encode_both(
        &self,
        texts: &[&str],
        side: Side,
    ) -> Result<(Embeddings, Vec<TokenMatrix>)> {
        self.dense.encode_with_tokens(texts, Some(&self.skip(side)))
    }

    /// The tokens a query's vectors stand for, in order (for explanations).
    pub fn query_tokens(&self, text: &str) -> Result<Vec<String>> {
        let enc = self.dense.tokenizer().encode(&[text])?;
        Ok(enc[0].get_tokens().to_vec())
    }
}
