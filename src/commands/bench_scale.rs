//! `seine bench scale`: how build time, disk, memory and query cost grow with the
//! corpus. Synthetic corpora (deterministic from the document number) are built and
//! searched through the real index code, one retriever part per index:
//!
//! - bm25: Zipf-distributed words (50,000-word vocabulary, 100 words per document);
//! - dense: 384-d normalized vectors around 1,000 cluster centres (like MiniLM), HNSW;
//! - splade: 60 Zipf-drawn terms of a 30,000-term vocabulary with decaying weights;
//! - maxsim: 32 token vectors × 128-d per document (as after a ColBERT projection),
//!   around 4,096 token centres, stored 2-bit compressed, searched by PLAID.
//!
//! Each (size, part) is built, then searched, in a child process of its own (so each
//! peak RSS is that step's). Approximate searches are checked against exact ones by
//! recall@10. Output: a table, `scale.json`, and `scale.png` (log-log curves).

use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// Centroids of the token-vector codec.
    #[arg(long, default_value_t = 4096)]
    multi_centroids: usize,
    /// Keep the indexes (they are removed after each size by default).
    #[arg(long)]
    keep: bool,
    /// Run the peers on the same corpus and queries in the same run (bm25: tantivy's
    /// own BM25 through its Python bindings, `scripts/bench_tantivy_scale.py`, with
    /// `$SEINE_PYTHON` or `python3`).
    #[arg(long)]
    peers: bool,
    /// Internal: run one step (`build` or `search`) in this process.
    #[arg(long, hide = true)]
    step: Option<String>,
    #[arg(long, hide = true)]
    size: Option<usize>,
    #[arg(long, hide = true)]
    part: Option<RetrieverKind>,
}

const DENSE_DIM: usize = 384;
const TOK_DIM: usize = 128;
const TOKENS: usize = 32;
const K: usize = 10;

/// splitmix64: the random stream of document `i` of part `salt`.
struct Rng(u64);
impl Rng {
    fn new(salt: u64, i: u64) -> Self {
        Rng(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i.wrapping_mul(0xbf58_476d_1ce4_e5b9))
    }
    fn next(&mut self) -> u64 {
        seine_kernels::rng::splitmix(&mut self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// Zipf(1) over `n` ranks by inverse CDF.
struct Zipf(Vec<f64>);
impl Zipf {
    fn new(n: usize) -> Self {
        let mut c: Vec<f64> = (1..=n).map(|r| 1.0 / r as f64).collect();
        for i in 1..n {
            c[i] += c[i - 1];
        }
        let t = c[n - 1];
        Zipf(c.into_iter().map(|x| x / t).collect())
    }
    fn draw(&self, r: &mut Rng) -> usize {
        let u = r.unit();
        self.0.partition_point(|&c| c < u).min(self.0.len() - 1)
    }
}

/// A word per rank: letters only (the analyzer keeps them whole), never a stopword.
fn word(mut rank: usize) -> String {
    let mut w = String::from("zq");
    loop {
        w.push((b'a' + (rank % 26) as u8) as char);
        rank /= 26;
        if rank == 0 {
            return w;
        }
    }
}

fn unit_vec(centre: &[f32], noise: f32, r: &mut Rng) -> Vec<f32> {
    let mut v: Vec<f32> = centre.iter().map(|c| c + noise * r.normal()).collect();
    seine_kernels::l2_normalize(&mut v);
    v
}

fn centres(n: usize, dim: usize, salt: u64) -> Vec<Vec<f32>> {
    (0..n)
        .map(|c| {
            let mut r = Rng::new(salt, c as u64);
            (0..dim).map(|_| r.normal()).collect()
        })
        .collect()
}

/// The synthetic data of one part.
pub(super) struct Gen {
    words: Zipf,
    terms: Zipf,
    dense_c: Vec<Vec<f32>>,
    tok_c: Vec<Vec<f32>>,
}

impl Gen {
    pub(super) fn new() -> Self {
        Gen {
            words: Zipf::new(50_000),
            terms: Zipf::new(30_000),
            dense_c: centres(1000, DENSE_DIM, 11),
            tok_c: centres(4096, TOK_DIM, 13),
        }
    }
    pub(super) fn text(&self, i: u64, len: usize, salt: u64) -> String {
        let mut r = Rng::new(salt, i);
        (0..len)
            .map(|_| word(self.words.draw(&mut r)))
            .collect::<Vec<_>>()
            .join(" ")
    }
    /// [`Gen::text`] without the `head` most frequent words (drawn again until past
    /// them): queries as an analyzer that drops stop words would leave them.
    pub(super) fn tail_text(&self, i: u64, len: usize, salt: u64, head: usize) -> String {
        let mut r = Rng::new(salt ^ 0x5eed, i);
        (0..len)
            .map(|_| {
                loop {
                    let w = self.words.draw(&mut r);
                    if w >= head {
                        return word(w);
                    }
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
    fn dense(&self, i: u64, salt: u64) -> Vec<f32> {
        let mut r = Rng::new(salt, i);
        let c = &self.dense_c[(r.next() % 1000) as usize];
        unit_vec(c, 0.6, &mut r)
    }
    fn sparse(&self, i: u64, n: usize, salt: u64) -> Vec<(String, f32)> {
        let mut r = Rng::new(salt, i);
        (0..n)
            .map(|j| {
                (
                    format!("t{}", self.terms.draw(&mut r)),
                    2.0 / (1.0 + j as f32 * 0.1),
                )
            })
            .collect()
    }
    fn tokens(&self, i: u64, salt: u64) -> Vec<f32> {
        let mut r = Rng::new(salt, i);
        let topic = r.next() as usize;
        (0..TOKENS)
            .flat_map(|_| {
                let c = &self.tok_c[(topic + (r.next() % 64) as usize) % 4096];
                unit_vec(c, 0.5, &mut r)
            })
            .collect()
    }
}

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
    centroids: usize,
) -> anyhow::Result<serde_json::Value> {
    let g = Gen::new();
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
                centroids: Some(centroids),
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
                g.text(i, 100, 1)
            } else {
                String::new()
            },
            metadata: Default::default(),
        };
        let (dense, sparse, tokens);
        let mut parts = DocParts::default();
        match part {
            RetrieverKind::Dense => {
                dense = g.dense(i, 2);
                parts.dense = Some(&dense);
            }
            RetrieverKind::Splade => {
                sparse = g.sparse(i, 60, 3);
                let refs: Vec<(&str, f32)> = sparse.iter().map(|(t, w)| (t.as_str(), *w)).collect();
                w.add_doc(
                    &doc,
                    DocParts {
                        sparse: Some(&refs),
                        ..parts
                    },
                )?;
                continue;
            }
            RetrieverKind::Maxsim => {
                tokens = g.tokens(i, 4);
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
    Ok(serde_json::json!({
        "build_s": secs, "bytes": bytes, "bytes_per_doc": bytes as f64 / n as f64,
        "build_peak_rss_mb": peak_rss_mb(),
    }))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((p * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

fn search(
    out: &Path,
    part: RetrieverKind,
    n: usize,
    queries: usize,
) -> anyhow::Result<serde_json::Value> {
    let g = Gen::new();
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
    let qn = |q: usize| (q as u64).wrapping_mul(7919) % n as u64;
    let mut extra = serde_json::Map::new();
    match part {
        RetrieverKind::Bm25 => {
            let idx = dir.lexical()?;
            let stress: Vec<String> = (0..queries).map(|q| g.text(qn(q), 5, 1)).collect();
            for text in &stress {
                timed(&mut || {
                    std::hint::black_box(idx.search(text, K)?);
                    Ok(())
                })?;
            }
            let tail: Vec<String> = (0..queries)
                .map(|q| g.tail_text(qn(q), 5, 1, 100))
                .collect();
            super::bench_scale_bm25::scans(&idx, n, &stress, &tail, &mut extra)?;
        }
        RetrieverKind::Dense => {
            let idx = dir.dense()?;
            for q in 0..queries {
                // A fresh vector of some cluster (not a document).
                let v = g.dense(q as u64, 20);
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
            for q in 0..queries {
                let terms = g.sparse(qn(q), 60, 3);
                let refs: Vec<(&str, f32)> = terms
                    .iter()
                    .take(20)
                    .map(|(t, w)| (t.as_str(), *w))
                    .collect();
                timed(&mut || {
                    std::hint::black_box(idx.search(&refs, K)?);
                    Ok(())
                })?;
            }
        }
        RetrieverKind::Maxsim => {
            let store = dir.multi()?;
            // Exhaustive MaxSim is the oracle; at 1M documents it costs seconds per
            // query, so recall is measured on the first 20 queries.
            for q in 0..queries {
                // A fresh bag of some topic (not a document).
                let toks = g.tokens(q as u64, 21);
                let mut got = Vec::new();
                timed(&mut || {
                    got = seine_engine::plaid::search(&store, &toks, K, None, None)
                        .iter()
                        .map(|h| h.doc)
                        .collect();
                    Ok(())
                })?;
                if q < 20 {
                    let want: Vec<u32> = seine_engine::plaid::exact(&store, &toks, K)
                        .iter()
                        .map(|h| h.doc)
                        .collect();
                    recall(&got, &want);
                }
            }
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
fn dense_quantized(out: &Path, queries: usize) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    use seine_index::Quantization;
    let g = Gen::new();
    let mut idx = IndexDir::open(out)?.dense()?;
    let qs: Vec<Vec<f32>> = (0..queries).map(|q| g.dense(q as u64, 20)).collect();
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
    part: RetrieverKind,
    n: usize,
    dir: &Path,
) -> anyhow::Result<serde_json::Value> {
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "scale", "--step", step, "--part", part.as_str()])
        .args([
            "--size",
            &n.to_string(),
            "--queries",
            &a.queries.to_string(),
        ])
        .args(["--multi-centroids", &a.multi_centroids.to_string(), "--out"])
        .arg(dir)
        .stderr(std::process::Stdio::inherit());
    let o = cmd.output().context("running a bench step")?;
    if !o.status.success() {
        bail!("{step} of {part} at {n} documents failed ({})", o.status);
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

pub fn run(a: ScaleBench) -> anyhow::Result<()> {
    if let Some(step) = &a.step {
        let Some(part) = a.part else {
            bail!("--step needs --part");
        };
        let n = a.size.unwrap_or(0);
        let v = match step.as_str() {
            "build" => build(&a.out, part, n, a.multi_centroids)?,
            "search" => {
                let mut v = search(&a.out, part, n, a.queries.max(1))?;
                if part == RetrieverKind::Dense {
                    for (k, x) in dense_quantized(&a.out, a.queries.max(1))? {
                        v[k] = x;
                    }
                }
                v
            }
            other => bail!("unknown step {other:?}"),
        };
        println!("{v}");
        return Ok(());
    }
    std::fs::create_dir_all(&a.out)?;
    eprintln!("bench scale on {} threads", rayon::current_num_threads());
    let mut rows = Vec::new();
    for &n in &a.sizes {
        for &part in &a.parts {
            let dir = a.out.join(format!("{part}-{n}"));
            eprintln!("== {part}, {n} documents: build");
            let b = child(&a, "build", part, n, &dir)?;
            eprintln!("== {part}, {n} documents: search");
            let s = child(&a, "search", part, n, &dir)?;
            let mut row = serde_json::json!({"part": part, "docs": n});
            if a.peers && part == RetrieverKind::Bm25 {
                eprintln!("== bm25, {n} documents: tantivy (Python bindings)");
                let p = super::bench_scale_bm25::tantivy_peer(&a.out, n, a.queries)?;
                for (k, v) in p.as_object().into_iter().flatten() {
                    row[format!("peer_tantivy_{k}")] = v.clone();
                }
            }
            for (k, v) in b
                .as_object()
                .into_iter()
                .flatten()
                .chain(s.as_object().into_iter().flatten())
            {
                row[k] = v.clone();
            }
            print_row(&row);
            rows.push(row);
            if !a.keep {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
    let json = serde_json::json!({"bench": "scale", "threads": rayon::current_num_threads(), "rows": rows});
    std::fs::write(a.out.join("scale.json"), serde_json::to_vec_pretty(&json)?)?;
    super::bench_scale_plot::write_png(&a.out.join("scale.png"), &rows)?;
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
        "{:<7} {:>8} docs: build {:>8.1} s, {:>7.0} B/doc, build RSS {:>6.0} MB | {:>8.0} q/s, p50 {:>7.2} ms, p99 {:>7.2} ms, recall@10 {}, search RSS {:>6.0} MB",
        r["part"].as_str().unwrap_or(""),
        r["docs"],
        f("build_s"),
        f("bytes_per_doc"),
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
