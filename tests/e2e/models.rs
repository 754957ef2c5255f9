//! Which model an index uses is decided once, at build time, and checked at open:
//! a ColBERT checkpoint encodes documents ColBERT-aware (like its queries), and an
//! index opened elsewhere finds the same model files or says so.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use seine_engine::model::ModelDir;
use seine_engine::{ColbertEncoder, Side};
use seine_index::IndexDir;
use serde_json::Value;

use crate::util::{dataset, ok, path_str, stderr};

fn minilm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/minilm")
}

/// MiniLM plus a seeded 48-d projection, written in the PyLate layout by the writer
/// training uses (`seine_train::output::write_model`).
fn pylate_checkpoint(dir: &Path) -> PathBuf {
    const DIM: usize = 48;
    let src = minilm();
    let py = dir.join("pylate-minilm");
    let weights =
        candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu).unwrap();
    let w = Tensor::from_vec(
        seine_kernels::rng::centered_vec(DIM * 384, 7),
        (DIM, 384),
        &Device::Cpu,
    )
    .unwrap();
    let layout = seine_train::output::ColbertLayout {
        dim: DIM,
        hidden: 384,
        query_length: 32,
        document_length: 180,
    };
    seine_train::output::write_model(&py, &src, &weights, Some((&w, &layout)), &[]).unwrap();
    py
}

/// The first `n` SciFact documents as JSONL; returns the path and their texts
/// (`title text`, as the encoders see them).
fn scifact_head(dir: &Path, n: usize) -> (PathBuf, Vec<(String, String)>) {
    let src = std::fs::read_to_string(dataset("scifact").join("corpus.jsonl")).unwrap();
    let lines: Vec<&str> = src.lines().take(n).collect();
    let path = dir.join("head.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let docs = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let text = format!(
                "{} {}",
                v["title"].as_str().unwrap(),
                v["text"].as_str().unwrap()
            );
            (
                v["_id"].as_str().unwrap().to_string(),
                text.trim().to_string(),
            )
        })
        .collect();
    (path, docs)
}

/// `seine index --multi <ColBERT checkpoint>` stores the checkpoint's own document
/// encoding (marker, projection, per-token norm), not MiniLM's hidden states, so the
/// MaxSim rerank compares like with like; a document's own text ranks it first.
#[test]
fn colbert_checkpoint_encodes_documents_like_queries() {
    let t = tempfile::tempdir().unwrap();
    let ckpt = pylate_checkpoint(t.path());
    let (corpus, docs) = scifact_head(t.path(), 40);
    let idx = t.path().join("idx");
    ok(&[
        "index",
        path_str(&corpus),
        "--out",
        path_str(&idx),
        "--multi",
        path_str(&ckpt),
        "--multi-dtype",
        "f32",
    ]);
    let dir = IndexDir::open(&idx).unwrap();
    assert_eq!(dir.manifest().multi.as_ref().unwrap().dim, 48);
    let store = dir.multi().unwrap();
    let enc = ColbertEncoder::load(&ModelDir::open(&ckpt).unwrap(), &Device::Cpu).unwrap();
    for (i, (_, text)) in docs.iter().enumerate().take(5) {
        let want = enc
            .encode(&[text.as_str()], Side::Document)
            .unwrap()
            .remove(0);
        let got = store.doc(i as u32).unwrap().to_f32(store.dim());
        assert_eq!(got.len(), want.len(), "doc {i}: token count");
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "doc {i}: max difference {worst}");
    }
    for (id, text) in docs.iter().skip(10).take(3) {
        let o = ok(&[
            "search",
            path_str(&idx),
            text,
            "--retriever",
            "bm25",
            "--rerank",
            "maxsim",
            "--json",
        ]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["hits"][0]["id"], id.as_str(), "{}", v["hits"][0]);
    }
}

/// The index records where its model was and a hash of its files. Opened from
/// another folder it finds the recorded model; a different model under the same name
/// (here `$SEINE_MODELS/minilm` with another config) is a clear error, not a silent
/// change of model.
#[test]
fn an_index_keeps_its_model() {
    let t = tempfile::tempdir().unwrap();
    let (corpus, _) = scifact_head(t.path(), 20);
    let idx = t.path().join("idx");
    ok(&[
        "index",
        path_str(&corpus),
        "--out",
        path_str(&idx),
        "--dense",
        "minilm",
    ]);
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(idx.join("manifest.json")).unwrap()).unwrap();
    let id = &m["dense"]["model_id"];
    assert!(id["sha256"].as_str().unwrap().starts_with("sha256:"), "{m}");
    assert_eq!(
        Path::new(id["path"].as_str().unwrap()),
        minilm().canonicalize().unwrap()
    );
    // From another working directory: the recorded folder.
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let search = |env: Option<&Path>| {
        let mut c = crate::util::seine();
        c.current_dir(&elsewhere).env_remove("SEINE_MODELS").args([
            "search",
            path_str(&idx),
            "protein folding",
            "--retriever",
            "dense",
        ]);
        if let Some(e) = env {
            c.env("SEINE_MODELS", e);
        }
        c.output().unwrap()
    };
    let o = search(None);
    assert!(o.status.success(), "{}", stderr(&o));
    // A different "minilm" first in the resolution order.
    let other = t.path().join("other-models");
    let fake = other.join("minilm");
    std::fs::create_dir_all(fake.join("1_Pooling")).unwrap();
    for f in [
        "model.safetensors",
        "tokenizer.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        if minilm().join(f).exists() {
            std::fs::copy(minilm().join(f), fake.join(f)).unwrap();
        }
    }
    let cfg = std::fs::read_to_string(minilm().join("config.json")).unwrap();
    let mut cfg: Value = serde_json::from_str(&cfg).unwrap();
    cfg["layer_norm_eps"] = serde_json::json!(1e-5);
    std::fs::write(fake.join("config.json"), cfg.to_string()).unwrap();
    let o = search(Some(&other));
    assert!(!o.status.success(), "a different model was used silently");
    let err = stderr(&o);
    assert!(
        err.contains("but the index was built with") && err.contains("sha256:"),
        "{err}"
    );
    // Same files under $SEINE_MODELS: fine.
    let same = t.path().join("same-models");
    std::fs::create_dir_all(&same).unwrap();
    std::os::unix::fs::symlink(minilm().canonicalize().unwrap(), same.join("minilm")).unwrap();
    let o = search(Some(&same));
    assert!(o.status.success(), "{}", stderr(&o));
}
