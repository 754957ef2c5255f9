//! A default beam that follows the corpus: the smallest `ef` whose recall@10 against
//! exact search reaches a target, measured at build time on a sample of the index's own
//! vectors used as queries (each one's own node held out of the walk), recorded in the
//! manifest.

use serde::{Deserialize, Serialize};

use super::graph::FlatGraph;
use seine_kernels::dot;

/// The beams tried, smallest first.
const BEAMS: [usize; 16] = [
    10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048,
];
/// Sample queries (at most).
const SAMPLE: usize = 200;
const K: usize = 10;

/// What the beam measurement found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BeamFit {
    /// The recall@10 asked for.
    pub target: f64,
    /// The beam chosen (the largest tried when none reached the target).
    pub ef: usize,
    /// recall@10 at that beam on the sample.
    pub recall: f64,
    /// Vectors of the index used as queries.
    pub sample: usize,
}

/// The exact top `K` of vector `q` (a row of `vectors`), itself left out.
fn exact(vectors: &[f32], dim: usize, q: usize) -> Vec<u32> {
    let v = &vectors[q * dim..(q + 1) * dim];
    let mut all: Vec<(f32, u32)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .filter(|(i, _)| *i != q)
        .map(|(i, x)| (dot(v, x), i as u32))
        .collect();
    let k = K.min(all.len());
    if k == 0 {
        return Vec::new();
    }
    let cmp = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    all.select_nth_unstable_by(k - 1, cmp);
    all.truncate(k);
    all.into_iter().map(|x| x.1).collect()
}

/// Measures the beam reaching `target` on `graph` over row-major `vectors`.
pub(crate) fn fit(graph: &FlatGraph, vectors: &[f32], dim: usize, target: f64) -> BeamFit {
    let n = vectors.len() / dim.max(1);
    let sample: Vec<usize> = (0..SAMPLE.min(n)).map(|i| i * n / SAMPLE.min(n)).collect();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let chunk = sample.len().div_ceil(threads).max(1);
    let truth: Vec<Vec<u32>> = std::thread::scope(|s| {
        let parts: Vec<_> = sample
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|&q| exact(vectors, dim, q))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("exact search thread"))
            .collect()
    });
    let total: usize = truth.iter().map(Vec::len).sum();
    let mut best = BeamFit {
        target,
        ef: BEAMS[0],
        recall: 1.0,
        sample: sample.len(),
    };
    if total == 0 {
        return best;
    }
    for ef in BEAMS {
        let mut found = 0;
        for (&q, t) in sample.iter().zip(&truth) {
            let v = &vectors[q * dim..(q + 1) * dim];
            // The query's own node is held out of the walk, not only of the results:
            // reaching it and its links (which are its own nearest neighbours) makes a
            // document an easier query than a fresh one (measured: 0.964 by own hits vs
            // 0.882 on fresh queries of the same distribution, 100k stress vectors).
            let qn = q as u32;
            let sim = |i: u32| {
                if i == qn {
                    -2.0
                } else {
                    dot(v, &vectors[i as usize * dim..(i as usize + 1) * dim])
                }
            };
            let hits = graph.search_filtered_by(K, ef.max(K), sim, |i| i != qn);
            found += hits.iter().filter(|h| t.contains(&h.1)).count();
        }
        best.ef = ef;
        best.recall = found as f64 / total as f64;
        if best.recall >= target {
            break;
        }
    }
    eprintln!(
        "seine: HNSW default beam ef {} reaches recall@{K} {:.3} (target {target}) on {} of the index's {n} vectors",
        best.ef, best.recall, best.sample
    );
    best
}
