//! What trains: a BERT with a dense head (pooling + normalization, sentence-transformers
//! style) or a ColBERT head (a linear projection to `dim`, per-token normalization,
//! MaxSim scores), and how a batch of tokenized texts becomes scores.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Result;
use candle_core::{D, DType, Device, Tensor, Var};

use crate::bert::{TrainBert, Trainable, l2_normalize};

/// One tokenized text: ids, attention mask (keys) and which outputs count.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub ids: Vec<u32>,
    pub mask: Vec<u32>,
    pub keep: Vec<bool>,
}

impl Input {
    /// Ids with a full mask, every output kept (dense encoders).
    pub fn plain(ids: Vec<u32>) -> Self {
        let n = ids.len();
        Input {
            ids,
            mask: vec![1; n],
            keep: vec![true; n],
        }
    }
}

/// The head on top of the encoder.
pub enum Head {
    /// Mean (or CLS) pooling, then L2 normalization when the model normalizes.
    Dense { cls: bool, normalize: bool },
    /// `projection` `[dim, hidden]` (no bias), per-token L2 normalization, MaxSim.
    Colbert { projection: Var },
}

/// Encoded texts of one side of a batch.
pub enum Encoded {
    /// `[n, d]`
    Vectors(Tensor),
    /// `[n, len, dim]` and `[n, len]` (1 = a token that counts, 0 = not).
    Tokens(Tensor, Tensor),
}

pub struct TrainModel {
    pub bert: TrainBert,
    pub head: Head,
    pad_id: u32,
}

/// Pads inputs into `[n, len]` id, mask and keep tensors.
fn pad(inputs: &[&Input], pad_id: u32, dtype: DType) -> Result<(Tensor, Tensor, Tensor)> {
    let n = inputs.len();
    let len = inputs.iter().map(|i| i.ids.len()).max().unwrap_or(1).max(1);
    let (mut ids, mut mask, mut keep) = (
        vec![pad_id; n * len],
        vec![0u32; n * len],
        vec![0f32; n * len],
    );
    for (r, inp) in inputs.iter().enumerate() {
        for t in 0..inp.ids.len() {
            ids[r * len + t] = inp.ids[t];
            mask[r * len + t] = inp.mask[t];
            keep[r * len + t] = f32::from(u8::from(inp.keep[t]));
        }
    }
    let dev = Device::Cpu;
    Ok((
        Tensor::from_vec(ids, (n, len), &dev)?,
        Tensor::from_vec(mask, (n, len), &dev)?,
        Tensor::from_vec(keep, (n, len), &dev)?.to_dtype(dtype)?,
    ))
}

impl TrainModel {
    pub fn new(bert: TrainBert, head: Head, pad_id: u32) -> Self {
        TrainModel { bert, head, pad_id }
    }

    /// Loads the encoder of `root` and a dense head.
    pub fn dense(
        root: &Path,
        dtype: DType,
        trainable: Trainable,
        cls: bool,
        normalize: bool,
    ) -> Result<Self> {
        Ok(Self::new(
            TrainBert::load(root, dtype, trainable)?,
            Head::Dense { cls, normalize },
            0,
        ))
    }

    /// Trained variables: (name, variable, is a head parameter).
    pub fn trained(&self) -> Vec<(String, Var, bool)> {
        let mut v: Vec<(String, Var, bool)> = self
            .bert
            .vars()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.clone(), false))
            .collect();
        if let Head::Colbert { projection } = &self.head {
            v.push(("linear.weight".into(), projection.clone(), true));
        }
        v
    }

    /// Encodes texts (the forward pass, recorded for backward).
    pub fn encode(&self, inputs: &[&Input]) -> Result<Encoded> {
        let dtype = self.bert.dtype();
        let (ids, mask, keep) = pad(inputs, self.pad_id, dtype)?;
        let hidden = self.bert.forward(&ids, &mask)?;
        Ok(match &self.head {
            Head::Dense { cls, normalize } => {
                let pooled = if *cls {
                    hidden.narrow(1, 0, 1)?.squeeze(1)?
                } else {
                    let m = keep.unsqueeze(2)?;
                    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
                    sum.broadcast_div(&m.sum(1)?.clamp(1e-9, f64::MAX)?)?
                };
                Encoded::Vectors(if *normalize {
                    l2_normalize(&pooled)?
                } else {
                    pooled
                })
            }
            Head::Colbert { projection } => {
                let (n, len, h) = hidden.dims3()?;
                let p = hidden
                    .reshape((n * len, h))?
                    .matmul(&projection.as_tensor().t()?)?;
                let dim = p.dim(1)?;
                Encoded::Tokens(l2_normalize(&p)?.reshape((n, len, dim))?, keep)
            }
        })
    }

    /// Scores `[nq, nd]`: dot products of vectors, or MaxSim (per query token the
    /// best document token among those that count, summed over query tokens).
    pub fn scores(&self, q: &Encoded, d: &Encoded) -> Result<Tensor> {
        match (q, d) {
            (Encoded::Vectors(q), Encoded::Vectors(d)) => Ok(q.matmul(&d.t()?)?),
            (Encoded::Tokens(q, qk), Encoded::Tokens(d, dk)) => {
                let (nq, lq, dim) = q.dims3()?;
                let (nd, ld, _) = d.dims3()?;
                let sim = q
                    .reshape((nq * lq, dim))?
                    .matmul(&d.reshape((nd * ld, dim))?.t()?)?
                    .reshape((nq, lq, nd, ld))?;
                // Tokens that do not count: −10 (cosines are ≥ −1).
                let dbias = ((dk - 1.0)? * 10.0)?.reshape((1, 1, nd, ld))?;
                let best = sim.broadcast_add(&dbias)?.max(D::Minus1)?;
                Ok(best.broadcast_mul(&qk.unsqueeze(2)?)?.sum(1)?)
            }
            _ => crate::bail!("query and document encodings of different kinds"),
        }
    }

    /// Weights as they are now: the encoder's file, and the head's.
    pub fn snapshot(&self) -> (HashMap<String, Tensor>, Option<Tensor>) {
        let head = match &self.head {
            Head::Colbert { projection } => Some(projection.as_tensor().copy().expect("CPU copy")),
            Head::Dense { .. } => None,
        };
        (self.bert.snapshot(), head)
    }
}
