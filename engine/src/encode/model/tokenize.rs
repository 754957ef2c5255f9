//! Tokenization: truncation at the model's max length, no padding in the tokenizer
//! (padding happens per batch), and length-sorted batches under a token budget.

use std::path::Path;

use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::{Error, Result};

/// A `tokenizer.json` set up for encoding.
pub struct TextTokenizer {
    inner: Tokenizer,
    max_length: usize,
    pad_id: u32,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, drops any fixed padding it declares and truncates at
    /// `max_length` tokens (special tokens included).
    pub fn load(path: &Path, max_length: usize) -> Result<Self> {
        let mut inner = Tokenizer::from_file(path)
            .map_err(|e| Error::Model(format!("{}: {e}", path.display())))?;
        let pad_id = inner.get_padding().map_or(0, |p| p.pad_id);
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::Model(format!("{}: {e}", path.display())))?;
        Ok(TextTokenizer {
            inner,
            max_length,
            pad_id,
        })
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Encodes texts (with special tokens), in parallel.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Encoding>> {
        self.inner
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Model(format!("tokenization failed: {e}")))
    }

    /// The id of a token of the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

/// Padded token ids of a few texts, all of one length.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Positions of the texts in the caller's input.
    pub indices: Vec<usize>,
    /// Row-major `[indices.len() × len]`.
    pub ids: Vec<u32>,
    pub mask: Vec<u32>,
    pub len: usize,
}

/// Groups encodings by length (longest first) into batches whose padded size stays
/// within `token_budget` tokens and `max_batch` texts. Sorting by length keeps padding
/// small.
pub fn length_sorted_batches(
    encodings: &[Encoding],
    pad_id: u32,
    token_budget: usize,
    max_batch: usize,
) -> Vec<Batch> {
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
    let mut batches = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let len = encodings[order[start]].get_ids().len().max(1);
        let fit = (token_budget / len).clamp(1, max_batch.max(1));
        let end = (start + fit).min(order.len());
        let indices: Vec<usize> = order[start..end].to_vec();
        let mut ids = Vec::with_capacity(indices.len() * len);
        let mut mask = Vec::with_capacity(indices.len() * len);
        for &i in &indices {
            let e = encodings[i].get_ids();
            ids.extend_from_slice(e);
            ids.extend(std::iter::repeat_n(pad_id, len - e.len()));
            mask.extend(std::iter::repeat_n(1u32, e.len()));
            mask.extend(std::iter::repeat_n(0u32, len - e.len()));
        }
        batches.push(Batch {
            indices,
            ids,
            mask,
            len,
        });
        start = end;
    }
    batches
}

/// Sequences packed end to end without padding (the native backend's input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// Positions in the input of the sequences, in order.
    pub indices: Vec<usize>,
    /// Their ids, concatenated.
    pub ids: Vec<u32>,
    pub lens: Vec<usize>,
}

/// Groups sequences, in input order, into packs of at most `token_budget` tokens (a
/// longer sequence gets a pack of its own).
pub fn packed_batches<'a>(
    seqs: impl IntoIterator<Item = &'a [u32]>,
    token_budget: usize,
) -> Vec<Packed> {
    let mut out = Vec::new();
    let mut cur = Packed {
        indices: Vec::new(),
        ids: Vec::new(),
        lens: Vec::new(),
    };
    for (i, s) in seqs.into_iter().enumerate() {
        if !cur.indices.is_empty() && cur.ids.len() + s.len() > token_budget {
            out.push(std::mem::replace(
                &mut cur,
                Packed {
                    indices: Vec::new(),
                    ids: Vec::new(),
                    lens: Vec::new(),
                },
            ));
        }
        cur.indices.push(i);
        cur.ids.extend_from_slice(s);
        cur.lens.push(s.len());
    }
    if !cur.indices.is_empty() {
        out.push(cur);
    }
    out
}
