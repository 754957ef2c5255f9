//! The HNSW graph hnsw_rs builds, flattened for searching: neighbour lists as plain
//! `u32` arrays (layer 0 in one CSR array), a reusable generation-stamped visited set,
//! and the dot product of `seine-kernels`. hnsw_rs builds and persists the graph;
//! searching its own structure allocates per visited node (`Arc`s, a `HashMap`), which
//! made it several times slower than this on the same graph.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use hnsw_rs::prelude::{DistDot, Hnsw};
use seine_kernels::dot;

/// Neighbour lists of every node, by layer.
pub(crate) struct FlatGraph {
    /// Layer 0: neighbours of node `i` are `neighbours0[offsets0[i]..offsets0[i + 1]]`.
    offsets0: Vec<u32>,
    neighbours0: Vec<u32>,
    /// Layers 1.. of the nodes that reach them: `upper[node][l - 1]`.
    upper: HashMap<u32, Vec<Vec<u32>>>,
    entry: u32,
    max_level: usize,
}

#[derive(Clone, Copy, PartialEq)]
struct Cand(f32, u32);
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(o.1.cmp(&self.1))
    }
}

thread_local! {
    /// Per-thread visited stamps: node `i` is visited when `stamps[i] == generation`.
    static VISITED: RefCell<(Vec<u32>, u32)> = const { RefCell::new((Vec::new(), 0)) };
}

impl FlatGraph {
    /// Copies the neighbour lists out of an hnsw_rs graph whose data ids are `0..n`.
    pub(crate) fn from_hnsw(graph: &Hnsw<'_, f32, DistDot>, n: usize) -> Self {
        let mut lists0: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut upper = HashMap::new();
        let mut top: Option<(usize, u32)> = None;
        for point in graph.get_point_indexation() {
            let id = point.get_origin_id() as u32;
            let layers = point.get_neighborhood_id();
            let ids = |l: &Vec<hnsw_rs::prelude::Neighbour>| -> Vec<u32> {
                l.iter().map(|n| n.d_id as u32).collect()
            };
            let level = point.get_point_id().0 as usize;
            if let Some(l0) = layers.first() {
                lists0[id as usize] = ids(l0);
            }
            if level > 0 {
                upper.insert(id, layers[1..=level].iter().map(ids).collect());
            }
            // The entry point: a node of the highest layer (the lowest id among them).
            if top.is_none_or(|(l, i)| level > l || (level == l && id < i)) {
                top = Some((level, id));
            }
        }
        let mut offsets0 = Vec::with_capacity(n + 1);
        let mut neighbours0 = Vec::new();
        offsets0.push(0);
        for l in lists0 {
            neighbours0.extend(l);
            offsets0.push(neighbours0.len() as u32);
        }
        let (max_level, entry) = top.unwrap_or((0, 0));
        FlatGraph {
            offsets0,
            neighbours0,
            upper,
            entry,
            max_level,
        }
    }

    /// Approximate top-`k` by dot product over row-major `vectors` (`ef` >= k is the
    /// beam width): greedy descent through the upper layers, beam search on layer 0.
    /// Returns (similarity, node), best first.
    pub(crate) fn search(
        &self,
        vectors: &[f32],
        dim: usize,
        q: &[f32],
        k: usize,
        ef: usize,
    ) -> Vec<(f32, u32)> {
        self.search_by(k, ef, |i| {
            dot(q, &vectors[i as usize * dim..(i as usize + 1) * dim])
        })
    }

    /// The same walk with any similarity of the query to node `i` (quantized codes).
    pub(crate) fn search_by(
        &self,
        k: usize,
        ef: usize,
        sim: impl Fn(u32) -> f32,
    ) -> Vec<(f32, u32)> {
        self.search_filtered_by(k, ef, sim, |_| true)
    }

    /// Filtered search: the walk goes through every node, but only nodes `allowed`
    /// enter the results (the beam of `ef` allowed nodes bounds the search). Meant
    /// for filters that keep a fair share of the graph; very selective ones are
    /// cheaper as an exact scan of the allowed nodes (`DenseIndex::search_filtered`).
    pub(crate) fn search_filtered_by(
        &self,
        k: usize,
        ef: usize,
        sim: impl Fn(u32) -> f32,
        allowed: impl Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let n = self.offsets0.len() - 1;
        if n == 0 || k == 0 {
            return Vec::new();
        }
        let mut cur = self.entry;
        let mut cur_s = sim(cur);
        for l in (1..=self.max_level).rev() {
            loop {
                let mut moved = false;
                if let Some(list) = self.upper.get(&cur).and_then(|ls| ls.get(l - 1)) {
                    for &nb in list {
                        let s = sim(nb);
                        if s > cur_s {
                            (cur, cur_s, moved) = (nb, s, true);
                        }
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        let ef = ef.max(k);
        VISITED.with(|v| {
            let (stamps, generation) = &mut *v.borrow_mut();
            if stamps.len() < n {
                stamps.resize(n, 0);
            }
            *generation = generation.wrapping_add(1);
            if *generation == 0 {
                stamps.iter_mut().for_each(|s| *s = 0);
                *generation = 1;
            }
            let g = *generation;
            // candidates: best first; results: worst first (bounded by ef).
            let mut candidates = BinaryHeap::with_capacity(ef * 2);
            let mut results: BinaryHeap<Reverse<Cand>> = BinaryHeap::with_capacity(ef + 1);
            stamps[cur as usize] = g;
            candidates.push(Cand(cur_s, cur));
            if allowed(cur) {
                results.push(Reverse(Cand(cur_s, cur)));
            }
            while let Some(Cand(s, node)) = candidates.pop() {
                let worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
                if s < worst && results.len() >= ef {
                    break;
                }
                let (a, b) = (
                    self.offsets0[node as usize] as usize,
                    self.offsets0[node as usize + 1] as usize,
                );
                for &nb in &self.neighbours0[a..b] {
                    let stamp = &mut stamps[nb as usize];
                    if *stamp == g {
                        continue;
                    }
                    *stamp = g;
                    let s = sim(nb);
                    let worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
                    if results.len() < ef || s > worst {
                        candidates.push(Cand(s, nb));
                        if allowed(nb) {
                            results.push(Reverse(Cand(s, nb)));
                            if results.len() > ef {
                                results.pop();
                            }
                        }
                    }
                }
            }
            let mut out: Vec<(f32, u32)> =
                results.into_iter().map(|Reverse(c)| (c.0, c.1)).collect();
            out.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
            out.truncate(k);
            out
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dense::{HnswParams, build_hnsw};
    use seine_kernels::l2_normalize as normalize;

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

    #[test]
    fn flat_search_recalls_as_well_as_hnsw_rs_on_the_same_graph() {
        let (n, dim, k) = (3000, 37, 10);
        let vectors = data(n, dim, 7);
        let queries = data(200, dim, 99);
        let p = HnswParams {
            m: 16,
            ef_construction: 100,
            ef_search: 64,
        };
        let graph = build_hnsw(&vectors, dim, p).unwrap();
        let flat = FlatGraph::from_hnsw(&graph, n);
        let (mut ours, mut theirs, mut total) = (0, 0, 0);
        for q in queries.chunks_exact(dim) {
            let truth = exact(&vectors, dim, q, k);
            let got = flat.search(&vectors, dim, q, k, 64);
            assert_eq!(got.len(), k);
            // Scores are the true dot products, best first, no node twice.
            for w in got.windows(2) {
                assert!(w[0].0 >= w[1].0);
            }
            let mut ids: Vec<u32> = got.iter().map(|x| x.1).collect();
            for (s, d) in &got {
                let v = &vectors[*d as usize * dim..(*d as usize + 1) * dim];
                assert!((s - dot(q, v)).abs() < 1e-6);
            }
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), k);
            ours += got.iter().filter(|x| truth.contains(&x.1)).count();
            theirs += graph
                .search(q, k, 64)
                .iter()
                .filter(|x| truth.contains(&(x.d_id as u32)))
                .count();
            total += k;
            // A beam as wide as the corpus is exact.
            let all = flat.search(&vectors, dim, q, k, n);
            assert_eq!(all.iter().map(|x| x.1).collect::<Vec<_>>(), truth);
        }
        let (ours, theirs) = (ours as f64 / total as f64, theirs as f64 / total as f64);
        assert!(ours >= 0.9, "recall@10 {ours} (hnsw_rs {theirs})");
        assert!(ours >= theirs - 0.01, "flat {ours} vs hnsw_rs {theirs}");
    }

    #[test]
    fn empty_and_single_node_graphs() {
        let one = vec![1.0, 0.0];
        let graph = build_hnsw(&one, 2, HnswParams::default()).unwrap();
        let flat = FlatGraph::from_hnsw(&graph, 1);
        assert_eq!(flat.search(&one, 2, &[0.0, 1.0], 5, 10), vec![(0.0, 0)]);
        assert!(flat.search(&one, 2, &[0.0, 1.0], 0, 10).is_empty());
    }
}
