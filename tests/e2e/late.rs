//! Late interaction through the CLI: token vectors in the index, MaxSim / FLIPR rerank
//! with explanations, on the first 200 SciFact documents.

use serde_json::Value;

use crate::util::{dataset, ok, path_str, run, seine, stderr};

#[test]
fn maxsim_rerank_with_token_vectors_from_the_dense_pass() {
    let t = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dataset("scifact").join("corpus.jsonl")).unwrap();
    let corpus = t.path().join("c.jsonl");
    std::fs::write(
        &corpus,
        text.lines().take(200).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let idx = t.path().join("idx");
    // stderr is a pipe here, not a terminal: progress comes as lines.
    let o = seine()
        .env("SEINE_PROGRESS_SECS", "0")
        .args([
            "index",
            path_str(&corpus),
            "--out",
            path_str(&idx),
            "--dense",
            "minilm",
            "--multi",
            "minilm",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("indexing: "))
        .map(str::to_string)
        .collect();
    assert!(!lines.is_empty(), "no progress line:\n{}", stderr(&o));
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" docs (") && l.contains("/s, ")),
        "{lines:?}"
    );
    assert!(lines.last().unwrap().contains("ETA"), "{lines:?}");
    assert!(!stderr(&o).contains('\r'), "no bar redraws in a log");
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(idx.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["multi"]["dtype"], "f16");
    assert_eq!(m["multi"]["dim"], 384);
    assert!(m["multi"]["tokens"].as_u64().unwrap() > 200 * 50);
    let q = "glucose metabolism in cancer cells";
    let search = |extra: &[&str]| -> Value {
        let mut args = vec![
            "search",
            path_str(&idx),
            q,
            "--json",
            "-k",
            "5",
            "--retriever",
            "bm25+dense",
        ];
        args.extend_from_slice(extra);
        serde_json::from_slice(&ok(&args).stdout).unwrap()
    };
    let v = search(&["--rerank", "maxsim", "--rerank-depth", "50", "--explain"]);
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    let mut last = f64::INFINITY;
    for h in hits {
        let score = h["score"].as_f64().unwrap();
        assert!(score <= last + 1e-9, "sorted by MaxSim");
        last = score;
        // The MaxSim score is the sum of the per-query-token maxima shown.
        let maxima = h["token_maxima"].as_array().unwrap();
        let sum: f64 = maxima
            .iter()
            .map(|m| m["max_similarity"].as_f64().unwrap())
            .sum();
        assert!((sum - score).abs() < 1e-3, "{sum} vs {score}");
        assert_eq!(maxima[0]["token"], "[CLS]");
        let sources = h["sources"].as_array().unwrap();
        assert_eq!(sources.last().unwrap()["retriever"], "maxsim");
    }
    // FLIPR keeps the k largest maxima: never above MaxSim for the same document.
    let f = search(&[
        "--rerank",
        "flipr",
        "--flipr-k",
        "3",
        "--rerank-depth",
        "50",
        "--explain",
    ]);
    for h in f["hits"].as_array().unwrap() {
        let mut m: Vec<f64> = h["token_maxima"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["max_similarity"].as_f64().unwrap())
            .collect();
        m.sort_by(|a, b| b.total_cmp(a));
        let top3: f64 = m.iter().take(3).sum();
        assert!((top3 - h["score"].as_f64().unwrap()).abs() < 1e-3);
    }
    // An index without token vectors: a clear error.
    let plain = t.path().join("plain");
    ok(&["index", path_str(&corpus), "--out", path_str(&plain)]);
    let o = run(&["search", path_str(&plain), q, "--rerank", "maxsim"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("index with --multi"), "{}", stderr(&o));
}
