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
    /// Retriever to use (`bm25`, `dense`, `splade`), a fusion (`bm25+dense+splade`), or
    /// `all`: one list per retriever the index has.
    #[arg(long, default_value = "all")]
    retriever: String,
    #[command(flatten)]
    fusion: super::FusionArgs,
    #[command(flatten)]
    rerank: super::RerankArgs,
    #[command(flatten)]
    hops: super::MultiHopArgs,
    /// Show where each hit came from: per-retriever ranks and scores, and the SPLADE
    /// terms that matched.
    #[arg(long)]
    explain: bool,
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
    searcher.set_fusion(a.fusion.fusion()?);
    searcher.set_rerank(a.rerank.rerank()?)?;
    let query_tokens = match (
        a.explain && a.rerank.rerank.is_some(),
        searcher.multi_encoder(),
    ) {
        (true, Some(m)) => Some(m.query_tokens(&a.query)?),
        _ => None,
    };
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
    if a.hops.hops.is_some() {
        return multihop(&a, &searcher);
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
    // SPLADE query terms, computed once for the explanations.
    let splade_terms = match (a.explain, searcher.sparse()) {
        (true, Some(s)) => Some(s.query_terms(&a.query)?),
        _ => None,
    };
    for name in &names {
        let hits = searcher.search_fused(name, &a.query, a.k)?;
        let mut out = Vec::new();
        for (rank, f) in hits.iter().enumerate() {
            let h = &f.hit;
            let stored = searcher.stored(h.doc)?;
            let mut row = serde_json::json!({
                "rank": rank + 1,
                "id": h.id,
                "score": h.score,
                "title": stored.as_ref().map(|s| s.title.as_str()),
                "text": stored.as_ref().map(|s| s.text.as_str()),
            });
            if a.explain {
                row["sources"] = serde_json::to_value(&f.sources)?;
                if let (Some(m), Some(toks)) = (&f.token_maxima, &query_tokens) {
                    row["token_maxima"] = toks
                        .iter()
                        .zip(m)
                        .map(|(t, v)| serde_json::json!({"token": t, "max_similarity": v}))
                        .collect();
                }
                if let (Some(terms), Some(sp)) = (&splade_terms, searcher.sparse())
                    && name.split('+').any(|p| p == "splade")
                {
                    let refs: Vec<(&str, f32)> =
                        terms.iter().map(|(t, w)| (t.as_str(), *w)).collect();
                    let scale = sp.index().scale();
                    let mut parts = sp.index().explain(&refs, h.doc)?;
                    parts.sort_by(|x, y| (y.1 * y.2 as f32).total_cmp(&(x.1 * x.2 as f32)));
                    row["splade_terms"] = parts
                        .iter()
                        .map(|(t, w, imp)| {
                            serde_json::json!({"term": t, "query_weight": w, "impact": imp,
                                "contribution": w * *imp as f32 / scale})
                        })
                        .collect();
                }
            }
            out.push(row);
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
            if let Some(sources) = h["sources"].as_array() {
                let s: Vec<String> = sources
                    .iter()
                    .map(|s| {
                        format!(
                            "{} #{} ({:.4})",
                            s["retriever"].as_str().unwrap_or_default(),
                            s["rank"],
                            s["score"].as_f64().unwrap_or_default()
                        )
                    })
                    .collect();
                println!("{:>17}from: {}", "", s.join(", "));
            }
            if let Some(m) = h["token_maxima"].as_array() {
                let t: Vec<String> = m
                    .iter()
                    .map(|t| {
                        format!(
                            "{} {:.2}",
                            t["token"].as_str().unwrap_or_default(),
                            t["max_similarity"].as_f64().unwrap_or_default()
                        )
                    })
                    .collect();
                println!("{:>17}token maxima: {}", "", t.join(", "));
            }
            if let Some(terms) = h["splade_terms"].as_array() {
                let t: Vec<String> = terms
                    .iter()
                    .take(8)
                    .map(|t| {
                        format!(
                            "{} {:.3}",
                            t["term"].as_str().unwrap_or_default(),
                            t["contribution"].as_f64().unwrap_or_default()
                        )
                    })
                    .collect();
                println!("{:>17}splade terms: {}", "", t.join(", "));
            }
        }
    }
    Ok(())
}

/// `--hops H`: the chain (each hop's query, passages and condensed facts), then the
/// final ranking.
fn multihop(a: &Args, searcher: &Searcher) -> anyhow::Result<()> {
    let retriever = if a.retriever == "all" {
        searcher
            .retrievers()
            .first()
            .map(|s| s.to_string())
            .context("index has no retriever")?
    } else {
        a.retriever.clone()
    };
    let cfg = a.hops.config(
        &retriever,
        a.fusion.fusion()?,
        a.rerank.rerank()?,
        a.rerank.flipr_k,
    )?;
    let r = searcher.search_multihop(&a.query, a.k, &cfg)?;
    let mut hits = Vec::new();
    for (rank, h) in r.ranking.iter().enumerate() {
        let stored = searcher.stored(h.doc)?;
        hits.push(serde_json::json!({
            "rank": rank + 1, "id": h.id, "score": h.score,
            "title": stored.as_ref().map(|s| s.title.as_str()),
            "text": stored.as_ref().map(|s| s.text.as_str()),
        }));
    }
    if a.json {
        let body = serde_json::json!({
            "query": a.query, "retriever": retriever, "hops": r.hops,
            "stopped_early": r.stopped_early, "hits": hits,
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    if a.explain {
        for (i, hop) in r.hops.iter().enumerate() {
            println!("[hop {}] query: {}", i + 1, hop.query);
            println!(
                "  retrieved: {}",
                hop.retrieved
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" · ")
            );
            println!("  picks:     {}", hop.picks.join(" · "));
            for f in &hop.facts {
                println!(
                    "  fact ({:.3}) {} #{}: {}",
                    f.score, f.title, f.sentence, f.text
                );
            }
        }
        if r.stopped_early {
            println!("(stopped early: a hop found nothing new)");
        }
    }
    println!("[{retriever}, {} hops]", r.hops.len());
    println!("{:>4}  {:<30}  text", "rank", "id");
    for h in &hits {
        let text: String = h["text"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(70)
            .collect();
        println!(
            "{:>4}  {:<30}  {}",
            h["rank"],
            h["id"].as_str().unwrap_or_default(),
            text.replace('\n', " ")
        );
    }
    Ok(())
}
