//! `seine eval` on BEIR SciFact: Pyserini's BM25 figures, and measures equal to
//! pytrec_eval's.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::{dataset, ok, path_str, python, script, stdout};

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn scifact_bm25_matches_pyserini_flat_and_multifield() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("results");
    // Pyserini BEIR (v1.0.0) BM25 nDCG@10 on SciFact: flat 0.6789, multifield 0.6647.
    for (mode, published) in [("flat", 0.6789), ("multifield", 0.6647)] {
        let o = ok(&[
            "eval",
            path_str(&dataset("scifact")),
            "--retriever",
            "bm25",
            "--bm25-mode",
            mode,
            "--out",
            path_str(&out),
        ]);
        assert!(stdout(&o).contains("Recall@100"), "{}", stdout(&o));
        let r = read_json(&out.join(format!("seine-bm25-{mode}/SciFact.json")));
        let scores = &r["scores"]["test"][0];
        let ndcg = scores["ndcg_at_10"].as_f64().unwrap();
        assert!(
            (ndcg - published).abs() <= 0.01,
            "{mode}: nDCG@10 {ndcg} vs Pyserini {published}"
        );
        assert_eq!(scores["main_score"], scores["ndcg_at_10"]);
        let recall = scores["recall_at_100"].as_f64().unwrap();
        assert!(recall > 0.88, "{mode}: recall@100 {recall}");
        assert_eq!(r["task_name"], "SciFact");
        assert_eq!(r["seine"]["queries"], 300);
    }
    // A second run reuses the index.
    let o = ok(&[
        "eval",
        path_str(&dataset("scifact")),
        "--out",
        path_str(&out),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("reusing index"));
}

/// Copies SciFact with judgments changed to exercise graded gains and a query with no
/// relevant document, runs `seine eval`, and compares every measure of every query
/// with pytrec_eval's.
#[test]
fn measures_equal_pytrec_eval() {
    let t = tempfile::tempdir().unwrap();
    let src = dataset("scifact");
    let ds = t.path().join("scifact-graded");
    std::fs::create_dir_all(ds.join("qrels")).unwrap();
    for f in ["corpus.jsonl", "queries.jsonl"] {
        std::os::unix::fs::symlink(src.join(f), ds.join(f)).unwrap();
    }
    let qrels = std::fs::read_to_string(src.join("qrels/test.tsv")).unwrap();
    let mut lines: Vec<String> = qrels.lines().map(str::to_string).collect();
    let mut zeroed = String::new();
    for (i, line) in lines.iter_mut().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if i == 1 {
            zeroed = cols[0].to_string();
        }
        let grade = if cols[0] == zeroed {
            0
        } else if i % 3 == 0 {
            2
        } else {
            1
        };
        *line = format!("{}\t{}\t{grade}", cols[0], cols[1]);
    }
    // Unjudged-but-retrieved and judged-non-relevant documents for a few queries.
    lines.push("1\t4983\t0".to_string());
    std::fs::write(ds.join("qrels/test.tsv"), lines.join("\n") + "\n").unwrap();

    let out = t.path().join("results");
    ok(&["eval", path_str(&ds), "--out", path_str(&out)]);
    let dir = out.join("seine-bm25-flat");
    let seine_pq = read_json(&dir.join("scifact-graded.test.per_query.json"));
    let mean = read_json(&dir.join("scifact-graded.json"))["scores"]["test"][0].clone();

    let o = std::process::Command::new(python())
        .arg(script("pytrec_eval_check.py"))
        .arg(ds.join("qrels/test.tsv"))
        .arg(dir.join("scifact-graded.test.trec"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ref_pq = reference["per_query"].as_object().unwrap();

    // seine skips the query without relevant documents; pytrec_eval reports it.
    let seine_pq = seine_pq.as_object().unwrap();
    assert!(!seine_pq.contains_key(&zeroed));
    assert!(ref_pq.contains_key(&zeroed));
    assert_eq!(seine_pq.len(), ref_pq.len() - 1);

    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    let mut compared = 0;
    for (qid, measures) in seine_pq {
        let want = &ref_pq[qid];
        for (key, v) in measures.as_object().unwrap() {
            let w = want[key]
                .as_f64()
                .unwrap_or_else(|| panic!("pytrec_eval has no {key}"));
            let v = v.as_f64().unwrap();
            assert!(
                (v - w).abs() <= 1e-6,
                "query {qid} {key}: seine {v} pytrec_eval {w}"
            );
            *sums.entry(key.clone()).or_default() += w;
            compared += 1;
        }
    }
    assert!(compared > 300 * 30, "{compared}");
    let n = seine_pq.len() as f64;
    for (key, sum) in sums {
        let v = mean[&key].as_f64().unwrap();
        assert!(
            (v - sum / n).abs() <= 1e-6,
            "mean {key}: seine {v} pytrec_eval {}",
            sum / n
        );
    }
}
