//! The dense bi-encoder: a BERT-family model (candle), pooling and normalization read
//! from the model folder's sentence-transformers files.

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::BertModel;

use crate::encoder::{Embeddings, Encoder, Side};
use crate::model::{ModelDir, Pooling, TextTokenizer, WeightsFile, length_sorted_batches};
use crate::{Error, Result};

/// Default padded tokens per forward pass.
pub const DEFAULT_TOKEN_BUDGET: usize = 8192;
const MAX_BATCH: usize = 128;

/// Loads a BERT encoder's weights from a model folder.
pub(crate) fn load_bert(dir: &ModelDir, device: &Device) -> Result<BertModel> {
    let cfg = dir.bert_config()?;
    let vb = match &dir.weights {
        // SAFETY: the file is memory-mapped read-only; seine never writes model files.
        WeightsFile::Safetensors(p) => unsafe {
            VarBuilder::from_mmaped_safetensors(&[p], DType::F32, device)?
        },
        WeightsFile::PyTorch(p) => VarBuilder::from_pth(p, DType::F32, device)?,
    };
    BertModel::load(vb, &cfg).map_err(|e| Error::Model(format!("{}: {e}", dir.root.display())))
}

pub struct DenseEncoder {
    name: String,
    model: BertModel,
    tokenizer: TextTokenizer,
    pooling: Pooling,
    normalize: bool,
    dim: usize,
    device: Device,
    token_budget: usize,
}

impl DenseEncoder {
    pub fn load(dir: &ModelDir, device: &Device) -> Result<Self> {
        let model = load_bert(dir, device)?;
        let tokenizer = TextTokenizer::load(&dir.tokenizer, dir.max_length)?;
        let dim = dir.bert_config()?.hidden_size;
        Ok(DenseEncoder {
            name: dir.name(),
            model,
            tokenizer,
            pooling: dir.pooling.unwrap_or(Pooling::Mean),
            normalize: dir.normalize,
            dim,
            device: device.clone(),
            token_budget: DEFAULT_TOKEN_BUDGET,
        })
    }

    /// Padded tokens per forward pass (memory/speed trade-off).
    pub fn with_token_budget(mut self, tokens: usize) -> Self {
        self.token_budget = tokens.max(1);
        self
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Runs the transformer on one padded batch: `[b × len × hidden]` and the mask.
    pub(crate) fn forward(
        &self,
        ids: &[u32],
        mask: &[u32],
        b: usize,
        len: usize,
    ) -> Result<(Tensor, Tensor)> {
        let ids = Tensor::from_slice(ids, (b, len), &self.device)?;
        let mask = Tensor::from_slice(mask, (b, len), &self.device)?;
        let types = ids.zeros_like()?;
        let out = self.model.forward(&ids, &types, Some(&mask))?;
        Ok((out, mask))
    }

    fn pool(&self, hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let pooled = match self.pooling {
            Pooling::Cls => hidden.i((.., 0))?,
            Pooling::Mean => {
                let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let sum = hidden.broadcast_mul(&m)?.sum(1)?;
                let count = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
                sum.broadcast_div(&count)?
            }
        };
        Ok(if self.normalize {
            let norm = pooled
                .sqr()?
                .sum_keepdim(D::Minus1)?
                .sqrt()?
                .clamp(1e-12f32, f32::MAX)?;
            pooled.broadcast_div(&norm)?
        } else {
            pooled
        })
    }
}

impl Encoder for DenseEncoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn normalized(&self) -> bool {
        self.normalize
    }

    fn encode(&self, texts: &[&str], _side: Side) -> Result<Embeddings> {
        Ok(self.encode_with_tokens(texts, None)?.0)
    }
}

impl DenseEncoder {
    /// Pooled embeddings and, when `tokens` is given, every text's token vectors from
    /// the same forward pass: the last hidden states of the non-padding tokens, L2
    /// normalized, without the token ids in `tokens.skip` (row-major, `rows × dim`).
    pub fn encode_with_tokens(
        &self,
        texts: &[&str],
        tokens: Option<&std::collections::HashSet<u32>>,
    ) -> Result<(Embeddings, Vec<Vec<f32>>)> {
        let encodings = self.tokenizer.encode(texts)?;
        let mut data = vec![0f32; texts.len() * self.dim];
        let mut per_text = vec![Vec::new(); if tokens.is_some() { texts.len() } else { 0 }];
        let batches = length_sorted_batches(
            &encodings,
            self.tokenizer.pad_id(),
            self.token_budget,
            MAX_BATCH,
        );
        for batch in batches {
            let b = batch.indices.len();
            let (hidden, mask) = self.forward(&batch.ids, &batch.mask, b, batch.len)?;
            let pooled = self.pool(&hidden, &mask)?.to_vec2::<f32>()?;
            for (row, &i) in pooled.iter().zip(&batch.indices) {
                data[i * self.dim..(i + 1) * self.dim].copy_from_slice(row);
            }
            if let Some(skip) = tokens {
                let h = hidden.to_vec3::<f32>()?;
                for (j, &i) in batch.indices.iter().enumerate() {
                    let ids = encodings[i].get_ids();
                    let out = &mut per_text[i];
                    for (t, &id) in ids.iter().enumerate() {
                        if skip.contains(&id) {
                            continue;
                        }
                        let v = &h[j][t];
                        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                        out.extend(v.iter().map(|x| x / norm));
                    }
                }
            }
        }
        Ok((
            Embeddings {
                dim: self.dim,
                data,
            },
            per_text,
        ))
    }
}
