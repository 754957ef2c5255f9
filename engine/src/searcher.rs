use seine_index::lexical::{Bm25Params, StoredDoc};
use seine_index::{DocId, DocMap, IndexDir};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use candle_core::Device;
use seine_datasets::Doc;
use seine_index::ScoredDoc;

use crate::live::{Live, LiveDoc, Wal, WalRecord};

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
    multi: Option<(Arc<crate::MultiVectorEncoder>, seine_index::MultiIndex)>,
    fusion: Fusion,
    rerank: Option<Rerank>,
    /// Documents added and deleted since the generation was built.
    live: RwLock<Live>,
    /// Serializes writers (and compaction against writers).
    writes: Mutex<()>,
}

/// Encoders loaded for an index, shared by a reopened searcher.
#[derive(Clone, Default)]
struct Encoders {
    dense: Option<Arc<dyn crate::Encoder>>,
    sparse: Option<Arc<SpladeEncoder>>,
    multi: Option<Arc<crate::MultiVectorEncoder>>,
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
    /// Writes logged since the generation was built are replayed (their documents
    /// re-encoded).
    pub fn open_on(index: IndexDir, device: &Device) -> Result<Self> {
        let mut enc = Encoders::default();
        let mut dense_model: Option<(String, Arc<DenseEncoder>)> = None;
        if let Some(settings) = &index.manifest().dense {
            let dir = ModelDir::open(&resolve_model(&settings.model)?)?;
            let e = Arc::new(DenseEncoder::load(&dir, device)?);
            dense_model = Some((settings.model.clone(), e.clone()));
            enc.dense = Some(e);
        }
        if let Some(settings) = &index.manifest().multi {
            // The same model as the dense part: share the loaded weights.
            let e = match &dense_model {
                Some((name, e)) if *name == settings.model => {
                    crate::MultiVectorEncoder::from_dense(e.clone())
                }
                _ => {
                    let dir = ModelDir::open(&resolve_model(&settings.model)?)?;
                    crate::MultiVectorEncoder::load(&dir, device)?
                }
            };
            enc.multi = Some(Arc::new(e));
        }
        if let Some(settings) = &index.manifest().sparse {
            let dir = ModelDir::open(&resolve_model(&settings.model)?)?;
            let qdir = settings
                .query_model
                .as_deref()
                .map(|q| resolve_model(q).and_then(|p| ModelDir::open(&p)))
                .transpose()?;
            enc.sparse = Some(Arc::new(SpladeEncoder::load(&dir, qdir.as_ref(), device)?));
        }
        Self::with_encoders(index, enc)
    }

    fn with_encoders(index: IndexDir, enc: Encoders) -> Result<Self> {
        let doc_map = index.doc_map()?;
        let bm25 = match index.manifest().lexical {
            Some(_) => Some(Bm25Retriever::new(index.lexical()?)),
            None => None,
        };
        let dense = match (&index.manifest().dense, enc.dense) {
            (Some(_), Some(e)) => Some(DenseRetriever::new(e, index.dense()?)?),
            _ => None,
        };
        let multi = match (&index.manifest().multi, enc.multi) {
            (Some(_), Some(e)) => Some((e, index.multi()?)),
            _ => None,
        };
        let sparse = match (&index.manifest().sparse, enc.sparse) {
            (Some(_), Some(e)) => Some(SparseRetriever::new(e, index.sparse()?)),
            _ => None,
        };
        let base_len = doc_map.len() as u32;
        let (wal, records) = Wal::open(index.root(), index.manifest().generation)?;
        let searcher = Searcher {
            index,
            doc_map,
            bm25,
            dense,
            sparse,
            multi,
            fusion: Fusion::default(),
            rerank: None,
            live: RwLock::new(Live::new(base_len, Some(wal))),
            writes: Mutex::new(()),
        };
        searcher.replay(records)?;
        Ok(searcher)
    }

    /// Opens another generation of the same index with this searcher's encoders and
    /// settings (after [`Searcher::compact`]).
    pub fn reopen(&self, index: IndexDir) -> Result<Self> {
        let enc = Encoders {
            dense: self.dense.as_ref().map(|d| d.encoder().clone()),
            sparse: self.sparse.as_ref().map(|s| s.encoder().clone()),
            multi: self.multi.as_ref().map(|m| m.0.clone()),
        };
        let mut s = Self::with_encoders(index, enc)?;
        s.fusion = self.fusion.clone();
        s.rerank = self.rerank;
        if let Some(b) = &self.bm25 {
            s.set_bm25_params(b.params())?;
        }
        if let (Some(d), Some(new)) = (&self.dense, &mut s.dense) {
            new.set_ef(d.ef());
        }
        Ok(s)
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
        self.multi.as_ref().map(|m| m.0.as_ref())
    }

    /// The dense retriever, when the index has one.
    pub fn dense(&self) -> Option<&DenseRetriever> {
        self.dense.as_ref()
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
        self.check(name)?;
        // Through the write log's additions and tombstones, like every search.
        let hits = self.retrieve_part(name, query, k)?;
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
        let live = self.live.read().expect("live lock");
        for h in &mut hits {
            let doc = match live.get(h.hit.doc) {
                Some(d) => d.tokens.as_deref().map(seine_kernels::Tokens::F32),
                None => store.doc(h.hit.doc),
            }
            .ok_or_else(|| {
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
            lists.push((part, self.retrieve_part(part, query, n)?));
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

    pub(crate) fn hit(&self, doc: DocId, score: f32) -> Hit {
        let id = match self.doc_map.external(doc) {
            Some(id) => id.to_string(),
            None => self
                .live
                .read()
                .expect("live lock")
                .get(doc)
                .map(|d| d.doc.id.clone())
                .unwrap_or_default(),
        };
        Hit { doc, id, score }
    }

    /// Stored title/text of a document (from the lexical index, or as written).
    pub fn stored(&self, doc: DocId) -> Result<Option<StoredDoc>> {
        {
            let live = self.live.read().expect("live lock");
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
        }
        match &self.bm25 {
            Some(r) => Ok(r.index().stored(doc)?),
            None => Ok(None),
        }
    }

    /// One retriever's top `n`, over the generation (tombstones filtered out) and the
    /// documents added since.
    fn retrieve_part(&self, part: &str, query: &str, n: usize) -> Result<Vec<ScoredDoc>> {
        enum Q {
            Bm25,
            Dense(Vec<f32>),
            Sparse(Vec<(String, f32)>),
        }
        let q = match part {
            "bm25" => Q::Bm25,
            "dense" => Q::Dense(self.dense.as_ref().expect("checked").encode_query(query)?),
            "splade" => Q::Sparse(self.sparse.as_ref().expect("checked").query_terms(query)?),
            other => {
                return Err(Error::UnknownRetriever {
                    name: other.to_string(),
                    available: self.retrievers().join(", "),
                });
            }
        };
        let live = self.live.read().expect("live lock");
        let want = n + live.hidden.len();
        let mut hits = match &q {
            Q::Bm25 => {
                let r = self.bm25.as_ref().expect("checked");
                let mut hits = r.index().search_with(query, want, r.params())?;
                let added: Vec<(DocId, &seine_index::lexical::LexDoc)> = live
                    .iter()
                    .filter_map(|(id, d)| d.lex.as_ref().map(|l| (id, l)))
                    .collect();
                if !added.is_empty() {
                    let refs: Vec<_> = added.iter().map(|(_, l)| *l).collect();
                    let scores = r.index().score_outside(query, r.params(), &refs)?;
                    hits.extend(
                        added
                            .iter()
                            .zip(scores)
                            .filter(|(_, s)| *s > 0.0)
                            .map(|((id, _), s)| ScoredDoc::new(*id, s)),
                    );
                }
                hits
            }
            Q::Dense(v) => {
                let r = self.dense.as_ref().expect("checked");
                let mut hits = r.search_vector(v, want)?;
                hits.extend(live.iter().filter_map(|(id, d)| {
                    d.dense
                        .as_ref()
                        .map(|x| ScoredDoc::new(id, seine_kernels::simd::dot(v, x)))
                }));
                hits
            }
            Q::Sparse(terms) => {
                let r = self.sparse.as_ref().expect("checked");
                let refs: Vec<(&str, f32)> = terms.iter().map(|(t, w)| (t.as_str(), *w)).collect();
                let mut hits = r.index().search(&refs, want)?;
                hits.extend(live.iter().filter_map(|(id, d)| {
                    let weights = d.sparse.as_ref()?;
                    let mut s = 0f32;
                    let mut matched = false;
                    for (t, w) in terms {
                        if let Some(x) = weights.get(t) {
                            s += w * x;
                            matched = true;
                        }
                    }
                    matched.then(|| ScoredDoc::new(id, s))
                }));
                hits
            }
        };
        if !live.hidden.is_empty() {
            hits.retain(|h| !live.hidden.contains(&h.doc));
        }
        seine_index::sort_hits(&mut hits);
        hits.truncate(n);
        Ok(hits)
    }

    /// A document's stored token vectors (f32 copy), when the index has them.
    pub fn doc_tokens(&self, doc: DocId) -> Option<Vec<f32>> {
        let (_, store) = self.multi.as_ref()?;
        if let Some(d) = self.live.read().expect("live lock").get(doc) {
            return d.tokens.clone();
        }
        match store.doc(doc)? {
            seine_kernels::Tokens::F32(x) => Some(x.to_vec()),
            seine_kernels::Tokens::F16(x) => Some(x.iter().map(|h| h.to_f32()).collect()),
        }
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
        let doc = {
            let live = self.live.read().expect("live lock");
            match live.by_id.get(id) {
                Some(d) => Some(*d),
                None => self
                    .doc_map
                    .internal(id)
                    .filter(|d| !live.hidden.contains(d)),
            }
        };
        match doc {
            Some(d) => Ok(self.stored(d)?.map(|s| (d, s)).or_else(|| {
                // An index without stored fields still knows the id.
                Some((
                    d,
                    StoredDoc {
                        id: id.to_string(),
                        title: String::new(),
                        text: String::new(),
                    },
                ))
            })),
            None => Ok(None),
        }
    }

    /// Every part of `docs` this index has, encoded.
    fn encode_docs(&self, docs: &[Doc]) -> Result<Vec<LiveDoc>> {
        let texts: Vec<String> = docs.iter().map(crate::indexer::doc_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let dense = match &self.dense {
            Some(r) if !refs.is_empty() => Some(r.encoder().encode(&refs, crate::Side::Document)?),
            _ => None,
        };
        let tokens = match &self.multi {
            Some((e, _)) if !refs.is_empty() => Some(e.encode(&refs, crate::Side::Document)?),
            _ => None,
        };
        let sparse = match &self.sparse {
            Some(r) if !refs.is_empty() => {
                let enc = r.encoder();
                let scale = r.index().scale();
                let vs = enc.encode(&refs, crate::Side::Document)?;
                Some(
                    vs.iter()
                        .map(|v| {
                            crate::indexer::sparse_terms(enc, v)
                                .into_iter()
                                .map(|(t, w)| {
                                    // As the impact index stores it.
                                    let q = seine_index::sparse::quantize(w, scale) as f32 / scale;
                                    (t, q)
                                })
                                .filter(|(_, w)| *w > 0.0)
                                .collect::<HashMap<String, f32>>()
                        })
                        .collect::<Vec<_>>(),
                )
            }
            _ => None,
        };
        let mut tokens = tokens.map(|t| t.into_iter());
        let mut sparse = sparse.map(|s| s.into_iter());
        Ok(docs
            .iter()
            .enumerate()
            .map(|(i, doc)| LiveDoc {
                doc: doc.clone(),
                dense: dense.as_ref().map(|e| {
                    let mut v = e.row(i).to_vec();
                    if !seine_index::dense::normalize(&mut v) {
                        v.iter_mut().for_each(|x| *x = 0.0);
                    }
                    v
                }),
                sparse: sparse.as_mut().and_then(|s| s.next()),
                tokens: tokens.as_mut().and_then(|t| t.next()),
                lex: self.bm25.as_ref().map(|r| r.index().analyze_doc(doc)),
            })
            .collect())
    }

    /// Applies the log of the open generation (on open).
    fn replay(&self, records: Vec<WalRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        // The last operation on each id wins; order of first appearance is kept.
        let mut order: Vec<String> = Vec::new();
        let mut last: HashMap<String, Option<Doc>> = HashMap::new();
        for r in records {
            let (id, doc) = match r {
                WalRecord::Put { id, title, text } => (id.clone(), Some(Doc { id, title, text })),
                WalRecord::Del { id } => (id, None),
            };
            if !last.contains_key(&id) {
                order.push(id.clone());
            }
            last.insert(id, doc);
        }
        let mut live = self.live.write().expect("live lock");
        let mut puts = Vec::new();
        for id in &order {
            match &last[id] {
                Some(doc) => puts.push(doc.clone()),
                None => {
                    live.remove(id, self.doc_map.internal(id));
                }
            }
        }
        for chunk in puts.chunks(64) {
            for d in self.encode_docs(chunk)? {
                let base = self.doc_map.internal(&d.doc.id);
                live.put(d, base);
            }
        }
        Ok(())
    }

    /// Adds or replaces documents. When this returns they are in the write-ahead log
    /// (fsynced) and visible to every retriever.
    pub fn put_documents(&self, docs: &[Doc]) -> Result<Vec<DocId>> {
        let mut seen = std::collections::HashSet::new();
        for d in docs {
            if d.id.is_empty() {
                return Err(Error::InvalidArgument("document id is empty".into()));
            }
            if !seen.insert(d.id.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "document id {:?} appears twice in one batch",
                    d.id
                )));
            }
        }
        let encoded = self.encode_docs(docs)?;
        let _w = self.writes.lock().expect("writes lock");
        let mut live = self.live.write().expect("live lock");
        let records: Vec<WalRecord> = docs
            .iter()
            .map(|d| WalRecord::Put {
                id: d.id.clone(),
                title: d.title.clone(),
                text: d.text.clone(),
            })
            .collect();
        live.wal.as_mut().ok_or(Error::Retired)?.append(&records)?;
        Ok(encoded
            .into_iter()
            .map(|d| {
                let base = self.doc_map.internal(&d.doc.id);
                live.put(d, base)
            })
            .collect())
    }

    /// Deletes a document from every retriever; false when no such document is visible.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let _w = self.writes.lock().expect("writes lock");
        let mut live = self.live.write().expect("live lock");
        let base = self.doc_map.internal(id);
        let visible =
            live.by_id.contains_key(id) || base.is_some_and(|b| !live.hidden.contains(&b));
        if !visible {
            return Ok(false);
        }
        live.wal
            .as_mut()
            .ok_or(Error::Retired)?
            .append(&[WalRecord::Del { id: id.to_string() }])?;
        Ok(live.remove(id, base))
    }

    /// Rebuilds the index as one new generation: the generation's documents less the
    /// deleted, plus the added (vectors, sparse weights and token vectors are copied,
    /// not re-encoded; the HNSW graph and BM25 statistics are rebuilt). Writers wait
    /// meanwhile; searches go on. Afterwards this searcher refuses writes
    /// ([`Error::Retired`]): open the returned directory with [`Searcher::reopen`].
    pub fn compact(&self) -> Result<IndexDir> {
        let _w = self.writes.lock().expect("writes lock");
        let dir = {
            let live = self.live.read().expect("live lock");
            if live.wal.is_none() {
                return Err(Error::Retired);
            }
            let m = self.index.manifest();
            let opts = seine_index::BuildOptions {
                source: m.source.clone(),
                lexical: m.lexical,
                dense: m.dense.clone(),
                sparse: m.sparse.clone(),
                multi: m.multi.clone(),
                hnsw_auto: false,
                overwrite: true,
                command: Some("compact".into()),
                threads: 0,
            };
            let mut writer = seine_index::IndexWriter::create(self.index.root(), opts)?;
            let forward = match &self.sparse {
                Some(s) => Some(s.index().forward(live.base_len as usize)?),
                None => None,
            };
            for doc in 0..live.base_len {
                if live.hidden.contains(&doc) {
                    continue;
                }
                let id = self.doc_map.external(doc).unwrap_or_default().to_string();
                let d = match self.stored(doc)? {
                    Some(s) => Doc {
                        id,
                        title: s.title,
                        text: s.text,
                    },
                    None => Doc {
                        id,
                        ..Doc::default()
                    },
                };
                let sparse: Option<Vec<(&str, f32)>> = forward.as_ref().map(|f| {
                    f[doc as usize]
                        .iter()
                        .map(|(t, w)| (t.as_str(), *w))
                        .collect()
                });
                let tokens = self.doc_tokens(doc);
                writer.add_doc(
                    &d,
                    seine_index::DocParts {
                        dense: self.dense.as_ref().and_then(|r| r.index().vector(doc)),
                        sparse: sparse.as_deref(),
                        tokens: tokens.as_deref(),
                    },
                )?;
            }
            for (_, d) in live.iter() {
                let sparse: Option<Vec<(&str, f32)>> = d
                    .sparse
                    .as_ref()
                    .map(|m| m.iter().map(|(t, w)| (t.as_str(), *w)).collect());
                writer.add_doc(
                    &d.doc,
                    seine_index::DocParts {
                        dense: d.dense.as_deref(),
                        sparse: sparse.as_deref(),
                        tokens: d.tokens.as_deref(),
                    },
                )?;
            }
            writer.commit()?
        };
        // Committed: the old log is folded in; this searcher's state is retired.
        let mut live = self.live.write().expect("live lock");
        if let Some(w) = live.wal.take() {
            w.remove();
        }
        Ok(dir)
    }
}
