use std::path::PathBuf;

use anyhow::Context;
use seine_engine::{QueryParams, RetrieverKind, RetrieverSet, SearchRequest, Searcher};
use seine_index::IndexDir;
use seine_index::lexical::Bm25Params;

#[derive(clap::Args)]
pub struct Args {
    /// Index directory.
    index: PathBuf,
    /// Query text.
    query: String,
    /// Number of hits.
    #[arg(short, long, default_value_t = seine_engine::settings::DEFAULT_K)]
    k: usize,
    /// Retriever to use (`bm25`, `dense`, `splade`), a fusion (`bm25+dense+splade`), or
    /// `all`: one list per retriever the index has.
    #[arg(long, default_value = "all")]
    retriever: RetrieverArg,
    #[command(flatten)]
    fusion: super::FusionArgs,
    #[command(flatten)]
    rerank: super::RerankArgs,
    #[command(flatten)]
    plaid: super::PlaidArgs,
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
    /// Learned-sparse (splade) search: exact, or approximate — approx (alpha 0.9, the 20
    /// heaviest query terms), approx:ALPHA or approx:ALPHA:CUT (block bounds scaled by
    /// ALPHA in (0, 1] and the CUT heaviest query terms, 0 for all; lower is faster and
    /// may miss documents).
    #[arg(long, default_value = "exact")]
    sparse_search: seine_index::sparse::SparseSearch,
    /// Override BM25 k1 for this search.
    #[arg(long)]
    k1: Option<f32>,
    /// Override BM25 b for this search.
    #[arg(long)]
    b: Option<f32>,
    /// JSON output (one object with the hits).
    #[arg(long)]
    json: bool,
    /// Only documents whose metadata passes this filter, inside every retriever:
    /// `year >= 2015 AND type IN ("review", "trial")` (fields the index stores with
    /// `seine index --fields`).
    #[arg(long)]
    filter: Option<seine_engine::Filter>,
}

/// `--retriever`: one retriever, a fusion, or every retriever the index has.
#[derive(Debug, Clone)]
pub enum RetrieverArg {
    All,
    Set(RetrieverSet),
}

impl std::str::FromStr for RetrieverArg {
    type Err = seine_engine::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(RetrieverArg::All),
            _ => s.parse().map(RetrieverArg::Set),
        }
    }
}

impl RetrieverArg {
    /// The lists to show: the set, or one per retriever of the index.
    fn sets(&self, searcher: &Searcher) -> Vec<RetrieverSet> {
        match self {
            RetrieverArg::Set(s) => vec![s.clone()],
            RetrieverArg::All => searcher
                .retrievers()
                .into_iter()
                .map(RetrieverSet::one)
                .collect(),
        }
    }
}

fn open(a: &Args) -> anyhow::Result<Searcher> {
    let dir = IndexDir::open(&a.index)?;
    Ok(Searcher::open_on(
        dir,
        &seine_engine::model::resolve_device(a.device)?,
    )?)
}

/// The search these flags ask for, over `retrievers`.
fn request(
    a: &Args,
    searcher: &Searcher,
    retrievers: RetrieverSet,
) -> anyhow::Result<SearchRequest> {
    let bm25 = (a.k1.is_some() || a.b.is_some()).then(|| {
        let base = searcher.bm25_params().unwrap_or_default();
        Bm25Params {
            k1: a.k1.unwrap_or(base.k1),
            b: a.b.unwrap_or(base.b),
        }
    });
    Ok(SearchRequest {
        retrievers,
        k: a.k,
        fusion: a.fusion.fusion()?,
        rerank: a.rerank.rerank()?,
        params: QueryParams {
            bm25,
            ef: a.ef,
            plaid: a.plaid.plaid(a.k),
            warp: a.plaid.warp(a.k),
            sparse: a.sparse_search,
        },
        filter: a.filter.clone(),
    })
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let searcher = open(&a)?;
    if let Some(f) = &a.filter {
        searcher
            .check_filter(f)
            .with_context(|| format!("--filter {f}"))?;
    }
    if a.hops.hops.is_some() {
        return multihop(&a, &searcher);
    }
    let query_tokens = match (
        a.explain && a.rerank.rerank()?.is_some(),
        searcher.multi_encoder(),
    ) {
        (true, Some(m)) => Some(m.query_tokens(&a.query)?),
        _ => None,
    };
    // SPLADE query terms, computed once for the explanations.
    let splade_terms = match (a.explain, searcher.sparse()) {
        (true, Some(s)) => Some(s.query_terms(&a.query)?),
        _ => None,
    };
    let mut lists = Vec::new();
    for set in a.retriever.sets(&searcher) {
        let hits = searcher.search_fused(&a.query, &request(&a, &searcher, set.clone())?)?;
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
            if !searcher.fields().is_empty() {
                row["metadata"] = serde_json::Value::Object(searcher.metadata(h.doc));
            }
            if a.explain {
                row["sources"] = serde_json::to_value(&f.sources)?;
                if let (Some(m), Some(toks)) = (&f.token_maxima, &query_tokens) {
                    row["token_maxima"] = toks
                        .iter()
                        .zip(m)
                        .map(|(t, v)| serde_json::json!({"token": t, "max_similarity": v}))
                        .collect();
                }
                if let Some(terms) = &splade_terms
                    && set.contains(RetrieverKind::Splade)
                {
                    row["splade_terms"] =
                        serde_json::to_value(searcher.explain_splade(terms, h.doc)?)?;
                }
            }
            out.push(row);
        }
        lists.push((set.to_string(), out));
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
        print_list(name, hits);
    }
    Ok(())
}

/// One list as a table, with the explanations under each hit.
fn print_list(name: &str, hits: &[serde_json::Value]) {
    println!("[{name}]");
    if hits.is_empty() {
        println!("no hits");
        return;
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
        let line = |label: &str,
                    v: &serde_json::Value,
                    n: usize,
                    f: &dyn Fn(&serde_json::Value) -> String| {
            if let Some(items) = v.as_array() {
                let t: Vec<String> = items.iter().take(n).map(f).collect();
                println!("{:>17}{label}: {}", "", t.join(", "));
            }
        };
        line("from", &h["sources"], usize::MAX, &|s| {
            format!(
                "{} #{} ({:.4})",
                s["retriever"].as_str().unwrap_or_default(),
                s["rank"],
                s["score"].as_f64().unwrap_or_default()
            )
        });
        line("token maxima", &h["token_maxima"], usize::MAX, &|t| {
            format!(
                "{} {:.2}",
                t["token"].as_str().unwrap_or_default(),
                t["max_similarity"].as_f64().unwrap_or_default()
            )
        });
        line("splade terms", &h["splade_terms"], 8, &|t| {
            format!(
                "{} {:.3}",
                t["term"].as_str().unwrap_or_default(),
                t["contribution"].as_f64().unwrap_or_default()
            )
        });
    }
}

/// `--hops H`: the chain (each hop's query, passages and condensed facts), then the
/// final ranking.
fn multihop(a: &Args, searcher: &Searcher) -> anyhow::Result<()> {
    let retriever = a
        .retriever
        .sets(searcher)
        .into_iter()
        .next()
        .context("index has no retriever")?;
    let first = request(a, searcher, retriever.clone())?;
    let mut cfg = a
        .hops
        .config(&retriever, first.fusion, first.rerank, a.rerank.flipr_k)?;
    cfg.filter = first.filter;
    cfg.params = first.params;
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
