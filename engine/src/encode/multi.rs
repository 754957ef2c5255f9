//! Multi-vector (late-interaction) encoding: a ColBERT checkpoint ([`crate::ColbertEncoder`])
//! when the folder is one, otherwise the
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
    dense: Option<Arc<DenseEncoder>>,
    colbert: Option<crate::ColbertEncoder>,
    /// Token ids left out of documents (dense-model token vectors).
    skiplist: HashSet<u32>,
}

impl MultiVectorEncoder {
    /// Token vectors from a dense encoder's hidden states.
    pub fn from_dense(dense: Arc<DenseEncoder>) -> Self {
        // ColBERT's skiplist: every ASCII punctuation character that is a token.
        let skiplist = crate::settings::PUNCTUATION
            .chars()
            .filter_map(|c| dense.tokenizer().token_id(&c.to_string()))
            .collect();
        MultiVectorEncoder {
            dense: Some(dense),
            colbert: None,
            skiplist,
        }
    }

    /// A ColBERT checkpoint (v2 or PyLate layout) if the folder is one, the dense
    /// model's token outputs otherwise.
    pub fn load(dir: &crate::model::ModelDir, device: &candle_core::Device) -> Result<Self> {
        if crate::ColbertEncoder::is_checkpoint(&dir.root) {
            return Ok(MultiVectorEncoder {
                dense: None,
                colbert: Some(crate::ColbertEncoder::load(dir, device)?),
                skiplist: HashSet::new(),
            });
        }
        Ok(Self::from_dense(Arc::new(DenseEncoder::load(dir, device)?)))
    }

    /// The dense encoder whose token outputs these are (None for a ColBERT checkpoint).
    pub fn dense_encoder(&self) -> Option<&Arc<DenseEncoder>> {
        self.dense.as_ref()
    }

    pub fn name(&self) -> &str {
        match (&self.colbert, &self.dense) {
            (Some(c), _) => c.name(),
            (None, Some(d)) => d.name(),
            _ => unreachable!("one encoder"),
        }
    }

    pub fn dim(&self) -> usize {
        match (&self.colbert, &self.dense) {
            (Some(c), _) => c.dim(),
            (None, Some(d)) => d.dim(),
            _ => unreachable!("one encoder"),
        }
    }

    fn dense_enc(&self) -> Result<&Arc<DenseEncoder>> {
        self.dense.as_ref().ok_or_else(|| {
            crate::Error::InvalidArgument(
                "a ColBERT checkpoint gives token vectors only, not a pooled dense vector".into(),
            )
        })
    }

    fn skip(&self, side: Side) -> HashSet<u32> {
        match side {
            Side::Document => self.skiplist.clone(),
            Side::Query => HashSet::new(),
        }
    }

    /// Token vectors of each text.
    pub fn encode(&self, texts: &[&str], side: Side) -> Result<Vec<TokenMatrix>> {
        if let Some(c) = &self.colbert {
            return c.encode(texts, side);
        }
        Ok(self
            .dense_enc()?
            .encode_with_tokens(texts, Some(&self.skip(side)))?
            .1)
    }

    /// Pooled dense vectors and token vectors from one forward pass.
    pub fn encode_both(
        &self,
        texts: &[&str],
        side: Side,
    ) -> Result<(Embeddings, Vec<TokenMatrix>)> {
        self.dense_enc()?
            .encode_with_tokens(texts, Some(&self.skip(side)))
    }

    /// Byte spans in `text` of the token vectors `encode(&[text], Document)` gives, in
    /// order (`(0, 0)` for special tokens); None for a ColBERT checkpoint (its marker
    /// token shifts positions; not mapped).
    pub fn doc_token_spans(&self, text: &str) -> Result<Option<Vec<(usize, usize)>>> {
        if self.colbert.is_some() {
            return Ok(None);
        }
        let enc = self.dense_enc()?.tokenizer().encode(&[text])?;
        let e = &enc[0];
        Ok(Some(
            e.get_ids()
                .iter()
                .zip(e.get_offsets())
                .filter(|(id, _)| !self.skiplist.contains(id))
                .map(|(_, o)| *o)
                .collect(),
        ))
    }

    /// The tokens a query's vectors stand for, in order (for explanations).
    pub fn query_tokens(&self, text: &str) -> Result<Vec<String>> {
        if let Some(c) = &self.colbert {
            return c.query_tokens(text);
        }
        let enc = self.dense_enc()?.tokenizer().encode(&[text])?;
        Ok(enc[0].get_tokens().to_vec())
    }
}
