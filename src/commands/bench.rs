use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use seine_datasets::CorpusOptions;
use seine_datasets::beir::BeirDir;
use seine_engine::Searcher;
use seine_index::IndexDir;

use super::{Bm25Args, DenseArgs, build_index, default_eval_index};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: Bench,
}

#[derive(clap::Subcommand)]
enum Bench {
    /// BM25 queries/s, single thread, over a BEIR split's queries.
    Bm25(Bm25Bench),
    /// Dense encoding docs/s and tokens/s over the first N documents of a corpus.
    Encode(EncodeBench),
}

#[derive(clap::Args)]
struct EncodeBench {
    /// Corpus (BEIR folder, .jsonl, ...).
    corpus: PathBuf,
    #[arg(long, default_value = "minilm")]
    model: String,
    /// Documents encoded.
    #[arg(long, default_value_t = 2000)]
    docs: usize,
    /// Timed passes (median reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct Bm25Bench {
    /// BEIR dataset folder.
    dataset: PathBuf,
    #[arg(long, default_value = "test")]
    split: String,
    #[command(flatten)]
    bm25: Bm25Args,
    /// Index to use (built when missing) [default: bench-out/indexes/<dataset>-bm25-<mode>].
    #[arg(long)]
    index: Option<PathBuf>,
    /// Hits per query.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Timed passes over all queries (the median pass is reported).
    #[arg(long, default_value_t = 7)]
    repeat: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    match a.what {
        Bench::Bm25(b) => bm25(b),
        Bench::Encode(b) => encode(b),
    }
}

fn encode(a: EncodeBench) -> anyhow::Result<()> {
    use seine_engine::model::{ModelDir, resolve_model};
    use seine_engine::{DenseEncoder, Encoder, Side};
    if a.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let enc = DenseEncoder::load(
        &ModelDir::open(&resolve_model(&a.model)?)?,
        &candle_core::Device::Cpu,
    )?;
    let docs = seine_datasets::open_corpus(&a.corpus, &Default::default())?;
    let texts: Vec<String> = docs
        .take(a.docs)
        .map(|d| d.map(|d| seine_engine::indexer::doc_text(&d)))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens: usize = enc
        .tokenizer()
        .encode(&refs)?
        .iter()
        .map(|e| e.get_ids().len())
        .sum();
    let mut passes = Vec::new();
    for _ in 0..a.repeat {
        let t = Instant::now();
        std::hint::black_box(enc.encode(&refs, Side::Document)?);
        passes.push(t.elapsed().as_secs_f64());
    }
    passes.sort_by(f64::total_cmp);
    let med = passes[passes.len() / 2];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if a.json {
        println!(
            "{}",
            serde_json::json!({"bench": "encode", "model": enc.name(), "docs": texts.len(),
                "tokens": tokens, "threads": threads, "median_s": med,
                "docs_per_s": texts.len() as f64 / med, "tokens_per_s": tokens as f64 / med})
        );
    } else {
        println!(
            "seine encode {} ({} docs, {} tokens, max length {}, {} threads): {:.1} docs/s, {:.0} tokens/s (median of {})",
            enc.name(),
            texts.len(),
            tokens,
            enc.tokenizer().max_length(),
            threads,
            texts.len() as f64 / med,
            tokens as f64 / med,
            a.repeat
        );
    }
    Ok(())
}

fn bm25(a: Bm25Bench) -> anyhow::Result<()> {
    if a.repeat == 0 || a.k == 0 {
        bail!("--repeat and -k must be at least 1");
    }
    let beir = BeirDir::open(&a.dataset)?;
    let path = a.index.clone().unwrap_or_else(|| {
        default_eval_index(
            &PathBuf::from("bench-out"),
            &beir.name(),
            a.bm25.bm25_mode,
            None,
        )
    });
    let dir = match IndexDir::open(&path) {
        Ok(d) if d.manifest().lexical.map(|l| l.mode) == Some(a.bm25.bm25_mode) => d,
        _ => {
            let overwrite = path.exists();
            build_index(
                beir.root(),
                &path,
                &CorpusOptions::default(),
                a.bm25.settings(),
                &DenseArgs::none(),
                overwrite,
                0,
            )?
            .0
        }
    };
    let mut searcher = Searcher::open(dir)?;
    searcher.set_bm25_params(a.bm25.params())?;
    let bm25 = searcher.retriever("bm25")?;
    let queries: Vec<String> = beir
        .split(&a.split)?
        .0
        .into_iter()
        .map(|q| q.text)
        .collect();
    if queries.is_empty() {
        bail!("no judged queries in split {}", a.split);
    }
    // Warm-up pass (page cache, allocator).
    for q in &queries {
        bm25.retrieve(q, a.k)?;
    }
    let mut passes = Vec::with_capacity(a.repeat);
    let mut latencies = Vec::with_capacity(a.repeat * queries.len());
    for _ in 0..a.repeat {
        let start = Instant::now();
        for q in &queries {
            let t = Instant::now();
            std::hint::black_box(bm25.retrieve(q, a.k)?);
            latencies.push(t.elapsed().as_secs_f64());
        }
        passes.push(start.elapsed().as_secs_f64());
    }
    passes.sort_by(f64::total_cmp);
    latencies.sort_by(f64::total_cmp);
    let median = passes[passes.len() / 2];
    let qps = queries.len() as f64 / median;
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize] * 1e6;
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "bench": "bm25", "dataset": beir.name(), "split": a.split,
                "queries": queries.len(), "k": a.k, "threads": 1, "repeat": a.repeat,
                "median_pass_s": median, "qps": qps,
                "p50_us": pct(0.5), "p99_us": pct(0.99),
            })
        );
    } else {
        println!(
            "seine bm25 ({}, {} queries, k={}, 1 thread): {:.0} queries/s (median of {} passes), \
             latency p50 {:.0} us, p99 {:.0} us",
            beir.name(),
            queries.len(),
            a.k,
            qps,
            a.repeat,
            pct(0.5),
            pct(0.99)
        );
    }
    Ok(())
}
