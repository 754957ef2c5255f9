//! Reading a Hugging Face model folder: `config.json`, weights, `tokenizer.json`, and
//! the sentence-transformers files that say how to pool, normalize and truncate.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result};

/// Where the weights are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsFile {
    Safetensors(PathBuf),
    PyTorch(PathBuf),
}

/// How token vectors become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over non-padding tokens.
    Mean,
    /// The first (`[CLS]`) token.
    Cls,
}

/// A model folder and what its files say.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub root: PathBuf,
    pub config: Value,
    pub weights: WeightsFile,
    pub tokenizer: PathBuf,
    /// From `1_Pooling/config.json` (sentence-transformers); `None` when absent.
    pub pooling: Option<Pooling>,
    /// A `Normalize` module in `modules.json`.
    pub normalize: bool,
    /// `max_seq_length` of `sentence_bert_config.json`, else the model's
    /// `max_position_embeddings`.
    pub max_length: usize,
}

/// Resolves a model name or path: an existing folder is used as is; a bare name like
/// `minilm` is looked up in `$SEINE_MODELS`, then `./models`, then the `models` folder
/// of the source checkout.
pub fn resolve_model(name: &str) -> Result<PathBuf> {
    let p = Path::new(name);
    if p.is_dir() {
        return Ok(p.to_path_buf());
    }
    let mut tried = Vec::new();
    let mut roots = Vec::new();
    if let Some(m) = std::env::var_os("SEINE_MODELS") {
        roots.push(PathBuf::from(m));
    }
    roots.push(PathBuf::from("models"));
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"));
    for root in roots {
        let cand = root.join(name);
        if cand.is_dir() {
            return Ok(cand);
        }
        tried.push(cand.display().to_string());
    }
    Err(Error::ModelNotFound(format!(
        "model {name:?} not found (looked in {}); run scripts/fetch-models.sh or pass a \
         model folder",
        tried.join(", ")
    )))
}

fn read_json(path: &Path) -> Result<Value> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Model(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Model(format!("{}: {e}", path.display())))
}

impl ModelDir {
    pub fn open(root: &Path) -> Result<Self> {
        let config = read_json(&root.join("config.json"))?;
        let weights = if root.join("model.safetensors").is_file() {
            WeightsFile::Safetensors(root.join("model.safetensors"))
        } else if root.join("pytorch_model.bin").is_file() {
            WeightsFile::PyTorch(root.join("pytorch_model.bin"))
        } else {
            return Err(Error::Model(format!(
                "{}: no model.safetensors or pytorch_model.bin",
                root.display()
            )));
        };
        let tokenizer = root.join("tokenizer.json");
        if !tokenizer.is_file() {
            return Err(Error::Model(format!(
                "{}: no tokenizer.json",
                root.display()
            )));
        }
        let mut pooling = None;
        let mut normalize = false;
        let modules = root.join("modules.json");
        if modules.is_file() {
            let m = read_json(&modules)?;
            for module in m.as_array().into_iter().flatten() {
                let ty = module["type"].as_str().unwrap_or_default();
                let path = module["path"].as_str().unwrap_or_default();
                if ty.ends_with("Normalize") {
                    normalize = true;
                } else if ty.ends_with("Pooling") {
                    let cfg = read_json(&root.join(path).join("config.json"))?;
                    pooling = Some(if cfg["pooling_mode_cls_token"].as_bool() == Some(true) {
                        Pooling::Cls
                    } else if cfg["pooling_mode_mean_tokens"].as_bool() == Some(true) {
                        Pooling::Mean
                    } else {
                        return Err(Error::Model(format!(
                            "{}: unsupported pooling (only mean and cls)",
                            root.join(path).display()
                        )));
                    });
                }
            }
        }
        let max_positions = config["max_position_embeddings"].as_u64().unwrap_or(512) as usize;
        let st = root.join("sentence_bert_config.json");
        let max_length = if st.is_file() {
            read_json(&st)?["max_seq_length"]
                .as_u64()
                .map_or(max_positions, |n| n as usize)
        } else {
            max_positions
        }
        .min(max_positions);
        Ok(ModelDir {
            root: root.to_path_buf(),
            config,
            weights,
            tokenizer,
            pooling,
            normalize,
            max_length,
        })
    }

    /// A short name for reports: the folder name.
    pub fn name(&self) -> String {
        self.root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into())
    }

    /// The `config.json` as a candle BERT config.
    pub fn bert_config(&self) -> Result<candle_transformers::models::bert::Config> {
        serde_json::from_value(self.config.clone())
            .map_err(|e| Error::Model(format!("{}/config.json: {e}", self.root.display())))
    }
}
