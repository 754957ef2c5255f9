//! Which implementation runs BERT-family encoders, and the native CPU one's wiring:
//! weights read through the same `VarBuilder` as candle's (safetensors or `.bin`, the
//! same renames), copied once into `seine_kernels::bert` types in the layout its
//! products read, and a pool of scratch buffers so steady-state encoding allocates
//! nothing per op.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use seine_kernels::bert::{Activation, Bert, Layer, LayerNorm, Linear, MlmHead, Scratch};

use super::{ModelDir, WeightsFile};
use crate::{Error, Result};

/// The implementation of the transformer forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// seine's own CPU kernels (`seine_kernels::bert`): packed variable-length
    /// sequences, fused ops, run-time AVX2/AVX-512 dispatch. The CPU default.
    Native,
    /// candle's `BertModel` (padded batches): the CUDA path and the test oracle.
    Candle,
}

impl std::str::FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "native" => Ok(Backend::Native),
            "candle" => Ok(Backend::Candle),
            _ => Err(Error::InvalidArgument(format!(
                "unknown backend {s:?} (expected native or candle)"
            ))),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Native => "native",
            Backend::Candle => "candle",
        })
    }
}

/// 0: not set (then `$SEINE_BACKEND`, else native), 1: native, 2: candle.
static CPU_BACKEND: AtomicU8 = AtomicU8::new(0);

/// Sets the backend CPU encoders load with from now on (the CLI's `--backend`).
pub fn set_cpu_backend(b: Backend) {
    CPU_BACKEND.store(
        match b {
            Backend::Native => 1,
            Backend::Candle => 2,
        },
        Ordering::Relaxed,
    );
}

/// The backend for encoders on `device`: on the CPU the one set by
/// [`set_cpu_backend`], else `$SEINE_BACKEND`, else native; on CUDA always candle.
pub fn backend_for(device: &Device) -> Backend {
    if !device.is_cpu() {
        return Backend::Candle;
    }
    match CPU_BACKEND.load(Ordering::Relaxed) {
        1 => Backend::Native,
        2 => Backend::Candle,
        _ => match std::env::var("SEINE_BACKEND").as_deref() {
            Ok("candle") => Backend::Candle,
            _ => Backend::Native,
        },
    }
}

/// The arithmetic of the native encoder's linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 everywhere (the default; parity with the Python references).
    F32,
    /// The encoder layers' products in int8: weights per output channel, activations
    /// per token at run time, exact i32 accumulation (AVX-512 VNNI, AVX2, portable);
    /// embeddings, attention, LayerNorm and the SPLADE head stay f32.
    Int8,
    /// The encoder layers' products on bf16-rounded operands with f32 accumulation
    /// (AVX512-BF16 `vdpbf16ps`; a portable loop elsewhere, slower than f32).
    Bf16,
}

impl std::str::FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Precision::F32),
            "int8" => Ok(Precision::Int8),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(Error::InvalidArgument(format!(
                "unknown precision {s:?} (expected f32, int8 or bf16)"
            ))),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
            Precision::Bf16 => "bf16",
        })
    }
}

/// 0: not set (then `$SEINE_PRECISION`, else f32), 1: f32, 2: int8, 3: bf16.
static CPU_PRECISION: AtomicU8 = AtomicU8::new(0);

/// Sets the precision native encoders load with from now on (the CLI's `--precision`).
pub fn set_cpu_precision(p: Precision) {
    CPU_PRECISION.store(
        match p {
            Precision::F32 => 1,
            Precision::Int8 => 2,
            Precision::Bf16 => 3,
        },
        Ordering::Relaxed,
    );
}

/// The precision native encoders load with: [`set_cpu_precision`], else
/// `$SEINE_PRECISION`, else f32.
pub fn cpu_precision() -> Precision {
    match CPU_PRECISION.load(Ordering::Relaxed) {
        1 => Precision::F32,
        2 => Precision::Int8,
        3 => Precision::Bf16,
        _ => std::env::var("SEINE_PRECISION")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(Precision::F32),
    }
}

/// The folder's weights as a candle `VarBuilder` (f32): the one loading path of both
/// backends.
pub(crate) fn var_builder(dir: &ModelDir, device: &Device) -> Result<VarBuilder<'static>> {
    Ok(match &dir.weights {
        // SAFETY: the file is memory-mapped read-only; seine never writes model files.
        WeightsFile::Safetensors(p) => unsafe {
            VarBuilder::from_mmaped_safetensors(&[p], DType::F32, device)?
        },
        WeightsFile::PyTorch(p) => VarBuilder::from_pth(p, DType::F32, device)?,
    })
}

fn get(vb: &VarBuilder, shape: &[usize], name: &str) -> candle_core::Result<Vec<f32>> {
    vb.get(shape, name)?.flatten_all()?.to_vec1::<f32>()
}

/// An `nn.Linear` (`weight` `out × inp`, optional `bias`).
pub(crate) fn linear(
    vb: &VarBuilder,
    inp: usize,
    out: usize,
    bias: bool,
) -> candle_core::Result<Linear> {
    let w = get(vb, &[out, inp], "weight")?;
    let b = if bias {
        Some(get(vb, &[out], "bias")?)
    } else {
        None
    };
    Ok(Linear::from_torch(&w, b, out, inp))
}

/// A LayerNorm under `weight`/`bias` or the old `gamma`/`beta` names.
pub(crate) fn layer_norm(vb: &VarBuilder, h: usize, eps: f64) -> candle_core::Result<LayerNorm> {
    let (gamma, beta) = match get(vb, &[h], "weight") {
        Ok(g) => (g, get(vb, &[h], "bias")?),
        Err(e) => match get(vb, &[h], "gamma") {
            Ok(g) => (g, get(vb, &[h], "beta")?),
            Err(_) => return Err(e),
        },
    };
    Ok(LayerNorm {
        gamma,
        beta,
        eps: eps as f32,
    })
}

pub(crate) fn activation(a: HiddenAct) -> Activation {
    match a {
        HiddenAct::Gelu => Activation::GeluErf,
        HiddenAct::GeluApproximate => Activation::GeluTanh,
        HiddenAct::Relu => Activation::Relu,
    }
}

fn load_layer(vb: &VarBuilder, cfg: &Config) -> candle_core::Result<Layer> {
    let h = cfg.hidden_size;
    let att = vb.pp("attention");
    // One `h × 3h` product: outputs [q | k | v].
    let mut w = Vec::with_capacity(3 * h * h);
    let mut b = Vec::with_capacity(3 * h);
    for part in ["query", "key", "value"] {
        let p = att.pp("self").pp(part);
        w.extend(get(&p, &[h, h], "weight")?);
        b.extend(get(&p, &[h], "bias")?);
    }
    let i = cfg.intermediate_size;
    Ok(Layer {
        qkv: Linear::from_torch(&w, Some(b), 3 * h, h),
        attn_out: linear(&att.pp("output").pp("dense"), h, h, true)?,
        attn_norm: layer_norm(&att.pp("output").pp("LayerNorm"), h, cfg.layer_norm_eps)?,
        intermediate: linear(&vb.pp("intermediate").pp("dense"), h, i, true)?,
        output: linear(&vb.pp("output").pp("dense"), i, h, true)?,
        out_norm: layer_norm(&vb.pp("output").pp("LayerNorm"), h, cfg.layer_norm_eps)?,
    })
}

fn load_bert_at(vb: &VarBuilder, cfg: &Config) -> candle_core::Result<Bert> {
    let h = cfg.hidden_size;
    if cfg.num_attention_heads == 0 || !h.is_multiple_of(cfg.num_attention_heads) {
        candle_core::bail!(
            "hidden size {h} is not a multiple of {} heads",
            cfg.num_attention_heads
        );
    }
    let emb = vb.pp("embeddings");
    let word = get(&emb.pp("word_embeddings"), &[cfg.vocab_size, h], "weight")?;
    let position = get(
        &emb.pp("position_embeddings"),
        &[cfg.max_position_embeddings, h],
        "weight",
    )?;
    let types = get(
        &emb.pp("token_type_embeddings"),
        &[cfg.type_vocab_size, h],
        "weight",
    )?;
    let layers = (0..cfg.num_hidden_layers)
        .map(|i| load_layer(&vb.pp("encoder").pp(format!("layer.{i}")), cfg))
        .collect::<candle_core::Result<Vec<_>>>()?;
    Ok(Bert {
        hidden: h,
        heads: cfg.num_attention_heads,
        act: activation(cfg.hidden_act),
        word,
        position,
        token_type: types[..h].to_vec(),
        emb_norm: layer_norm(&emb.pp("LayerNorm"), h, cfg.layer_norm_eps)?,
        layers,
    })
}

/// A BERT encoder on the native backend.
pub struct NativeBert {
    bert: Bert,
    scratch: Mutex<Vec<Scratch>>,
}

impl NativeBert {
    /// Loads the encoder under the same prefixes candle's `BertModel::load` accepts:
    /// the root, `bert.`, or `<model_type>.`.
    pub(crate) fn load(vb: &VarBuilder, cfg: &Config, what: &str) -> Result<Self> {
        let mut prefixes = vec![vb.clone(), vb.pp("bert")];
        if let Some(t) = &cfg.model_type {
            prefixes.push(vb.pp(t));
        }
        let mut first_err = None;
        for p in prefixes {
            match load_bert_at(&p, cfg) {
                Ok(mut bert) => {
                    match cpu_precision() {
                        Precision::F32 => {}
                        Precision::Int8 => bert.quantize_int8(),
                        Precision::Bf16 => bert.to_bf16(),
                    }
                    return Ok(NativeBert {
                        bert,
                        scratch: Mutex::new(Vec::new()),
                    });
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(Error::Model(format!(
            "{what}: {}",
            first_err.expect("at least one prefix tried")
        )))
    }

    pub fn hidden(&self) -> usize {
        self.bert.hidden
    }

    /// Runs the encoder on packed sequences (see `seine_kernels::bert::Bert::forward`)
    /// and hands the last hidden states to `f`.
    pub fn forward<R>(
        &self,
        ids: &[u32],
        lens: &[usize],
        keys: Option<&[usize]>,
        f: impl FnOnce(&[f32]) -> R,
    ) -> R {
        let mut s = self
            .scratch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        let r = f(self.bert.forward(ids, lens, keys, &mut s));
        self.scratch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(s);
        r
    }
}

/// The MLM head (`cls.predictions`) for SPLADE on the native backend.
pub(crate) fn mlm_head(vb: &VarBuilder, cfg: &Config) -> candle_core::Result<MlmHead> {
    let (h, v) = (cfg.hidden_size, cfg.vocab_size);
    let t = vb.pp("transform");
    Ok(MlmHead {
        transform: linear(&t.pp("dense"), h, h, true)?,
        act: activation(cfg.hidden_act),
        norm: layer_norm(&t.pp("LayerNorm"), h, cfg.layer_norm_eps)?,
        decoder: linear(&vb.pp("decoder"), h, v, true)?,
    })
}
