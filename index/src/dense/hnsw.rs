//! seine's own HNSW builder (Malkov & Yashunin), writing the flat graph search uses.
//!
//! Insertion runs on every core as the fast libraries do it: a small lock per node
//! (held only to rewrite that node's list), the entry point and top level under one
//! lock (taken for the whole insertion only by a node that raises the top level),
//! per-thread reusable visited stamps and heaps, neighbour lists in one contiguous
//! array per layer read without locks (atomic words: a reader sees every slot as some
//! valid node id), and the selection heuristic for new and for reverse links (a
//! neighbour is kept only when it is closer to the base than to every neighbour kept
//! before it). Levels are drawn up front from a fixed seed, so a one-thread build is
//! reproducible; a parallel one differs only in the order of contended updates.
//! Similarity is the dot product of `seine-kernels` on normalized vectors.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use seine_kernels::dot;

use super::graph::{Cand, FlatGraph};

/// Levels above this are not drawn (1 node in 16^16 would reach it at M 16).
const MAX_LEVEL: usize = 15;
/// The seed of the level draw: builds of the same vectors get the same levels.
const LEVEL_SEED: u64 = 0x5e1e_4b5d;
/// Whether a new node's own lists are filled with pruned candidates.
const FILL_NEW: bool = false;
/// Builds longer than this print progress lines (to stderr), one per interval.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Build parameters (links per node on the upper layers `m`, twice that on layer 0).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildParams {
    pub m: usize,
    pub ef_construction: usize,
    /// Insertion threads (0: one per core).
    pub threads: usize,
}

/// Neighbour lists while building: slot 0 of a list is its length, then up to its
/// capacity node ids.
struct Links {
    m: usize,
    m0: usize,
    levels: Vec<u8>,
    layer0: Vec<AtomicU32>,
    upper: Vec<Box<[AtomicU32]>>,
    locks: Vec<Mutex<()>>,
}

impl Links {
    fn new(levels: Vec<u8>, m: usize) -> Self {
        let m0 = 2 * m;
        let n = levels.len();
        let words = |k: usize| (0..k).map(|_| AtomicU32::new(0)).collect::<Vec<_>>();
        let upper = levels
            .iter()
            .map(|&l| words(l as usize * (m + 1)).into_boxed_slice())
            .collect();
        Links {
            m,
            m0,
            layer0: words(n * (m0 + 1)),
            upper,
            locks: (0..n).map(|_| Mutex::new(())).collect(),
            levels,
        }
    }

    fn cap(&self, level: usize) -> usize {
        if level == 0 { self.m0 } else { self.m }
    }

    fn slots(&self, node: u32, level: usize) -> &[AtomicU32] {
        if level == 0 {
            let s = node as usize * (self.m0 + 1);
            &self.layer0[s..s + self.m0 + 1]
        } else {
            let s = (level - 1) * (self.m + 1);
            &self.upper[node as usize][s..s + self.m + 1]
        }
    }

    /// The current list of `node` at `level` into `out`.
    fn read(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        let s = self.slots(node, level);
        let len = (s[0].load(Relaxed) as usize).min(s.len() - 1);
        out.clear();
        out.extend(s[1..=len].iter().map(|a| a.load(Relaxed)));
    }

    /// Replaces the list (the caller holds the node's lock).
    fn write(&self, node: u32, level: usize, ids: impl ExactSizeIterator<Item = u32>) {
        let s = self.slots(node, level);
        let len = ids.len().min(s.len() - 1);
        for (slot, id) in s[1..].iter().zip(ids) {
            slot.store(id, Relaxed);
        }
        s[0].store(len as u32, Relaxed);
    }
}

/// A thread's reusable search state.
struct Scratch {
    stamps: Vec<u32>,
    generation: u32,
    candidates: BinaryHeap<Cand>,
    results: BinaryHeap<Reverse<Cand>>,
    list: Vec<u32>,
    pool: Vec<Cand>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            stamps: vec![0; n],
            generation: 0,
            candidates: BinaryHeap::new(),
            results: BinaryHeap::new(),
            list: Vec::new(),
            pool: Vec::new(),
        }
    }

    fn next_generation(&mut self) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        self.generation
    }
}

struct Builder<'a> {
    vectors: &'a [f32],
    dim: usize,
    ef: usize,
    links: Links,
    /// (entry node, top level); `grow` is held by an insertion that raises the top.
    entry: RwLock<(u32, usize)>,
    grow: Mutex<()>,
}

impl Builder<'_> {
    fn vector(&self, i: u32) -> &[f32] {
        &self.vectors[i as usize * self.dim..(i as usize + 1) * self.dim]
    }

    fn sim(&self, a: u32, b: u32) -> f32 {
        dot(self.vector(a), self.vector(b))
    }

    /// Beam search of `level` from `entry` (the beam `ef`): the results best first in
    /// `s.pool`.
    fn search_layer(&self, q: &[f32], entry: &[Cand], ef: usize, level: usize, s: &mut Scratch) {
        let g = s.next_generation();
        s.candidates.clear();
        s.results.clear();
        for &c in entry {
            s.stamps[c.1 as usize] = g;
            s.candidates.push(c);
            s.results.push(Reverse(c));
        }
        while s.results.len() > ef {
            s.results.pop();
        }
        while let Some(Cand(sim, node)) = s.candidates.pop() {
            let worst = s.results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
            if sim < worst && s.results.len() >= ef {
                break;
            }
            let mut list = std::mem::take(&mut s.list);
            self.links.read(node, level, &mut list);
            for &nb in &list {
                let stamp = &mut s.stamps[nb as usize];
                if *stamp == g {
                    continue;
                }
                *stamp = g;
                let x = dot(q, self.vector(nb));
                let worst = s.results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
                if s.results.len() < ef || x > worst {
                    s.candidates.push(Cand(x, nb));
                    s.results.push(Reverse(Cand(x, nb)));
                    if s.results.len() > ef {
                        s.results.pop();
                    }
                }
            }
            s.list = list;
        }
        s.pool.clear();
        s.pool.extend(s.results.drain().map(|r| r.0));
        s.pool.sort_unstable_by(|a, b| b.cmp(a));
    }

    /// The selection heuristic over `cands` (similarities to the base, best first): a
    /// candidate is kept when no kept one is more similar to it than the base is. With
    /// `fill`, free places are then filled with the best of the pruned candidates (the
    /// paper's keepPrunedConnections), for a new node's own lists.
    fn select(&self, cands: &[Cand], m: usize, fill: bool) -> Vec<Cand> {
        let mut kept: Vec<Cand> = Vec::with_capacity(m);
        let mut pruned: Vec<Cand> = Vec::new();
        for &c in cands {
            if kept.len() >= m {
                break;
            }
            let v = self.vector(c.1);
            if kept.iter().all(|r| dot(v, self.vector(r.1)) <= c.0) {
                kept.push(c);
            } else if fill {
                pruned.push(c);
            }
        }
        let free = m.saturating_sub(kept.len());
        kept.extend(pruned.into_iter().take(free));
        kept
    }

    /// Adds `new` to the list of `node` at `level`, re-selecting when the list is full.
    fn connect(&self, node: u32, new: u32, level: usize, s: &mut Scratch) {
        let _lock = self.links.locks[node as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.links.read(node, level, &mut s.list);
        if s.list.contains(&new) || node == new {
            return;
        }
        let cap = self.links.cap(level);
        if s.list.len() < cap {
            s.list.push(new);
            self.links.write(node, level, s.list.iter().copied());
            return;
        }
        let mut cands: Vec<Cand> = s
            .list
            .iter()
            .chain([&new])
            .map(|&x| Cand(self.sim(node, x), x))
            .collect();
        cands.sort_unstable_by(|a, b| b.cmp(a));
        let kept = self.select(&cands, cap, false);
        self.links.write(node, level, kept.iter().map(|c| c.1));
    }

    /// Inserts node `i` (node 0, the first entry point, is inserted by `build`).
    fn insert(&self, i: u32, s: &mut Scratch) {
        let level = self.links.levels[i as usize] as usize;
        // The read guard must be gone before `grow` is waited for: the holder of `grow`
        // takes `entry`'s write lock at the end of its insertion (a guard kept as a
        // temporary of the same statement deadlocked parallel builds).
        let top_now = self.entry.read().unwrap_or_else(|e| e.into_inner()).1;
        let _grow = (level > top_now).then(|| self.grow.lock().unwrap_or_else(|e| e.into_inner()));
        let (ep, top) = *self.entry.read().unwrap_or_else(|e| e.into_inner());
        let q = self.vector(i);
        let mut cur = Cand(dot(q, self.vector(ep)), ep);
        for l in (level + 1..=top).rev() {
            loop {
                let before = cur;
                self.links.read(cur.1, l, &mut s.list);
                for &nb in &s.list {
                    let x = dot(q, self.vector(nb));
                    if x > cur.0 {
                        cur = Cand(x, nb);
                    }
                }
                if cur == before {
                    break;
                }
            }
        }
        // Search top-down, link bottom-up: a node becomes reachable on a layer only
        // once its lists below are written (a walk entering layer 0 at a node whose
        // layer-0 list is still empty would find nothing else).
        let mut entry = vec![cur];
        let mut plans = Vec::with_capacity(level.min(top) + 1);
        for l in (0..=level.min(top)).rev() {
            self.search_layer(q, &entry, self.ef, l, s);
            s.pool.retain(|c| c.1 != i);
            plans.push((l, self.select(&s.pool, self.links.m, FILL_NEW)));
            entry = std::mem::take(&mut s.pool);
        }
        for (l, kept) in plans.into_iter().rev() {
            {
                let _lock = self.links.locks[i as usize]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                // Another insertion may have linked to `i` on this layer already.
                self.links.read(i, l, &mut s.list);
                let mut ids: Vec<u32> = kept.iter().map(|c| c.1).collect();
                for &x in &s.list {
                    if ids.len() < self.links.cap(l) && !ids.contains(&x) {
                        ids.push(x);
                    }
                }
                self.links.write(i, l, ids.into_iter());
            }
            for c in &kept {
                self.connect(c.1, i, l, s);
            }
        }
        if level > top {
            *self.entry.write().unwrap_or_else(|e| e.into_inner()) = (i, level);
        }
    }
}

/// Draws every node's level: ⌊−ln U · mL⌋ with mL = 1 / ln m, seeded.
fn draw_levels(n: usize, m: usize) -> Vec<u8> {
    let ml = 1.0 / (m.max(2) as f64).ln();
    let mut rng = seine_kernels::rng::Rng::new(LEVEL_SEED);
    (0..n)
        .map(|_| {
            let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            ((-u.ln() * ml) as usize).min(MAX_LEVEL) as u8
        })
        .collect()
}

/// Builds the graph of `n` row-major normalized vectors.
pub(crate) fn build(vectors: &[f32], dim: usize, p: BuildParams) -> FlatGraph {
    let n = vectors.len() / dim.max(1);
    let levels = draw_levels(n, p.m);
    let top = levels.first().map_or(0, |&l| l as usize);
    let b = Builder {
        vectors,
        dim,
        ef: p.ef_construction.max(p.m),
        links: Links::new(levels, p.m),
        entry: RwLock::new((0, top)),
        grow: Mutex::new(()),
    };
    let threads = match p.threads {
        0 => std::thread::available_parallelism().map_or(1, |t| t.get()),
        t => t,
    }
    .min(n.max(1));
    let next = AtomicUsize::new(1);
    let done = AtomicUsize::new(1);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (b, next, done) = (&b, &next, &done);
            scope.spawn(move || {
                let mut s = Scratch::new(n);
                let mut last = Instant::now();
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= n {
                        break;
                    }
                    b.insert(i as u32, &mut s);
                    let d = done.fetch_add(1, Relaxed) + 1;
                    if t == 0 && last.elapsed() >= PROGRESS_EVERY {
                        last = Instant::now();
                        progress(d, n, start.elapsed());
                    }
                }
            });
        }
    });
    if start.elapsed() >= PROGRESS_EVERY {
        progress(n, n, start.elapsed());
    }
    flatten(&b)
}

fn progress(done: usize, n: usize, took: Duration) {
    let rate = done as f64 / took.as_secs_f64().max(1e-9);
    let left = (n - done) as f64 / rate.max(1e-9);
    eprintln!(
        "seine: HNSW graph {done} / {n} vectors ({:.0} %), {rate:.0} vectors/s, {left:.0} s left",
        100.0 * done as f64 / n.max(1) as f64
    );
}

/// The built lists as a [`FlatGraph`].
fn flatten(b: &Builder<'_>) -> FlatGraph {
    let links = &b.links;
    let n = links.levels.len();
    let mut offsets0 = Vec::with_capacity(n + 1);
    let mut neighbours0 = Vec::new();
    let mut list = Vec::new();
    let mut upper = HashMap::new();
    offsets0.push(0u32);
    for i in 0..n as u32 {
        links.read(i, 0, &mut list);
        neighbours0.extend_from_slice(&list);
        offsets0.push(neighbours0.len() as u32);
        let level = links.levels[i as usize] as usize;
        if level > 0 {
            let lists = (1..=level)
                .map(|l| {
                    links.read(i, l, &mut list);
                    list.clone()
                })
                .collect();
            upper.insert(i, lists);
        }
    }
    let (entry, max_level) = *b.entry.read().unwrap_or_else(|e| e.into_inner());
    FlatGraph::from_parts(offsets0, neighbours0, upper, entry, max_level)
}
