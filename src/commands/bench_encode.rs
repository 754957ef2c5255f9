//! `seine bench encode`: encoder throughput (documents) or latency (one query at a time),
//! with the backend, the CPU, the FLOPs done and the fraction of the machine's measured
//! peak FMA throughput they reach.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use seine_datasets::beir::BeirDir;
use seine_engine::encoders::Encoders;
use seine_engine::model::{ModelDir, backend_for, resolve_model};
use seine_engine::settings::EmbedKind;
use seine_engine::{DenseEncoder, Encoder, Pruning, Side, SpladeEncoder};

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A sentence-transformers bi-encoder (pooled vectors).
    Dense,
    /// A SPLADE masked LM (vocabulary-sized sparse vectors).
    Splade,
}

#[derive(clap::Args)]
pub struct EncodeBench {
    /// Corpus (BEIR folder, .jsonl, ...); a BEIR folder for --latency.
    corpus: PathBuf,
    #[arg(long, value_enum, default_value = "dense")]
    kind: Kind,
    /// Model name or folder [default: minilm for dense, splade-tiny for splade].
    #[arg(long)]
    model: Option<String>,
    /// Documents encoded (throughput).
    #[arg(long, default_value_t = 2000)]
    docs: usize,
    /// Timed passes (median reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Latency instead of throughput: the split's queries encoded one at a time (query
    /// side), p50/p99 over every pass. Threads: RAYON_NUM_THREADS.
    #[arg(long)]
    latency: bool,
    #[arg(long, default_value = "test")]
    split: String,
    #[arg(long)]
    json: bool,
}

enum Enc {
    Dense(std::sync::Arc<DenseEncoder>),
    Splade(std::sync::Arc<SpladeEncoder>),
}

impl Enc {
    fn encode(&self, texts: &[&str], side: Side) -> anyhow::Result<()> {
        match self {
            Enc::Dense(e) => drop(std::hint::black_box(e.encode(texts, side)?)),
            Enc::Splade(e) => drop(std::hint::black_box(e.encode(texts, side)?)),
        }
        Ok(())
    }

    fn tokens(&self, texts: &[&str]) -> anyhow::Result<Vec<usize>> {
        let tok = match self {
            Enc::Dense(e) => e.tokenizer(),
            Enc::Splade(e) => e.tokenizer(),
        };
        Ok(tok
            .encode(texts)?
            .iter()
            .map(|e| e.get_ids().len())
            .collect())
    }
}

/// FLOPs of one forward pass over sequences of these lengths (multiply-adds × 2).
fn flops(cfg: &serde_json::Value, kind: Kind, lens: &[usize]) -> f64 {
    let f = |k: &str| cfg[k].as_f64().unwrap_or(0.0);
    let (h, i, l) = (
        f("hidden_size"),
        f("intermediate_size"),
        f("num_hidden_layers"),
    );
    let per_token = l * 2.0 * (3.0 * h * h + h * h + 2.0 * h * i)
        + match kind {
            Kind::Dense => 0.0,
            Kind::Splade => 2.0 * (h * h + h * f("vocab_size")),
        };
    lens.iter()
        .map(|&n| {
            let n = n as f64;
            n * per_token + l * 4.0 * n * n * h
        })
        .sum()
}

fn texts(a: &EncodeBench) -> anyhow::Result<Vec<String>> {
    if a.latency {
        let beir = BeirDir::open(&a.corpus)?;
        let q: Vec<String> = beir
            .split(&a.split)?
            .0
            .into_iter()
            .map(|q| q.text)
            .collect();
        if q.is_empty() {
            bail!("no judged queries in split {}", a.split);
        }
        return Ok(q);
    }
    let docs = seine_datasets::open_corpus(&a.corpus, &Default::default())?;
    Ok(docs
        .take(a.docs)
        .map(|d| d.map(|d| seine_engine::encode::doc_text(&d)))
        .collect::<Result<_, _>>()?)
}

pub fn run(a: EncodeBench) -> anyhow::Result<()> {
    if a.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let device = candle_core::Device::Cpu;
    let name = a.model.clone().unwrap_or_else(|| {
        match a.kind {
            Kind::Dense => "minilm",
            Kind::Splade => "splade-tiny",
        }
        .into()
    });
    let dir = ModelDir::open(&resolve_model(&name)?)?;
    let kind = match a.kind {
        Kind::Dense => EmbedKind::Dense,
        Kind::Splade => EmbedKind::Sparse,
    };
    let loaded = Encoders::standalone(kind, &name, Pruning::default(), &device)?;
    let enc = match (loaded.dense, loaded.sparse) {
        (Some(d), _) => Enc::Dense(d),
        (_, Some(s)) => Enc::Splade(s),
        _ => unreachable!("standalone loads the kind asked for"),
    };
    let texts = texts(&a)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let lens = enc.tokens(&refs)?;
    let tokens: usize = lens.iter().sum();
    let work = flops(&dir.config, a.kind, &lens);
    let threads = rayon::current_num_threads();
    let backend = match backend_for(&device) {
        seine_engine::model::Backend::Native => {
            format!("native {}", seine_engine::model::cpu_precision())
        }
        b => b.to_string(),
    };
    let cpu = super::cpu_name();
    let peak = seine_kernels::bert::peak::peak_fma_gflops();
    let mut passes = Vec::new();
    let mut latencies = Vec::new();
    if a.latency {
        let side = Side::Query;
        for q in &refs {
            enc.encode(&[q], side)?; // warm-up
        }
        let t0 = Instant::now();
        for _ in 0..a.repeat {
            for q in &refs {
                let t = Instant::now();
                enc.encode(&[q], side)?;
                latencies.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        passes.push(t0.elapsed().as_secs_f64() / a.repeat as f64);
    } else {
        for _ in 0..a.repeat {
            let t = Instant::now();
            enc.encode(&refs, Side::Document)?;
            passes.push(t.elapsed().as_secs_f64());
        }
    }
    passes.sort_by(f64::total_cmp);
    latencies.sort_by(f64::total_cmp);
    let med = passes[passes.len() / 2];
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let gflops = work / med / 1e9;
    let of_peak = peak.map(|p| gflops / p);
    if a.json {
        println!(
            "{}",
            serde_json::json!({"bench": "encode", "kind": format!("{:?}", a.kind).to_lowercase(),
                "model": name, "backend": backend, "cpu": cpu,
                "int8_kernel": seine_kernels::bert::int8::kernel_name(seine_kernels::Level::active()),
                "simd": seine_kernels::Level::active().name(), "texts": texts.len(),
                "tokens": tokens, "threads": threads, "median_s": med,
                "texts_per_s": texts.len() as f64 / med, "tokens_per_s": tokens as f64 / med,
                "gflops": gflops, "peak_gflops": peak, "fraction_of_peak": of_peak,
                "latency_ms_p50": a.latency.then(|| pct(0.5)),
                "latency_ms_p99": a.latency.then(|| pct(0.99))})
        );
        return Ok(());
    }
    let what = if a.latency { "queries" } else { "docs" };
    println!(
        "seine encode {name} [{backend}] ({} {what}, {tokens} tokens, {threads} threads, {cpu}, {}): \
         {:.1} {what}/s, {:.0} tokens/s, {:.1} GFLOP/s{} (median of {})",
        texts.len(),
        seine_kernels::Level::active().name(),
        texts.len() as f64 / med,
        tokens as f64 / med,
        gflops,
        match (peak, of_peak) {
            (Some(p), Some(f)) => format!(" = {:.0}% of the measured FMA peak {p:.0}", f * 100.0),
            _ => String::new(),
        },
        a.repeat
    );
    if a.latency {
        println!(
            "latency per query: p50 {:.2} ms, p99 {:.2} ms",
            pct(0.5),
            pct(0.99)
        );
    }
    Ok(())
}
