//! `seine train` end to end on a slice of SciFact: mining from a seine index, a dense
//! run and a ColBERT run through the CLI, what they write, and how the results load.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::util::{dataset, ok, path_str, run, stderr};

/// 24 SciFact training queries with their judged documents plus 80 other documents.
fn slice(dir: &Path) -> PathBuf {
    let src = dataset("scifact");
    let root = dir.join("scifact-slice");
    std::fs::create_dir_all(root.join("qrels")).unwrap();
    let qrels = std::fs::read_to_string(src.join("qrels/train.tsv")).unwrap();
    let mut lines = qrels.lines();
    let header = lines.next().unwrap();
    let mut queries: Vec<&str> = Vec::new();
    let mut docs: HashSet<&str> = HashSet::new();
    let mut kept = vec![header];
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        if !queries.contains(&f[0]) {
            if queries.len() == 24 {
                continue;
            }
            queries.push(f[0]);
        }
        docs.insert(f[1]);
        kept.push(l);
    }
    std::fs::write(root.join("qrels/train.tsv"), kept.join("\n")).unwrap();
    let corpus = std::fs::read_to_string(src.join("corpus.jsonl")).unwrap();
    let mut extra = 0;
    let lines: Vec<&str> = corpus
        .lines()
        .filter(|l| {
            let id: serde_json::Value = serde_json::from_str(l).unwrap();
            let keep = docs.contains(id["_id"].as_str().unwrap()) || extra < 80;
            if !docs.contains(id["_id"].as_str().unwrap()) && keep {
                extra += 1;
            }
            keep
        })
        .collect();
    std::fs::write(root.join("corpus.jsonl"), lines.join("\n")).unwrap();
    std::fs::copy(src.join("queries.jsonl"), root.join("queries.jsonl")).unwrap();
    root
}

#[test]
fn train_dense_and_colbert_through_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let beir = slice(t.path());
    let index = t.path().join("idx");
    ok(&["index", path_str(&beir), "--out", path_str(&index)]);
    let out = t.path().join("dense");
    let common = [
        "--model",
        "minilm",
        "--beir",
        path_str(&beir),
        "--mine-index",
        path_str(&index),
        "--neg-ranks",
        "1..10",
        "--batch-size",
        "4",
        "--max-steps",
        "3",
        "--max-doc-len",
        "48",
        "--trainable-layers",
        "1",
        "--dev-fraction",
        "0.25",
        "--checkpoint-every",
        "2",
    ];
    let mut args = vec!["train", "--out", path_str(&out), "--ccr-weight", "0.2"];
    args.extend(common);
    let o = ok(&args);
    let err = stderr(&o);
    // stderr is not a terminal here: progress comes as lines.
    for want in [
        "mined ",
        "18 training queries, 6 dev queries, 3 updates",
        "step 3/3",
        "dev nDCG@10",
    ] {
        assert!(err.contains(want), "no {want:?} in:\n{err}");
    }
    for f in [
        "model/model.safetensors",
        "model/modules.json",
        "model/1_Pooling/config.json",
        "checkpoints/step-000002/optimizer.safetensors",
        "train_log.csv",
        "curves.png",
        "train_config.toml",
        "negatives.jsonl",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let cfg = std::fs::read_to_string(out.join("train_config.toml")).unwrap();
    assert!(
        cfg.contains("ccr_weight = 0.2") && cfg.contains("from = 1"),
        "{cfg}"
    );
    // The trained folder is a model seine loads.
    let vecs = t.path().join("v.parquet");
    ok(&[
        "embed",
        path_str(&beir.join("corpus.jsonl")),
        "--model",
        path_str(&out.join("model")),
        "--out",
        path_str(&vecs),
    ]);
    // A second run into the same folder needs --resume; a bad flag names itself.
    let o = run(&args);
    assert!(
        !o.status.success() && stderr(&o).contains("--resume"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "train",
        "--model",
        "minilm",
        "--beir",
        path_str(&beir),
        "--out",
        path_str(&t.path().join("x")),
        "--neg-ranks",
        "5-3",
    ]);
    assert!(stderr(&o).contains("--neg-ranks"), "{}", stderr(&o));

    // A ColBERT head: PyLate layout, loads as --multi.
    let col = t.path().join("colbert");
    let mut args = vec![
        "train",
        "--objective",
        "colbert",
        "--out",
        path_str(&col),
        "--temperature",
        "1",
        "--colbert-dim",
        "32",
    ];
    args.extend(common);
    ok(&args);
    let modules = std::fs::read_to_string(col.join("model/modules.json")).unwrap();
    assert!(modules.contains("1_Dense"), "{modules}");
    let idx2 = t.path().join("idx2");
    ok(&[
        "index",
        path_str(&beir),
        "--out",
        path_str(&idx2),
        "--multi",
        path_str(&col.join("model")),
        "--multi-dtype",
        "f32",
    ]);
    let manifest = std::fs::read_to_string(idx2.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["multi"]["dim"], 32, "{manifest}");
}
