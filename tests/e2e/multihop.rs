//! Multi-hop retrieval on real HotpotQA questions: a pooled corpus made of the
//! paragraphs of the first 20 questions of ../shared/datasets/hotpotqa-distractor
//! (200 paragraphs), indexed with BM25, MiniLM vectors and MiniLM token vectors.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{dataset, ok, path_str, stdout};

/// A BEIR folder with the first `n` questions and their candidate paragraphs.
fn subset(dir: &Path, n: usize) -> PathBuf {
    let src = dataset("hotpotqa-distractor");
    let out = dir.join("hotpot-subset");
    std::fs::create_dir_all(out.join("qrels")).unwrap();
    let queries: Vec<String> = std::fs::read_to_string(src.join("queries.jsonl"))
        .unwrap()
        .lines()
        .take(n)
        .map(str::to_string)
        .collect();
    let mut cands = HashSet::new();
    let mut ids = HashSet::new();
    for q in &queries {
        let v: Value = serde_json::from_str(q).unwrap();
        ids.insert(v["_id"].as_str().unwrap().to_string());
        for c in v["metadata"]["candidates"].as_array().unwrap() {
            cands.insert(c.as_str().unwrap().to_string());
        }
    }
    let corpus: Vec<String> = std::fs::read_to_string(src.join("corpus.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            cands.contains(v["_id"].as_str().unwrap())
        })
        .map(str::to_string)
        .collect();
    std::fs::write(out.join("corpus.jsonl"), corpus.join("\n")).unwrap();
    std::fs::write(out.join("queries.jsonl"), queries.join("\n")).unwrap();
    let qrels: Vec<String> = std::fs::read_to_string(src.join("qrels/test.tsv"))
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || ids.contains(l.split('\t').next().unwrap()))
        .map(|(_, l)| l.to_string())
        .collect();
    std::fs::write(out.join("qrels/test.tsv"), qrels.join("\n")).unwrap();
    out
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bridge_question_found_at_hop_two() {
    let t = tempfile::tempdir().unwrap();
    let data = subset(t.path(), 20);
    let out = t.path().join("results");
    let o = ok(&[
        "eval",
        path_str(&data),
        "--multihop",
        "--hops",
        "2",
        "--retriever",
        "bm25+dense",
        "--fusion",
        "zscore",
        "--dense",
        "minilm",
        "--multi",
        "minilm",
        "--out",
        path_str(&out),
    ]);
    assert!(stdout(&o).contains("both_gold_at_10"), "{}", stdout(&o));

    // The results JSON has the promised layout.
    let json: Value = serde_json::from_slice(
        &std::fs::read(out.join("multihop-hotpot-subset-bm25_dense-h2.json")).unwrap(),
    )
    .unwrap();
    let per_q: Vec<Value> =
        std::fs::read_to_string(out.join("multihop-hotpot-subset-bm25_dense-h2.questions.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(per_q.len(), 20);

    // The aggregates are what the per-question rankings give against the qrels
    // (recomputed here), recall and both-gold grow with k, and the second hop finds
    // more complete gold pairs than a single hop.
    let mut gold: std::collections::HashMap<String, HashSet<String>> = Default::default();
    for l in std::fs::read_to_string(data.join("qrels/test.tsv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() >= 3 && f[2].trim() != "0" {
            gold.entry(f[0].into()).or_default().insert(f[1].into());
        }
    }
    for side in ["single_hop", "multi_hop"] {
        for k in [2usize, 5, 10, 20] {
            let (mut recall, mut both) = (0.0, 0.0);
            for q in &per_q {
                let g = &gold[q["id"].as_str().unwrap()];
                let ranking = strs(&q[side]["ranking"]);
                let found = ranking.iter().take(k).filter(|d| g.contains(*d)).count();
                recall += found as f64 / g.len() as f64;
                both += f64::from(u8::from(found == g.len()));
            }
            let n = per_q.len() as f64;
            for (what, want) in [("recall", recall / n), ("both_gold", both / n)] {
                let got = json[side][format!("{what}_at_{k}")].as_f64().unwrap();
                assert!(
                    (got - want).abs() < 1e-9,
                    "{side} {what}@{k}: {got} vs {want}"
                );
            }
        }
        for what in ["recall", "both_gold", "answer_recall"] {
            let at: Vec<f64> = [2, 5, 10, 20]
                .iter()
                .map(|k| json[side][format!("{what}_at_{k}")].as_f64().unwrap())
                .collect();
            assert!(
                at.windows(2).all(|w| w[0] <= w[1]) && (0.0..=1.0).contains(&at[3]),
                "{side} {what}: {at:?}"
            );
        }
        assert!(json[side]["by_type"]["bridge"]["both_gold_at_10"].is_number());
        assert!(json[side]["by_type"]["comparison"]["both_gold_at_10"].is_number());
    }
    let both10 = |side: &str| json[side]["both_gold_at_10"].as_f64().unwrap();
    assert!(
        both10("multi_hop") >= both10("single_hop") && both10("multi_hop") > 0.5,
        "both gold@10: multi-hop {} vs single-hop {}",
        both10("multi_hop"),
        both10("single_hop")
    );
    for q in &per_q {
        // No passage retrieved twice: the ranking is distinct, and no hop retrieves a
        // passage an earlier hop took.
        let ranking = strs(&q["multi_hop"]["ranking"]);
        let distinct: HashSet<&String> = ranking.iter().collect();
        assert_eq!(distinct.len(), ranking.len(), "{}", q["id"]);
        let mut taken: HashSet<String> = HashSet::new();
        for hop in q["multi_hop"]["hops"].as_array().unwrap() {
            for r in strs(&hop["retrieved"]) {
                assert!(!taken.contains(&r), "{}: {r} retrieved again", q["id"]);
            }
            taken.extend(strs(&hop["picks"]));
        }
    }

    // "Fodder on My Wings is an album by a singer/pianist/songwriter born in which year?"
    // Gold: Fodder on My Wings → Nina Simone (the bridge entity).
    let q = per_q
        .iter()
        .find(|q| q["id"] == "5adcbc645542994d58a2f6b6")
        .unwrap();
    assert_eq!(q["type"], "bridge");
    let single = strs(&q["single_hop"]["ranking"]);
    assert!(
        !single[..5].contains(&"Nina Simone".to_string()),
        "single-hop top 5 already has the second passage: {single:?}"
    );
    let hops = q["multi_hop"]["hops"].as_array().unwrap();
    assert_eq!(strs(&hops[0]["picks"])[0], "Fodder on My Wings");
    let facts: String = hops[0]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(facts.contains("Nina Simone"), "hop-1 facts: {facts}");
    assert!(hops[1]["query"].as_str().unwrap().contains("Nina Simone"));
    assert!(strs(&hops[1]["picks"]).contains(&"Nina Simone".to_string()));
    let multi = strs(&q["multi_hop"]["ranking"]);
    assert!(multi[..2].contains(&"Nina Simone".to_string()), "{multi:?}");

    // The same chain from `seine search --hops 2 --explain`.
    let idx = out
        .join("indexes")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = stdout(&ok(&[
        "search",
        path_str(&idx),
        q["question"].as_str().unwrap(),
        "--retriever",
        "bm25+dense",
        "--fusion",
        "zscore",
        "--hops",
        "2",
        "--explain",
        "-k",
        "5",
    ]));
    assert!(
        text.contains("[hop 1] query:") && text.contains("[hop 2] query:"),
        "{text}"
    );
    assert!(
        text.contains("fact (") && text.contains("Nina Simone"),
        "{text}"
    );
}

#[test]
fn chain_stops_early_when_nothing_is_new() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("c.jsonl");
    std::fs::write(
        &corpus,
        "{\"_id\": \"a\", \"title\": \"Alpha\", \"text\": \"Alpha river flows north.\"}\n\
         {\"_id\": \"b\", \"title\": \"Beta\", \"text\": \"Beta river flows south.\"}\n",
    )
    .unwrap();
    let idx = t.path().join("idx");
    ok(&["index", path_str(&corpus), "--out", path_str(&idx)]);
    let v: Value = serde_json::from_slice(
        &ok(&[
            "search",
            path_str(&idx),
            "which river flows north",
            "--retriever",
            "bm25",
            "--hops",
            "3",
            "--condense-scorer",
            "lexical",
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    // Hop 1 takes both passages (two facts); hop 2 has nothing left: the chain stops.
    let hops = v["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 1, "{v}");
    assert_eq!(v["stopped_early"], true);
    assert_eq!(strs(&hops[0]["picks"]), vec!["a", "b"]);
    assert_eq!(hops[0]["facts"][0]["text"], "Alpha river flows north.");
    let hits: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(hits, vec!["a", "b"]);
    // Bad settings are clear errors.
    let o = crate::util::run(&["search", path_str(&idx), "x", "--hops", "5"]);
    assert!(!o.status.success());
    assert!(crate::util::stderr(&o).contains("hops must be within 1..=4"));
}

/// `seine eval --multihop` with default flags works on every index it accepts: on a
/// BM25-only index the condenser is the lexical one (said on stderr and in the JSON)
/// instead of an error about token vectors.
#[test]
fn default_condenser_follows_the_index() {
    let t = tempfile::tempdir().unwrap();
    let data = subset(t.path(), 10);
    let out = t.path().join("out");
    let o = ok(&[
        "eval",
        path_str(&data),
        "--multihop",
        "--hops",
        "2",
        "--out",
        path_str(&out),
    ]);
    let err = crate::util::stderr(&o);
    assert!(
        err.contains("condenser lexical (the best this index supports)"),
        "{err}"
    );
    let json = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(v["multihop"]["condense_scorer"], "lexical", "{v}");
    assert_eq!(v["multihop"]["condense_scorer_chosen_by_index"], true);
    assert!(stdout(&o).contains("both-gold@10"));
}
