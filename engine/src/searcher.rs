use seine_index::lexical::{Bm25Params, StoredDoc};
use seine_index::{DocId, DocMap, IndexDir};

use std::sync::Arc;

use candle_core::Device;

use crate::fusion::{FusedHit, Fusion, fuse};
use crate::model::{ModelDir, resolve_model};
use crate::retriever::SparseRetriever;
use crate::{Bm25Retriever, DenseEncoder, DenseRetriever, Error, Result, Retriever, SpladeEncoder};

/// A search result with its external id.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc: DocId,
    pub id: String,
    pub score: f32,
}

/// Searches an index with the retrievers it has.
pub struct Searcher {
    index: IndexDir,
    doc_map: DocMap,
    bm25: Option<Bm25Retriever>,
    dense: Option<DenseRetriever>,
    sparse: Option<SparseRetriever>,
    multi: Option<(crate::MultiVectorEncoder, seine_index::MultiIndex)>,
    fusion: Fusion,
    rerank: Option<Rerank>,
}

/// Late-interaction reranking of the first stage's top candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rerank {
    /// First-stage candidates rescored.
    pub depth: usize,
    /// MaxSim, or FLIPR (sum of the top-k per-query-token maxima).
    pub reduce: seine_kernels::Reduce,
}

/// A fused search result: the hit and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedSearchHit {
    pub hit: Hit,
    pub sources: Vec<crate::fusion::SourceHit>,
    /// With a rerank: the per-query-token maxima behind the late-interaction score.
    pub token_maxima: Option<Vec<f32>>,
}

impl Searcher {
    /// Opens every retriever the index was built with; models run on the CPU.
    pub fn open(index: IndexDir) -> Result<Self> {
        Self::open_on(index, &Device::Cpu)
    }

    /// Opens every retriever the index was built with; query encoders run on `device`.
    pub fn open_on(index: IndexDir, device: &Device) -> Result<Self> {
        let doc_map = index.doc_map()?;
        let bm25 = match index.manifest().lexical {
            Some(_) => Some(Bm25Retriever::new(index.lexical()?)),
            None => None,
        };
        let dense_model = match &index.manifest().dense {
            Some(settings) => {
                let dir = ModelDir::open(&resolve_model(&settings.model)?)?;
                Some((
                    settings.model.clone(),
                    Arc::new(DenseEncoder::load(&dir, device)?),
                ))
            }
            None => None,
        };
        let dense = match &dense_model {
            Some((_, enc)) => {
                let encoder: Arc<dyn crate::Encoder> = enc.clone();
                Some(DenseRetriever::new(encoder, index.dense()?)?)
            }
            None => None,
        };
        let multi = match &index.manifest().multi {
            Some(settings) => {
                // The same model as the dense part: share the loaded weights.
                let enc = match &dense_model {
                    Some((name, enc)) if *name == settings.model => {
                        crate::MultiVectorEncoder::from_dense(enc.clone())
                    }
                    _ => {
                        let dir = ModelDir::open(&resolve_model(&settings.model)?)?;
                        crate::MultiVectorEncoder::load(&dir, device)?
                    }
                };
                Some((enc, index.multi()?))
            }
            None => None,
        };
        let sparse = match &index.manifest().sparse {
            Some(settings) => {
                let dir = ModelDir::open(&resolve_model(&settings.model)?)?;
                let qdir = settings
                    .query_model
                    .as_deref()
                    .map(|q| resolve_model(q).and_then(|p| ModelDir::open(&p)))
                    .transpose()?;
                let encoder = SpladeEncoder::load(&dir, qdir.as_ref(), device)?;
                Some(SparseRetriever::new(Arc::new(encoder), index.sparse()?))
            }
            None => None,
        };
        Ok(Searcher {
            index,
            doc_map,
            bm25,
            dense,
            sparse,
            multi,
            fusion: Fusion::default(),
            rerank: None,
        })
    }

    pub fn index(&self) -> &IndexDir {
        &self.index
    }

    pub fn doc_map(&self) -> &DocMap {
        &self.doc_map
    }

    /// Names of the retrievers this index supports.
    pub fn retrievers(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.bm25.iter().map(|r| r.name()).collect();
        v.extend(self.dense.iter().map(|r| r.name()));
        v.extend(self.sparse.iter().map(|r| r.name()));
        v
    }

    /// How `a+b` retriever names are fused.
    pub fn set_fusion(&mut self, fusion: Fusion) {
        self.fusion = fusion;
    }

    pub fn fusion(&self) -> &Fusion {
        &self.fusion
    }

    /// Reranks every search's candidates by late interaction (needs token vectors).
    pub fn set_rerank(&mut self, rerank: Option<Rerank>) -> Result<()> {
        if let Some(r) = &rerank {
            if self.multi.is_none() {
                return Err(Error::InvalidArgument(
                    "rerank needs token vectors: index with --multi MODEL".into(),
                ));
            }
            if r.depth == 0 {
                return Err(Error::InvalidArgument(
                    "rerank depth must be at least 1".into(),
                ));
            }
        }
        self.rerank = rerank;
        Ok(())
    }

    /// The multi-vector encoder, when the index has token vectors.
    pub fn multi_encoder(&self) -> Option<&crate::MultiVectorEncoder> {
        self.multi.as_ref().map(|m| &m.0)
    }

    /// The SPLADE retriever, when the index has one.
    pub fn sparse(&self) -> Option<&SparseRetriever> {
        self.sparse.as_ref()
    }

    /// Checks a retriever name: one retriever (`bm25`) or a fusion (`bm25+dense`).
    pub fn check(&self, name: &str) -> Result<()> {
        let parts: Vec<&str> = name.split('+').collect();
        for p in &parts {
            self.retriever(p)?;
        }
        let mut uniq = parts.clone();
        uniq.sort();
        uniq.dedup();
        if uniq.len() != parts.len() {
            return Err(Error::InvalidArgument(format!(
                "retriever {name:?} names one retriever twice"
            )));
        }
        if parts.len() > 1 {
            self.fusion.validate(parts.len())?;
        }
        Ok(())
    }

    /// Overrides the BM25 parameters for the searches that follow.
    pub fn set_bm25_params(&mut self, params: Bm25Params) -> Result<()> {
        if let Some(r) = self.bm25.take() {
            self.bm25 = Some(r.with_params(params)?);
        }
        Ok(())
    }

    /// Sets the HNSW beam width of dense searches.
    pub fn set_dense_ef(&mut self, ef: Option<usize>) {
        if let Some(d) = &mut self.dense {
            d.set_ef(ef);
        }
    }

    /// The retriever called `name`.
    pub fn retriever(&self, name: &str) -> Result<&dyn Retriever> {
        match name {
            "bm25" if self.bm25.is_some() => Ok(self.bm25.as_ref().unwrap()),
            "dense" if self.dense.is_some() => Ok(self.dense.as_ref().unwrap()),
            "splade" if self.sparse.is_some() => Ok(self.sparse.as_ref().unwrap()),
            _ => Err(Error::UnknownRetriever {
                name: name.to_string(),
                available: self.retrievers().join(", "),
            }),
        }
    }

    /// The top `k` hits of retriever `name` for `query`; `a+b+...` fuses the lists of
    /// those retrievers with the searcher's [`Fusion`].
    pub fn search(&self, name: &str, query: &str, k: usize) -> Result<Vec<Hit>> {
        if name.contains('+') || self.rerank.is_some() {
            return Ok(self
                .search_fused(name, query, k)?
                .into_iter()
                .map(|f| f.hit)
                .collect());
        }
        let hits = self.retriever(name)?.retrieve(query, k)?;
        Ok(hits.into_iter().map(|h| self.hit(h.doc, h.score)).collect())
    }

    /// Fused search with each hit's per-retriever ranks and scores (`name` may be a
    /// single retriever: its list, each hit with one source), reranked by late
    /// interaction when a [`Rerank`] is set.
    pub fn search_fused(&self, name: &str, query: &str, k: usize) -> Result<Vec<FusedSearchHit>> {
        self.search_with(name, query, k, &self.fusion, self.rerank)
    }

    /// [`Searcher::search_fused`] with this call's fusion and rerank settings (the
    /// searcher's own are left alone; a server shares one searcher across requests).
    pub fn search_with(
        &self,
        name: &str,
        query: &str,
        k: usize,
        fusion: &Fusion,
        rerank: Option<Rerank>,
    ) -> Result<Vec<FusedSearchHit>> {
        let Some(rerank) = rerank else {
            return self.first_stage(name, query, k, fusion);
        };
        if self.multi.is_none() {
            return Err(Error::InvalidArgument(
                "rerank needs token vectors: index with --multi MODEL".into(),
            ));
        }
        if rerank.depth == 0 {
            return Err(Error::InvalidArgument(
                "rerank depth must be at least 1".into(),
            ));
        }
        let (enc, store) = self.multi.as_ref().expect("checked by set_rerank");
        let mut hits = self.first_stage(name, query, rerank.depth.max(k), fusion)?;
        let rest = hits.split_off(rerank.depth.min(hits.len()));
        let q = enc.encode(&[query], crate::Side::Query)?.remove(0);
        let dim = store.dim();
        let lq = q.len() / dim;
        let mut maxima = vec![0f32; lq];
        for h in &mut hits {
            let doc = store.doc(h.hit.doc).ok_or_else(|| {
                Error::InvalidArgument(format!("document {} has no token vectors", h.hit.doc))
            })?;
            seine_kernels::token_maxima(&q, dim, doc, &mut maxima);
            let score = rerank.reduce.apply(&mut maxima.clone());
            h.token_maxima = Some(maxima.clone());
            h.hit.score = score;
        }
        hits.sort_by(|a, b| {
            b.hit
                .score
                .total_cmp(&a.hit.score)
                .then(a.hit.doc.cmp(&b.hit.doc))
        });
        let label = match rerank.reduce {
            seine_kernels::Reduce::MaxSim => "maxsim",
            seine_kernels::Reduce::Flipr { .. } => "flipr",
        };
        for (i, h) in hits.iter_mut().enumerate() {
            h.sources.push(crate::fusion::SourceHit {
                retriever: label.into(),
                rank: i + 1,
                score: h.hit.score,
            });
        }
        // Candidates below the rerank depth keep their first-stage order, scored below
        // every reranked hit (first-stage scores stay in `sources`).
        let floor = hits.last().map_or(0.0, |h| h.hit.score) - 1.0;
        for (i, mut h) in rest.into_iter().enumerate() {
            h.hit.score = floor - i as f32 * 1e-4;
            hits.push(h);
        }
        hits.truncate(k);
        Ok(hits)
    }

    fn first_stage(
        &self,
        name: &str,
        query: &str,
        k: usize,
        fusion: &Fusion,
    ) -> Result<Vec<FusedSearchHit>> {
        self.check(name)?;
        if name.contains('+') {
            fusion.validate(name.split('+').count())?;
        }
        let depth = fusion.depth.max(k);
        let mut lists = Vec::new();
        for part in name.split('+') {
            let n = if name.contains('+') { depth } else { k };
            lists.push((part, self.retriever(part)?.retrieve(query, n)?));
        }
        let fused: Vec<FusedHit> = if lists.len() == 1 {
            let (part, hits) = lists.remove(0);
            hits.into_iter()
                .enumerate()
                .map(|(i, h)| FusedHit {
                    doc: h.doc,
                    score: h.score,
                    sources: vec![crate::fusion::SourceHit {
                        retriever: part.to_string(),
                        rank: i + 1,
                        score: h.score,
                    }],
                })
                .collect()
        } else {
            fuse(&lists, fusion, k)?
        };
        Ok(fused
            .into_iter()
            .map(|f| FusedSearchHit {
                hit: self.hit(f.doc, f.score),
                sources: f.sources,
                token_maxima: None,
            })
            .collect())
    }

    fn hit(&self, doc: DocId, score: f32) -> Hit {
        Hit {
            doc,
            id: self.doc_map.external(doc).unwrap_or_default().to_string(),
            score,
        }
    }

    /// Stored title/text of a document (from the lexical index).
    pub fn stored(&self, doc: DocId) -> Result<Option<StoredDoc>> {
        match &self.bm25 {
            Some(r) => Ok(r.index().stored(doc)?),
            None => Ok(None),
        }
    }
}
