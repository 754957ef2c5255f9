//! `seine bench filter`: filtered dense search — recall@k against the exact filtered
//! top k and queries/s at several filter selectivities, for the path chosen by
//! selectivity and for each path forced.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use seine_index::dense::FilterPath;
use seine_index::{DenseIndex, DocSet, HnswParams, IndexDir};

#[derive(clap::Args)]
pub struct FilterBench {
    /// An index with a dense part (its vectors and HNSW graph are used as built).
    #[arg(long, conflicts_with = "vectors")]
    index: Option<PathBuf>,
    /// Or document vectors, Parquet (id, embedding): an HNSW graph is built.
    #[arg(long, requires = "queries")]
    vectors: Option<PathBuf>,
    /// Query vectors, Parquet [default with --index: document vectors, sampled].
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Queries sampled from the index's own vectors (with --index and no --queries).
    #[arg(long, default_value_t = 200)]
    sample: usize,
    /// Shares of the documents the filter keeps (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.1,0.01,0.001")]
    selectivity: Vec<f64>,
    #[arg(long, default_value_t = 64)]
    ef: usize,
    #[arg(short, long, default_value_t = 10)]
    k: usize,
}

/// A deterministic pseudo-random set keeping about `share` of `n` documents.
fn filter(n: usize, share: f64, salt: u64) -> DocSet {
    DocSet::from_fn(n, |d| {
        let mut x = (d as u64 ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        (x % 1_000_000) as f64 / 1e6 < share
    })
}

fn load(a: &FilterBench) -> anyhow::Result<(DenseIndex, Vec<Vec<f32>>, String)> {
    if let Some(path) = &a.index {
        let dir = IndexDir::open(path)?;
        if dir.manifest().dense.is_none() {
            bail!("{} has no dense part", path.display());
        }
        let index = dir.dense()?;
        let queries = match &a.queries {
            Some(q) => read(q)?,
            None => {
                let n = index.len();
                let step = (n / a.sample.max(1)).max(1);
                (0..n)
                    .step_by(step)
                    .take(a.sample)
                    .map(|d| index.vector(d as u32).expect("in range").to_vec())
                    .collect()
            }
        };
        // Fault the memory-mapped vectors in once, so the first measurement is not
        // the one that pays for the disk.
        let touched: f32 = (0..index.len() as u32)
            .map(|d| index.vector(d).map_or(0.0, |v| v[0]))
            .sum();
        std::hint::black_box(touched);
        return Ok((index, queries, path.display().to_string()));
    }
    let Some(vectors) = &a.vectors else {
        bail!("give --index or --vectors with --queries");
    };
    let (_, dim, docs) = seine_datasets::embeddings::read_embeddings(vectors)?;
    let queries = read(a.queries.as_ref().expect("required by clap"))?;
    let params = HnswParams {
        ef_search: a.ef,
        ..HnswParams::default()
    };
    let index = DenseIndex::build(dim, docs, Some(params))?;
    Ok((index, queries, vectors.display().to_string()))
}

fn read(path: &std::path::Path) -> anyhow::Result<Vec<Vec<f32>>> {
    let (_, dim, data) = seine_datasets::embeddings::read_embeddings(path)?;
    Ok(data.chunks_exact(dim).map(<[f32]>::to_vec).collect())
}

/// (recall@k against `truth`, queries/s on one thread).
fn measure(
    index: &DenseIndex,
    queries: &[Vec<f32>],
    truth: &[Vec<u32>],
    allowed: &DocSet,
    k: usize,
    ef: usize,
    path: Option<FilterPath>,
) -> anyhow::Result<(f64, f64, FilterPath)> {
    let (mut hit, mut total, mut used) = (0usize, 0usize, FilterPath::Exact);
    let start = Instant::now();
    for (q, t) in queries.iter().zip(truth) {
        let (got, p) = index.search_filtered(q, k, Some(ef), allowed, path)?;
        used = p;
        if got.iter().any(|h| !allowed.contains(h.doc)) {
            bail!("a hit outside the filter");
        }
        hit += got.iter().filter(|h| t.contains(&h.doc)).count();
        total += t.len();
    }
    let qps = queries.len() as f64 / start.elapsed().as_secs_f64();
    Ok((hit as f64 / total.max(1) as f64, qps, used))
}

pub fn run(a: FilterBench) -> anyhow::Result<()> {
    if a.k == 0 || a.selectivity.iter().any(|s| !(*s > 0.0 && *s <= 1.0)) {
        bail!("-k must be at least 1 and every --selectivity within (0, 1]");
    }
    let (index, queries, source) = load(&a)?;
    let n = index.len();
    println!(
        "seine filtered dense search: {source}, {n} docs, {}-d, {} queries, k={}, ef={}, graph: {}, CPU {}",
        index.dim(),
        queries.len(),
        a.k,
        a.ef,
        index.has_hnsw(),
        super::cpu_name()
    );
    println!(
        "{:>11} {:>9} {:>7} {:>8} {:>10} | {:>12} {:>10} | {:>10}",
        "selectivity", "allowed", "chosen", "recall", "q/s", "hnsw recall", "hnsw q/s", "exact q/s"
    );
    for (i, &share) in a.selectivity.iter().enumerate() {
        let allowed = filter(n, share, i as u64 + 1);
        // The oracle: an exact scan of the allowed documents.
        let truth: Vec<Vec<u32>> = queries
            .iter()
            .map(|q| {
                let (hits, _) =
                    index.search_filtered(q, a.k, Some(a.ef), &allowed, Some(FilterPath::Exact))?;
                Ok(hits.into_iter().map(|h| h.doc).collect())
            })
            .collect::<anyhow::Result<_>>()?;
        let (r, qps, used) = measure(&index, &queries, &truth, &allowed, a.k, a.ef, None)?;
        let graph = if index.has_hnsw() {
            let (gr, gq, _) = measure(
                &index,
                &queries,
                &truth,
                &allowed,
                a.k,
                a.ef,
                Some(FilterPath::Graph),
            )?;
            (format!("{gr:.4}"), format!("{gq:.0}"))
        } else {
            ("-".into(), "-".into())
        };
        let (_, eq, _) = measure(
            &index,
            &queries,
            &truth,
            &allowed,
            a.k,
            a.ef,
            Some(FilterPath::Exact),
        )?;
        println!(
            "{:>10.1}% {:>9} {:>7} {r:>8.4} {qps:>10.0} | {:>12} {:>10} | {eq:>10.0}",
            share * 100.0,
            allowed.len(),
            used.name(),
            graph.0,
            graph.1
        );
    }
    Ok(())
}
