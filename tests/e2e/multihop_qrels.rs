//! Multi-hop evaluation with gold passages from qrels (issue 18): a copy of the shared
//! 2WikiMultihopQA set with `supporting_facts` removed and every id replaced by a hash
//! gives exactly the original's passage measures; a set whose questions need three
//! gold passages counts all three.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{dataset, ok, path_str};

/// A stable hex hash (FNV-1a, 64 bits) standing in for a dataset's hashed ids.
fn hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A copy of 2Wiki at `out`: `edit_query` rewrites each question, `id` maps every
/// corpus and query id, `keep_qrel` chooses judgment rows.
fn copy(
    out: &Path,
    id: &dyn Fn(&str) -> String,
    edit_query: &dyn Fn(&mut Value),
    keep_qrel: &dyn Fn(&str, &str, usize) -> bool,
) -> PathBuf {
    let src = dataset("2wikimultihopqa-distractor");
    std::fs::create_dir_all(out.join("qrels")).unwrap();
    let mut corpus = String::new();
    for l in lines(&src.join("corpus.jsonl")) {
        let mut v: Value = serde_json::from_str(&l).unwrap();
        v["_id"] = Value::String(id(v["_id"].as_str().unwrap()));
        corpus.push_str(&format!("{v}\n"));
    }
    std::fs::write(out.join("corpus.jsonl"), corpus).unwrap();
    let mut queries = String::new();
    for l in lines(&src.join("queries.jsonl")) {
        let mut v: Value = serde_json::from_str(&l).unwrap();
        v["_id"] = Value::String(id(v["_id"].as_str().unwrap()));
        edit_query(&mut v);
        queries.push_str(&format!("{v}\n"));
    }
    std::fs::write(out.join("queries.jsonl"), queries).unwrap();
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    let mut nth: HashMap<String, usize> = HashMap::new();
    for l in lines(&src.join("qrels/test.tsv")).iter().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        let n = nth.entry(f[0].to_string()).or_default();
        if keep_qrel(f[0], f[1], *n) {
            qrels.push_str(&format!("{}\t{}\t{}\n", id(f[0]), id(f[1]), f[2]));
        }
        *n += 1;
    }
    std::fs::write(out.join("qrels/test.tsv"), qrels).unwrap();
    out.to_path_buf()
}

/// `seine eval --multihop` (BM25, 2 hops, the lexical condenser): the summary JSON and
/// the per-question lines.
fn eval(data: &Path, out: &Path) -> (Value, Vec<Value>) {
    ok(&[
        "eval",
        path_str(data),
        "--multihop",
        "--hops",
        "2",
        "--retriever",
        "bm25",
        "--out",
        path_str(out),
    ]);
    let name = data.file_name().unwrap().to_str().unwrap();
    let stem = out.join(format!("multihop-{name}-bm25-h2"));
    let json = serde_json::from_slice(&std::fs::read(stem.with_extension("json")).unwrap());
    let per_q = lines(&stem.with_extension("questions.jsonl"))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (json.unwrap(), per_q)
}

/// Every passage measure of a summary (overall and by type), by name.
fn passage_measures(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    for (k, x) in v.as_object().unwrap() {
        let name = format!("{prefix}{k}");
        if k == "by_type" {
            for (t, b) in x.as_object().unwrap() {
                passage_measures(b, &format!("{name}.{t}."), out);
            }
        } else if !k.starts_with("latency") && !k.starts_with("fact_recall") {
            out.push((name, x.clone()));
        }
    }
}

#[test]
fn hashed_ids_without_supporting_facts_measure_the_same() {
    let t = tempfile::tempdir().unwrap();
    let plain = |s: &str| s.to_string();
    let original = copy(&t.path().join("wiki"), &plain, &|_| {}, &|_, _, _| true);
    let drop_facts = |v: &mut Value| {
        v["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("supporting_facts");
    };
    let hashed = copy(
        &t.path().join("wiki-hashed"),
        &hash,
        &drop_facts,
        &|_, _, _| true,
    );
    let (a, qa) = eval(&original, &t.path().join("ra"));
    let (b, qb) = eval(&hashed, &t.path().join("rb"));
    assert_eq!(a["questions"], 657);
    for side in ["single_hop", "multi_hop"] {
        let (mut ma, mut mb) = (Vec::new(), Vec::new());
        passage_measures(&a[side], "", &mut ma);
        passage_measures(&b[side], "", &mut mb);
        assert!(ma.len() > 60, "{ma:?}");
        assert_eq!(ma, mb, "{side}");
    }
    // The original's facts give a sentence-level recall; the copy has none.
    assert!(
        a["multi_hop"]["fact_recall"].as_f64().unwrap() > 0.2,
        "{}",
        a["multi_hop"]
    );
    assert!(b["multi_hop"].get("fact_recall").is_none());
    // Types come from metadata.type in both.
    assert!(b["multi_hop"]["by_type"]["bridge_comparison"].is_object());
    // Question by question, the same rankings up to the id mapping.
    for (x, y) in qa.iter().zip(&qb) {
        let ids = |v: &Value, f: &dyn Fn(&str) -> String| -> Vec<String> {
            v["multi_hop"]["ranking"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| f(s.as_str().unwrap()))
                .collect()
        };
        assert_eq!(ids(x, &hash), ids(y, &plain), "{}", x["id"]);
    }
}

#[test]
fn all_gold_counts_three_passages() {
    let t = tempfile::tempdir().unwrap();
    // 2Wiki's bridge-comparison questions have four gold passages: keep three.
    let queries = lines(&dataset("2wikimultihopqa-distractor").join("queries.jsonl"));
    let bridge_comparison: std::collections::HashSet<String> = queries
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["metadata"]["type"] == "bridge_comparison")
        .map(|v| v["_id"].as_str().unwrap().to_string())
        .collect();
    let plain = |s: &str| s.to_string();
    let keep = |q: &str, _: &str, n: usize| bridge_comparison.contains(q) && n < 3;
    let data = copy(&t.path().join("wiki3"), &plain, &|_| {}, &keep);
    let (s, per_q) = eval(&data, &t.path().join("r"));
    assert_eq!(s["questions"], 172);
    for side in ["single_hop", "multi_hop"] {
        assert_eq!(s[side]["gold_per_question"], 3.0);
        let mut partial = 0;
        for (i, k) in [2usize, 5, 10, 20].iter().enumerate() {
            let mut all = 0usize;
            for q in &per_q {
                let gold: Vec<&str> = q["gold"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| g.as_str().unwrap())
                    .collect();
                assert_eq!(gold.len(), 3);
                let ranking = &q[side]["ranking"].as_array().unwrap();
                let top: Vec<&str> = ranking
                    .iter()
                    .take(*k)
                    .map(|x| x.as_str().unwrap())
                    .collect();
                let found = gold.iter().filter(|g| top.contains(g)).count();
                all += usize::from(found == 3);
                partial += usize::from(i == 2 && found == 2);
            }
            let want = all as f64 / per_q.len() as f64;
            let got = s[side][format!("both_gold_at_{k}")].as_f64().unwrap();
            assert!((got - want).abs() < 1e-12, "{side} @{k}: {got} vs {want}");
        }
        assert!(partial > 0, "{side}: no question with two of three at 10");
    }
}
