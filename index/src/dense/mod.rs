//! Dense vectors: the raw vectors (`vectors.f32`, row-major little-endian f32, kept so an
//! index can be rebuilt and searched exactly) and an HNSW graph (hnsw_rs, cosine via
//! dot product on L2-normalized vectors).
//!
//! Exact search is the recall oracle and the default for small corpora.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use hnsw_rs::api::AnnT;
use hnsw_rs::hnswio::HnswIo;
use hnsw_rs::prelude::{DistDot, Hnsw};

use seine_kernels::l2_normalize as normalize;

use crate::DocSet;
pub mod graph;
pub mod quant;
mod settings;

pub use settings::{DenseSettings, GraphMode, HNSW_AUTO_MIN_DOCS, HnswParams};

use crate::{DocId, Error, Result, ScoredDoc, sort_hits};
use graph::FlatGraph;
use quant::{Codes, DEFAULT_RESCORE, Quantization};

pub(crate) const VECTORS_FILE: &str = "vectors.f32";
const HNSW_BASENAME: &str = "hnsw";

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
    pub(crate) fn finish(self, hnsw: Option<HnswParams>, quant: Quantization) -> Result<()> {
        let path = self.dir.join(VECTORS_FILE);
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        if hnsw.is_none() && quant == Quantization::None {
            return Ok(());
        }
        let vectors = Vectors::map(&path, self.dim)?;
        if let Some(p) = hnsw {
            let graph = build_hnsw(&vectors, self.dim, p)?;
            graph
                .file_dump(&self.dir, HNSW_BASENAME)
                .map_err(|e| Error::Internal(format!("hnsw dump: {e}")))?;
        }
        if let Some(codes) = Codes::build(&vectors, self.dim, quant) {
            codes.write(&self.dir)?;
        }
        Ok(())
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

/// Builds an HNSW graph over row-major normalized vectors, inserting in parallel.
pub fn build_hnsw(
    vectors: &[f32],
    dim: usize,
    p: HnswParams,
) -> Result<Hnsw<'static, f32, DistDot>> {
    p.validate()?;
    let n = vectors.len() / dim.max(1);
    let graph = Hnsw::<f32, DistDot>::new(p.m, n.max(1), 16, p.ef_construction, DistDot {});
    let rows: Vec<(&[f32], usize)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| (v, i))
        .collect();
    graph.parallel_insert_slice(&rows);
    Ok(graph)
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
                for ext in ["hnsw.graph", "hnsw.data"] {
                    let f = dir.join(format!("{HNSW_BASENAME}.{ext}"));
                    if !f.is_file() {
                        return Err(Error::NotAnIndex {
                            path: f,
                            message: "HNSW file missing".into(),
                        });
                    }
                }
                // hnsw_rs ties the loaded graph to its loader's lifetime; the loader
                // is small and lives as long as the index, so it is leaked.
                let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, HNSW_BASENAME)));
                let graph = io
                    .load_hnsw::<f32, DistDot>()
                    .map_err(|e| Error::NotAnIndex {
                        path: dir.to_path_buf(),
                        message: format!("unreadable HNSW graph: {e}"),
                    })?;
                Some(FlatGraph::from_hnsw(
                    &graph,
                    vectors.len() / settings.dim.max(1),
                ))
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
            let graph = build_hnsw(&index.vectors, dim, p)?;
            index.hnsw = Some(FlatGraph::from_hnsw(&graph, index.len()));
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
