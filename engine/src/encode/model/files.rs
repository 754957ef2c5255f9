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

/// Resolves a model name or path, in one documented order:
/// 1. `name` is an existing folder (absolute, or relative to the working directory):
///    that folder;
/// 2. `$SEINE_MODELS/<name>`;
/// 3. `recorded`: the folder an index recorded when it was built (searching an index);
/// 4. `./models/<name>` (where `scripts/fetch-models.sh` puts them).
///
/// Nothing depends on where seine was built. What identifies a model is its files
/// ([`model_id`]); an index checks them when it opens ([`check_model_id`]).
pub fn resolve_model(name: &str) -> Result<PathBuf> {
    resolve_model_with(name, None)
}

/// [`resolve_model`] with the folder an index recorded for `name`.
pub fn resolve_model_with(name: &str, recorded: Option<&Path>) -> Result<PathBuf> {
    let p = Path::new(name);
    if p.is_dir() {
        return Ok(p.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Some(m) = std::env::var_os("SEINE_MODELS") {
        candidates.push(PathBuf::from(m).join(name));
    }
    if let Some(r) = recorded {
        candidates.push(r.to_path_buf());
    }
    candidates.push(Path::new("models").join(name));
    for cand in &candidates {
        if cand.is_dir() {
            return Ok(cand.clone());
        }
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(Error::ModelNotFound(format!(
        "model {name:?} not found (looked in {}); run scripts/fetch-models.sh, set \
         $SEINE_MODELS, or pass a model folder",
        tried.join(", ")
    )))
}

/// The files that define a model, relative to its folder, when present.
const DEFINING_FILES: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "model.safetensors",
    "pytorch_model.bin",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "1_Dense/config.json",
    "1_Dense/model.safetensors",
    "1_Dense/pytorch_model.bin",
    "artifact.metadata",
];

/// What identifies the model in folder `root`: its absolute path and a SHA-256 over
/// its defining files (names and contents, in a fixed order).
pub fn model_id(root: &Path) -> Result<seine_index::ModelId> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for rel in DEFINING_FILES {
        let path = root.join(rel);
        let Ok(mut f) = std::fs::File::open(&path) else {
            continue;
        };
        h.update(rel.as_bytes());
        h.update([0u8]);
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| Error::Model(format!("{}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let abs = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    Ok(seine_index::ModelId {
        path: abs.to_string_lossy().into_owned(),
        sha256: format!("sha256:{hex}"),
    })
}

/// An error when `found` is not the model an index was built with.
pub fn check_model_id(
    name: &str,
    found: &seine_index::ModelId,
    recorded: Option<&seine_index::ModelId>,
) -> Result<()> {
    match recorded {
        Some(r) if r.sha256 != found.sha256 => Err(Error::Model(format!(
            "model {name:?} resolved to {} ({}), but the index was built with {} ({}): \
             point $SEINE_MODELS or the model name at the index's model, or rebuild the index",
            found.path, found.sha256, r.path, r.sha256
        ))),
        _ => Ok(()),
    }
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
