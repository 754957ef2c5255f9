//! Reports: the MTEB results JSON layout and a readable table.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::runner::BeirResult;
use crate::{Error, Result};

/// MTEB's task name for a BEIR dataset folder name (the folder name otherwise).
pub fn mteb_task_name(dataset: &str) -> String {
    let known = [
        ("arguana", "ArguAna"),
        ("climate-fever", "ClimateFEVER"),
        ("cqadupstack", "CQADupstackRetrieval"),
        ("dbpedia-entity", "DBPedia"),
        ("fever", "FEVER"),
        ("fiqa", "FiQA2018"),
        ("hotpotqa", "HotpotQA"),
        ("msmarco", "MSMARCO"),
        ("nfcorpus", "NFCorpus"),
        ("nq", "NQ"),
        ("quora", "QuoraRetrieval"),
        ("scidocs", "SCIDOCS"),
        ("scifact", "SciFact"),
        ("trec-covid", "TRECCOVID"),
        ("webis-touche2020", "Touche2020"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == dataset)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| dataset.to_string())
}

/// The results JSON in MTEB's layout: `scores.<split>[0]` holds `ndcg_at_10`,
/// `map_at_10`, `recall_at_100`, `mrr_at_10`, ... and `main_score` (nDCG@10).
/// `settings` (retriever parameters) goes under `seine`.
pub fn mteb_json(result: &BeirResult, settings: Value) -> Value {
    let mut scores = serde_json::Map::new();
    for (k, v) in &result.measures.mean {
        scores.insert(k.clone(), json!(v));
    }
    let main = result
        .measures
        .mean
        .get("ndcg_at_10")
        .copied()
        .unwrap_or(0.0);
    scores.insert("main_score".into(), json!(main));
    scores.insert("hf_subset".into(), json!("default"));
    scores.insert("languages".into(), json!(["eng-Latn"]));
    json!({
        "task_name": mteb_task_name(&result.dataset),
        "mteb_version": null,
        "dataset_revision": null,
        "evaluation_time": result.search_seconds,
        "kg_co2_emissions": null,
        "scores": { result.split.clone(): [Value::Object(scores)] },
        "seine": {
            "version": env!("CARGO_PKG_VERSION"),
            "dataset": result.dataset,
            "retriever": result.retriever,
            "queries": result.queries,
            "settings": settings,
        },
    })
}

/// Writes `<out>/<run_name>/<Task>.json`; returns its path.
pub fn write_mteb(
    out: &Path,
    run_name: &str,
    result: &BeirResult,
    settings: Value,
) -> Result<PathBuf> {
    let dir = out.join(run_name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("{}.json", mteb_task_name(&result.dataset)));
    let text = serde_json::to_string_pretty(&mteb_json(result, settings)).expect("json");
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// Writes per-query measures as JSON (`{"query id": {"ndcg_at_10": ...}}`).
pub fn write_per_query(path: &Path, result: &BeirResult) -> Result<()> {
    let text = serde_json::to_string_pretty(&result.measures.per_query).expect("json");
    std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
}

/// A readable table of the main measures.
pub fn table(result: &BeirResult) -> String {
    let m = &result.measures.mean;
    let get = |k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    let mut s = format!(
        "{} / {} / {} ({} queries, {:.2} s, {:.0} queries/s)\n",
        result.dataset,
        result.split,
        result.retriever,
        result.queries,
        result.search_seconds,
        result.queries as f64 / result.search_seconds.max(1e-9)
    );
    s.push_str("measure      @1      @3      @5     @10     @20    @100   @1000\n");
    for (name, key) in [
        ("nDCG", "ndcg"),
        ("MAP", "map"),
        ("Recall", "recall"),
        ("P", "precision"),
        ("MRR", "mrr"),
    ] {
        s.push_str(&format!("{name:<8}"));
        for k in [1, 3, 5, 10, 20, 100, 1000] {
            s.push_str(&format!(" {:>7.4}", get(&format!("{key}_at_{k}"))));
        }
        s.push('\n');
    }
    s
}
