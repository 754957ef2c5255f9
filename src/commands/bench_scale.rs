//! `seine bench scale`: how build time, disk, memory and query cost grow with the
//! corpus. Synthetic corpora (deterministic from the document number) are built and
//! searched through the real index code, one retriever part per index:
//!
//! - bm25 and splade, each on two corpora ([`super::bench_scale_gen`]): *calibrated*,
//!   drawn from parameters fitted in the same run to SciFact through seine's analyzer
//!   and splade-tiny ([`super::bench_scale_calib`], printed first), and *stress*, the
//!   uncalibrated generators (bm25: 100 Zipf(1) words of 50,000 per document, queries
//!   of 5 Zipf(1) words head included, plus a tail set without the top 100 words;
//!   splade: 60 Zipf-drawn terms of 30,000 with made-up decaying weights, queries the
//!   first 20 terms of a document);
//! - dense: 384-d normalized vectors around 1,000 cluster centres (like MiniLM), HNSW;
//! - maxsim: 32 token vectors × 128-d per document (as after a ColBERT projection),
//!   around 4,096 token centres, stored 2-bit compressed, searched by PLAID.
//!
//! Each (size, part, corpus) is built, then searched, in a child process of its own (so
//! each peak RSS is that step's). Approximate searches are checked against exact ones
//! by recall@10; pruned ones against exhaustive ones. With `--peers`, the engines users
//! would pick instead run on the same corpus and queries in the same run (tantivy and
//! bm25s for bm25, Seismic for splade). Output: a table, `scale.json`, `scale.png`
//! (log-log curves of seine and the peers) and each curve's fitted exponent.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::bench_scale_calib::Calibration;
use super::bench_scale_gen::{Corpus, Source};
use anyhow::{Context, bail};
use seine_datasets::Doc;
use seine_engine::RetrieverKind;
use seine_index::{
    BuildOptions, Compression, DenseSettings, DocParts, GraphMode, HnswParams, IndexDir,
    IndexWriter, LexicalSettings, MultiSettings, SourceInfo, SparseSettings, VectorDtype,
};

#[derive(clap::Args)]
pub struct ScaleBench {
    /// Corpus sizes (documents, comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// Parts to build and search (comma-separated: bm25, dense, splade, maxsim).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bm25,dense,splade,maxsim"
    )]
    parts: Vec<RetrieverKind>,
    /// Where the indexes and results go.
    #[arg(long, default_value = "bench-out/scale")]
    out: PathBuf,
    /// Queries per (size, part).
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Centroids of the token-vector codec [default: ColBERTv2's rule, the power of two
    /// at or below 16·√(tokens)].
    #[arg(long)]
    multi_centroids: Option<usize>,
    /// Keep the indexes (they are removed after each size by default).
    #[arg(long)]
    keep: bool,
    /// Run the peers on the same corpus and queries in the same run, through
    /// `$SEINE_PYTHON` (or `python3`; install them with `scripts/setup-bench-peers.sh`):
    /// bm25 — tantivy's own BM25 (its Python bindings) and bm25s; splade — Seismic
    /// (pyseismic-lsr); dense — hnswlib, faiss-cpu (HNSW) and usearch, same M / ef_construction.
    #[arg(long)]
    peers: bool,
    /// Corpora of the bm25 and splade parts: calibrated (fitted to real data in this
    /// run) and stress (the uncalibrated generators).
    #[arg(long, value_delimiter = ',', default_value = "calibrated,stress")]
    corpora: Vec<Corpus>,
    /// The BEIR folder the calibrated generators are fitted to.
    #[arg(long, default_value = "../shared/datasets/scifact")]
    calibration_data: PathBuf,
    /// The SPLADE model whose SciFact vectors calibrate the splade generator.
    #[arg(long, default_value = "splade-tiny")]
    calibration_model: String,
    /// The model whose SciFact document, query and token vectors calibrate the dense
    /// and maxsim generators (pooled vectors; token vectors projected to 128 dims).
    #[arg(long, default_value = "minilm")]
    calibration_vectors: String,
    /// SciFact documents encoded for the splade and vector calibrations.
    #[arg(long, default_value_t = 2000)]
    calibration_docs: usize,
    #[arg(long, hide = true, default_value = "stress")]
    corpus: Corpus,
    #[arg(long, hide = true)]
    calibration: Option<PathBuf>,
    /// Internal: run one step (`build` or `search`) in this process.
    #[arg(long, hide = true)]
    step: Option<String>,
    #[arg(long, hide = true)]
    size: Option<usize>,
    #[arg(long, hide = true)]
    part: Option<RetrieverKind>,
}

pub(super) const DENSE_DIM: usize = 384;
pub(super) const TOK_DIM: usize = 128;
pub(super) const TOKENS: usize = 32;
const K: usize = 10;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |rd| {
        rd.flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => dir_bytes(&e.path()),
                _ => e.metadata().map_or(0, |m| m.len()),
            })
            .sum()
    })
}

fn build(
    out: &Path,
    part: RetrieverKind,
    n: usize,
    centroids: Option<usize>,
    src: &Source,
) -> anyhow::Result<serde_json::Value> {
    let source = SourceInfo {
        path: format!("synthetic:{part}:{n}"),
        format: "synthetic".into(),
        fingerprint: String::new(),
    };
    let mut opts = BuildOptions::new(source, "bench scale").with_overwrite(true);
    match part {
        RetrieverKind::Bm25 => {
            opts.lexical = Some(LexicalSettings::new(Default::default(), Default::default()))
        }
        RetrieverKind::Dense => {
            opts.dense = Some(DenseSettings {
                dim: DENSE_DIM,
                ..DenseSettings::new("synthetic", GraphMode::On, HnswParams::default())
            })
        }
        RetrieverKind::Splade => opts.sparse = Some(SparseSettings::new("synthetic")),
        RetrieverKind::Maxsim => {
            opts.multi = Some(MultiSettings {
                dim: TOK_DIM,
                compression: Compression::Bits(2),
                centroids,
                ..MultiSettings::new("synthetic", VectorDtype::default())
            })
        }
    }
    let t = Instant::now();
    let mut w = IndexWriter::create(out, opts)?;
    let mut last = Instant::now();
    for i in 0..n as u64 {
        let doc = Doc {
            id: format!("d{i}"),
            title: String::new(),
            text: if part == RetrieverKind::Bm25 {
                src.bm25_doc(i)
            } else {
                String::new()
            },
            metadata: Default::default(),
        };
        let (dense, sparse, tokens, refs);
        let mut parts = DocParts::default();
        match part {
            RetrieverKind::Dense => {
                dense = src.dense_doc(i);
                parts.dense = Some(&dense);
            }
            RetrieverKind::Splade => {
                sparse = src.splade_doc(i);
                refs = sparse
                    .iter()
                    .map(|(t, w)| (t.as_str(), *w))
                    .collect::<Vec<(&str, f32)>>();
                parts.sparse = Some(&refs);
            }
            RetrieverKind::Maxsim => {
                tokens = src.tokens_doc(i);
                parts.tokens = Some(&tokens);
            }
            _ => {}
        }
        w.add_doc(&doc, parts)?;
        if last.elapsed().as_secs() >= 10 {
            eprintln!(
                "  {part} {n}: {} docs added in {:.0} s",
                i + 1,
                t.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
    }
    w.commit()?;
    let secs = t.elapsed().as_secs_f64();
    let bytes = dir_bytes(out);
    // The pruning tables (blockmax.bin of the lexical and sparse parts) apart.
    let tables = named_bytes(out, &["blockmax.bin"]);
    Ok(serde_json::json!({
        "build_s": secs, "bytes": bytes, "bytes_per_doc": bytes as f64 / n as f64,
        "pruning_table_bytes_per_doc": tables as f64 / n as f64,
        "build_peak_rss_mb": peak_rss_mb(),
    }))
}

/// Bytes of the files under `p` with one of these names.
fn named_bytes(p: &Path, names: &[&str]) -> u64 {
    std::fs::read_dir(p).map_or(0, |rd| {
        rd.flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => named_bytes(&e.path(), names),
                _ if names.iter().any(|n| e.file_name() == *n) => {
                    e.metadata().map_or(0, |m| m.len())
                }
                _ => 0,
            })
            .sum()
    })
}

pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((p * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

fn search(
    out: &Path,
    part: RetrieverKind,
    n: usize,
    queries: usize,
    src: &Source,
) -> anyhow::Result<serde_json::Value> {
    let dir = IndexDir::open(out)?;
    let mut lat = Vec::with_capacity(queries);
    let (mut hit, mut total) = (0usize, 0usize);
    let mut timed = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<()> {
        let t = Instant::now();
        f()?;
        lat.push(t.elapsed().as_secs_f64());
        Ok(())
    };
    let mut recall = |got: &[u32], want: &[u32]| {
        hit += got.iter().filter(|d| want.contains(d)).count();
        total += want.len();
    };
    let mut extra = serde_json::Map::new();
    match part {
        RetrieverKind::Bm25 => {
            let idx = dir.lexical()?;
            let sets = src.bm25_queries(queries);
            for text in &sets[0].1 {
                timed(&mut || {
                    std::hint::black_box(idx.search(text, K)?);
                    Ok(())
                })?;
            }
            super::bench_scale_bm25::scans(&idx, n, &sets, &mut extra)?;
        }
        RetrieverKind::Dense => {
            let idx = dir.dense()?;
            // One untimed pass first: the graph and vectors are memory-mapped, and the
            // peers are timed on warm structures they built in RAM (their sweeps time
            // repeated passes), so the first touches of the pages are not charged here.
            for q in 0..queries {
                std::hint::black_box(idx.search(&src.dense_query(q), K, None)?);
            }
            for q in 0..queries {
                // A fresh vector of some cluster (not a document).
                let v = src.dense_query(q);
                let mut got = Vec::new();
                timed(&mut || {
                    got = idx.search(&v, K, None)?.iter().map(|h| h.doc).collect();
                    Ok(())
                })?;
                let want: Vec<u32> = idx.search_exact(&v, K)?.iter().map(|h| h.doc).collect();
                recall(&got, &want);
            }
        }
        RetrieverKind::Splade => {
            let idx = dir.sparse()?;
            let qs: Vec<Vec<(String, f32)>> = (0..queries).map(|q| src.splade_query(q)).collect();
            for terms in &qs {
                let refs: Vec<(&str, f32)> = terms.iter().map(|(t, w)| (t.as_str(), *w)).collect();
                timed(&mut || {
                    std::hint::black_box(idx.search(&refs, K)?);
                    Ok(())
                })?;
            }
            super::bench_scale_splade::scans(&idx, n, &qs, &mut extra)?;
        }
        RetrieverKind::Maxsim => {
            let store = dir.multi()?;
            let (h, t) =
                super::bench_scale_maxsim::search(out, &store, src, queries, &mut lat, &mut extra)?;
            hit += h;
            total += t;
        }
    }
    lat.sort_by(f64::total_cmp);
    let sum: f64 = lat.iter().sum();
    let mut v = serde_json::json!({
        "qps": lat.len() as f64 / sum, "p50_ms": percentile(&lat, 0.5) * 1e3,
        "p99_ms": percentile(&lat, 0.99) * 1e3,
        "recall_at_10": if total > 0 { serde_json::json!(hit as f64 / total as f64) } else { serde_json::Value::Null },
        "search_peak_rss_mb": peak_rss_mb(),
    });
    for (k, x) in extra {
        v[k] = x;
    }
    Ok(v)
}

/// The dense part searched through int8 and binary codes (built in memory from the
/// index's vectors, rescored in f32): recall@10 against exact search and queries/s at
/// the index's default beam.
fn dense_quantized(
    out: &Path,
    queries: usize,
    src: &Source,
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    use seine_index::Quantization;
    let mut idx = IndexDir::open(out)?.dense()?;
    let qs: Vec<Vec<f32>> = (0..queries).map(|q| src.dense_query(q)).collect();
    let truth: Vec<Vec<u32>> = qs
        .iter()
        .map(|v| Ok(idx.search_exact(v, K)?.iter().map(|h| h.doc).collect()))
        .collect::<anyhow::Result<_>>()?;
    let mut fields = Vec::new();
    for (kind, rescore) in [(Quantization::Int8, 4), (Quantization::Binary, 10)] {
        idx.quantize(kind, rescore);
        let (mut hit, t) = (0usize, Instant::now());
        for (v, want) in qs.iter().zip(&truth) {
            hit += idx
                .search(v, K, None)?
                .iter()
                .filter(|h| want.contains(&h.doc))
                .count();
        }
        let secs = t.elapsed().as_secs_f64();
        fields.push((
            format!("{kind}_qps"),
            serde_json::json!(queries as f64 / secs),
        ));
        fields.push((
            format!("{kind}_recall_at_10"),
            serde_json::json!(hit as f64 / (queries * K) as f64),
        ));
        fields.push((
            format!("{kind}_code_bytes"),
            serde_json::json!(idx.code_bytes()),
        ));
    }
    Ok(fields)
}

fn child(
    a: &ScaleBench,
    step: &str,
    (part, corpus): (RetrieverKind, Corpus),
    n: usize,
    dir: &Path,
) -> anyhow::Result<serde_json::Value> {
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "scale", "--step", step, "--part", part.as_str()])
        .args(["--corpus", corpus.as_str(), "--calibration"])
        .arg(a.out.join("calibration.json"))
        .args([
            "--size",
            &n.to_string(),
            "--queries",
            &a.queries.to_string(),
        ])
        .arg("--out")
        .arg(dir)
        .stderr(std::process::Stdio::inherit());
    if let Some(c) = a.multi_centroids {
        cmd.args(["--multi-centroids", &c.to_string()]);
    }
    if a.peers {
        cmd.arg("--peers");
    }
    let o = cmd.output().context("running a bench step")?;
    if !o.status.success() {
        bail!(
            "{step} of {part} ({}) at {n} documents failed ({})",
            corpus.as_str(),
            o.status
        );
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

fn load_calibration(path: Option<&Path>) -> anyhow::Result<Option<Calibration>> {
    match path {
        Some(p) if p.exists() => Ok(Some(serde_json::from_slice(&std::fs::read(p)?)?)),
        _ => Ok(None),
    }
}

/// One step (`build` or `search`) of one (part, corpus, size), in this process.
fn step(a: &ScaleBench, step: &str) -> anyhow::Result<()> {
    let Some(part) = a.part else {
        bail!("--step needs --part");
    };
    let n = a.size.unwrap_or(0);
    let calibration = load_calibration(a.calibration.as_deref())?;
    let src = Source::new(a.corpus, n, calibration.as_ref())?;
    let v = match step {
        "build" => build(&a.out, part, n, a.multi_centroids, &src)?,
        "search" => {
            let mut v = search(&a.out, part, n, a.queries.max(1), &src)?;
            if part == RetrieverKind::Dense {
                for (k, x) in dense_quantized(&a.out, a.queries.max(1), &src)? {
                    v[k] = x;
                }
            }
            if a.peers && part == RetrieverKind::Splade {
                super::bench_scale_splade::write_peer_data(&a.out, n, a.queries.max(1), &src)?;
            }
            if a.peers && part == RetrieverKind::Maxsim {
                super::bench_scale_maxsim::write_peer_data(&a.out, n, a.queries.max(1), &src)?;
            }
            v
        }
        other => bail!("unknown step {other:?}"),
    };
    println!("{v}");
    Ok(())
}

pub fn run(a: ScaleBench) -> anyhow::Result<()> {
    if let Some(s) = &a.step {
        return step(&a, s);
    }
    std::fs::create_dir_all(&a.out)?;
    let cpu = format!(
        "{} (best SIMD level {})",
        super::cpu_name(),
        seine_kernels::cpu::Level::best().tier().name()
    );
    eprintln!(
        "bench scale on {} threads; CPU: {cpu}",
        rayon::current_num_threads()
    );
    let calibration = if a.corpora.contains(&Corpus::Calibrated) {
        let has = |p: RetrieverKind| a.parts.contains(&p);
        let model = has(RetrieverKind::Splade).then_some(a.calibration_model.as_str());
        let vectors = (has(RetrieverKind::Dense) || has(RetrieverKind::Maxsim))
            .then_some(a.calibration_vectors.as_str());
        let c = super::bench_scale_calib::fit(
            &a.calibration_data,
            model,
            vectors,
            a.calibration_docs,
            300,
        )?;
        super::bench_scale_calib::print(&c);
        std::fs::write(
            a.out.join("calibration.json"),
            serde_json::to_vec_pretty(&c)?,
        )?;
        Some(c)
    } else {
        None
    };
    let mut rows = Vec::new();
    for &n in &a.sizes {
        for &part in &a.parts {
            for corpus in a.corpora.clone() {
                let src = Source::new(corpus, n, calibration.as_ref())?;
                let about = src.describe(part);
                let label = format!("{part} ({about}), {n} documents");
                let dir = a.out.join(format!("{part}-{}-{n}", corpus.as_str()));
                eprintln!("== {label}: build");
                let b = child(&a, "build", (part, corpus), n, &dir)?;
                eprintln!("== {label}: search");
                let s = child(&a, "search", (part, corpus), n, &dir)?;
                let mut row =
                    serde_json::json!({"part": part, "corpus": corpus.as_str(), "docs": n});
                for (k, v) in b
                    .as_object()
                    .into_iter()
                    .flatten()
                    .chain(s.as_object().into_iter().flatten())
                {
                    row[k] = v.clone();
                }
                if a.peers {
                    super::bench_scale_peers::peers(
                        &a.out, a.queries, part, n, &src, &dir, &mut row,
                    )?;
                }
                print_row(&row);
                rows.push(row);
                if !a.keep {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
    }
    let json = serde_json::json!({"bench": "scale", "cpu": cpu, "threads": rayon::current_num_threads(), "calibration": calibration, "rows": rows});
    std::fs::write(a.out.join("scale.json"), serde_json::to_vec_pretty(&json)?)?;
    super::bench_scale_plot::write_png(&a.out.join("scale.png"), &rows)?;
    super::bench_scale_plot::print_exponents(&rows);
    eprintln!(
        "wrote {} and {}",
        a.out.join("scale.json").display(),
        a.out.join("scale.png").display()
    );
    Ok(())
}

fn print_row(r: &serde_json::Value) {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    super::bench_scale_bm25::print_rows(r);
    super::bench_scale_splade::print_rows(r);
    for peer in ["hnswlib", "faiss", "usearch"] {
        let g = |k: &str| f(&format!("peer_{peer}_{k}"));
        if r.get(format!("peer_{peer}_build_s")).is_some() {
            println!(
                "        peer {:<8} build {:>8.1} s ({:.2}x seine's throughput), build RSS {:>6.0} MB | ef {} {:>8.0} q/s (seine {:.2}x), p50 {:>7.2} ms, recall@10 {:.3}, search RSS {:>6.0} MB",
                peer,
                g("build_s"),
                f("build_s") / g("build_s"),
                g("build_rss_mb"),
                r[format!("peer_{peer}_ef")],
                g("qps"),
                f("qps") / g("qps"),
                g("p50_ms"),
                g("recall_at_10"),
                g("search_peak_rss_mb"),
            );
        }
    }
    if r.get("plaid_qps").is_some() {
        println!(
            "        maxsim first stage: {} {:.0} q/s recall@10 {:.3}; PLAID {:.0} q/s (p50 {:.2} ms) recall@10 {:.3} -> {:.2}x PLAID",
            r["maxsim_engine"].as_str().unwrap_or("?"),
            f("qps"),
            f("recall_at_10"),
            f("plaid_qps"),
            f("plaid_p50_ms"),
            f("plaid_recall_at_10"),
            f("qps") / f("plaid_qps"),
        );
    }
    if r.get("int8_qps").is_some() {
        println!(
            "        dense codes: int8 {:.0} q/s recall@10 {:.3}; binary {:.0} q/s recall@10 {:.3} (f32 rescore)",
            f("int8_qps"),
            f("int8_recall_at_10"),
            f("binary_qps"),
            f("binary_recall_at_10")
        );
    }
    println!(
        "{:<7} {:<10} {:>8} docs: build {:>8.1} s, {:>7.0} B/doc ({:.0} of them pruning tables), build RSS {:>6.0} MB | {:>8.0} q/s, p50 {:>7.2} ms, p99 {:>7.2} ms, recall@10 {}, search RSS {:>6.0} MB",
        r["part"].as_str().unwrap_or(""),
        r["corpus"].as_str().unwrap_or(""),
        r["docs"],
        f("build_s"),
        f("bytes_per_doc"),
        f("pruning_table_bytes_per_doc"),
        f("build_peak_rss_mb"),
        f("qps"),
        f("p50_ms"),
        f("p99_ms"),
        r["recall_at_10"]
            .as_f64()
            .map_or("-".to_string(), |x| format!("{x:.3}")),
        f("search_peak_rss_mb"),
    );
}
