//! A BERT encoder on candle tensors, built from primitive ops so that every step has a
//! backward pass (candle's fused layer-norm and softmax ops have none). Weights are
//! read from a model folder's `model.safetensors` and written back under the same
//! names, so the result is an ordinary Hugging Face / sentence-transformers folder.
//!
//! Only the top `trainable_layers` layers (and, with all layers trainable, the
//! embeddings) are `Var`s; the rest are constants, so their backward is never built.

use std::collections::HashMap;
use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use candle_core::{D, DType, Device, Tensor, Var};
use candle_transformers::models::bert::HiddenAct;
use seine_engine::model::WeightsFile;

/// Which weights train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trainable {
    /// Every weight, embeddings included.
    All,
    /// The top `n` transformer layers only.
    Top(usize),
    /// None (a head on a frozen encoder).
    None,
}

/// A named parameter: trainable (`Var`) or constant.
pub struct Param {
    pub name: String,
    pub var: Option<Var>,
    pub tensor: Tensor,
}

struct Layer {
    q: (Tensor, Tensor),
    k: (Tensor, Tensor),
    v: (Tensor, Tensor),
    attn_out: (Tensor, Tensor),
    attn_norm: (Tensor, Tensor),
    inter: (Tensor, Tensor),
    out: (Tensor, Tensor),
    out_norm: (Tensor, Tensor),
}

/// The encoder.
pub struct TrainBert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    emb_norm: (Tensor, Tensor),
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    eps: f64,
    /// Every tensor of the weights file (trained or not), in file order of names.
    params: Vec<Param>,
}

const NEG: f64 = -1e9;

impl TrainBert {
    /// Loads the model folder `root` the way the engine does (`ModelDir`: its
    /// `config.json` as a BERT config, `model.safetensors` or `pytorch_model.bin`) in
    /// `dtype` (F32 for training, F64 for gradient checks).
    pub fn load(root: &Path, dtype: DType, trainable: Trainable) -> Result<Self> {
        let dir = seine_engine::model::ModelDir::open(root)?;
        let cfg = dir.bert_config()?;
        let (hidden, heads, n_layers) = (
            cfg.hidden_size,
            cfg.num_attention_heads,
            cfg.num_hidden_layers,
        );
        if cfg.hidden_act != HiddenAct::Gelu {
            bail!("{}: only hidden_act \"gelu\" trains", root.display());
        }
        let eps = cfg.layer_norm_eps;
        let (path, raw): (&Path, HashMap<String, Tensor>) = match &dir.weights {
            WeightsFile::Safetensors(p) => (
                p,
                candle_core::safetensors::load(p, &Device::Cpu)
                    .with_context(|| format!("{}", p.display()))?,
            ),
            WeightsFile::PyTorch(p) => (
                p,
                candle_core::pickle::read_all(p)
                    .with_context(|| format!("{}", p.display()))?
                    .into_iter()
                    .collect(),
            ),
        };
        let prefix = if raw.contains_key("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let layer_of = |name: &str| -> Option<usize> {
            let rest = name.strip_prefix(prefix)?.strip_prefix("encoder.layer.")?;
            rest.split('.').next()?.parse().ok()
        };
        let is_trainable = |name: &str| match trainable {
            Trainable::All => true,
            Trainable::None => false,
            Trainable::Top(n) => layer_of(name).is_some_and(|l| l + n >= n_layers),
        };
        let mut names: Vec<&String> = raw.keys().collect();
        names.sort();
        let mut params = Vec::with_capacity(names.len());
        let mut by_name = HashMap::new();
        for name in names {
            let t = &raw[name];
            let t = if t.dtype().is_float() {
                t.to_dtype(dtype)?
            } else {
                t.clone()
            };
            let (var, tensor) = if t.dtype().is_float() && is_trainable(name) {
                let v = Var::from_tensor(&t)?;
                let tensor = v.as_tensor().clone();
                (Some(v), tensor)
            } else {
                (None, t)
            };
            by_name.insert(name.clone(), tensor.clone());
            params.push(Param {
                name: name.clone(),
                var,
                tensor,
            });
        }
        let t = |n: &str| -> Result<Tensor> {
            by_name
                .get(&format!("{prefix}{n}"))
                .cloned()
                .with_context(|| format!("{}: no tensor {prefix}{n}", path.display()))
        };
        let wb = |n: &str| -> Result<(Tensor, Tensor)> {
            Ok((t(&format!("{n}.weight"))?, t(&format!("{n}.bias"))?))
        };
        let norm = |n: &str| -> Result<(Tensor, Tensor)> {
            wb(n).or_else(|_| Ok((t(&format!("{n}.gamma"))?, t(&format!("{n}.beta"))?)))
        };
        let layers = (0..n_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    q: wb(&format!("{p}.attention.self.query"))?,
                    k: wb(&format!("{p}.attention.self.key"))?,
                    v: wb(&format!("{p}.attention.self.value"))?,
                    attn_out: wb(&format!("{p}.attention.output.dense"))?,
                    attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                    inter: wb(&format!("{p}.intermediate.dense"))?,
                    out: wb(&format!("{p}.output.dense"))?,
                    out_norm: norm(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TrainBert {
            word: t("embeddings.word_embeddings.weight")?,
            position: t("embeddings.position_embeddings.weight")?,
            token_type: t("embeddings.token_type_embeddings.weight")?.narrow(0, 0, 1)?,
            emb_norm: norm("embeddings.LayerNorm")?,
            layers,
            heads,
            hidden,
            eps,
            params,
        })
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }

    pub fn dtype(&self) -> DType {
        self.word.dtype()
    }

    /// Every tensor of the weights file.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The trainable variables.
    pub fn vars(&self) -> Vec<(&str, &Var)> {
        self.params
            .iter()
            .filter_map(|p| p.var.as_ref().map(|v| (p.name.as_str(), v)))
            .collect()
    }

    /// Hidden states `[b, len, hidden]` of a padded batch: `ids` `[b, len]` (u32),
    /// `mask` `[b, len]` (1 = a key to attend to, 0 = padding or an unattended
    /// expansion token; every position still gets an output).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, len) = ids.dims2()?;
        let h = self.hidden;
        let dev = ids.device();
        let pos = Tensor::arange(0u32, len as u32, dev)?;
        let x = self
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, len, h))?
            .broadcast_add(&self.position.index_select(&pos, 0)?)?
            .broadcast_add(&self.token_type)?;
        let mut x = layer_norm(&x, &self.emb_norm, self.eps)?.reshape((b * len, h))?;
        // 0 where attended, a large negative where not: `[b, 1, 1, len]`.
        let bias = ((mask.to_dtype(self.dtype())? - 1.0)? * -NEG)?
            .reshape((b, 1, 1, len))?
            .contiguous()?;
        for l in &self.layers {
            x = self.layer(l, &x, &bias, b, len)?;
        }
        Ok(x.reshape((b, len, h))?)
    }

    fn layer(&self, l: &Layer, x: &Tensor, bias: &Tensor, b: usize, len: usize) -> Result<Tensor> {
        let (h, nh) = (self.hidden, self.heads);
        let dh = h / nh;
        let split = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((b, len, nh, dh))?.transpose(1, 2)?.contiguous()?)
        };
        let q = split(linear(x, &l.q)?)?;
        let k = split(linear(x, &l.k)?)?;
        let v = split(linear(x, &l.v)?)?;
        let p = crate::ops::masked_softmax(&q.matmul(&k.t()?)?, bias, 1.0 / (dh as f64).sqrt())?;
        let ctx = p
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * len, h))?;
        let a = layer_norm(&(linear(&ctx, &l.attn_out)? + x)?, &l.attn_norm, self.eps)?;
        let i = crate::ops::gelu_erf(&linear(&a, &l.inter)?)?;
        layer_norm(&(linear(&i, &l.out)? + &a)?, &l.out_norm, self.eps)
    }

    /// The weights as they are now, under the file's names (for saving).
    pub fn snapshot(&self) -> HashMap<String, Tensor> {
        self.params
            .iter()
            .map(|p| {
                // A deep copy: variables are updated in place.
                let t = match &p.var {
                    Some(v) => v.as_tensor().copy().expect("copy of a CPU tensor"),
                    None => p.tensor.clone(),
                };
                (p.name.clone(), t)
            })
            .collect()
    }
}

/// `x W^T + b` for `x` `[n, in]`.
pub fn linear(x: &Tensor, (w, b): &(Tensor, Tensor)) -> Result<Tensor> {
    Ok(x.matmul(&w.t()?)?.broadcast_add(b)?)
}

/// LayerNorm over the last dimension (the fused op of [`crate::ops`]).
pub fn layer_norm(x: &Tensor, (g, b): &(Tensor, Tensor), eps: f64) -> Result<Tensor> {
    Ok(crate::ops::layer_norm(x, g, b, eps)?)
}

/// LayerNorm from primitive ops (the oracle of the fused one).
pub fn layer_norm_plain(x: &Tensor, (g, b): &(Tensor, Tensor), eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + eps)?.sqrt()?)?;
    Ok(xn.broadcast_mul(g)?.broadcast_add(b)?)
}

/// Softmax over the last dimension (the max is a constant shift: detached).
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&m)?.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

/// Log-softmax over the last dimension.
pub fn log_softmax_last(x: &Tensor) -> Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let xs = x.broadcast_sub(&m)?;
    let lse = xs.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(xs.broadcast_sub(&lse)?)
}

/// Rows divided by their L2 norm (last dimension).
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let n = (x.sqr()?.sum_keepdim(D::Minus1)? + 1e-12)?.sqrt()?;
    Ok(x.broadcast_div(&n)?)
}
