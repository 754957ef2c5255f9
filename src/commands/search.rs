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
    /// Retriever to use.
    #[arg(long, default_value = "bm25")]
    retriever: String,
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
    let mut searcher = Searcher::open(dir)?;
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
    let hits = searcher.search(&a.retriever, &a.query, a.k)?;
    if a.json {
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
        let body = serde_json::json!({"query": a.query, "retriever": a.retriever, "hits": out});
        println!("{}", serde_json::to_string_pretty(&body).context("json")?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no hits");
        return Ok(());
    }
    println!("{:>4}  {:>9}  {:<14}  title / text", "rank", "score", "id");
    for (rank, h) in hits.iter().enumerate() {
        let stored = searcher.stored(h.doc)?;
        let snippet = stored
            .map(|s| if s.title.is_empty() { s.text } else { s.title })
            .unwrap_or_default();
        let snippet: String = snippet.chars().take(80).collect();
        println!(
            "{:>4}  {:>9.4}  {:<14}  {}",
            rank + 1,
            h.score,
            h.id,
            snippet.replace('\n', " ")
        );
    }
    Ok(())
}
