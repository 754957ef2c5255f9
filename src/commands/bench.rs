use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use seine_datasets::CorpusOptions;
use seine_datasets::beir::BeirDir;
use seine_engine::Searcher;

use super::{
    Bm25Args, DenseArgs, MultiArgs, SparseArgs, build_options, default_eval_index, open_or_build,
};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: Bench,
}

#[derive(clap::Subcommand)]
enum Bench {
    /// BM25 queries/s, single thread, over a BEIR split's queries.
    Bm25(Bm25Bench),
    /// Encoder docs/s, tokens/s and fraction of peak FLOPs over the first N documents
    /// of a corpus, or per-query latency (--latency); dense or SPLADE.
    Encode(super::bench_encode::EncodeBench),
    /// HNSW queries/s and recall@k against exact search, over a sweep of ef.
    Hnsw(HnswBench),
    /// SPLADE query latency (encode / impact search / brute force) and nDCG of the
    /// impact index against a brute-force dot product over unquantized vectors.
    Splade(super::bench_splade::SpladeBench),
    /// MaxSim kernel throughput (doc-token vectors/s, GB/s) on random normalized
    /// vectors, single- and multi-thread, against this machine's read bandwidth.
    Maxsim(MaxsimBench),
    /// Multi-hop per-question latency (p50/p99, one question at a time) for each
    /// number of hops, over a multi-hop BEIR folder's questions.
    Multihop(super::bench_multihop::MultihopBench),
    /// Build time, bytes per document, peak RSS, queries/s, p50/p99 and recall@10 of
    /// every part on synthetic corpora of growing size; a table and a log-log PNG.
    Scale(super::bench_scale::ScaleBench),
    /// Filtered dense search: recall@k against the exact filtered top k and queries/s
    /// at several filter selectivities (the path chosen, and each path forced).
    Filter(super::bench_filter::FilterBench),
}

#[derive(clap::Args)]
struct MaxsimBench {
    /// Query token vectors.
    #[arg(long, default_value_t = 32)]
    lq: usize,
    /// Token vectors per document.
    #[arg(long, default_value_t = 180)]
    ld: usize,
    /// Dimensions to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "128,384")]
    dim: Vec<usize>,
    /// Candidate counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    docs: Vec<usize>,
    /// Stored formats to measure: f16, f32, and residual-compressed 1bit, 2bit, 4bit
    /// (256 centroids trained on the data).
    #[arg(long, value_delimiter = ',', default_value = "f16,f32,2bit")]
    dtype: Vec<String>,
    /// Timed runs per configuration (median reported).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct HnswBench {
    /// Document vectors, Parquet (id, embedding): `seine embed` writes them.
    #[arg(long)]
    vectors: PathBuf,
    /// Query vectors, Parquet (id, embedding).
    #[arg(long)]
    queries: PathBuf,
    #[arg(long, default_value_t = seine_index::HnswParams::default().m)]
    m: usize,
    #[arg(long, default_value_t = seine_index::HnswParams::default().ef_construction)]
    ef_construction: usize,
    /// Beam widths to sweep (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10,12,16,20,24,32,48,64,96,128,256"
    )]
    ef: Vec<usize>,
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Recall@k the headline figure must reach.
    #[arg(long, default_value_t = 0.95)]
    target_recall: f64,
    /// Timed passes per ef (the median pass is reported).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Codes searched first, each swept in turn (comma-separated: none, int8, binary).
    #[arg(long, value_delimiter = ',', default_value = "none,int8,binary")]
    quantization: Vec<seine_index::Quantization>,
    /// Candidates rescored in f32 per hit, with quantization.
    #[arg(long, default_value_t = seine_index::dense::quant::DEFAULT_RESCORE)]
    rescore: usize,
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
    #[arg(short, long, default_value_t = seine_engine::settings::DEFAULT_K)]
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
        Bench::Encode(b) => super::bench_encode::run(b),
        Bench::Hnsw(b) => hnsw(b),
        Bench::Splade(b) => super::bench_splade::run(b),
        Bench::Maxsim(b) => maxsim(b),
        Bench::Multihop(b) => super::bench_multihop::run(b),
        Bench::Scale(b) => super::bench_scale::run(b),
        Bench::Filter(b) => super::bench_filter::run(b),
    }
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
            None,
            None,
        )
    });
    let parts = super::Parts {
        dense: &DenseArgs::none(),
        sparse: &SparseArgs::none(),
        multi: &MultiArgs::none(),
    };
    let opts = build_options(
        beir.root(),
        &CorpusOptions::default(),
        a.bm25.settings(),
        parts,
        false,
        0,
        &[],
    );
    let dir = open_or_build(beir.root(), &path, opts, parts, a.index.is_some(), false)?;
    let searcher = Searcher::open(dir)?;
    let bm25 = searcher.retriever(seine_engine::RetrieverKind::Bm25)?;
    let params = seine_engine::QueryParams {
        bm25: Some(a.bm25.params()),
        ..Default::default()
    };
    // No writes: the generation alone.
    let live = seine_engine::live::Live::new(0);
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
        bm25.retrieve(q, a.k, &live, None, &params)?;
    }
    let mut passes = Vec::with_capacity(a.repeat);
    let mut latencies = Vec::with_capacity(a.repeat * queries.len());
    for _ in 0..a.repeat {
        let start = Instant::now();
        for q in &queries {
            let t = Instant::now();
            std::hint::black_box(bm25.retrieve(q, a.k, &live, None, &params)?);
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

/// (ef, recall@k, queries/s) for each ef of the sweep.
fn sweep(
    index: &seine_index::DenseIndex,
    queries: &[&[f32]],
    truth: &[std::collections::HashSet<u32>],
    a: &HnswBench,
) -> anyhow::Result<Vec<(usize, f64, f64)>> {
    let mut rows = Vec::new();
    for &ef in &a.ef {
        let mut hits = 0usize;
        for (q, t) in queries.iter().zip(truth) {
            hits += index
                .search(q, a.k, Some(ef))?
                .iter()
                .filter(|h| t.contains(&h.doc))
                .count();
        }
        let recall = hits as f64 / truth.iter().map(|t| t.len()).sum::<usize>() as f64;
        let mut passes = Vec::with_capacity(a.repeat);
        for _ in 0..a.repeat {
            let start = Instant::now();
            for q in queries {
                std::hint::black_box(index.search(q, a.k, Some(ef))?);
            }
            passes.push(start.elapsed().as_secs_f64());
        }
        passes.sort_by(f64::total_cmp);
        rows.push((ef, recall, queries.len() as f64 / passes[passes.len() / 2]));
    }
    Ok(rows)
}

fn hnsw(a: HnswBench) -> anyhow::Result<()> {
    use seine_index::{DenseIndex, HnswParams};
    if a.repeat == 0 || a.k == 0 || a.ef.is_empty() {
        bail!("--repeat, -k and --ef must be non-empty and at least 1");
    }
    let (_, dim, docs) = seine_datasets::embeddings::read_embeddings(&a.vectors)?;
    let (_, qdim, queries) = seine_datasets::embeddings::read_embeddings(&a.queries)?;
    if dim != qdim {
        bail!("document vectors are {dim}-d, query vectors {qdim}-d");
    }
    let n = docs.len() / dim;
    let queries: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    if queries.is_empty() || n == 0 {
        bail!("no vectors");
    }
    let params = HnswParams {
        m: a.m,
        ef_construction: a.ef_construction,
        ef_search: a.k,
    };
    let threads = rayon::current_num_threads();
    let t = Instant::now();
    let mut index = DenseIndex::build(dim, docs, Some(params))?;
    let build_s = t.elapsed().as_secs_f64();
    let truth: Vec<std::collections::HashSet<u32>> = queries
        .iter()
        .map(|q| {
            Ok(index
                .search_exact(q, a.k)?
                .into_iter()
                .map(|h| h.doc)
                .collect())
        })
        .collect::<anyhow::Result<_>>()?;
    let mut sweeps = Vec::new();
    for &quant in &a.quantization {
        index.quantize(quant, a.rescore);
        let rows = sweep(&index, &queries, &truth, &a)?;
        sweeps.push((quant, index.code_bytes(), rows));
    }
    let at = |rows: &[(usize, f64, f64)]| rows.iter().copied().find(|r| r.1 >= a.target_recall);
    let json_rows = |rows: &[(usize, f64, f64)]| -> Vec<serde_json::Value> {
        rows.iter()
            .map(|&(ef, recall, qps)| serde_json::json!({"ef": ef, "recall": recall, "qps": qps}))
            .collect()
    };
    if a.json {
        let first = &sweeps[0].2;
        let all: Vec<_> = sweeps
            .iter()
            .map(|(q, bytes, rows)| {
                serde_json::json!({
                    "quantization": q.to_string(), "code_bytes": bytes, "sweep": json_rows(rows),
                    "at_target": at(rows).map(|(ef, recall, qps)| serde_json::json!({"ef": ef, "recall": recall, "qps": qps})),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "bench": "hnsw", "engine": "seine", "docs": n, "dim": dim,
                "queries": queries.len(), "k": a.k, "m": a.m,
                "ef_construction": a.ef_construction, "build_threads": threads,
                "build_s": build_s, "query_threads": 1, "sweep": json_rows(first),
                "target_recall": a.target_recall, "rescore": a.rescore,
                "simd": seine_kernels::Level::active().name(),
                "at_target": at(first).map(|(ef, recall, qps)| serde_json::json!({"ef": ef, "recall": recall, "qps": qps})),
                "quantized": all,
            })
        );
        return Ok(());
    }
    println!(
        "seine hnsw ({n} docs, {dim}-d, {} queries, k={}, M={}, efC={}, {}): built in {build_s:.1} s on {threads} threads",
        queries.len(),
        a.k,
        a.m,
        a.ef_construction,
        seine_kernels::Level::active().name()
    );
    for (quant, bytes, rows) in &sweeps {
        println!("-- {quant} (codes: {bytes} bytes, rescore {}×k)", a.rescore);
        println!("{:>6} {:>10} {:>12}", "ef", "recall", "queries/s");
        for (ef, recall, qps) in rows {
            println!("{ef:>6} {recall:>10.4} {qps:>12.0}");
        }
        match at(rows) {
            Some((ef, recall, qps)) => println!(
                "at recall@{} >= {}: ef={ef}, recall {recall:.4}, {qps:.0} queries/s (1 thread, median of {})",
                a.k, a.target_recall, a.repeat
            ),
            None => println!(
                "no ef in the sweep reached recall@{} >= {}",
                a.k, a.target_recall
            ),
        }
    }
    Ok(())
}

/// Median seconds of `repeat` runs of `f`.
fn median_secs(repeat: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..repeat)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Read bandwidth (GB/s) of this machine: a SIMD sum over 2 GiB, on `pool`'s threads.
fn read_bandwidth(pool: &rayon::ThreadPool, repeat: usize) -> f64 {
    use rayon::prelude::*;
    let buf = vec![1f32; 512 << 20];
    let secs = median_secs(repeat, || {
        let s: f32 = pool.install(|| buf.par_chunks(1 << 20).map(seine_kernels::simd::sum).sum());
        std::hint::black_box(s);
    });
    (buf.len() * 4) as f64 / secs / 1e9
}

fn maxsim(a: MaxsimBench) -> anyhow::Result<()> {
    use half::f16;
    use seine_kernels::{Reduce, Tokens};
    if a.repeat == 0 || a.lq == 0 || a.ld == 0 {
        bail!("--repeat, --lq and --ld must be at least 1");
    }
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1, all];
    counts.dedup();
    let pools: Vec<(usize, rayon::ThreadPool)> = counts
        .iter()
        .map(|&n| Ok((n, rayon::ThreadPoolBuilder::new().num_threads(n).build()?)))
        .collect::<anyhow::Result<_>>()?;
    let bandwidth: Vec<(usize, f64)> = pools
        .iter()
        .map(|(n, p)| (*n, read_bandwidth(p, a.repeat)))
        .collect();
    // The machine's FMA peak on each pool (best of three probes).
    let peaks: Vec<Option<f64>> = pools
        .iter()
        .map(|(_, p)| {
            (0..3)
                .filter_map(|_| p.install(seine_kernels::bert::peak::peak_fma_gflops))
                .reduce(f64::max)
        })
        .collect();
    let mut seed = 0x2545f4914f6cdd1du64;
    let mut rnd = move || seine_kernels::rng::centered(&mut seed);
    let mut rows = Vec::new();
    for &dim in &a.dim {
        let q: Vec<f32> = (0..a.lq * dim).map(|_| rnd()).collect();
        let max_docs = a.docs.iter().copied().max().unwrap_or(0);
        let data: Vec<f32> = (0..max_docs * a.ld * dim).map(|_| rnd()).collect();
        for dtype in &a.dtype {
            let halves: Vec<f16>;
            let (codec, mut cids, mut codes);
            let docs: Vec<Tokens> = match dtype.as_str() {
                "f32" => data.chunks_exact(a.ld * dim).map(Tokens::F32).collect(),
                "f16" => {
                    halves = data.iter().map(|&x| f16::from_f32(x)).collect();
                    halves.chunks_exact(a.ld * dim).map(Tokens::F16).collect()
                }
                "1bit" | "2bit" | "4bit" => {
                    let bits = dtype[..1].parse().expect("digit");
                    let sample = &data[..(data.len() / dim).min(20_000) * dim];
                    codec = seine_kernels::residual::Codec::train(sample, dim, 256, bits, 4, 7);
                    (cids, codes) = (Vec::new(), Vec::new());
                    codec.encode(&data, &mut cids, &mut codes);
                    let rb = codec.row_bytes();
                    cids.chunks_exact(a.ld)
                        .zip(codes.chunks_exact(a.ld * rb))
                        .map(|(cids, codes)| {
                            Tokens::Compressed(seine_kernels::Compressed {
                                codec: &codec,
                                cids,
                                codes,
                            })
                        })
                        .collect()
                }
                other => bail!("unknown --dtype {other:?} (f16, f32, 1bit, 2bit or 4bit)"),
            };
            for &n in &a.docs {
                let docs = &docs[..n];
                let bytes: usize = docs.iter().map(|d| d.bytes()).sum();
                for (((threads, pool), (_, bw)), peak) in pools.iter().zip(&bandwidth).zip(&peaks) {
                    let secs = median_secs(a.repeat, || {
                        let s = pool
                            .install(|| seine_kernels::score_batch(&q, dim, docs, Reduce::MaxSim));
                        std::hint::black_box(s);
                    });
                    let gbs = bytes as f64 / secs / 1e9;
                    let gflops = 2.0 * (n * a.ld * a.lq * dim) as f64 / secs / 1e9;
                    rows.push(serde_json::json!({
                        "dim": dim, "dtype": dtype, "docs": n, "threads": threads,
                        "median_ms": secs * 1e3,
                        "doc_vectors_per_s": (n * a.ld) as f64 / secs,
                        "gb_per_s": gbs, "read_bandwidth_gb_per_s": bw,
                        "fraction_of_bandwidth": gbs / bw,
                        "gflops": gflops, "peak_gflops": peak,
                        "fraction_of_peak": peak.map(|p| gflops / p),
                    }));
                }
            }
        }
    }
    let body = serde_json::json!({
        "bench": "maxsim", "lq": a.lq, "ld": a.ld, "simd": seine_kernels::Level::active().name(),
        "read_bandwidth_gb_per_s": bandwidth.iter().map(|(n, b)| serde_json::json!({"threads": n, "gb_per_s": b})).collect::<Vec<_>>(),
        "results": rows,
    });
    if a.json {
        println!("{body}");
        return Ok(());
    }
    print_maxsim(&a, &bandwidth, &rows);
    Ok(())
}

fn print_maxsim(a: &MaxsimBench, bandwidth: &[(usize, f64)], rows: &[serde_json::Value]) {
    println!(
        "seine maxsim (Lq={}, Ld={}, {}); read bandwidth: {}",
        a.lq,
        a.ld,
        seine_kernels::Level::active().name(),
        bandwidth
            .iter()
            .map(|(n, b)| format!("{b:.1} GB/s on {n} thread(s)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:>5} {:>5} {:>6} {:>3} {:>10} {:>16} {:>8} {:>7} {:>7} {:>7}",
        "dim",
        "type",
        "docs",
        "thr",
        "median ms",
        "doc vectors/s",
        "GB/s",
        "of bw",
        "GFLOP/s",
        "of peak"
    );
    for r in rows {
        println!(
            "{:>5} {:>5} {:>6} {:>3} {:>10.2} {:>16.0} {:>8.2} {:>6.0}% {:>7.1} {:>6}",
            r["dim"],
            r["dtype"].as_str().unwrap_or_default(),
            r["docs"],
            r["threads"],
            r["median_ms"].as_f64().unwrap_or_default(),
            r["doc_vectors_per_s"].as_f64().unwrap_or_default(),
            r["gb_per_s"].as_f64().unwrap_or_default(),
            r["fraction_of_bandwidth"].as_f64().unwrap_or_default() * 100.0,
            r["gflops"].as_f64().unwrap_or_default(),
            r["fraction_of_peak"]
                .as_f64()
                .map_or("-".to_string(), |f| format!("{:.0}%", f * 100.0)),
        );
    }
}
