//! `POST /search`: one retriever or a fusion, an optional late-interaction rerank,
//! an optional multi-hop chain.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use seine_engine::Filter;
use seine_engine::multihop::MultiHop;
use seine_engine::settings::{DEFAULT_FLIPR_K, DEFAULT_RERANK_DEPTH};
use seine_engine::{
    FusedSearchHit, Fusion, FusionMethod, QueryParams, Rerank, RerankKind, RetrieverSet,
    SearchRequest as EngineRequest, Searcher,
};
use seine_index::lexical::Bm25Params;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorBody, check_text};
use crate::{ApiError, AppState, Work, engine_error};

type EngineResult<T> = Result<T, seine_engine::Error>;

/// `POST /search` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Not blank; at most max_query_bytes (default 8192) bytes.
    #[schema(min_length = 1, pattern = r"\S")]
    pub query: String,
    /// Hits to return (1..=max_k, default 10; max_k defaults to 1000).
    #[serde(default = "default_k")]
    #[schema(minimum = 1, maximum = 1000)]
    pub k: usize,
    /// `bm25`, `dense`, `splade`, or a fusion such as `bm25+dense`; default: the
    /// first retriever the index has.
    pub retriever: Option<String>,
    /// `rrf` (default), `minmax`, `zscore`.
    pub fusion: Option<String>,
    /// Fusion weights, one per retriever.
    #[serde(default)]
    pub weights: Vec<f32>,
    /// Late-interaction rerank: `maxsim` or `flipr`.
    pub rerank: Option<String>,
    /// Candidates reranked (default 100).
    pub rerank_depth: Option<usize>,
    /// FLIPR's k' (default 8).
    pub flipr_k: Option<usize>,
    /// Add each hit's per-retriever ranks and scores.
    #[serde(default)]
    pub explain: bool,
    /// Include stored title/text (default true).
    pub fields: Option<bool>,
    /// Multi-hop retrieval (Baleen-style, 1..=4 hops): the answer carries the chain.
    #[schema(minimum = 1, maximum = 4)]
    pub hops: Option<usize>,
    /// Facts condensed per hop (default 2).
    #[schema(minimum = 1, maximum = 10)]
    pub facts: Option<usize>,
    /// Candidates per hop (default 20).
    #[schema(minimum = 1, maximum = 1000)]
    pub hop_depth: Option<usize>,
    /// Metadata filter applied inside every retriever: an expression
    /// (`year >= 2015 AND type IN ("review", "trial")`) or its JSON form
    /// (`{"and": [{"field": "year", "op": ">=", "value": 2015}, {"field": "type",
    /// "in": ["review", "trial"]}]}`). Fields are those the index stores (`GET /info`);
    /// an unknown field or a value of the wrong type is a 422 naming the field.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
    /// HNSW beam width of a dense search (default: the index's `ef_search`).
    #[schema(minimum = 1, maximum = 10000)]
    pub ef: Option<usize>,
    /// Learned-sparse search: `exact` (default), or approximate (may miss documents):
    /// `approx` (alpha 0.9, the 20 heaviest query terms), `approx:ALPHA` or
    /// `approx:ALPHA:CUT` (block bounds scaled by ALPHA in (0, 1], the CUT heaviest query
    /// terms, 0 for all; lower is faster, recall lower).
    pub sparse_search: Option<String>,
    /// BM25 `k1` for this search (default: the index's).
    pub k1: Option<f32>,
    /// BM25 `b` for this search, in 0..=1 (default: the index's).
    pub b: Option<f32>,
}

/// Largest HNSW beam width a request may ask for (its cost grows with it).
const MAX_EF: usize = 10_000;

/// A sentence the condenser kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactOut {
    pub id: String,
    pub title: String,
    pub sentence: usize,
    pub text: String,
    pub score: f32,
}

/// One hop of a multi-hop search.
#[derive(Debug, Serialize, ToSchema)]
pub struct HopOut {
    pub query: String,
    pub retrieved: Vec<String>,
    pub picks: Vec<String>,
    pub facts: Vec<FactOut>,
}

fn default_k() -> usize {
    seine_engine::settings::DEFAULT_K
}

/// One retriever's view of a hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceOut {
    pub retriever: String,
    pub rank: usize,
    pub score: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub rank: usize,
    pub id: String,
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<SourceOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_maxima: Option<Vec<f32>>,
    /// With `explain` and a SPLADE retriever: the query terms behind the hit's SPLADE
    /// score, heaviest contribution first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub splade_terms: Option<Vec<TermOut>>,
    /// The hit's stored metadata fields (with `fields`, when the index stores any).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One query term's share of a SPLADE score.
#[derive(Debug, Serialize, ToSchema)]
pub struct TermOut {
    pub term: String,
    pub query_weight: f32,
    pub doc_weight: f32,
    pub contribution: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub query: String,
    pub retriever: String,
    /// With `explain` and a rerank: the query's tokens, one per `token_maxima` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_tokens: Option<Vec<String>>,
    pub hits: Vec<SearchHit>,
    /// With `hops`: each hop's query, candidates, picks and condensed facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<HopOut>>,
}

/// A validated search request in the engine's terms.
struct Plan {
    /// None: the index's first retriever.
    retriever: Option<RetrieverSet>,
    fusion: Fusion,
    rerank: Option<Rerank>,
    hops: Option<MultiHop>,
    filter: Option<Filter>,
    ef: Option<usize>,
    sparse: seine_index::sparse::SparseSearch,
    /// BM25 `k1` and `b` given (the index's fill in the other).
    k1: Option<f32>,
    b: Option<f32>,
}

impl Plan {
    /// The engine's request for `set` (the index's BM25 parameters fill in an
    /// unspecified `k1` or `b`).
    fn request(&self, searcher: &Searcher, set: RetrieverSet, k: usize) -> EngineRequest {
        let bm25 = (self.k1.is_some() || self.b.is_some()).then(|| {
            let base = searcher.bm25_params().unwrap_or_default();
            Bm25Params {
                k1: self.k1.unwrap_or(base.k1),
                b: self.b.unwrap_or(base.b),
            }
        });
        EngineRequest {
            retrievers: set,
            k,
            fusion: self.fusion.clone(),
            rerank: self.rerank,
            params: QueryParams {
                bm25,
                ef: self.ef,
                plaid: None,
                warp: None,
                sparse: self.sparse,
            },
            filter: self.filter.clone(),
        }
    }
}

fn parse_rerank(req: &SearchRequest, max_k: usize) -> Result<Option<Rerank>, ApiError> {
    let Some(how) = req.rerank.as_deref() else {
        return Ok(None);
    };
    let kind: RerankKind = how.parse().map_err(engine_error)?;
    let depth = req.rerank_depth.unwrap_or(DEFAULT_RERANK_DEPTH);
    if depth == 0 || depth > max_k {
        return Err(ApiError::Unprocessable(format!(
            "rerank_depth must be within 1..={max_k}"
        )));
    }
    let r = Rerank::new(kind, depth, req.flipr_k.unwrap_or(DEFAULT_FLIPR_K));
    r.validate().map_err(engine_error)?;
    Ok(Some(r))
}

fn parse_hops(
    req: &SearchRequest,
    max_k: usize,
    fusion: &Fusion,
    rerank: Option<Rerank>,
) -> Result<Option<MultiHop>, ApiError> {
    let Some(hops) = req.hops else {
        return Ok(None);
    };
    if req.facts.is_some_and(|f| f == 0 || f > 10) {
        return Err(ApiError::Unprocessable(
            "facts must be within 1..=10".into(),
        ));
    }
    if req.hop_depth.is_some_and(|d| d == 0 || d > max_k) {
        return Err(ApiError::Unprocessable(format!(
            "hop_depth must be within 1..={max_k}"
        )));
    }
    let d = MultiHop::default();
    let cfg = MultiHop {
        hops,
        fusion: fusion.clone(),
        rerank,
        rerank_later: MultiHop::default_later_rerank(
            rerank,
            req.flipr_k.unwrap_or(DEFAULT_FLIPR_K),
        ),
        depth: req.hop_depth.unwrap_or(d.depth),
        facts: req.facts.unwrap_or(d.facts),
        ..d
    };
    cfg.validate()
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    Ok(Some(cfg))
}

fn parse(req: &SearchRequest, s: &AppState) -> Result<Plan, ApiError> {
    if req.query.trim().is_empty() {
        return Err(ApiError::Unprocessable("query is empty".into()));
    }
    check_text("query", &req.query, s.config.max_query_bytes)?;
    let max_k = s.config.max_k;
    if req.k == 0 || req.k > max_k {
        return Err(ApiError::Unprocessable(format!(
            "k must be within 1..={max_k}"
        )));
    }
    let retriever = req
        .retriever
        .as_deref()
        .map(str::parse::<RetrieverSet>)
        .transpose()
        .map_err(engine_error)?;
    let method: FusionMethod = match req.fusion.as_deref() {
        Some(f) => f.parse().map_err(engine_error)?,
        None => Fusion::default().method,
    };
    if req.weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(ApiError::Unprocessable(
            "weights must be finite and not negative".into(),
        ));
    }
    let fusion = Fusion {
        method,
        weights: req.weights.clone(),
        ..Fusion::default()
    };
    let rerank = parse_rerank(req, max_k)?;
    let filter = match &req.filter {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(Filter::from_json(v).map_err(|e| ApiError::Unprocessable(e.to_string()))?),
    };
    if req.ef.is_some_and(|e| e == 0 || e > MAX_EF) {
        return Err(ApiError::Unprocessable(format!(
            "ef must be within 1..={MAX_EF}"
        )));
    }
    // Each given value checked now (before admission); the index's fill in the
    // other one at run time (`Plan::request`).
    let d = Bm25Params::default();
    let bm25 = Bm25Params {
        k1: req.k1.unwrap_or(d.k1),
        b: req.b.unwrap_or(d.b),
    };
    bm25.validate()
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let hops = parse_hops(req, max_k, &fusion, rerank)?;
    let sparse = match req.sparse_search.as_deref() {
        None => Default::default(),
        Some(s) => s
            .parse()
            .map_err(|e: seine_index::Error| ApiError::Unprocessable(e.to_string()))?,
    };
    Ok(Plan {
        retriever,
        fusion,
        rerank,
        hops,
        filter,
        ef: req.ef,
        sparse,
        k1: req.k1,
        b: req.b,
    })
}

/// Search with one retriever or a fusion, optionally reranked by late interaction.
#[utoipa::path(post, path = "/search", request_body = SearchRequest, responses(
    (status = 200, body = SearchResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
))]
pub async fn search(
    State(s): State<Arc<AppState>>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let Json(req) = body?;
    let plan = parse(&req, &s)?;
    s.run(Work::Read, move |searcher| run(searcher, &req, &plan))
        .await
        .map(Json)
}

/// Runs a parsed search on the worker.
fn run(searcher: &Searcher, req: &SearchRequest, plan: &Plan) -> EngineResult<SearchResponse> {
    let set = match &plan.retriever {
        Some(r) => r.clone(),
        None => searcher
            .retrievers()
            .first()
            .map(|k| RetrieverSet::one(*k))
            .ok_or_else(|| seine_engine::Error::InvalidArgument("index has no retriever".into()))?,
    };
    let request = plan.request(searcher, set.clone(), req.k);
    let mut chain = None;
    let hits = match &plan.hops {
        Some(cfg) => {
            let cfg = MultiHop {
                retriever: set.clone(),
                filter: request.filter.clone(),
                params: request.params,
                ..cfg.clone()
            };
            let r = searcher.search_multihop(&req.query, req.k, &cfg)?;
            chain = Some(r.hops.into_iter().map(hop_out).collect());
            r.ranking
                .into_iter()
                .map(|hit| FusedSearchHit {
                    hit,
                    sources: Vec::new(),
                    token_maxima: None,
                })
                .collect()
        }
        None => searcher.search_fused(&req.query, &request)?,
    };
    let query_tokens = match (
        req.explain && plan.rerank.is_some(),
        searcher.multi_encoder(),
    ) {
        (true, Some(m)) if plan.hops.is_none() => Some(m.query_tokens(&req.query)?),
        _ => None,
    };
    let splade_terms = match (req.explain, searcher.sparse()) {
        (true, Some(sp)) if set.contains(seine_engine::RetrieverKind::Splade) => {
            Some(sp.query_terms(&req.query)?)
        }
        _ => None,
    };
    let mut out = Vec::with_capacity(hits.len());
    for (i, h) in hits.into_iter().enumerate() {
        let terms = match &splade_terms {
            Some(t) => Some(
                searcher
                    .explain_splade(t, h.hit.doc)?
                    .into_iter()
                    .map(|c| TermOut {
                        term: c.term,
                        query_weight: c.query_weight,
                        doc_weight: c.doc_weight,
                        contribution: c.contribution,
                    })
                    .collect(),
            ),
            None => None,
        };
        let with_fields = req.fields.unwrap_or(true);
        let stored = if with_fields {
            searcher.stored(h.hit.doc)?
        } else {
            None
        };
        let metadata =
            (with_fields && !searcher.fields().is_empty()).then(|| searcher.metadata(h.hit.doc));
        out.push(SearchHit {
            rank: i + 1,
            id: h.hit.id,
            score: h.hit.score,
            title: stored.as_ref().map(|d| d.title.clone()),
            text: stored.map(|d| d.text),
            sources: req.explain.then(|| {
                h.sources
                    .iter()
                    .map(|s| SourceOut {
                        retriever: s.retriever.clone(),
                        rank: s.rank,
                        score: s.score,
                    })
                    .collect()
            }),
            token_maxima: if req.explain { h.token_maxima } else { None },
            splade_terms: terms,
            metadata,
        });
    }
    Ok(SearchResponse {
        query: req.query.clone(),
        retriever: set.to_string(),
        query_tokens,
        hits: out,
        chain,
    })
}

fn hop_out(h: seine_engine::multihop::HopTrace) -> HopOut {
    HopOut {
        query: h.query,
        retrieved: h.retrieved,
        picks: h.picks,
        facts: h
            .facts
            .into_iter()
            .map(|f| FactOut {
                id: f.id,
                title: f.title,
                sentence: f.sentence,
                text: f.text,
                score: f.score,
            })
            .collect(),
    }
}
