//! The HNSW builder against exact search and against hnsw_rs (the builder it
//! replaced), its reproducibility and reachability, and the graph file.

use hnsw_rs::prelude::{DistDot, Hnsw};
use seine_kernels::{dot, l2_normalize as normalize};

use super::graph::FlatGraph;
use super::hnsw::{BuildParams, build};

/// Clustered random unit vectors (uniform ones make every method look the same).
pub(crate) fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    let mut rnd = move || seine_kernels::rng::centered(&mut s);
    let centres: Vec<Vec<f32>> = (0..20).map(|_| (0..dim).map(|_| rnd()).collect()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for i in 0..n {
        let mut v: Vec<f32> = centres[i % 20].iter().map(|c| c + 0.4 * rnd()).collect();
        normalize(&mut v);
        out.extend(v);
    }
    out
}

fn exact(vectors: &[f32], dim: usize, q: &[f32], k: usize) -> Vec<u32> {
    let mut s: Vec<(f32, u32)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| (dot(q, v), i as u32))
        .collect();
    s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    s.into_iter().take(k).map(|x| x.1).collect()
}

fn params(threads: usize) -> BuildParams {
    BuildParams {
        m: 16,
        ef_construction: 100,
        threads,
    }
}

/// Every list of every layer, for comparing two builds.
fn lists(g: &FlatGraph) -> Vec<Vec<u32>> {
    let n = g.stats().0 as u32;
    (0..n).map(|i| g.neighbours(i).to_vec()).collect()
}

#[test]
fn recall_against_exact_search_is_near_hnsw_rs_on_the_same_data() {
    let (n, dim, k, ef) = (3000, 37, 10, 32);
    let vectors = data(n, dim, 7);
    let queries = data(200, dim, 99);
    // Both built on one thread: a parallel hnsw_rs build varies from run to run (its
    // recall here moved between 0.915 and 0.939), which made this comparison flaky.
    let ours = build(&vectors, dim, params(1));
    let theirs = Hnsw::<f32, DistDot>::new(16, n, 16, 100, DistDot {});
    for (i, v) in vectors.chunks_exact(dim).enumerate() {
        theirs.insert_slice((v, i));
    }
    let (mut a, mut b, mut total) = (0, 0, 0);
    for q in queries.chunks_exact(dim) {
        let truth = exact(&vectors, dim, q, k);
        let got = ours.search(&vectors, dim, q, k, ef);
        assert_eq!(got.len(), k);
        for w in got.windows(2) {
            assert!(w[0].0 >= w[1].0, "best first");
        }
        for (s, d) in &got {
            let v = &vectors[*d as usize * dim..(*d as usize + 1) * dim];
            assert!(
                (s - dot(q, v)).abs() < 1e-6,
                "scores are the true dot products"
            );
        }
        let mut ids: Vec<u32> = got.iter().map(|x| x.1).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), k, "no node twice");
        a += got.iter().filter(|x| truth.contains(&x.1)).count();
        b += theirs
            .search(q, k, ef)
            .iter()
            .filter(|x| truth.contains(&(x.d_id as u32)))
            .count();
        total += k;
        // A beam as wide as the corpus is exact.
        let all = ours.search(&vectors, dim, q, k, n);
        assert_eq!(all.iter().map(|x| x.1).collect::<Vec<_>>(), truth);
    }
    let (a, b) = (a as f64 / total as f64, b as f64 / total as f64);
    eprintln!("recall@{k} at ef {ef}: seine {a:.4}, hnsw_rs {b:.4}");
    assert!(a >= 0.9, "recall@10 {a} at ef {ef} (hnsw_rs {b})");
    // hnsw_rs keeps the closest 2M of a full reverse list without the
    // diversity heuristic, so its layer-0 graph is denser (more distance
    // computations per hop). Measured on this data, both on one thread: seine
    // 0.9080, hnsw_rs 0.9090 at ef 32. The bound says we stay within 1.5 points; the
    // bench (scripts/bench-hnsw.sh) compares at equal recall instead.
    assert!(a >= b - 0.015, "seine {a} vs hnsw_rs {b} at ef {ef}");
}

#[test]
fn one_thread_builds_are_reproducible() {
    let (n, dim) = (1500, 24);
    let vectors = data(n, dim, 3);
    let a = build(&vectors, dim, params(1));
    let b = build(&vectors, dim, params(1));
    assert_eq!(lists(&a), lists(&b));
    assert_eq!(a.stats(), b.stats());
    // Layer-0 lists respect their cap; the upper layers hold about n / m nodes.
    assert!(lists(&a).iter().all(|l| l.len() <= 32 && !l.is_empty()));
    let upper = a.stats().2;
    assert!((40..=200).contains(&upper), "{upper} nodes above layer 0");
}

/// Nodes not reached from the entry point through layer 0.
fn unreachable(g: &FlatGraph, entry: u32) -> usize {
    let n = g.stats().0;
    let mut seen = vec![false; n];
    let mut stack = vec![entry];
    seen[entry as usize] = true;
    while let Some(x) = stack.pop() {
        for &y in g.neighbours(x) {
            if !seen[y as usize] {
                seen[y as usize] = true;
                stack.push(y);
            }
        }
    }
    seen.iter().filter(|s| !**s).count()
}

#[test]
fn parallel_builds_leave_no_node_unreachable() {
    // On a thread of its own with a deadline: a lock-order bug hangs a build instead
    // of failing it (one did: a read guard of the entry point held while waiting for
    // the lock of an insertion that raises the top level).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        parallel_rounds();
        let _ = tx.send(());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(300)) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("20 parallel builds of 2,000 nodes did not finish in 300 s: deadlock")
        }
        Err(e) => panic!("the parallel builds failed: {e}"),
    }
}

fn parallel_rounds() {
    let (n, dim) = (2000, 24);
    let vectors = data(n, dim, 11);
    for round in 0..20 {
        // More threads than cores: insertions contend on the same nodes.
        let g = build(&vectors, dim, params(4));
        assert_eq!(unreachable(&g, g.entry()), 0, "round {round}");
        let lost = |ef: usize| {
            (0..n)
                .filter(|&i| {
                    let v = &vectors[i * dim..(i + 1) * dim];
                    !g.search(&vectors, dim, v, 1, ef)
                        .iter()
                        .any(|h| h.1 as usize == i)
                })
                .count()
        };
        // A contended build has been seen to hide one node of 2,000 in about one of
        // 100 builds, always in the first build of the process: reachable (above), but
        // not found by its own vector even at ef 400 — no neighbour of its region
        // links back to it. Measured and reported (issue 29), bounded here.
        let (moderate, wide) = (lost(64), lost(400));
        assert!(
            moderate <= 2,
            "round {round}: {moderate} nodes not found by their own vector at ef 64"
        );
        assert!(
            wide <= 1,
            "round {round}: {wide} nodes not found by their own vector at ef 400"
        );
    }
}

#[test]
fn the_graph_file_round_trips_and_damage_is_refused() {
    let (n, dim) = (800, 16);
    let vectors = data(n, dim, 5);
    let g = build(&vectors, dim, params(0));
    let dir = tempfile::tempdir().unwrap();
    g.write(dir.path()).unwrap();
    let back = FlatGraph::open(dir.path(), n).unwrap();
    assert_eq!(lists(&g), lists(&back));
    assert_eq!(g.stats(), back.stats());
    assert_eq!(g.bytes(), back.bytes());
    let q = &vectors[..dim];
    assert_eq!(
        g.search(&vectors, dim, q, 10, 40),
        back.search(&vectors, dim, q, 10, 40)
    );
    assert!(
        FlatGraph::open(dir.path(), n + 1).is_err(),
        "node count must match"
    );
    let path = dir.path().join(super::graph::LINKS_FILE);
    let bytes = std::fs::read(&path).unwrap();
    for at in [0, 9, 40, bytes.len() / 2, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        let e = FlatGraph::open(dir.path(), n)
            .err()
            .expect("damaged file refused");
        assert!(e.to_string().contains("HNSW graph"), "{e}");
    }
    std::fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
    assert!(
        FlatGraph::open(dir.path(), n).is_err(),
        "truncated file refused"
    );
}

#[test]
fn empty_and_single_node_graphs() {
    let g = build(&[], 2, params(0));
    assert!(g.search(&[], 2, &[1.0, 0.0], 5, 10).is_empty());
    let one = vec![1.0, 0.0];
    let g = build(&one, 2, params(0));
    assert_eq!(g.search(&one, 2, &[0.0, 1.0], 5, 10), vec![(0.0, 0)]);
    assert!(g.search(&one, 2, &[0.0, 1.0], 0, 10).is_empty());
    let dir = tempfile::tempdir().unwrap();
    g.write(dir.path()).unwrap();
    assert_eq!(FlatGraph::open(dir.path(), 1).unwrap().stats(), g.stats());
}
