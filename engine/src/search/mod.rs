//! The read path: an index opened with every retriever it has, searched through the
//! [`Retriever`] trait, fused, and reranked by late interaction, over the generation
//! and the documents written since ([`Live`]). This module never writes: the write
//! path ([`crate::write`]) logs changes and applies them to [`Reader::live`];
//! [`crate::Searcher`] joins the two.

mod explain;
mod filter;
pub mod fusion;
pub mod live;
pub mod plaid;
mod retriever;
pub mod warp;

pub use explain::TermContribution;
pub use live::{Live, LiveDoc};
pub use plaid::MaxsimRetriever;
pub use retriever::{Bm25Retriever, DenseRetriever, Retriever, SparseRetriever};

use std::sync::{Arc, RwLock};

use seine_index::filter::Filter;
use seine_index::lexical::{Bm25Params, StoredDoc};
use seine_index::{DocId, DocMap, FieldStore, IndexDir};

use crate::encoders::Encoders;
use crate::settings::{Rerank, RetrieverKind, SearchRequest};
use crate::{Error, MultiVectorEncoder, Result, Side};
use fusion::{FusedHit, SourceHit, fuse};

/// A search result with its external id.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc: DocId,
    pub id: String,
    pub score: f32,
}

/// A fused search result: the hit and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedSearchHit {
    pub hit: Hit,
    pub sources: Vec<SourceHit>,
    /// With a rerank: the per-query-token maxima behind the late-interaction score.
    pub token_maxima: Option<Vec<f32>>,
}

/// Which documents a search ranks.
#[derive(Clone, Copy)]
pub(crate) enum Scope<'a> {
    All,
    Filter(&'a Filter),
    Docs(&'a seine_index::DocSet),
}

/// Searches an index with the retrievers it has: the generation's indexes and the
/// documents written since ([`Live`], shared with the write path behind one lock).
pub struct Reader {
    pub(crate) index: IndexDir,
    pub(crate) doc_map: DocMap,
    pub(crate) encoders: Encoders,
    pub(crate) bm25: Option<Bm25Retriever>,
    pub(crate) dense: Option<DenseRetriever>,
    pub(crate) sparse: Option<SparseRetriever>,
    /// Token vectors (with `encoders.multi`).
    pub(crate) multi: Option<Arc<seine_index::MultiIndex>>,
    /// Late interaction as a first stage, over `multi`.
    maxsim: Option<MaxsimRetriever>,
    /// Stored metadata fields (`--fields`), for filters.
    fields: Option<FieldStore>,
    /// Documents added and deleted since the generation was built.
    pub(crate) live: RwLock<Live>,
    /// Generation passages by title (multi-hop title links), built at first use.
    pub(crate) titles: std::sync::OnceLock<crate::multihop::links::TitleIndex>,
}

impl Reader {
    /// Opens `index`'s generation with encoders already loaded for it; nothing written
    /// since is applied yet (the write path replays the log: [`crate::Searcher::open`]).
    pub(crate) fn with_encoders(index: IndexDir, enc: Encoders) -> Result<Self> {
        let doc_map = index.doc_map()?;
        let m = index.manifest();
        let bm25 = match m.lexical {
            Some(_) => Some(Bm25Retriever::new(index.lexical()?)),
            None => None,
        };
        let dense = match (&m.dense, &enc.dense) {
            (Some(_), Some(e)) => Some(DenseRetriever::new(e.clone(), index.dense()?)?),
            _ => None,
        };
        let (multi, maxsim) = match (&m.multi, &enc.multi) {
            (Some(_), Some(e)) => {
                let store = Arc::new(index.multi()?);
                let r = MaxsimRetriever::new(e.clone(), store.clone());
                (Some(store), Some(r))
            }
            _ => (None, None),
        };
        let sparse = match (&m.sparse, &enc.sparse) {
            (Some(_), Some(e)) => Some(SparseRetriever::new(e.clone(), index.sparse()?)),
            _ => None,
        };
        check_doc_count(&index, doc_map.len())?;
        let fields = index.fields()?;
        let live = Live::new(doc_map.len() as u32);
        Ok(Reader {
            index,
            doc_map,
            encoders: enc,
            bm25,
            dense,
            sparse,
            multi,
            maxsim,
            fields,
            live: RwLock::new(live),
            titles: std::sync::OnceLock::new(),
        })
    }

    pub fn index(&self) -> &IndexDir {
        &self.index
    }

    pub fn doc_map(&self) -> &DocMap {
        &self.doc_map
    }

    /// The encoders of this index's parts.
    pub fn encoders(&self) -> &Encoders {
        &self.encoders
    }

    /// The retrievers this index supports.
    pub fn retrievers(&self) -> Vec<RetrieverKind> {
        RetrieverKind::ALL
            .into_iter()
            .filter(|k| self.get_retriever(*k).is_some())
            .collect()
    }

    fn available(&self) -> String {
        let v: Vec<&str> = self.retrievers().iter().map(|k| k.as_str()).collect();
        v.join(", ")
    }

    fn check_rerank(&self, r: &Rerank) -> Result<()> {
        if self.multi.is_none() {
            return Err(Error::InvalidArgument(
                "rerank needs token vectors: index with --multi MODEL".into(),
            ));
        }
        r.validate()
    }

    /// The multi-vector encoder, when the index has token vectors.
    pub fn multi_encoder(&self) -> Option<&MultiVectorEncoder> {
        self.multi.as_ref().and(self.encoders.multi.as_deref())
    }

    /// Whether the index stores token vectors.
    pub fn has_tokens(&self) -> bool {
        self.multi.is_some()
    }

    /// The dense retriever, when the index has one.
    pub fn dense(&self) -> Option<&DenseRetriever> {
        self.dense.as_ref()
    }

    /// The late-interaction first stage, when the index has token vectors.
    pub fn maxsim(&self) -> Option<&MaxsimRetriever> {
        self.maxsim.as_ref()
    }

    /// The SPLADE retriever, when the index has one.
    pub fn sparse(&self) -> Option<&SparseRetriever> {
        self.sparse.as_ref()
    }

    /// Checks `req` against this index: every retriever present, a rerank only with
    /// token vectors, the filter's fields declared (before a batch of searches).
    pub fn check(&self, req: &SearchRequest) -> Result<()> {
        req.validate()?;
        for k in req.retrievers.parts() {
            self.retriever(*k)?;
        }
        if let Some(r) = &req.rerank {
            self.check_rerank(r)?;
        }
        if let Some(f) = &req.filter {
            self.check_filter(f)?;
        }
        Ok(())
    }

    /// The index's own BM25 parameters (a request may override them).
    pub fn bm25_params(&self) -> Option<Bm25Params> {
        self.bm25.as_ref().map(|b| b.params())
    }

    /// The retriever of `kind`, when this index has it.
    pub fn retriever(&self, kind: RetrieverKind) -> Result<&dyn Retriever> {
        self.get_retriever(kind)
            .ok_or_else(|| Error::UnknownRetriever {
                name: kind.to_string(),
                available: self.available(),
            })
    }

    fn get_retriever(&self, kind: RetrieverKind) -> Option<&dyn Retriever> {
        match kind {
            RetrieverKind::Bm25 => self.bm25.as_ref().map(|r| r as &dyn Retriever),
            RetrieverKind::Dense => self.dense.as_ref().map(|r| r as &dyn Retriever),
            RetrieverKind::Splade => self.sparse.as_ref().map(|r| r as &dyn Retriever),
            RetrieverKind::Maxsim => self.maxsim.as_ref().map(|r| r as &dyn Retriever),
        }
    }

    /// The top `req.k` hits of `query` as `req` asks.
    pub fn search(&self, query: &str, req: &SearchRequest) -> Result<Vec<Hit>> {
        Ok(self
            .search_fused(query, req)?
            .into_iter()
            .map(|f| f.hit)
            .collect())
    }

    /// The top `req.k` of `query` with each hit's per-retriever ranks and scores: the
    /// first stage (fused when `req` names several retrievers), among the documents
    /// `req.filter` allows (every retriever searches within them), reranked by late
    /// interaction when `req.rerank` says so.
    pub fn search_fused(&self, query: &str, req: &SearchRequest) -> Result<Vec<FusedSearchHit>> {
        if let Some(f) = &req.filter {
            self.check_filter(f)?;
        }
        let scope = req.filter.as_ref().map_or(Scope::All, Scope::Filter);
        let Some(rerank) = req.rerank else {
            return self.first_stage(query, req, req.k, scope);
        };
        self.check_rerank(&rerank)?;
        let hits = self.first_stage(query, req, rerank.depth.max(req.k), scope)?;
        self.rerank_hits(hits, query, req.k, rerank)
    }

    /// The first stage of `req` (its `k` hits, no rerank) over the documents of
    /// `docs` only.
    pub(crate) fn search_docs(
        &self,
        query: &str,
        req: &SearchRequest,
        docs: &seine_index::DocSet,
    ) -> Result<Vec<FusedSearchHit>> {
        self.first_stage(query, req, req.k, Scope::Docs(docs))
    }

    /// Rescores the top `rerank.depth` of `hits` by late interaction.
    fn rerank_hits(
        &self,
        mut hits: Vec<FusedSearchHit>,
        query: &str,
        k: usize,
        rerank: Rerank,
    ) -> Result<Vec<FusedSearchHit>> {
        let (Some(store), Some(enc)) = (&self.multi, &self.encoders.multi) else {
            return Err(Error::InvalidArgument(
                "rerank needs token vectors: index with --multi MODEL".into(),
            ));
        };
        let rest = hits.split_off(rerank.depth.min(hits.len()));
        let q = enc.encode(&[query], Side::Query)?.remove(0);
        let dim = store.dim();
        let pq = seine_kernels::PackedQuery::new(&q, dim);
        let mut scratch = seine_kernels::maxsim::Scratch::default();
        let mut maxima = vec![0f32; q.len() / dim];
        {
            let live = self.live.read().expect("live lock");
            for h in &mut hits {
                let doc = match live.get(h.hit.doc) {
                    Some(d) => d.tokens.as_deref().map(seine_kernels::Tokens::F32),
                    None => store.doc(h.hit.doc),
                }
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("document {} has no token vectors", h.hit.doc))
                })?;
                pq.maxima(doc, &mut maxima, &mut scratch);
                h.hit.score = rerank.reduce.apply(&mut maxima.clone());
                h.token_maxima = Some(maxima.clone());
            }
        }
        hits.sort_by(|a, b| {
            seine_index::score_order(a.hit.score, b.hit.score).then(a.hit.doc.cmp(&b.hit.doc))
        });
        for (i, h) in hits.iter_mut().enumerate() {
            h.sources.push(SourceHit {
                retriever: rerank.kind().to_string(),
                rank: i + 1,
                score: h.hit.score,
            });
        }
        // Candidates below the rerank depth keep their first-stage order, scored below
        // every reranked hit (first-stage scores stay in `sources`).
        let low = hits
            .iter()
            .map(|h| h.hit.score)
            .filter(|s| s.is_finite())
            .fold(f32::INFINITY, f32::min);
        let floor = if low.is_finite() { low } else { 0.0 } - 1.0;
        for (i, mut h) in rest.into_iter().enumerate() {
            h.hit.score = floor - i as f32 * 1e-4;
            hits.push(h);
        }
        hits.truncate(k);
        Ok(hits)
    }

    /// Each retriever's list (through the write log's additions and tombstones), fused
    /// when there are several.
    fn first_stage(
        &self,
        query: &str,
        req: &SearchRequest,
        k: usize,
        scope: Scope<'_>,
    ) -> Result<Vec<FusedSearchHit>> {
        let (set, fusion) = (&req.retrievers, &req.fusion);
        for kind in set.parts() {
            self.retriever(*kind)?;
        }
        if set.is_fusion() {
            fusion.validate(set.parts().len())?;
        }
        req.params.validate()?;
        let n = if set.is_fusion() {
            fusion.depth.max(k)
        } else {
            k
        };
        let (fused, ids) = {
            let live = self.live.read().expect("live lock");
            let allowed = match scope {
                Scope::All => None,
                Scope::Filter(f) => Some(self.allowed_in(&live, f)),
                Scope::Docs(d) => Some(d.clone()),
            };
            let mut lists = Vec::new();
            for kind in set.parts() {
                let hits = self.retriever(*kind)?.retrieve(
                    query,
                    n,
                    &live,
                    allowed.as_ref(),
                    &req.params,
                )?;
                lists.push((kind.as_str(), hits));
            }
            let fused: Vec<FusedHit> = if set.is_fusion() {
                fuse(&lists, fusion, k)?
            } else {
                let (part, hits) = lists.remove(0);
                hits.into_iter()
                    .enumerate()
                    .map(|(i, h)| FusedHit {
                        doc: h.doc,
                        score: h.score,
                        sources: vec![SourceHit {
                            retriever: part.to_string(),
                            rank: i + 1,
                            score: h.score,
                        }],
                    })
                    .collect()
            };
            let ids: Vec<String> = fused
                .iter()
                .map(|f| self.external_id(f.doc, &live))
                .collect();
            (fused, ids)
        };
        Ok(fused
            .into_iter()
            .zip(ids)
            .map(|(f, id)| FusedSearchHit {
                hit: Hit {
                    doc: f.doc,
                    id,
                    score: f.score,
                },
                sources: f.sources,
                token_maxima: None,
            })
            .collect())
    }

    fn external_id(&self, doc: DocId, live: &Live) -> String {
        match self.doc_map.external(doc) {
            Some(id) => id.to_string(),
            None => live.get(doc).map(|d| d.doc.id.clone()).unwrap_or_default(),
        }
    }

    /// A hit for `doc` with its external id.
    pub(crate) fn hit(&self, doc: DocId, score: f32) -> Hit {
        let live = self.live.read().expect("live lock");
        Hit {
            doc,
            id: self.external_id(doc, &live),
            score,
        }
    }

    /// Stored title/text of a document (from the lexical index, or as written).
    pub fn stored(&self, doc: DocId) -> Result<Option<StoredDoc>> {
        let live = self.live.read().expect("live lock");
        self.stored_in(&live, doc)
    }

    /// [`Reader::stored`] under a lock the caller holds.
    pub(crate) fn stored_in(&self, live: &Live, doc: DocId) -> Result<Option<StoredDoc>> {
        if let Some(d) = live.get(doc) {
            return Ok(Some(StoredDoc {
                id: d.doc.id.clone(),
                title: d.doc.title.clone(),
                text: d.doc.text.clone(),
            }));
        }
        if live.hidden.contains(&doc) || doc >= live.base_len {
            return Ok(None);
        }
        match &self.bm25 {
            Some(r) => Ok(r.index().stored(doc)?),
            None => Ok(None),
        }
    }

    /// A document's stored token vectors (f32 copy), when the index has them.
    pub fn doc_tokens(&self, doc: DocId) -> Option<Vec<f32>> {
        let live = self.live.read().expect("live lock");
        self.doc_tokens_in(&live, doc)
    }

    /// [`Reader::doc_tokens`] under a lock the caller holds.
    pub(crate) fn doc_tokens_in(&self, live: &Live, doc: DocId) -> Option<Vec<f32>> {
        let store = self.multi.as_ref()?;
        if let Some(d) = live.get(doc) {
            return d.tokens.clone();
        }
        Some(store.doc(doc)?.to_f32(store.dim()))
    }

    /// Visible documents: the generation's, less deletions, plus additions.
    pub fn doc_count(&self) -> usize {
        let live = self.live.read().expect("live lock");
        live.base_len as usize - live.hidden.len() + live.live_count()
    }

    /// Writes logged since the generation was built (puts and deletes not yet compacted).
    pub fn pending_writes(&self) -> (usize, usize) {
        let live = self.live.read().expect("live lock");
        (live.live_count(), live.hidden.len())
    }

    /// The visible document with external id `id`.
    pub fn get(&self, id: &str) -> Result<Option<(DocId, StoredDoc)>> {
        let live = self.live.read().expect("live lock");
        let doc = match live.by_id.get(id) {
            Some(d) => Some(*d),
            None => self
                .doc_map
                .internal(id)
                .filter(|d| !live.hidden.contains(d)),
        };
        let Some(d) = doc else {
            return Ok(None);
        };
        // An index without stored fields still knows the id.
        let stored = self.stored_in(&live, d)?.unwrap_or_else(|| StoredDoc {
            id: id.to_string(),
            title: String::new(),
            text: String::new(),
        });
        Ok(Some((d, stored)))
    }
}

/// The generation's id map must hold the documents the manifest says (a hand-edited
/// count would size every per-document table).
fn check_doc_count(index: &IndexDir, n: usize) -> Result<()> {
    let m = index.manifest();
    if n as u64 != m.doc_count {
        return Err(Error::Index(seine_index::Error::NotAnIndex {
            path: index.root().to_path_buf(),
            message: format!(
                "the manifest says {} documents, the generation's id map has {n}",
                m.doc_count
            ),
        }));
    }
    Ok(())
}
