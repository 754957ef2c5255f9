//! Dense vectors: the raw vectors (`vectors.f32`, row-major little-endian f32, kept so an
//! index can be rebuilt and searched exactly) and an HNSW graph (seine's own builder,
//! [`hnsw`]; cosine via dot product on L2-normalized vectors), both memory-mapped at open.
//!
//! Exact search is the recall oracle and the default for small corpora.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use seine_kernels::l2_normalize as normalize;

use crate::DocSet;
pub mod beam;
pub mod graph;
pub(crate) mod hnsw;
#[cfg(test)]
pub(crate) mod hnsw_tests;
pub mod quant;
mod settings;

pub use beam::BeamFit;
pub use settings::{
    DEFAULT_TARGET_RECALL, DenseSettings, GraphMode, HNSW_AUTO_MIN_DOCS, HnswParams,
};

use crate::{DocId, Error, Result, ScoredDoc, sort_hits};
use graph::FlatGraph;
use quant::{Codes, DEFAULT_RESCORE, Quantization};

pub(crate) const VECTORS_FILE: &str = "vectors.f32";
/// The graph files of hnsw_rs (seine before its own builder): refused with a rebuild hint.
const OLD_GRAPH_FILE: &str = "hnsw.hnsw.graph";

/// Appends vectors to `vectors.f32` during a build.
pub(crate) struct DenseWriter {
    dir: PathBuf,
    out: BufWriter<File>,
    dim: usize,
    count: u64,
    buf: Vec<f32>,
}

impl DenseWriter {
    pub(crate) fn create(dir: &Path, dim: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(VECTORS_FILE);
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(DenseWriter {
            dir: dir.to_path_buf(),
            out: BufWriter::new(file),
            dim,
            count: 0,
            buf: Vec::with_capacity(dim),
        })
    }

    /// Adds the vector of the next document (normalized here).
    pub(crate) fn push(&mut self, doc_id: &str, v: &[f32]) -> Result<()> {
        if v.len() != self.dim {
            return Err(Error::InvalidSetting(format!(
                "document {doc_id:?}: vector of dimension {}, expected {}",
                v.len(),
                self.dim
            )));
        }
        self.buf.clear();
        self.buf.extend_from_slice(v);
        if !normalize(&mut self.buf) {
            // A zero vector matches nothing; keep it zero rather than NaN.
            self.buf.iter_mut().for_each(|x| *x = 0.0);
        }
        for x in &self.buf {
            self.out
                .write_all(&x.to_le_bytes())
                .map_err(|e| Error::io(self.dir.join(VECTORS_FILE), e))?;
        }
        self.count += 1;
        Ok(())
    }

    /// Flushes the vectors, builds the HNSW graph and the quantized codes when asked to.
    /// With a `target` recall, the default beam is measured on the built graph (the
    /// fit is returned for the manifest).
    pub(crate) fn finish(
        self,
        hnsw: Option<HnswParams>,
        target: Option<f64>,
        quant: Quantization,
    ) -> Result<Option<BeamFit>> {
        let path = self.dir.join(VECTORS_FILE);
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        if hnsw.is_none() && quant == Quantization::None {
            return Ok(None);
        }
        let vectors = Vectors::map(&path, self.dim)?;
        let mut fit = None;
        if let Some(p) = hnsw {
            let graph = build_hnsw(&vectors, self.dim, p)?;
            graph.write(&self.dir)?;
            if let Some(t) = target {
                fit = Some(beam::fit(&graph, &vectors, self.dim, t));
            }
        }
        if let Some(codes) = Codes::build(&vectors, self.dim, quant) {
            codes.write(&self.dir)?;
        }
        Ok(fit)
    }
}

/// The full-precision vectors: memory-mapped from `vectors.f32`, or owned (in-memory
/// indexes).
enum Vectors {
    Mapped(memmap2::Mmap),
    Owned(Vec<f32>),
}

impl Vectors {
    fn map(path: &Path, dim: usize) -> Result<Vectors> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the generation's files are never modified after commit.
        let m = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        if dim == 0 || !m.len().is_multiple_of(4 * dim) {
            return Err(Error::NotAnIndex {
                path: path.to_path_buf(),
                message: format!(
                    "{} bytes is not a whole number of {dim}-d f32 vectors",
                    m.len()
                ),
            });
        }
        Ok(Vectors::Mapped(m))
    }
}

impl std::ops::Deref for Vectors {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            // A page-aligned mapping, its length a multiple of 4 (checked in `map`);
            // little-endian targets only.
            Vectors::Mapped(m) => bytemuck::cast_slice(&m[..]),
            Vectors::Owned(v) => v,
        }
    }
}

/// Builds an HNSW graph over row-major normalized vectors, inserting on every core.
pub(crate) fn build_hnsw(vectors: &[f32], dim: usize, p: HnswParams) -> Result<FlatGraph> {
    p.validate()?;
    Ok(hnsw::build(
        vectors,
        dim,
        hnsw::BuildParams {
            m: p.m,
            ef_construction: p.ef_construction,
            threads: 0,
        },
    ))
}

/// A searchable dense index.
pub struct DenseIndex {
    dim: usize,
    vectors: Vectors,
    hnsw: Option<FlatGraph>,
    ef_search: usize,
    codes: Option<Codes>,
    rescore: usize,
}

impl DenseIndex {
    pub fn open(dir: &Path, settings: &DenseSettings) -> Result<Self> {
        let vectors = Vectors::map(&dir.join(VECTORS_FILE), settings.dim)?;
        let n = vectors.len() / settings.dim.max(1);
        let codes = Codes::open(dir, settings.dim, n, settings.quantization)?;
        let hnsw = match settings.hnsw.filter(|_| settings.graph) {
            Some(_) => {
                let f = dir.join(graph::LINKS_FILE);
                if !f.is_file() {
                    let message = if dir.join(OLD_GRAPH_FILE).is_file() {
                        "the HNSW graph is in the format of an older seine (hnsw_rs); \
                         build the index again with this version"
                    } else {
                        "HNSW file missing"
                    };
                    return Err(Error::NotAnIndex {
                        path: f,
                        message: message.into(),
                    });
                }
                Some(FlatGraph::open(dir, n)?)
            }
            None => None,
        };
        Ok(DenseIndex {
            dim: settings.dim,
            vectors,
            hnsw,
            ef_search: settings.hnsw.map_or(0, |p| p.ef_search),
            codes,
            rescore: settings.rescore.max(1),
        })
    }

    /// An in-memory index over row-major vectors (normalized here), exact search only.
    pub fn from_vectors(dim: usize, mut vectors: Vec<f32>) -> Self {
        vectors.chunks_exact_mut(dim).for_each(|v| {
            normalize(v);
        });
        DenseIndex {
            dim,
            vectors: Vectors::Owned(vectors),
            hnsw: None,
            ef_search: 0,
            codes: None,
            rescore: DEFAULT_RESCORE,
        }
    }

    /// Searches `kind` codes first (built here), rescoring `rescore × k` candidates.
    pub fn quantize(&mut self, kind: Quantization, rescore: usize) {
        self.codes = Codes::build(&self.vectors, self.dim, kind);
        self.rescore = rescore.max(1);
    }

    /// Bytes of the quantized codes (0 without).
    pub fn code_bytes(&self) -> usize {
        self.codes.as_ref().map_or(0, |c| c.bytes())
    }

    /// An in-memory index over row-major vectors (normalized here), with an HNSW
    /// graph built in parallel when `hnsw` is given.
    pub fn build(dim: usize, vectors: Vec<f32>, hnsw: Option<HnswParams>) -> Result<Self> {
        let mut index = Self::from_vectors(dim, vectors);
        if let Some(p) = hnsw {
            index.hnsw = Some(build_hnsw(&index.vectors, dim, p)?);
            index.ef_search = p.ef_search;
        }
        Ok(index)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.vectors.len() / self.dim.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has_hnsw(&self) -> bool {
        self.hnsw.is_some()
    }

    /// Bytes of the graph's links (0 without a graph).
    pub fn graph_bytes(&self) -> usize {
        self.hnsw.as_ref().map_or(0, |g| g.bytes())
    }

    /// The default beam of [`DenseIndex::search`] (0 without a graph).
    pub fn ef_search(&self) -> usize {
        self.ef_search
    }

    /// Measures the smallest beam reaching `target` recall@10 on a sample of the
    /// index's own vectors (as a build with a target recall does) and makes it the
    /// default. None without a graph.
    pub fn fit_beam(&mut self, target: f64) -> Option<BeamFit> {
        let fit = beam::fit(self.hnsw.as_ref()?, &self.vectors, self.dim, target);
        self.ef_search = fit.ef;
        Some(fit)
    }

    pub fn vector(&self, doc: DocId) -> Option<&[f32]> {
        let start = doc as usize * self.dim;
        self.vectors.get(start..start + self.dim)
    }

    fn check_query(&self, query: &[f32]) -> Result<Vec<f32>> {
        if query.len() != self.dim {
            return Err(Error::InvalidSetting(format!(
                "query vector of dimension {}, index has {}",
                query.len(),
                self.dim
            )));
        }
        let mut q = query.to_vec();
        normalize(&mut q);
        Ok(q)
    }

    /// Exact top-`k` by cosine similarity (the recall oracle).
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<ScoredDoc>> {
        let q = self.check_query(query)?;
        let mut hits: Vec<ScoredDoc> = self
            .vectors
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(i, v)| ScoredDoc::new(i as DocId, seine_kernels::dot(v, &q)))
            .collect();
        let k = k.min(hits.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        hits.select_nth_unstable_by(k - 1, ScoredDoc::rank_cmp);
        hits.truncate(k);
        sort_hits(&mut hits);
        Ok(hits)
    }

    /// Top-`k` with HNSW when the index has a graph (beam `ef`, default from the
    /// settings), exact search otherwise. Scores are cosine similarities. With
    /// quantized codes, the walk (or scan) runs on the codes and the best
    /// `rescore × k` are rescored with the full-precision vectors.
    pub fn search(&self, query: &[f32], k: usize, ef: Option<usize>) -> Result<Vec<ScoredDoc>> {
        if let Some(codes) = &self.codes {
            return self.search_quantized(codes, query, k, ef);
        }
        let Some(graph) = &self.hnsw else {
            return self.search_exact(query, k);
        };
        let q = self.check_query(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let ef = ef.unwrap_or(self.ef_search).max(k);
        let mut hits: Vec<ScoredDoc> = graph
            .search(&self.vectors, self.dim, &q, k, ef)
            .into_iter()
            .map(|(s, d)| ScoredDoc::new(d, s))
            .collect();
        sort_hits(&mut hits);
        Ok(hits)
    }
}

/// How a filtered dense search ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterPath {
    /// The HNSW walk, results restricted to the allowed documents.
    Graph,
    /// An exact scan of the allowed documents (selective filters, or no graph).
    Exact,
}

impl FilterPath {
    pub fn name(self) -> &'static str {
        match self {
            FilterPath::Graph => "hnsw",
            FilterPath::Exact => "exact",
        }
    }
}

/// Visits a filtered walk makes per expanded node, roughly (the cost model behind
/// [`DenseIndex::filter_path`]).
const WALK_FANOUT: f64 = 32.0;

impl DenseIndex {
    /// The cheaper way to search `allowed` with beam `ef`: a filtered walk visits
    /// about `ef × fanout / selectivity` nodes, an exact scan `|allowed|` — so the scan
    /// wins when `|allowed|² ≤ fanout × ef × n` (e.g. below ~4.5 % of 1M documents at
    /// ef 64; always on small corpora, where both are cheap).
    pub fn filter_path(&self, allowed: &DocSet, ef: usize) -> FilterPath {
        let count = allowed.len() as f64;
        if self.hnsw.is_none() || count * count <= WALK_FANOUT * ef as f64 * self.len() as f64 {
            FilterPath::Exact
        } else {
            FilterPath::Graph
        }
    }

    /// Top-`k` among the `allowed` documents: a filtered HNSW walk or an exact scan of
    /// the allowed documents, whichever [`DenseIndex::filter_path`] estimates cheaper
    /// (`path` forces one). Quantized codes are searched as without a filter, then
    /// rescored.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
        allowed: &DocSet,
        path: Option<FilterPath>,
    ) -> Result<(Vec<ScoredDoc>, FilterPath)> {
        let q = self.check_query(query)?;
        let ef = ef.unwrap_or(self.ef_search).max(k);
        let path = path.unwrap_or_else(|| self.filter_path(allowed, ef));
        if k == 0 || allowed.is_empty() {
            return Ok((Vec::new(), path));
        }
        let dim = self.dim;
        let prepared = self.codes.as_ref().map(|c| c.prepare(&q));
        let sim = |i: u32| match &prepared {
            Some(p) => p.sim(i, dim),
            None => seine_kernels::dot(&self.vectors[i as usize * dim..(i as usize + 1) * dim], &q),
        };
        let want = if self.codes.is_some() {
            (k * self.rescore).min(allowed.len())
        } else {
            k
        };
        let mut cands: Vec<ScoredDoc> = match (path, &self.hnsw) {
            (FilterPath::Graph, Some(graph)) => graph
                .search_filtered_by(want.min(ef), ef, sim, |i| allowed.contains(i))
                .into_iter()
                .map(|(s, d)| ScoredDoc::new(d, s))
                .collect(),
            _ => {
                // Documents past this index (added since it was built) are the
                // caller's.
                let n = self.len() as DocId;
                let mut all: Vec<ScoredDoc> = allowed
                    .iter()
                    .take_while(|&d| d < n)
                    .map(|d| ScoredDoc::new(d, sim(d)))
                    .collect();
                let want = want.min(all.len());
                if want == 0 {
                    return Ok((Vec::new(), path));
                }
                all.select_nth_unstable_by(want - 1, ScoredDoc::rank_cmp);
                all.truncate(want);
                all
            }
        };
        if self.codes.is_some() {
            for h in &mut cands {
                let v = &self.vectors[h.doc as usize * dim..(h.doc as usize + 1) * dim];
                *h = ScoredDoc::new(h.doc, seine_kernels::dot(v, &q));
            }
        }
        sort_hits(&mut cands);
        cands.truncate(k);
        Ok((cands, path))
    }

    fn search_quantized(
        &self,
        codes: &Codes,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
    ) -> Result<Vec<ScoredDoc>> {
        let q = self.check_query(query)?;
        let n = self.len();
        let want = (k * self.rescore).min(n);
        if want == 0 {
            return Ok(Vec::new());
        }
        let p = codes.prepare(&q);
        let dim = self.dim;
        let candidates: Vec<u32> = match &self.hnsw {
            Some(graph) => {
                // The walk's beam is `ef` (as without codes); its best `rescore × k`
                // (at most the beam) are rescored.
                let ef = ef.unwrap_or(self.ef_search).max(k);
                graph
                    .search_by(want.min(ef), ef, |i| p.sim(i, dim))
                    .into_iter()
                    .map(|x| x.1)
                    .collect()
            }
            None => {
                let mut all: Vec<ScoredDoc> = (0..n as u32)
                    .map(|i| ScoredDoc::new(i, p.sim(i, dim)))
                    .collect();
                all.select_nth_unstable_by(want - 1, ScoredDoc::rank_cmp);
                all.truncate(want);
                all.into_iter().map(|h| h.doc).collect()
            }
        };
        let mut hits: Vec<ScoredDoc> = candidates
            .into_iter()
            .map(|d| {
                let v = &self.vectors[d as usize * dim..(d as usize + 1) * dim];
                ScoredDoc::new(d, seine_kernels::dot(v, &q))
            })
            .collect();
        sort_hits(&mut hits);
        hits.truncate(k);
        Ok(hits)
    }
}
