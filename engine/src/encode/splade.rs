//! SPLADE learned-sparse encoder (SPLADE v2, arXiv 2109.10086): a BERT masked-language
//! model whose logits become one weight per vocabulary term,
//! `w_j = max_i log(1 + relu(logit_ij))` over the non-padding tokens `i` of a text.
//!
//! Loads `BertForMaskedLM` checkpoints in the standard layout (`bert.*` and
//! `cls.predictions.*`), with two fix-ups at load time: LayerNorm parameters under the
//! old `gamma`/`beta` names, and a decoder tied to the word embeddings (no
//! `cls.predictions.decoder.weight` in the file; its bias is `cls.predictions.bias`).

use std::collections::HashSet;

use candle_core::{Device, Tensor};
use candle_core::{IndexOp, Module};
use candle_nn::{LayerNorm, Linear};
use candle_transformers::models::bert::{BertModel, HiddenAct};

use crate::encoder::Side;
use crate::model::{
    Backend, ModelDir, NativeBert, TextTokenizer, WeightsFile, backend_for, length_sorted_batches,
    native, packed_batches,
};
use crate::{Error, Result};

// Padded tokens per forward pass: the shared default. The vocabulary logits are never
// materialized for a whole batch: they are computed per text, LOGIT_CHUNK tokens at a
// time, without the padding, and max-pooled as they go.
use crate::settings::{DEFAULT_TOKEN_BUDGET, MAX_ENCODE_BATCH as MAX_BATCH};

/// A sparse vector over a vocabulary: term ids ascending, weights > 0.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseVector {
    pub terms: Vec<u32>,
    pub weights: Vec<f32>,
}

impl SparseVector {
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// (term, weight) pairs by weight descending, then term ascending.
    pub fn by_weight(&self) -> Vec<(u32, f32)> {
        let mut v: Vec<(u32, f32)> = self
            .terms
            .iter()
            .copied()
            .zip(self.weights.iter().copied())
            .collect();
        v.sort_by(|a, b| seine_index::score_order(a.1, b.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Keeps the `top_k` heaviest terms (ties to the lower id) and those above
    /// `threshold`; term ids stay ascending.
    pub fn prune(&mut self, p: Pruning) {
        let mut keep: Vec<(u32, f32)> = self
            .by_weight()
            .into_iter()
            .filter(|&(_, w)| w > p.threshold)
            .collect();
        if let Some(k) = p.top_k {
            keep.truncate(k);
        }
        keep.sort_by_key(|x| x.0);
        self.terms = keep.iter().map(|x| x.0).collect();
        self.weights = keep.iter().map(|x| x.1).collect();
    }

    /// Sparse dot product with another vector (both sorted by term).
    pub fn dot(&self, other: &SparseVector) -> f32 {
        let (mut i, mut j, mut s) = (0, 0, 0f32);
        while i < self.terms.len() && j < other.terms.len() {
            match self.terms[i].cmp(&other.terms[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    s += self.weights[i] * other.weights[j];
                    i += 1;
                    j += 1;
                }
            }
        }
        s
    }
}

/// Which terms of an encoded text are kept.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Pruning {
    /// Keep at most this many terms (the heaviest).
    pub top_k: Option<usize>,
    /// Drop terms whose weight is not above this (0 keeps every non-zero term).
    pub threshold: f32,
}

/// Tokens per decoder matmul: the logits of one chunk are `chunk × vocabulary` floats.
const LOGIT_CHUNK: usize = 128;

/// The MLM head (`cls.predictions`): transform (dense, activation, LayerNorm), then the
/// decoder to vocabulary logits.
struct MlmHead {
    dense: Linear,
    act: HiddenAct,
    norm: LayerNorm,
    /// Decoder weight, `[vocab × hidden]`.
    decoder: Tensor,
    decoder_bias: Tensor,
}

/// A BERT masked LM on one backend.
enum MlmModel {
    Candle {
        bert: BertModel,
        head: MlmHead,
    },
    Native {
        bert: NativeBert,
        head: seine_kernels::bert::MlmHead,
    },
}

/// One SPLADE model (a side).
struct Mlm {
    model: MlmModel,
    tokenizer: TextTokenizer,
    name: String,
}

/// Names of the tensors in a weights file.
fn tensor_names(w: &WeightsFile) -> Result<HashSet<String>> {
    Ok(match w {
        WeightsFile::Safetensors(p) => {
            // SAFETY: read-only mapping of a model file seine never writes.
            let st = unsafe { candle_core::safetensors::MmapedSafetensors::new(p)? };
            st.tensors().into_iter().map(|(n, _)| n).collect()
        }
        WeightsFile::PyTorch(p) => candle_core::pickle::read_pth_tensor_info(p, false, None)?
            .into_iter()
            .map(|t| t.name)
            .collect(),
    })
}

/// Maps the tensor names the loader asks for (HF `BertForMaskedLM` names) to the names in the file.
fn rename(names: &HashSet<String>, want: &str) -> String {
    if names.contains(want) {
        return want.to_string();
    }
    let candidates: Vec<String> = if let Some(stem) = want.strip_suffix("LayerNorm.weight") {
        vec![format!("{stem}LayerNorm.gamma")]
    } else if let Some(stem) = want.strip_suffix("LayerNorm.bias") {
        vec![format!("{stem}LayerNorm.beta")]
    } else if want == "cls.predictions.decoder.weight" {
        vec![
            "bert.embeddings.word_embeddings.weight".into(),
            "embeddings.word_embeddings.weight".into(),
        ]
    } else if want == "cls.predictions.decoder.bias" {
        vec!["cls.predictions.bias".into()]
    } else {
        Vec::new()
    };
    candidates
        .into_iter()
        .find(|c| names.contains(c))
        .unwrap_or_else(|| want.to_string())
}

impl Mlm {
    fn load(dir: &ModelDir, device: &Device, backend: Backend) -> Result<Self> {
        let cfg = dir.bert_config()?;
        let names = tensor_names(&dir.weights)?;
        let vb = native::var_builder(dir, device)?;
        let vb = vb.rename_f(move |n: &str| rename(&names, n));
        let err = |e: candle_core::Error| {
            Error::Model(format!("{} (BERT masked LM): {e}", dir.root.display()))
        };
        let tokenizer = TextTokenizer::load(&dir.tokenizer, dir.max_length)?;
        if backend == Backend::Native {
            if !device.is_cpu() {
                return Err(Error::InvalidArgument(
                    "the native backend runs on the CPU only; use --backend candle with CUDA"
                        .into(),
                ));
            }
            let what = format!("{} (BERT masked LM)", dir.root.display());
            return Ok(Mlm {
                model: MlmModel::Native {
                    bert: NativeBert::load(&vb.pp("bert"), &cfg, &what)?,
                    head: native::mlm_head(&vb.pp("cls").pp("predictions"), &cfg).map_err(err)?,
                },
                tokenizer,
                name: dir.name(),
            });
        }
        let bert = BertModel::load(vb.pp("bert"), &cfg).map_err(err)?;
        let p = vb.pp("cls").pp("predictions");
        let (h, v) = (cfg.hidden_size, cfg.vocab_size);
        let head = MlmHead {
            dense: candle_nn::linear(h, h, p.pp("transform").pp("dense")).map_err(err)?,
            act: cfg.hidden_act,
            norm: candle_nn::layer_norm(h, cfg.layer_norm_eps, p.pp("transform").pp("LayerNorm"))
                .map_err(err)?,
            decoder: p.pp("decoder").get((v, h), "weight").map_err(err)?,
            decoder_bias: p.pp("decoder").get(v, "bias").map_err(err)?,
        };
        Ok(Mlm {
            model: MlmModel::Candle { bert, head },
            tokenizer,
            name: dir.name(),
        })
    }
}

impl MlmHead {
    fn transform(&self, hidden: &Tensor) -> Result<Tensor> {
        let x = self.dense.forward(hidden)?;
        let x = match self.act {
            HiddenAct::Gelu => x.gelu_erf()?,
            HiddenAct::GeluApproximate => x.gelu()?,
            HiddenAct::Relu => x.relu()?,
        };
        Ok(self.norm.forward(&x)?)
    }

    /// Max over the tokens of one text (`[n × hidden]`, padding already removed) of the
    /// vocabulary logits: `max_i (x_i · W^T) + bias` (the bias is the same for every
    /// token), computed a chunk of tokens at a time to bound memory.
    fn pooled_logits(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.dim(0)?;
        let mut best: Option<Tensor> = None;
        let mut start = 0;
        while start < n {
            let len = LOGIT_CHUNK.min(n - start);
            // [vocab × len]: the max runs over the contiguous last dimension.
            let chunk = x.narrow(0, start, len)?.t()?;
            let m = self.decoder.matmul(&chunk)?.max(1)?;
            best = Some(match best {
                Some(b) => b.maximum(&m)?,
                None => m,
            });
            start += len;
        }
        let best = match best {
            Some(b) => b,
            // No tokens at all: every logit is "absent"; relu makes it 0.
            None => self.decoder_bias.zeros_like()?.affine(0.0, -1.0)?,
        };
        Ok((best + &self.decoder_bias)?)
    }
}

/// SPLADE encoder: one model for both sides unless a query model is given.
pub struct SpladeEncoder {
    doc: Mlm,
    query: Option<Mlm>,
    vocab: Vec<String>,
    device: Device,
    token_budget: usize,
    doc_pruning: Pruning,
    query_pruning: Pruning,
}

impl SpladeEncoder {
    /// Loads on the backend [`backend_for`] picks for `device`.
    pub fn load(dir: &ModelDir, query_dir: Option<&ModelDir>, device: &Device) -> Result<Self> {
        Self::load_with(dir, query_dir, device, backend_for(device))
    }

    pub fn load_with(
        dir: &ModelDir,
        query_dir: Option<&ModelDir>,
        device: &Device,
        backend: Backend,
    ) -> Result<Self> {
        let doc = Mlm::load(dir, device, backend)?;
        let query = query_dir
            .map(|q| Mlm::load(q, device, backend))
            .transpose()?;
        let vocab_size = doc.tokenizer.inner().get_vocab_size(true);
        let mut vocab = vec![String::new(); vocab_size];
        for (tok, id) in doc.tokenizer.inner().get_vocab(true) {
            if let Some(slot) = vocab.get_mut(id as usize) {
                *slot = tok;
            }
        }
        if let Some(q) = &query
            && q.tokenizer.inner().get_vocab(true).len() != vocab.len()
        {
            return Err(Error::Model(format!(
                "query model {} has a different vocabulary from {}",
                q.name, doc.name
            )));
        }
        Ok(SpladeEncoder {
            doc,
            query,
            vocab,
            device: device.clone(),
            token_budget: DEFAULT_TOKEN_BUDGET,
            doc_pruning: Pruning::default(),
            query_pruning: Pruning::default(),
        })
    }

    pub fn with_pruning(mut self, doc: Pruning, query: Pruning) -> Self {
        self.doc_pruning = doc;
        self.query_pruning = query;
        self
    }

    pub fn with_token_budget(mut self, tokens: usize) -> Self {
        self.token_budget = tokens.max(1);
        self
    }

    pub fn name(&self) -> &str {
        &self.doc.name
    }

    /// The vocabulary: `vocab()[id]` is the term of id `id`.
    pub fn vocab(&self) -> &[String] {
        &self.vocab
    }

    pub fn term(&self, id: u32) -> &str {
        self.vocab.get(id as usize).map_or("", String::as_str)
    }

    /// A sparse vector's (term, weight) pairs, terms as vocabulary strings (what the
    /// impact index, the write log's documents and `seine embed` store).
    pub fn named_terms(&self, v: &SparseVector) -> Vec<(String, f32)> {
        v.terms
            .iter()
            .zip(&v.weights)
            .map(|(&t, &w)| (self.term(t).to_string(), w))
            .collect()
    }

    pub fn term_id(&self, term: &str) -> Option<u32> {
        self.doc.tokenizer.token_id(term)
    }

    /// The document model's tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.doc.tokenizer
    }

    pub fn doc_pruning(&self) -> Pruning {
        self.doc_pruning
    }

    /// Sparse vectors of `texts`, pruned as configured for `side`.
    pub fn encode(&self, texts: &[&str], side: Side) -> Result<Vec<SparseVector>> {
        let (mlm, pruning) = match side {
            Side::Query => (self.query.as_ref().unwrap_or(&self.doc), self.query_pruning),
            Side::Document => (&self.doc, self.doc_pruning),
        };
        let encodings = mlm.tokenizer.encode(texts)?;
        let mut out = vec![SparseVector::default(); texts.len()];
        let (bert, head) = match &mlm.model {
            MlmModel::Native { bert, head } => {
                let ids = encodings.iter().map(|e| e.get_ids());
                for pack in packed_batches(ids, self.token_budget) {
                    let w = bert.forward(&pack.ids, &pack.lens, None, |hidden| {
                        head.splade_weights(hidden, &pack.lens)
                    });
                    let v = head.vocab();
                    for (q, &i) in pack.indices.iter().enumerate() {
                        out[i] = sparse_row(&w[q * v..(q + 1) * v], pruning);
                    }
                }
                return Ok(out);
            }
            MlmModel::Candle { bert, head } => (bert, head),
        };
        for batch in length_sorted_batches(
            &encodings,
            mlm.tokenizer.pad_id(),
            self.token_budget,
            MAX_BATCH,
        ) {
            let b = batch.indices.len();
            let ids = Tensor::from_slice(&batch.ids, (b, batch.len), &self.device)?;
            let mask = Tensor::from_slice(&batch.mask, (b, batch.len), &self.device)?;
            let types = ids.zeros_like()?;
            let hidden = bert.forward(&ids, &types, Some(&mask))?;
            let t = head.transform(&hidden)?;
            let mut rows = Vec::with_capacity(b);
            for (j, &i) in batch.indices.iter().enumerate() {
                let n = encodings[i].get_ids().len();
                rows.push(head.pooled_logits(&t.i(j)?.narrow(0, 0, n)?)?);
            }
            // log(1 + relu(x)) is non-decreasing, so max over tokens of it is
            // log(1 + relu(max over tokens of x)): the activation runs on [b × vocab].
            let pooled = (Tensor::stack(&rows, 0)?.relu()? + 1.0)?
                .log()?
                .to_vec2::<f32>()?;
            for (row, &i) in pooled.iter().zip(&batch.indices) {
                out[i] = sparse_row(row, pruning);
            }
        }
        Ok(out)
    }
}

/// The non-zero weights of a vocabulary-sized row, pruned.
fn sparse_row(row: &[f32], pruning: Pruning) -> SparseVector {
    let mut v = SparseVector::default();
    for (t, &w) in row.iter().enumerate() {
        if w > 0.0 {
            v.terms.push(t as u32);
            v.weights.push(w);
        }
    }
    v.prune(pruning);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(pairs: &[(u32, f32)]) -> SparseVector {
        SparseVector {
            terms: pairs.iter().map(|p| p.0).collect(),
            weights: pairs.iter().map(|p| p.1).collect(),
        }
    }

    #[test]
    fn prune_keeps_heaviest_and_sorted_ids() {
        let mut v = sv(&[(1, 0.5), (4, 2.0), (7, 0.1), (9, 2.0), (12, 1.0)]);
        v.prune(Pruning {
            top_k: Some(3),
            threshold: 0.0,
        });
        assert_eq!(v, sv(&[(4, 2.0), (9, 2.0), (12, 1.0)]));
        v.prune(Pruning {
            top_k: None,
            threshold: 1.0,
        });
        assert_eq!(v, sv(&[(4, 2.0), (9, 2.0)]));
    }

    #[test]
    fn sparse_dot() {
        let a = sv(&[(1, 1.0), (3, 2.0), (8, 3.0)]);
        let b = sv(&[(0, 5.0), (3, 0.5), (8, 2.0), (9, 1.0)]);
        assert_eq!(a.dot(&b), 7.0);
        assert_eq!(a.dot(&SparseVector::default()), 0.0);
    }

    #[test]
    fn renames_old_layer_norm_names_and_tied_decoder() {
        let names: HashSet<String> = [
            "bert.embeddings.LayerNorm.gamma",
            "bert.embeddings.LayerNorm.beta",
            "bert.embeddings.word_embeddings.weight",
            "cls.predictions.bias",
            "cls.predictions.transform.dense.weight",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(
            rename(&names, "bert.embeddings.LayerNorm.weight"),
            "bert.embeddings.LayerNorm.gamma"
        );
        assert_eq!(
            rename(&names, "bert.embeddings.LayerNorm.bias"),
            "bert.embeddings.LayerNorm.beta"
        );
        assert_eq!(
            rename(&names, "cls.predictions.decoder.weight"),
            "bert.embeddings.word_embeddings.weight"
        );
        assert_eq!(
            rename(&names, "cls.predictions.decoder.bias"),
            "cls.predictions.bias"
        );
        assert_eq!(
            rename(&names, "cls.predictions.transform.dense.weight"),
            "cls.predictions.transform.dense.weight"
        );
    }
}
