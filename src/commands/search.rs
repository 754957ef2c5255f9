use std::path::PathBuf;

use anyhow::Context;
use seine_engine::Searcher;
use seine_index::IndexDir;
use seine_index::lexical::Bm25Params;

#[derive(clap::Args)]
pub struct Args {
    /// Index directory.
    index: PathBuf,
    /// Query text.
    query: String,
    /// Number of hits.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Retriever to use (`bm25`, `dense`), or `all`: one list per retriever the index has.
    #[arg(long, default_value = "all")]
    retriever: String,
    /// Device for query encoders: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: seine_engine::model::DeviceSpec,
    /// HNSW beam width (dense; default stored in the index).
    #[arg(long)]
    ef: Option<usize>,
    /// Override BM25 k1 for this search.
    #[arg(long)]
    k1: Option<f32>,
    /// Override BM25 b for this search.
    #[arg(long)]
    b: Option<f32>,
    /// JSON output (one object with the hits).
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let dir = IndexDir::open(&a.index)?;
    let mut searcher = Searcher::open_on(dir, &seine_engine::model::resolve_device(a.device)?)?;
    searcher.set_dense_ef(a.ef);
    if a.k1.is_some() || a.b.is_some() {
        let base = searcher
            .index()
            .manifest()
            .lexical
            .map(|l| l.params())
            .unwrap_or_default();
        searcher.set_bm25_params(Bm25Params {
            k1: a.k1.unwrap_or(base.k1),
            b: a.b.unwrap_or(base.b),
        })?;
    }
    let names: Vec<String> = if a.retriever == "all" {
        searcher
            .retrievers()
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        vec![a.retriever.clone()]
    };
    let mut lists = Vec::new();
    for name in &names {
        let hits = searcher.search(name, &a.query, a.k)?;
        let mut out = Vec::new();
        for (rank, h) in hits.iter().enumerate() {
            let stored = searcher.stored(h.doc)?;
            out.push(serde_json::json!({
                "rank": rank + 1,
                "id": h.id,
                "score": h.score,
                "title": stored.as_ref().map(|s| s.title.as_str()),
                "text": stored.as_ref().map(|s| s.text.as_str()),
            }));
        }
        lists.push((name.clone(), out));
    }
    if a.json {
        let results: serde_json::Map<String, serde_json::Value> = lists
            .iter()
            .map(|(n, h)| (n.clone(), serde_json::Value::Array(h.clone())))
            .collect();
        let mut body = serde_json::json!({"query": a.query, "results": results});
        if lists.len() == 1 {
            body["retriever"] = serde_json::json!(lists[0].0);
            body["hits"] = serde_json::Value::Array(lists[0].1.clone());
        }
        println!("{}", serde_json::to_string_pretty(&body).context("json")?);
        return Ok(());
    }
    for (name, hits) in &lists {
        println!("[{name}]");
        if hits.is_empty() {
            println!("no hits");
            continue;
        }
        println!("{:>4}  {:>9}  {:<14}  title / text", "rank", "score", "id");
        for h in hits {
            let title = h["title"].as_str().unwrap_or_default();
            let snippet = if title.is_empty() {
                h["text"].as_str().unwrap_or_default()
            } else {
                title
            };
            let snippet: String = snippet.chars().take(80).collect();
            println!(
                "{:>4}  {:>9.4}  {:<14}  {}",
                h["rank"],
                h["score"].as_f64().unwrap_or_default(),
                h["id"].as_str().unwrap_or_default(),
                snippet.replace('\n', " ")
            );
        }
    }
    Ok(())
}
