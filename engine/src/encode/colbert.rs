//! ColBERT checkpoints (late interaction) in their Hugging Face layouts:
//!
//! - ColBERT v2 (`colbert-ai`): a BERT under `bert.*` plus `linear.weight`
//!   (`dim × hidden`, no bias) in the same weights file, and `artifact.metadata` with
//!   `query_maxlen`, `doc_maxlen`, `dim`, `mask_punctuation`, `attend_to_mask_tokens`,
//!   `query_token_id` (`[unused0]`) and `doc_token_id` (`[unused1]`).
//! - PyLate / sentence-transformers: `modules.json` with a Transformer and a `Dense`
//!   module (its folder holds `config.json` and `model.safetensors` with
//!   `linear.weight`), and `config_sentence_transformers.json` with `query_prefix`,
//!   `document_prefix`, `query_length`, `document_length`, `do_query_expansion`,
//!   `attend_to_expansion_tokens`, `skiplist_words`.
//!
//! Both encode the same way: `[CLS] marker tokens… [SEP]` (the marker right after
//! `[CLS]`; a prefix that is one vocabulary token, like `[unused0]` or an added `[Q]`),
//! truncated to the side's maximum length; queries padded with `[MASK]` up to the
//! query length (attended to only when the checkpoint says so, their outputs kept:
//! query augmentation); hidden states → projection → per-token L2 normalization;
//! documents drop padding and the punctuation skiplist.

use std::collections::HashSet;
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde_json::Value;

use crate::dense::Bert;
use crate::encoder::Side;
use crate::model::{Backend, ModelDir, TextTokenizer, backend_for, packed_batches};
use crate::{Error, Result};

/// A ColBERT-style multi-vector encoder.
pub struct ColbertEncoder {
    name: String,
    bert: Bert,
    linear: Linear,
    /// The projection for the native backend (`None` on candle).
    native_linear: Option<seine_kernels::bert::Linear>,
    dim: usize,
    query_tok: TextTokenizer,
    doc_tok: TextTokenizer,
    query_maxlen: usize,
    query_marker: u32,
    doc_marker: u32,
    mask_id: u32,
    pad_id: u32,
    expand_query: bool,
    attend_to_mask: bool,
    skiplist: HashSet<u32>,
    device: Device,
}

fn read_json(p: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(p).map_err(|e| Error::Model(format!("{}: {e}", p.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::Model(format!("{}: {e}", p.display())))
}

use crate::settings::{DEFAULT_COLBERT_DOC_LEN, DEFAULT_COLBERT_QUERY_LEN, PUNCTUATION};

/// A ColBERT checkpoint's settings, read from either layout; each default applied
/// once, in the layout's reader.
#[derive(Debug, Clone)]
struct ColbertMeta {
    query_maxlen: usize,
    doc_maxlen: usize,
    query_marker: String,
    doc_marker: String,
    mask_punctuation: bool,
    attend_to_mask: bool,
    expand_query: bool,
    skiplist_words: Vec<String>,
}

fn len_or(v: &Value, default: usize) -> usize {
    v.as_u64().map_or(default, |n| n as usize)
}

impl ColbertEncoder {
    /// Whether a folder is a ColBERT checkpoint in one of the supported layouts.
    pub fn is_checkpoint(root: &Path) -> bool {
        root.join("artifact.metadata").is_file() || Self::pylate_dense_dir(root).is_some()
    }

    fn pylate_dense_dir(root: &Path) -> Option<std::path::PathBuf> {
        let m = read_json(&root.join("modules.json")).ok()?;
        m.as_array()?.iter().find_map(|e| {
            let ty = e["type"].as_str()?;
            (ty.ends_with(".Dense")).then(|| root.join(e["path"].as_str().unwrap_or("")))
        })
    }

    pub fn load(dir: &ModelDir, device: &Device) -> Result<Self> {
        Self::load_with(dir, device, backend_for(device))
    }

    /// The ColBERT v2 layout: `linear.weight` beside `bert.*`, settings in
    /// `artifact.metadata`.
    fn v2_projection(
        dir: &ModelDir,
        hidden: usize,
        device: &Device,
    ) -> Result<(Linear, ColbertMeta)> {
        let root = &dir.root;
        let meta = read_json(&root.join("artifact.metadata"))?;
        let dim = meta["dim"].as_u64().unwrap_or(128) as usize;
        let vb = crate::model::native::var_builder(dir, device)?;
        let w = vb.get((dim, hidden), "linear.weight").map_err(|e| {
            Error::Model(format!(
                "{}: ColBERT projection `linear.weight`: {e}",
                root.display()
            ))
        })?;
        let m = ColbertMeta {
            query_maxlen: len_or(&meta["query_maxlen"], DEFAULT_COLBERT_QUERY_LEN),
            doc_maxlen: len_or(&meta["doc_maxlen"], DEFAULT_COLBERT_DOC_LEN),
            query_marker: meta["query_token_id"]
                .as_str()
                .unwrap_or("[unused0]")
                .into(),
            doc_marker: meta["doc_token_id"].as_str().unwrap_or("[unused1]").into(),
            mask_punctuation: meta["mask_punctuation"].as_bool().unwrap_or(true),
            attend_to_mask: meta["attend_to_mask_tokens"].as_bool().unwrap_or(false),
            expand_query: true,
            skiplist_words: Vec::new(),
        };
        Ok((Linear::new(w, None), m))
    }

    /// The PyLate layout: a sentence-transformers Dense module, settings in
    /// `config_sentence_transformers.json`.
    fn pylate_projection(
        root: &Path,
        dense_dir: &Path,
        hidden: usize,
        device: &Device,
    ) -> Result<(Linear, ColbertMeta)> {
        let dcfg = read_json(&dense_dir.join("config.json"))?;
        let (inp, out) = (
            dcfg["in_features"].as_u64().unwrap_or(hidden as u64) as usize,
            dcfg["out_features"].as_u64().unwrap_or(128) as usize,
        );
        let wpath = dense_dir.join("model.safetensors");
        // SAFETY: read-only mapping of a model file seine never writes.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&wpath], DType::F32, device)? };
        let w = vb.get((out, inp), "linear.weight").map_err(|e| {
            Error::Model(format!("{}: Dense `linear.weight`: {e}", wpath.display()))
        })?;
        let b = if dcfg["bias"].as_bool().unwrap_or(false) {
            Some(vb.get(out, "linear.bias")?)
        } else {
            None
        };
        let st = read_json(&root.join("config_sentence_transformers.json")).unwrap_or(Value::Null);
        let m = ColbertMeta {
            query_maxlen: len_or(&st["query_length"], DEFAULT_COLBERT_QUERY_LEN),
            doc_maxlen: len_or(&st["document_length"], DEFAULT_COLBERT_DOC_LEN),
            query_marker: st["query_prefix"].as_str().unwrap_or("[Q] ").into(),
            doc_marker: st["document_prefix"].as_str().unwrap_or("[D] ").into(),
            mask_punctuation: true,
            attend_to_mask: st["attend_to_expansion_tokens"].as_bool().unwrap_or(false),
            expand_query: st["do_query_expansion"].as_bool().unwrap_or(true),
            skiplist_words: st["skiplist_words"]
                .as_array()
                .map(|w| {
                    w.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        };
        Ok((Linear::new(w, b), m))
    }

    pub fn load_with(dir: &ModelDir, device: &Device, backend: Backend) -> Result<Self> {
        let root = &dir.root;
        let cfg = dir.bert_config()?;
        let bert = Bert::load(dir, device, backend)?;
        let marker = |tok: &TextTokenizer, s: &str| {
            tok.token_id(s.trim()).ok_or_else(|| {
                Error::Model(format!(
                    "{}: marker {s:?} is not one vocabulary token",
                    root.display()
                ))
            })
        };
        let (linear, meta) = if root.join("artifact.metadata").is_file() {
            Self::v2_projection(dir, cfg.hidden_size, device)?
        } else if let Some(dense_dir) = Self::pylate_dense_dir(root) {
            Self::pylate_projection(root, &dense_dir, cfg.hidden_size, device)?
        } else {
            return Err(Error::Model(format!(
                "{}: not a ColBERT checkpoint (no artifact.metadata, no Dense module in modules.json)",
                root.display()
            )));
        };
        let (qlen, dlen) = (meta.query_maxlen, meta.doc_maxlen);
        if qlen < 3 || dlen < 3 {
            return Err(Error::Model(format!(
                "{}: query/doc max length below 3",
                root.display()
            )));
        }
        // One slot of each maximum length is the marker.
        let query_tok = TextTokenizer::load(&dir.tokenizer, qlen - 1)?;
        let doc_tok = TextTokenizer::load(&dir.tokenizer, dlen - 1)?;
        let mut skiplist = HashSet::new();
        if meta.mask_punctuation {
            skiplist.extend(
                PUNCTUATION
                    .chars()
                    .filter_map(|c| doc_tok.token_id(&c.to_string())),
            );
        }
        skiplist.extend(
            meta.skiplist_words
                .iter()
                .filter_map(|w| doc_tok.token_id(w)),
        );
        let dim = linear.weight().dim(0)?;
        let native_linear = match bert {
            Bert::Native(_) => {
                let w = linear.weight().flatten_all()?.to_vec1::<f32>()?;
                let b = linear.bias().map(|b| b.to_vec1::<f32>()).transpose()?;
                Some(seine_kernels::bert::Linear::from_torch(
                    &w,
                    b,
                    dim,
                    cfg.hidden_size,
                ))
            }
            Bert::Candle(_) => None,
        };
        Ok(ColbertEncoder {
            name: dir.name(),
            bert,
            linear,
            native_linear,
            dim,
            query_maxlen: qlen,
            query_marker: marker(&query_tok, &meta.query_marker)?,
            doc_marker: marker(&doc_tok, &meta.doc_marker)?,
            mask_id: query_tok.token_id("[MASK]").unwrap_or(103),
            pad_id: query_tok.pad_id(),
            expand_query: meta.expand_query,
            attend_to_mask: meta.attend_to_mask,
            skiplist,
            query_tok,
            doc_tok,
            device: device.clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Input ids, attention mask and which outputs to keep for one text.
    pub fn inputs(&self, text: &str, side: Side) -> Result<(Vec<u32>, Vec<u32>, Vec<bool>)> {
        let (tok, marker) = match side {
            Side::Query => (&self.query_tok, self.query_marker),
            Side::Document => (&self.doc_tok, self.doc_marker),
        };
        let enc = tok.encode(&[text])?.remove(0);
        let mut ids: Vec<u32> = Vec::with_capacity(enc.get_ids().len() + 1);
        ids.push(enc.get_ids()[0]);
        ids.push(marker);
        ids.extend_from_slice(&enc.get_ids()[1..]);
        let mut mask = vec![1u32; ids.len()];
        let mut keep: Vec<bool> = match side {
            Side::Query => vec![true; ids.len()],
            Side::Document => ids.iter().map(|id| !self.skiplist.contains(id)).collect(),
        };
        if side == Side::Query && self.expand_query {
            while ids.len() < self.query_maxlen {
                ids.push(self.mask_id);
                mask.push(u32::from(self.attend_to_mask));
                keep.push(true);
            }
        }
        Ok((ids, mask, keep))
    }

    /// The tokens a query's vectors stand for (marker and `[MASK]` expansion included).
    pub fn query_tokens(&self, text: &str) -> Result<Vec<String>> {
        let (ids, _, _) = self.inputs(text, Side::Query)?;
        let tok = self.query_tok.inner();
        Ok(ids
            .iter()
            .map(|&id| tok.id_to_token(id).unwrap_or_else(|| id.to_string()))
            .collect())
    }

    /// Token vectors of each text (row-major `rows × dim`, L2-normalized rows).
    pub fn encode(&self, texts: &[&str], side: Side) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        // Texts are encoded in small padded batches of similar length.
        let inputs: Vec<_> = texts
            .iter()
            .map(|t| self.inputs(t, side))
            .collect::<Result<_>>()?;
        if let Bert::Native(bert) = &self.bert {
            return Ok(self.encode_native(bert, &inputs));
        }
        let Bert::Candle(model) = &self.bert else {
            unreachable!("native handled above")
        };
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].0.len()));
        let mut results: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(32) {
            let len = chunk.iter().map(|&i| inputs[i].0.len()).max().unwrap_or(1);
            let (mut ids, mut mask) = (Vec::new(), Vec::new());
            for &i in chunk {
                let (id, m, _) = &inputs[i];
                ids.extend_from_slice(id);
                ids.extend(std::iter::repeat_n(self.pad_id, len - id.len()));
                mask.extend_from_slice(m);
                mask.extend(std::iter::repeat_n(0u32, len - id.len()));
            }
            let b = chunk.len();
            let ids_t = Tensor::from_slice(&ids, (b, len), &self.device)?;
            let mask_t = Tensor::from_slice(&mask, (b, len), &self.device)?;
            let hidden = model.forward(&ids_t, &ids_t.zeros_like()?, Some(&mask_t))?;
            let proj = self.linear.forward(&hidden)?.to_vec3::<f32>()?;
            for (j, &i) in chunk.iter().enumerate() {
                let (id, _, keep) = &inputs[i];
                let mut v = Vec::with_capacity(id.len() * self.dim);
                for t in 0..id.len() {
                    if !keep[t] {
                        continue;
                    }
                    let start = v.len();
                    v.extend_from_slice(&proj[j][t]);
                    seine_kernels::l2_normalize(&mut v[start..]);
                }
                results[i] = v;
            }
        }
        out.extend(results);
        Ok(out)
    }

    /// The native backend: packed sequences; query expansion tokens attend only to the
    /// real tokens before them unless the checkpoint attends to them.
    #[allow(clippy::type_complexity)]
    fn encode_native(
        &self,
        bert: &crate::model::NativeBert,
        inputs: &[(Vec<u32>, Vec<u32>, Vec<bool>)],
    ) -> Vec<Vec<f32>> {
        let lin = self
            .native_linear
            .as_ref()
            .expect("native projection loaded with the native backend");
        let dim = self.dim;
        let mut results = vec![Vec::new(); inputs.len()];
        let seqs = inputs.iter().map(|(ids, _, _)| ids.as_slice());
        for pack in packed_batches(seqs, crate::settings::DEFAULT_TOKEN_BUDGET) {
            // The mask is 1 on a prefix (the real tokens) and 0 on the expansion.
            let keys: Vec<usize> = pack
                .indices
                .iter()
                .map(|&i| inputs[i].1.iter().filter(|&&m| m == 1).count().max(1))
                .collect();
            let t = pack.ids.len();
            let mut proj = vec![0f32; t * dim];
            bert.forward(&pack.ids, &pack.lens, Some(&keys), |hidden| {
                lin.product(hidden, t, &mut proj);
            });
            if let Some(b) = &lin.b {
                seine_kernels::ops::add_bias(&mut proj, b);
            }
            let mut row = 0;
            for (&i, &len) in pack.indices.iter().zip(&pack.lens) {
                let keep = &inputs[i].2;
                let v = &mut results[i];
                for (t, &k) in keep.iter().enumerate().take(len) {
                    if k {
                        v.extend_from_slice(&proj[(row + t) * dim..(row + t + 1) * dim]);
                    }
                }
                seine_kernels::ops::l2_normalize_rows(v, dim);
                row += len;
            }
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::resolve_model;

    const DIM: usize = 48;

    fn projection() -> Tensor {
        let mut s = 99u64;
        let w: Vec<f32> = (0..DIM * 384)
            .map(|_| seine_kernels::rng::centered(&mut s))
            .collect();
        Tensor::from_vec(w, (DIM, 384), &Device::Cpu).unwrap()
    }

    /// Writes MiniLM + a projection in the ColBERT v2 layout and in the PyLate layout.
    fn write_checkpoints(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let minilm = resolve_model(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/minilm"))
            .expect("run scripts/fetch-models.sh");
        let tensors =
            candle_core::safetensors::load(minilm.join("model.safetensors"), &Device::Cpu).unwrap();
        let w = projection();
        let v2 = dir.join("colbert-v2");
        std::fs::create_dir_all(&v2).unwrap();
        let mut named: HashMap<String, Tensor> = tensors
            .iter()
            .map(|(k, t)| (format!("bert.{k}"), t.clone()))
            .collect();
        named.insert("linear.weight".into(), w.clone());
        candle_core::safetensors::save(&named, v2.join("model.safetensors")).unwrap();
        for f in ["config.json", "tokenizer.json"] {
            std::fs::copy(minilm.join(f), v2.join(f)).unwrap();
        }
        std::fs::write(
            v2.join("artifact.metadata"),
            serde_json::json!({"query_maxlen": 16, "doc_maxlen": 40, "dim": DIM,
                "mask_punctuation": true, "attend_to_mask_tokens": false,
                "query_token_id": "[unused0]", "doc_token_id": "[unused1]"})
            .to_string(),
        )
        .unwrap();
        let py = dir.join("pylate");
        std::fs::create_dir_all(py.join("1_Dense")).unwrap();
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::copy(minilm.join(f), py.join(f)).unwrap();
        }
        std::fs::write(
            py.join("modules.json"),
            r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
                {"idx":1,"name":"1","path":"1_Dense","type":"pylate.models.Dense.Dense"}]"#,
        )
        .unwrap();
        std::fs::write(
            py.join("1_Dense/config.json"),
            serde_json::json!({"in_features": 384, "out_features": DIM, "bias": false}).to_string(),
        )
        .unwrap();
        let d: HashMap<String, Tensor> = [("linear.weight".to_string(), w)].into();
        candle_core::safetensors::save(&d, py.join("1_Dense/model.safetensors")).unwrap();
        std::fs::write(
            py.join("config_sentence_transformers.json"),
            serde_json::json!({"query_prefix": "[unused0]", "document_prefix": "[unused1]",
                "query_length": 16, "document_length": 40, "do_query_expansion": true,
                "attend_to_expansion_tokens": false, "skiplist_words": []})
            .to_string(),
        )
        .unwrap();
        (v2, py)
    }

    #[test]
    fn both_layouts_load_and_match_a_hand_computed_reference_native() {
        layouts_match_reference(Backend::Native);
    }

    #[test]
    fn both_layouts_load_and_match_a_hand_computed_reference_candle() {
        layouts_match_reference(Backend::Candle);
    }

    #[test]
    fn native_equals_candle_with_query_expansion() {
        let t = tempfile::tempdir().unwrap();
        let (_, py) = write_checkpoints(t.path());
        let dir = ModelDir::open(&py).unwrap();
        let n = ColbertEncoder::load_with(&dir, &Device::Cpu, Backend::Native).unwrap();
        let c = ColbertEncoder::load_with(&dir, &Device::Cpu, Backend::Candle).unwrap();
        let texts = [
            "What causes muscle cramps?",
            "a",
            "Paris, the capital of France.",
        ];
        for side in [Side::Query, Side::Document] {
            let (vn, vc) = (
                n.encode(&texts, side).unwrap(),
                c.encode(&texts, side).unwrap(),
            );
            for (x, y) in vn.iter().zip(&vc) {
                assert_eq!(x.len(), y.len());
                let worst = x
                    .iter()
                    .zip(y)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0f32, f32::max);
                assert!(worst < 1e-4, "{side:?}: native vs candle differ by {worst}");
            }
        }
    }

    fn layouts_match_reference(backend: Backend) {
        let t = tempfile::tempdir().unwrap();
        let (v2, py) = write_checkpoints(t.path());
        assert!(ColbertEncoder::is_checkpoint(&v2) && ColbertEncoder::is_checkpoint(&py));
        let a = ColbertEncoder::load_with(&ModelDir::open(&v2).unwrap(), &Device::Cpu, backend)
            .unwrap();
        let b = ColbertEncoder::load_with(&ModelDir::open(&py).unwrap(), &Device::Cpu, backend)
            .unwrap();
        assert_eq!(a.dim(), DIM);
        let texts = [
            "What causes muscle cramps?",
            "Paris, the capital of France, is large.",
            "",
        ];
        for side in [Side::Query, Side::Document] {
            let va = a.encode(&texts, side).unwrap();
            let vb = b.encode(&texts, side).unwrap();
            assert_eq!(va.len(), 3);
            for (x, y) in va.iter().zip(&vb) {
                assert_eq!(x.len(), y.len());
                assert!(x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-5));
            }
            if side == Side::Query {
                // Query augmentation: always query_maxlen vectors.
                assert!(va.iter().all(|v| v.len() == 16 * DIM));
            }
        }
        // Reference for one document, by hand: [CLS] [unused1] tokens [SEP] through the
        // BERT, projection and normalization in plain loops, punctuation dropped.
        let dir = ModelDir::open(&v2).unwrap();
        let bert = crate::dense::load_bert(&dir, &Device::Cpu).unwrap();
        let tok = TextTokenizer::load(&dir.tokenizer, 39).unwrap();
        let text = texts[1];
        let enc = tok.encode(&[text]).unwrap().remove(0);
        let mut ids = vec![enc.get_ids()[0], tok.token_id("[unused1]").unwrap()];
        ids.extend_from_slice(&enc.get_ids()[1..]);
        let ids_t = Tensor::from_slice(&ids, (1, ids.len()), &Device::Cpu).unwrap();
        let h = bert
            .forward(&ids_t, &ids_t.zeros_like().unwrap(), None)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let w = projection().to_vec2::<f32>().unwrap();
        let punct: Vec<u32> = [",", "."]
            .iter()
            .map(|p| tok.token_id(p).unwrap())
            .collect();
        let mut want = Vec::new();
        for (t, id) in ids.iter().enumerate() {
            if punct.contains(id) {
                continue;
            }
            let row: Vec<f32> = w
                .iter()
                .map(|wr| wr.iter().zip(&h[0][t]).map(|(a, b)| a * b).sum())
                .collect();
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            want.extend(row.iter().map(|x| x / n));
        }
        let got = &a.encode(&texts, Side::Document).unwrap()[1];
        assert_eq!(got.len(), want.len(), "punctuation dropped, marker kept");
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{g} vs {w}");
        }
    }

    #[test]
    fn not_a_checkpoint_is_a_clear_error() {
        let dir = ModelDir::open(
            &resolve_model(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/minilm")).unwrap(),
        )
        .unwrap();
        assert!(!ColbertEncoder::is_checkpoint(&dir.root));
        let e = ColbertEncoder::load(&dir, &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a ColBERT checkpoint"), "{e}");
    }
}
