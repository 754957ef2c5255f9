//! `seine bench multihop`: multi-hop latency per hop count, one question at a time.

use std::path::PathBuf;
use std::time::Instant;

use seine_datasets::beir::BeirDir;
use seine_engine::Searcher;
use seine_index::IndexDir;

#[derive(clap::Args)]
pub struct MultihopBench {
    /// A multi-hop BEIR folder (gold passages in qrels or metadata.supporting_facts).
    dataset: PathBuf,
    /// Qrels split whose questions are timed.
    #[arg(long, default_value = "test")]
    split: String,
    /// Index of the dataset (with --multi token vectors for the maxsim condenser).
    #[arg(long)]
    index: PathBuf,
    /// Hop counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    hop_counts: Vec<usize>,
    /// Questions timed (the first N).
    #[arg(long, default_value_t = 200)]
    questions: usize,
    #[arg(long, default_value = "bm25+dense")]
    retriever: seine_engine::RetrieverSet,
    #[command(flatten)]
    fusion: super::FusionArgs,
    #[command(flatten)]
    rerank: super::RerankArgs,
    #[command(flatten)]
    hops: super::MultiHopArgs,
}

pub fn run(a: MultihopBench) -> anyhow::Result<()> {
    let beir = BeirDir::open(&a.dataset)?;
    let (queries, qrels) = beir.split(&a.split)?;
    let questions = seine_eval::multihop::questions(&queries, &qrels)?;
    let questions = &questions[..a.questions.min(questions.len())];
    let searcher = Searcher::open(IndexDir::open(&a.index)?)?;
    let fusion = a.fusion.fusion()?;
    let rerank = a.rerank.rerank()?;
    println!(
        "{} questions, {}{}, one at a time on this thread",
        questions.len(),
        a.retriever,
        rerank.map_or(String::new(), |r| format!(" + {}", r.label()))
    );
    println!(
        "{:>5} {:>10} {:>10} {:>10}",
        "hops", "p50 ms", "p99 ms", "mean ms"
    );
    for &h in &a.hop_counts {
        let mut args = a.hops.clone();
        args.hops = Some(h);
        let cfg = args.config(&a.retriever, fusion.clone(), rerank, a.rerank.flipr_k)?;
        // Warm-up (lazy allocations, caches).
        for q in questions.iter().take(5) {
            searcher.search_multihop(&q.text, 20, &cfg)?;
        }
        let mut ms: Vec<f64> = Vec::with_capacity(questions.len());
        for q in questions {
            let t = Instant::now();
            searcher.search_multihop(&q.text, 20, &cfg)?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        ms.sort_by(f64::total_cmp);
        let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
        println!("{h:>5} {:>10.1} {:>10.1} {mean:>10.1}", pct(0.5), pct(0.99));
    }
    Ok(())
}
