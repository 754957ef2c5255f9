//! Trained model folders: the base folder's files with new weights, written aside and
//! renamed into place (a folder is complete or absent). A dense model keeps the
//! sentence-transformers layout of its base; a ColBERT head is written in the PyLate
//! layout (`modules.json` with a Transformer and a `1_Dense` projection,
//! `config_sentence_transformers.json` with markers and lengths), which `--multi` and
//! PyLate load.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Context, Result};
use candle_core::Tensor;
use serde_json::json;

/// The ColBERT settings written with a head (and used to tokenize while training).
#[derive(Debug, Clone, PartialEq)]
pub struct ColbertLayout {
    pub dim: usize,
    pub hidden: usize,
    pub query_length: usize,
    pub document_length: usize,
}

/// Writes safetensors with the `{"format": "pt"}` metadata transformers expects.
pub fn save_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let mut items: Vec<(&String, &Tensor)> = tensors.iter().collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    safetensors::serialize_to_file(items, Some(meta), path)
        .with_context(|| format!("{}", path.display()))
}

fn copy_dir(from: &Path, to: &Path, skip: &dyn Fn(&str) -> bool) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from).with_context(|| format!("{}", from.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if skip(&name) {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type()?.is_dir() {
            copy_dir(&src, &dst, &|_| false)?;
        } else {
            std::fs::copy(&src, &dst).with_context(|| format!("{}", src.display()))?;
        }
    }
    Ok(())
}

/// Writes a model folder at `dest` from `base`'s files and `weights` (+ a ColBERT
/// `head` `[dim, hidden]`); `extra` files (name → bytes) go in too. Atomic: built in
/// `dest.tmp`, then renamed over `dest`.
pub fn write_model(
    dest: &Path,
    base: &Path,
    weights: &HashMap<String, Tensor>,
    head: Option<(&Tensor, &ColbertLayout)>,
    extra: &[(&str, Vec<u8>)],
) -> Result<()> {
    let tmp = dest.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    let weights_file = |n: &str| n == "model.safetensors" || n == "pytorch_model.bin";
    match head {
        None => copy_dir(base, &tmp, &|n| weights_file(n) || n.ends_with(".tmp"))?,
        Some(_) => copy_dir(base, &tmp, &|n| {
            weights_file(n)
                || matches!(n, "modules.json" | "config_sentence_transformers.json")
                || std::fs::metadata(base.join(n)).is_ok_and(|m| m.is_dir())
        })?,
    }
    save_safetensors(weights, &tmp.join("model.safetensors"))?;
    if let Some((w, layout)) = head {
        write_colbert_files(&tmp, w, layout)?;
    }
    for (name, bytes) in extra {
        std::fs::write(tmp.join(name), bytes)?;
    }
    if dest.exists() {
        let old = dest.with_extension("old");
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(dest, &old)?;
        std::fs::rename(&tmp, dest)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&tmp, dest)?;
    }
    Ok(())
}

fn write_colbert_files(dir: &Path, w: &Tensor, l: &ColbertLayout) -> Result<()> {
    let dense = dir.join("1_Dense");
    std::fs::create_dir_all(&dense)?;
    let head = HashMap::from([("linear.weight".to_string(), w.clone())]);
    save_safetensors(&head, &dense.join("model.safetensors"))?;
    let write = |p: &Path, v: serde_json::Value| -> Result<()> {
        Ok(std::fs::write(p, serde_json::to_vec_pretty(&v)?)?)
    };
    write(
        &dense.join("config.json"),
        json!({"in_features": l.hidden, "out_features": l.dim, "bias": false,
               "activation_function": "torch.nn.modules.linear.Identity", "use_residual": false}),
    )?;
    write(
        &dir.join("modules.json"),
        json!([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"}
        ]),
    )?;
    let punct: Vec<String> = seine_engine::settings::PUNCTUATION
        .chars()
        .map(String::from)
        .collect();
    write(
        &dir.join("config_sentence_transformers.json"),
        json!({"query_prefix": "[unused0]", "document_prefix": "[unused1]",
               "query_length": l.query_length, "document_length": l.document_length,
               "do_query_expansion": true, "attend_to_expansion_tokens": false,
               "skiplist_words": punct, "similarity_fn_name": "MaxSim"}),
    )?;
    write(
        &dir.join("sentence_bert_config.json"),
        json!({"max_seq_length": l.document_length.max(l.query_length) - 1, "do_lower_case": false}),
    )
}
