//! Index real corpora in every input format and search them.

use serde_json::Value;

use crate::util::{dataset, head_lines, hit_ids as ids, ok, path_str, stdout};

fn search_json(index: &std::path::Path, query: &str, k: usize) -> Value {
    let o = ok(&[
        "search",
        path_str(index),
        query,
        "-k",
        &k.to_string(),
        "--json",
    ]);
    serde_json::from_str(&stdout(&o)).expect("search --json prints JSON")
}

#[test]
fn jsonl_parquet_and_reopen_give_the_same_hits() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("scifact-1000.jsonl");
    head_lines(&dataset("scifact").join("corpus.jsonl"), 1000, &corpus);
    let a = t.path().join("idx-jsonl");
    let o = ok(&["index", path_str(&corpus), "--out", path_str(&a)]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("indexed 1000 documents"));

    let pq = t.path().join("scifact-1000.parquet");
    ok(&["convert", path_str(&corpus), "--out", path_str(&pq)]);
    let b = t.path().join("idx-parquet");
    ok(&["index", path_str(&pq), "--out", path_str(&b)]);

    let query = "diffusion tensor imaging of white matter in preterm newborns";
    let ra = search_json(&a, query, 10);
    let rb = search_json(&b, query, 10);
    assert_eq!(ids(&ra), ids(&rb));
    assert_eq!(ra["hits"][0]["id"], "4983", "{ra}");
    assert!(
        ra["hits"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with("Microstructural development")
    );
    let scores: Vec<f64> = ra["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // Table output names the same top document.
    let table = stdout(&ok(&["search", path_str(&a), query, "-k", "3"]));
    assert!(table.lines().nth(2).unwrap().contains("4983"), "{table}");

    // A query of stop words only: no hits, not an error.
    assert!(ids(&search_json(&a, "the of and", 5)).is_empty());
}

#[test]
fn text_folder_ids_are_relative_paths() {
    let t = tempfile::tempdir().unwrap();
    let folder = t.path().join("notes");
    std::fs::create_dir_all(folder.join("bio")).unwrap();
    std::fs::write(
        folder.join("bio/mitochondria.md"),
        "# Mitochondria\nThe powerhouse of the cell.\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("physics.txt"),
        "Quarks and leptons are elementary particles.\n",
    )
    .unwrap();
    std::fs::write(folder.join("ignored.csv"), "not,indexed\n").unwrap();
    let idx = t.path().join("idx");
    ok(&["index", path_str(&folder), "--out", path_str(&idx)]);
    let r = search_json(&idx, "powerhouse cells", 5);
    assert_eq!(ids(&r), vec!["bio/mitochondria.md"]);
    assert_eq!(r["hits"][0]["title"], "Mitochondria");
    let r = search_json(&idx, "elementary particle", 5);
    assert_eq!(ids(&r), vec!["physics.txt"]);
}

#[test]
fn bm25_parameters_override_at_query_time() {
    let t = tempfile::tempdir().unwrap();
    let corpus = t.path().join("c.jsonl");
    head_lines(&dataset("scifact").join("corpus.jsonl"), 300, &corpus);
    let idx = t.path().join("idx");
    ok(&[
        "index",
        path_str(&corpus),
        "--out",
        path_str(&idx),
        "--k1",
        "1.2",
        "--b",
        "0.75",
    ]);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(idx.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["lexical"]["k1"].as_f64().unwrap() as f32, 1.2);
    assert_eq!(manifest["doc_count"], 300);
    let q = "cerebral white matter development";
    let default = search_json(&idx, q, 5);
    let other = search_json(&idx, q, 5);
    assert_eq!(default, other);
    let o = ok(&[
        "search",
        path_str(&idx),
        q,
        "-k",
        "5",
        "--json",
        "--k1",
        "0.1",
        "--b",
        "0",
    ]);
    let changed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_ne!(default["hits"][0]["score"], changed["hits"][0]["score"]);
    let bad = crate::util::run(&["search", path_str(&idx), q, "--b", "1.5"]);
    assert!(!bad.status.success());
    assert!(crate::util::stderr(&bad).contains("bm25 b must be within [0, 1]"));
}
