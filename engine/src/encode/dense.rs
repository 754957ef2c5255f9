//! The dense bi-encoder: a BERT-family model, pooling and normalization read from the
//! model folder's sentence-transformers files. Runs on the native CPU backend
//! (`seine_kernels::bert`) or on candle (CUDA, and the oracle in tests).

use std::collections::HashSet;

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_transformers::models::bert::BertModel;

use crate::encoder::{Embeddings, Encoder, Side};
use crate::model::{
    Backend, ModelDir, NativeBert, Pooling, TextTokenizer, backend_for, length_sorted_batches,
    native, packed_batches,
};
use crate::{Error, Result};

pub use crate::settings::DEFAULT_TOKEN_BUDGET;
use crate::settings::MAX_ENCODE_BATCH as MAX_BATCH;

/// Loads a BERT encoder's weights from a model folder into candle's `BertModel`.
pub(crate) fn load_bert(dir: &ModelDir, device: &Device) -> Result<BertModel> {
    let cfg = dir.bert_config()?;
    let vb = native::var_builder(dir, device)?;
    BertModel::load(vb, &cfg).map_err(|e| Error::Model(format!("{}: {e}", dir.root.display())))
}

/// A BERT encoder on one backend.
pub(crate) enum Bert {
    Candle(BertModel),
    Native(NativeBert),
}

impl Bert {
    pub(crate) fn load(dir: &ModelDir, device: &Device, backend: Backend) -> Result<Self> {
        Ok(match backend {
            Backend::Candle => Bert::Candle(load_bert(dir, device)?),
            Backend::Native => {
                if !device.is_cpu() {
                    return Err(Error::InvalidArgument(
                        "the native backend runs on the CPU only; use --backend candle with CUDA"
                            .into(),
                    ));
                }
                let vb = native::var_builder(dir, device)?;
                Bert::Native(NativeBert::load(
                    &vb,
                    &dir.bert_config()?,
                    &dir.root.display().to_string(),
                )?)
            }
        })
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Bert::Candle(_) => Backend::Candle,
            Bert::Native(_) => Backend::Native,
        }
    }
}

pub struct DenseEncoder {
    name: String,
    model: Bert,
    tokenizer: TextTokenizer,
    pooling: Pooling,
    normalize: bool,
    dim: usize,
    device: Device,
    token_budget: usize,
}

impl DenseEncoder {
    /// Loads on the backend [`backend_for`] picks for `device`.
    pub fn load(dir: &ModelDir, device: &Device) -> Result<Self> {
        Self::load_with(dir, device, backend_for(device))
    }

    pub fn load_with(dir: &ModelDir, device: &Device, backend: Backend) -> Result<Self> {
        let model = Bert::load(dir, device, backend)?;
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

    pub fn backend(&self) -> Backend {
        self.model.backend()
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
        let Bert::Candle(model) = &self.model else {
            return Err(Error::Model("padded forward on the native backend".into()));
        };
        let out = model.forward(&ids, &types, Some(&mask))?;
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
        tokens: Option<&HashSet<u32>>,
    ) -> Result<(Embeddings, Vec<Vec<f32>>)> {
        let encodings = self.tokenizer.encode(texts)?;
        let mut data = vec![0f32; texts.len() * self.dim];
        let mut per_text = vec![Vec::new(); if tokens.is_some() { texts.len() } else { 0 }];
        if let Bert::Native(model) = &self.model {
            let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
            self.encode_native(model, &ids, tokens, &mut data, &mut per_text);
            return Ok((
                Embeddings {
                    dim: self.dim,
                    data,
                },
                per_text,
            ));
        }
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
                        let start = out.len();
                        out.extend_from_slice(&h[j][t]);
                        seine_kernels::l2_normalize(&mut out[start..]);
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

impl DenseEncoder {
    /// The native backend: packed sequences, pooling and normalization on the CPU.
    fn encode_native(
        &self,
        model: &NativeBert,
        ids: &[&[u32]],
        tokens: Option<&HashSet<u32>>,
        data: &mut [f32],
        per_text: &mut [Vec<f32>],
    ) {
        let dim = self.dim;
        for pack in packed_batches(ids.iter().copied(), self.token_budget) {
            model.forward(&pack.ids, &pack.lens, None, |hidden| {
                let mut row = 0;
                for (&i, &len) in pack.indices.iter().zip(&pack.lens) {
                    let rows = &hidden[row * dim..(row + len) * dim];
                    let out = &mut data[i * dim..(i + 1) * dim];
                    pool_rows(rows, dim, self.pooling, out);
                    if self.normalize {
                        seine_kernels::ops::l2_normalize_rows(out, dim);
                    }
                    if let Some(skip) = tokens {
                        let v = &mut per_text[i];
                        for (t, &id) in ids[i].iter().enumerate() {
                            if !skip.contains(&id) {
                                v.extend_from_slice(&rows[t * dim..(t + 1) * dim]);
                            }
                        }
                        seine_kernels::ops::l2_normalize_rows(v, dim);
                    }
                    row += len;
                }
            });
        }
    }
}

/// Pools one text's token vectors (`rows × dim`) into `out`.
fn pool_rows(rows: &[f32], dim: usize, pooling: Pooling, out: &mut [f32]) {
    out.fill(0.0);
    let n = rows.len() / dim;
    if n == 0 {
        return;
    }
    match pooling {
        Pooling::Cls => out.copy_from_slice(&rows[..dim]),
        Pooling::Mean => {
            for r in rows.chunks_exact(dim) {
                for (o, x) in out.iter_mut().zip(r) {
                    *o += x;
                }
            }
            let inv = 1.0 / n as f32;
            out.iter_mut().for_each(|o| *o *= inv);
        }
    }
}
