//! The HNSW graph as search reads it: neighbour lists as plain `u32` arrays (layer 0
//! in one CSR array, memory-mapped from `hnsw.links` in a generation, so an opened
//! index holds no second copy), a reusable generation-stamped visited set, and the dot
//! product of `seine-kernels`. [`super::hnsw`] builds it.
//!
//! `hnsw.links` (little-endian u32 words): magic, version, n, entry, top level, upper
//! node count, upper words, 0; layer-0 offsets (n + 1) and neighbours; for each node
//! above layer 0: id, level, then per level its length and ids; a CRC-32 of all the
//! bytes before it. Every id and offset is checked at open.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::io::Write;
use std::path::Path;

use seine_kernels::dot;

use crate::{Error, Result};

/// The graph file of a generation's dense part.
pub(crate) const LINKS_FILE: &str = "hnsw.links";
const MAGIC: u32 = u32::from_le_bytes(*b"SNHW");
const VERSION: u32 = 1;
const HEADER_WORDS: usize = 8;

/// Layer-0 offsets then neighbours: owned (just built) or mapped from the file.
enum Words {
    Owned(Vec<u32>),
    Mapped(memmap2::Mmap),
}

/// Neighbour lists of every node, by layer.
pub(crate) struct FlatGraph {
    words: Words,
    /// Where layer 0 starts in `words` (after the header when mapped): offsets of node
    /// `i` at `base + i`, neighbours at `base + n + 1 + offset`.
    base: usize,
    n: usize,
    /// Layers 1.. of the nodes that reach them: `upper[node][l - 1]`.
    upper: HashMap<u32, Vec<Vec<u32>>>,
    entry: u32,
    max_level: usize,
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) struct Cand(pub(crate) f32, pub(crate) u32);
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

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::NotAnIndex {
        path: path.to_path_buf(),
        message: format!("HNSW graph: {}", message.into()),
    }
}

/// Checks a mapped file's layout (`w`: the words before the checksum) and reads the
/// upper layers.
fn check_layout(
    w: &[u32],
    n: usize,
    entry: u32,
    top: u32,
    n_upper: u32,
    upper_words: u32,
) -> std::result::Result<HashMap<u32, Vec<Vec<u32>>>, String> {
    let rest = &w[HEADER_WORDS..];
    if rest.len() < n + 1 {
        return Err("truncated offsets".into());
    }
    let (offsets, rest) = rest.split_at(n + 1);
    if offsets[0] != 0 || offsets.windows(2).any(|p| p[1] < p[0]) {
        return Err("layer-0 offsets out of order".into());
    }
    let links = offsets[n] as usize;
    if rest.len() != links + upper_words as usize {
        return Err(format!(
            "{} words after the offsets, expected {links} links and {upper_words} upper words",
            rest.len()
        ));
    }
    let (nb, mut up) = rest.split_at(links);
    if nb.iter().any(|&x| x as usize >= n) {
        return Err("a layer-0 neighbour past the last node".into());
    }
    if (n > 0 && entry as usize >= n) || top as usize > 64 {
        return Err(format!("entry {entry} / top level {top} out of range"));
    }
    let mut upper = HashMap::with_capacity(n_upper as usize);
    let mut take = |k: usize| -> std::result::Result<&[u32], String> {
        if up.len() < k {
            return Err("truncated upper layers".to_string());
        }
        let (a, b) = up.split_at(k);
        up = b;
        Ok(a)
    };
    for _ in 0..n_upper {
        let [node, level] = take(2)?.try_into().expect("2");
        if node as usize >= n || level == 0 || level > top {
            return Err(format!("upper node {node} at level {level}"));
        }
        let mut lists = Vec::with_capacity(level as usize);
        for _ in 0..level {
            let len = take(1)?[0] as usize;
            let ids = take(len)?;
            if ids.iter().any(|&x| x as usize >= n) {
                return Err("an upper neighbour past the last node".into());
            }
            lists.push(ids.to_vec());
        }
        upper.insert(node, lists);
    }
    if !up.is_empty() || upper.len() != n_upper as usize {
        return Err("upper layers do not match their counts".into());
    }
    Ok(upper)
}

impl FlatGraph {
    /// A graph from its lists (layer-0 CSR arrays, upper lists by node).
    pub(crate) fn from_parts(
        offsets0: Vec<u32>,
        neighbours0: Vec<u32>,
        upper: HashMap<u32, Vec<Vec<u32>>>,
        entry: u32,
        max_level: usize,
    ) -> Self {
        let n = offsets0.len().saturating_sub(1);
        let mut words = offsets0;
        if words.is_empty() {
            words.push(0);
        }
        words.extend(neighbours0);
        FlatGraph {
            words: Words::Owned(words),
            base: 0,
            n,
            upper,
            entry,
            max_level,
        }
    }

    fn words(&self) -> &[u32] {
        match &self.words {
            Words::Owned(w) => w,
            // Page-aligned, a whole number of words (checked at open); little-endian
            // targets only.
            Words::Mapped(m) => bytemuck::cast_slice(&m[..m.len() - 4]),
        }
    }

    /// Layer-0 offsets (n + 1) and neighbours.
    fn layer0(&self) -> (&[u32], &[u32]) {
        let w = &self.words()[self.base..];
        let (offsets, rest) = w.split_at(self.n + 1);
        (offsets, &rest[..offsets[self.n] as usize])
    }

    /// Nodes, layer-0 links, nodes above layer 0, and the top level.
    #[cfg(test)]
    pub(crate) fn stats(&self) -> (usize, usize, usize, usize) {
        (
            self.n,
            self.layer0().1.len(),
            self.upper.len(),
            self.max_level,
        )
    }

    /// The node search starts from.
    #[cfg(test)]
    pub(crate) fn entry(&self) -> u32 {
        self.entry
    }

    /// Bytes of the links (layer 0 and the upper layers).
    pub(crate) fn bytes(&self) -> usize {
        let upper: usize = self
            .upper
            .values()
            .map(|ls| 8 + ls.iter().map(|l| 4 + 4 * l.len()).sum::<usize>())
            .sum();
        4 * (self.n + 1 + self.layer0().1.len()) + upper
    }

    /// The layer-0 neighbours of `node`.
    #[cfg(test)]
    pub(crate) fn neighbours(&self, node: u32) -> &[u32] {
        let (offsets, nb) = self.layer0();
        &nb[offsets[node as usize] as usize..offsets[node as usize + 1] as usize]
    }

    /// Writes the graph to `dir/hnsw.links` (a synced temporary file, then renamed).
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(LINKS_FILE);
        let tmp = dir.join(format!("{LINKS_FILE}.tmp"));
        let io = |e: std::io::Error| Error::io(&path, e);
        let mut upper: Vec<(&u32, &Vec<Vec<u32>>)> = self.upper.iter().collect();
        upper.sort_unstable_by_key(|x| *x.0);
        let upper_words: usize = upper
            .iter()
            .map(|(_, ls)| 2 + ls.iter().map(|l| 1 + l.len()).sum::<usize>())
            .sum();
        let (offsets, nb) = self.layer0();
        let header = [
            MAGIC,
            VERSION,
            self.n as u32,
            self.entry,
            self.max_level as u32,
            upper.len() as u32,
            upper_words as u32,
            0,
        ];
        let mut crc = crc32fast::Hasher::new();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
        let mut put = |ws: &[u32]| -> std::io::Result<()> {
            let bytes: &[u8] = bytemuck::cast_slice(ws);
            crc.update(bytes);
            out.write_all(bytes)
        };
        put(&header).map_err(io)?;
        put(offsets).map_err(io)?;
        put(nb).map_err(io)?;
        for (&node, lists) in upper {
            put(&[node, lists.len() as u32]).map_err(io)?;
            for l in lists {
                put(&[l.len() as u32]).map_err(io)?;
                put(l).map_err(io)?;
            }
        }
        let sum = crc.finalize();
        out.write_all(&sum.to_le_bytes()).map_err(io)?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Maps `dir/hnsw.links` of a part with `n` vectors, checking every id and offset.
    pub(crate) fn open(dir: &Path, n: usize) -> Result<Self> {
        let path = dir.join(LINKS_FILE);
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        // SAFETY: a generation's files are never modified after commit.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
        if !map.len().is_multiple_of(4) || map.len() < 4 * (HEADER_WORDS + 2) {
            return Err(bad(
                &path,
                format!("{} bytes is not a graph file", map.len()),
            ));
        }
        let (body, sum) = map.split_at(map.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(sum.try_into().expect("4")) {
            return Err(bad(&path, "checksum mismatch (damaged file)"));
        }
        let w: &[u32] = bytemuck::cast_slice(body);
        let [magic, version, count, entry, top, n_upper, upper_words, _] =
            w[..HEADER_WORDS].try_into().expect("header");
        if magic != MAGIC || version != VERSION {
            return Err(bad(&path, "not a seine graph file of version 1"));
        }
        if count as usize != n {
            return Err(bad(&path, format!("{count} nodes for {n} vectors")));
        }
        let upper =
            check_layout(w, n, entry, top, n_upper, upper_words).map_err(|m| bad(&path, m))?;
        Ok(FlatGraph {
            words: Words::Mapped(map),
            base: HEADER_WORDS,
            n,
            upper,
            entry,
            max_level: top as usize,
        })
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
        let n = self.n;
        let (offsets0, neighbours0) = self.layer0();
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
                    offsets0[node as usize] as usize,
                    offsets0[node as usize + 1] as usize,
                );
                for &nb in &neighbours0[a..b] {
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
