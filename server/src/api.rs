//! Request and response types (the OpenAPI document is generated from them) and the
//! handlers.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use seine_engine::{Fusion, FusionMethod, Reduce, Rerank, Side};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::workers::{EmbedKind, Embedding};
use crate::{ApiError, AppState, engine_error};

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// `bad_request`, `invalid_request`, `not_found`, `too_large`, `unauthorized`,
    /// `overloaded`, `timeout`, `internal`.
    pub error_type: String,
}

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
}

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
    10
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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub query: String,
    pub retriever: String,
    pub hits: Vec<SearchHit>,
    /// With `hops`: each hop's query, candidates, picks and condensed facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<HopOut>>,
}

/// One text or a list of texts.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TextInput {
    One(String),
    Many(Vec<String>),
}

impl TextInput {
    fn into_vec(self) -> Vec<String> {
        match self {
            TextInput::One(s) => vec![s],
            TextInput::Many(v) => v,
        }
    }
}

/// `POST /embed` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    pub input: TextInput,
    /// `dense` (default), `sparse` or `multi`.
    pub kind: Option<String>,
    /// `query` (default) or `document`.
    pub side: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedItem {
    pub index: usize,
    /// Dense vector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    /// Sparse: vocabulary terms and their weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f32>>,
    /// Multi-vector: one vector per token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<Vec<f32>>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedResponse {
    pub kind: String,
    pub data: Vec<EmbedItem>,
}

/// OpenAI-compatible `POST /v1/embeddings` body (dense vectors).
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenAiEmbeddingRequest {
    pub input: TextInput,
    /// Any name; the index's dense model answers (its name is in the response).
    #[allow(dead_code)]
    pub model: String,
    /// `float` (default) or `base64` (little-endian f32).
    pub encoding_format: Option<String>,
    /// Must equal the model's dimension when given.
    pub dimensions: Option<usize>,
    /// Accepted and ignored.
    #[allow(dead_code)]
    pub user: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OpenAiVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiEmbedding {
    pub object: String,
    pub index: usize,
    pub embedding: OpenAiVector,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiEmbeddingResponse {
    pub object: String,
    pub data: Vec<OpenAiEmbedding>,
    pub model: String,
    pub usage: OpenAiUsage,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// 1..=512 bytes, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
}

/// `POST /documents` body: documents to add, or to replace when the id exists.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutDocumentsRequest {
    /// 1..=max_batch (default 256) documents with distinct ids.
    #[schema(min_items = 1, max_items = 256)]
    pub documents: Vec<DocumentIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PutDocumentsResponse {
    /// Documents written (durable and searchable).
    pub written: usize,
    pub ids: Vec<String>,
    /// Visible documents in the index now.
    pub documents: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentOut {
    pub id: String,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResponse {
    pub deleted: String,
    pub documents: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompactResponse {
    pub generation: u64,
    pub documents: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub status: String,
    pub documents: usize,
    pub generation: u64,
    pub retrievers: Vec<String>,
    /// Documents added since the last compaction.
    pub pending_added: usize,
    /// Generation documents deleted or replaced since the last compaction.
    pub pending_deleted: usize,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "seine",
        description = "Retrieval and embedding engine: search, embed, documents."
    ),
    paths(
        health,
        metrics,
        openapi,
        search,
        embed,
        openai_embeddings,
        put_documents,
        get_document,
        delete_document,
        compact
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// Liveness and index summary.
#[utoipa::path(get, path = "/health", responses((status = 200, body = HealthResponse)))]
pub async fn health(State(s): State<Arc<AppState>>) -> Json<HealthResponse> {
    let searcher = s.searcher();
    let (added, deleted) = searcher.pending_writes();
    Json(HealthResponse {
        status: "ok".into(),
        documents: searcher.doc_count(),
        generation: searcher.index().manifest().generation,
        retrievers: searcher
            .retrievers()
            .iter()
            .map(|r| r.to_string())
            .collect(),
        pending_added: added,
        pending_deleted: deleted,
    })
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    let searcher = s.searcher();
    let (added, deleted) = searcher.pending_writes();
    let queue = s.config.max_in_flight.max(1) - s.permits.available_permits();
    let text = s.metrics.render(&[
        (
            "seine_queue_depth",
            "Requests queued or running on the workers.",
            "",
            queue as f64,
        ),
        (
            "seine_documents",
            "Visible documents in the index.",
            "",
            searcher.doc_count() as f64,
        ),
        (
            "seine_pending_writes",
            "Writes not yet compacted into the generation.",
            "{kind=\"added\"}",
            added as f64,
        ),
        (
            "seine_pending_writes",
            "Writes not yet compacted into the generation.",
            "{kind=\"deleted\"}",
            deleted as f64,
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        ApiDoc::openapi().to_json().unwrap_or_default(),
    )
}

fn check_text(what: &str, text: &str, limit: usize) -> Result<(), ApiError> {
    if text.len() > limit {
        return Err(ApiError::Unprocessable(format!(
            "{what} is {} bytes; the limit is {limit}",
            text.len()
        )));
    }
    Ok(())
}

fn parse_rerank(req: &SearchRequest, max_k: usize) -> Result<Option<Rerank>, ApiError> {
    let Some(how) = req.rerank.as_deref() else {
        return Ok(None);
    };
    let depth = req.rerank_depth.unwrap_or(100);
    if depth == 0 || depth > max_k {
        return Err(ApiError::Unprocessable(format!(
            "rerank_depth must be within 1..={max_k}"
        )));
    }
    let reduce = match how {
        "maxsim" => Reduce::MaxSim,
        "flipr" => {
            let k = req.flipr_k.unwrap_or(8);
            if k == 0 {
                return Err(ApiError::Unprocessable("flipr_k must be at least 1".into()));
            }
            Reduce::Flipr { k }
        }
        other => {
            return Err(ApiError::Unprocessable(format!(
                "unknown rerank {other:?} (expected maxsim or flipr)"
            )));
        }
    };
    Ok(Some(Rerank { depth, reduce }))
}

/// Search with one retriever or a fusion, optionally reranked by late interaction.
#[utoipa::path(post, path = "/search", request_body = SearchRequest, responses(
    (status = 200, body = SearchResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
))]
pub async fn search(
    State(s): State<Arc<AppState>>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let Json(req) = body?;
    if req.query.trim().is_empty() {
        return Err(ApiError::Unprocessable("query is empty".into()));
    }
    check_text("query", &req.query, s.config.max_query_bytes)?;
    if req.k == 0 || req.k > s.config.max_k {
        return Err(ApiError::Unprocessable(format!(
            "k must be within 1..={}",
            s.config.max_k
        )));
    }
    let method: FusionMethod = req
        .fusion
        .as_deref()
        .unwrap_or("rrf")
        .parse()
        .map_err(engine_error)?;
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
    let rerank = parse_rerank(&req, s.config.max_k)?;
    if let Some(h) = req.hops
        && !(1..=4).contains(&h)
    {
        return Err(ApiError::Unprocessable("hops must be within 1..=4".into()));
    }
    if req.facts.is_some_and(|f| f == 0 || f > 10) {
        return Err(ApiError::Unprocessable(
            "facts must be within 1..=10".into(),
        ));
    }
    if req.hop_depth.is_some_and(|d| d == 0 || d > s.config.max_k) {
        return Err(ApiError::Unprocessable(format!(
            "hop_depth must be within 1..={}",
            s.config.max_k
        )));
    }
    s.run(move |searcher| {
        let name = match req.retriever.clone() {
            Some(r) => r,
            None => searcher
                .retrievers()
                .first()
                .map(|s| s.to_string())
                .ok_or_else(|| {
                    seine_engine::Error::InvalidArgument("index has no retriever".into())
                })?,
        };
        let mut chain = None;
        let hits = match req.hops {
            Some(hops) => {
                let cfg = seine_engine::multihop::MultiHop {
                    hops,
                    retriever: name.clone(),
                    fusion: fusion.clone(),
                    rerank,
                    rerank_later: rerank.map(|r| Rerank {
                        depth: r.depth,
                        reduce: Reduce::Flipr {
                            k: req.flipr_k.unwrap_or(8).max(1),
                        },
                    }),
                    depth: req.hop_depth.unwrap_or(20),
                    facts: req.facts.unwrap_or(2),
                    ..Default::default()
                };
                use seine_engine::multihop::FactScorer;
                let cfg = seine_engine::multihop::MultiHop {
                    // MaxSim over the stored token vectors encodes nothing but the
                    // query; without them, lexical overlap (re-encoding every sentence
                    // would cost a forward pass per hop).
                    scorer: if searcher.multi_encoder().is_some() {
                        FactScorer::MaxSim
                    } else {
                        FactScorer::Lexical
                    },
                    ..cfg
                };
                let r = searcher.search_multihop(&req.query, req.k, &cfg)?;
                chain = Some(
                    r.hops
                        .into_iter()
                        .map(|h| HopOut {
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
                        })
                        .collect(),
                );
                r.ranking
                    .into_iter()
                    .map(|hit| seine_engine::FusedSearchHit {
                        hit,
                        sources: Vec::new(),
                        token_maxima: None,
                    })
                    .collect()
            }
            None => searcher.search_with(&name, &req.query, req.k, &fusion, rerank)?,
        };
        let mut out = Vec::with_capacity(hits.len());
        for (i, h) in hits.into_iter().enumerate() {
            let stored = if req.fields.unwrap_or(true) {
                searcher.stored(h.hit.doc)?
            } else {
                None
            };
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
            });
        }
        Ok(SearchResponse {
            query: req.query.clone(),
            retriever: name,
            hits: out,
            chain,
        })
    })
    .await
    .map(Json)
}

fn check_inputs(s: &AppState, texts: &[String]) -> Result<(), ApiError> {
    if texts.is_empty() {
        return Err(ApiError::Unprocessable("input is empty".into()));
    }
    if texts.len() > s.config.max_batch {
        return Err(ApiError::Unprocessable(format!(
            "{} inputs; the limit is {}",
            texts.len(),
            s.config.max_batch
        )));
    }
    for t in texts {
        check_text("an input text", t, s.config.max_text_bytes)?;
    }
    Ok(())
}

async fn run_embed(
    s: &Arc<AppState>,
    kind: EmbedKind,
    side: Side,
    texts: Vec<String>,
) -> Result<Vec<Embedding>, ApiError> {
    let Ok(_permit) = s.permits.try_acquire() else {
        return Err(ApiError::Overloaded);
    };
    match tokio::time::timeout(s.config.request_timeout, s.workers.embed(kind, side, texts)).await {
        Ok(Ok(r)) => r.map_err(engine_error),
        Ok(Err(e)) => Err(ApiError::Internal(e)),
        Err(_) => Err(ApiError::Timeout),
    }
}

/// Dense, sparse or multi-vector embeddings of texts with the index's encoders.
#[utoipa::path(post, path = "/embed", request_body = EmbedRequest, responses(
    (status = 200, body = EmbedResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
))]
pub async fn embed(
    State(s): State<Arc<AppState>>,
    body: Result<Json<EmbedRequest>, JsonRejection>,
) -> Result<Json<EmbedResponse>, ApiError> {
    let Json(req) = body?;
    let kind_name = req.kind.unwrap_or_else(|| "dense".into());
    let kind = match kind_name.as_str() {
        "dense" => EmbedKind::Dense,
        "sparse" => EmbedKind::Sparse,
        "multi" => EmbedKind::Multi,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "unknown kind {other:?} (expected dense, sparse or multi)"
            )));
        }
    };
    let side = parse_side(req.side.as_deref())?;
    let texts = req.input.into_vec();
    check_inputs(&s, &texts)?;
    let out = run_embed(&s, kind, side, texts).await?;
    let data = out
        .into_iter()
        .enumerate()
        .map(|(index, e)| {
            let mut item = EmbedItem {
                index,
                embedding: None,
                terms: None,
                weights: None,
                tokens: None,
            };
            match e {
                Embedding::Dense(v) => item.embedding = Some(v),
                Embedding::Sparse(tw) => {
                    let (t, w) = tw.into_iter().unzip();
                    item.terms = Some(t);
                    item.weights = Some(w);
                }
                Embedding::Multi(t) => item.tokens = Some(t),
            }
            item
        })
        .collect();
    Ok(Json(EmbedResponse {
        kind: kind_name,
        data,
    }))
}

fn parse_side(side: Option<&str>) -> Result<Side, ApiError> {
    match side.unwrap_or("query") {
        "query" => Ok(Side::Query),
        "document" => Ok(Side::Document),
        other => Err(ApiError::Unprocessable(format!(
            "unknown side {other:?} (expected query or document)"
        ))),
    }
}

/// Standard base64 of bytes.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// OpenAI-compatible embeddings (the index's dense model, document side).
#[utoipa::path(post, path = "/v1/embeddings", request_body = OpenAiEmbeddingRequest, responses(
    (status = 200, body = OpenAiEmbeddingResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
))]
pub async fn openai_embeddings(
    State(s): State<Arc<AppState>>,
    body: Result<Json<OpenAiEmbeddingRequest>, JsonRejection>,
) -> Result<Json<OpenAiEmbeddingResponse>, ApiError> {
    let Json(req) = body?;
    let b64 = match req.encoding_format.as_deref().unwrap_or("float") {
        "float" => false,
        "base64" => true,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "unknown encoding_format {other:?} (expected float or base64)"
            )));
        }
    };
    let searcher = s.searcher();
    let Some(dense) = searcher.dense() else {
        return Err(ApiError::Unprocessable(
            "this index has no dense encoder".into(),
        ));
    };
    let (model, dim) = (dense.encoder().name().to_string(), dense.encoder().dim());
    drop(searcher);
    if let Some(d) = req.dimensions
        && d != dim
    {
        return Err(ApiError::Unprocessable(format!(
            "dimensions {d}: model {model} gives {dim}-d vectors"
        )));
    }
    let texts = req.input.into_vec();
    check_inputs(&s, &texts)?;
    let tokens: usize = texts.iter().map(|t| t.len().div_ceil(4)).sum();
    let out = run_embed(&s, EmbedKind::Dense, Side::Document, texts).await?;
    let data = out
        .into_iter()
        .enumerate()
        .map(|(index, e)| {
            let Embedding::Dense(v) = e else {
                unreachable!("dense request")
            };
            let embedding = if b64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                OpenAiVector::Base64(base64(&bytes))
            } else {
                OpenAiVector::Float(v)
            };
            OpenAiEmbedding {
                object: "embedding".into(),
                index,
                embedding,
            }
        })
        .collect();
    Ok(Json(OpenAiEmbeddingResponse {
        object: "list".into(),
        data,
        model,
        usage: OpenAiUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

/// Adds documents, or replaces those whose id exists. Durable and searchable when
/// this answers.
#[utoipa::path(post, path = "/documents", request_body = PutDocumentsRequest, responses(
    (status = 200, body = PutDocumentsResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
))]
pub async fn put_documents(
    State(s): State<Arc<AppState>>,
    body: Result<Json<PutDocumentsRequest>, JsonRejection>,
) -> Result<Json<PutDocumentsResponse>, ApiError> {
    let Json(req) = body?;
    if req.documents.is_empty() {
        return Err(ApiError::Unprocessable("documents is empty".into()));
    }
    if req.documents.len() > s.config.max_batch {
        return Err(ApiError::Unprocessable(format!(
            "{} documents; the limit is {}",
            req.documents.len(),
            s.config.max_batch
        )));
    }
    for d in &req.documents {
        if d.id.trim().is_empty() || d.id.len() > 512 || d.id.chars().any(char::is_control) {
            return Err(ApiError::Unprocessable(format!(
                "document id {:?} must be 1..=512 bytes without control characters",
                d.id
            )));
        }
        check_text(
            "a document's title + text",
            &d.text,
            s.config.max_text_bytes,
        )?;
        check_text("a document's title", &d.title, s.config.max_text_bytes)?;
    }
    let docs: Vec<seine_datasets::Doc> = req
        .documents
        .into_iter()
        .map(|d| seine_datasets::Doc {
            id: d.id,
            title: d.title,
            text: d.text,
        })
        .collect();
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let docs = Arc::new(docs);
    let n = s
        .run(move |searcher| {
            searcher.put_documents(&docs)?;
            Ok(searcher.doc_count())
        })
        .await?;
    Ok(Json(PutDocumentsResponse {
        written: ids.len(),
        ids,
        documents: n,
    }))
}

/// A document's stored fields.
#[utoipa::path(get, path = "/documents/{id}", params(("id" = String, Path, description = "External document id")), responses(
    (status = 200, body = DocumentOut),
    (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 429, body = ErrorBody)
))]
pub async fn get_document(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<DocumentOut>, ApiError> {
    let searcher = s.searcher();
    match searcher.get(&id).map_err(engine_error)? {
        Some((_, d)) => Ok(Json(DocumentOut {
            id,
            title: d.title,
            text: d.text,
        })),
        None => Err(ApiError::NotFound(format!("no document {id:?}"))),
    }
}

/// Deletes a document from every retriever at once (durable when this answers).
#[utoipa::path(delete, path = "/documents/{id}", params(("id" = String, Path, description = "External document id")), responses(
    (status = 200, body = DeleteResponse),
    (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
))]
pub async fn delete_document(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<DeleteResponse>, ApiError> {
    let key = id.clone();
    let (deleted, n) = s
        .run(move |searcher| Ok((searcher.delete(&key)?, searcher.doc_count())))
        .await?;
    if !deleted {
        return Err(ApiError::NotFound(format!("no document {id:?}")));
    }
    Ok(Json(DeleteResponse {
        deleted: id,
        documents: n,
    }))
}

/// Folds logged writes into a new generation (rebuilds HNSW without the deleted).
#[utoipa::path(post, path = "/admin/compact", responses(
    (status = 200, body = CompactResponse),
    (status = 401, body = ErrorBody), (status = 429, body = ErrorBody),
    (status = 503, body = ErrorBody)
))]
pub async fn compact(State(s): State<Arc<AppState>>) -> Result<Json<CompactResponse>, ApiError> {
    let _one = s.compacting.lock().await;
    let shared = s.searcher.clone();
    let Ok(_permit) = s.permits.try_acquire() else {
        return Err(ApiError::Overloaded);
    };
    // Not bounded by the request timeout: a compaction runs to its end once started.
    let r = s
        .workers
        .run(move || -> Result<CompactResponse, seine_engine::Error> {
            let old = shared.read().expect("searcher lock").clone();
            let dir = old.compact()?;
            let new = Arc::new(old.reopen(dir)?);
            *shared.write().expect("searcher lock") = new.clone();
            Ok(CompactResponse {
                generation: new.index().manifest().generation,
                documents: new.doc_count(),
            })
        })
        .await
        .map_err(ApiError::Internal)?;
    r.map(Json).map_err(engine_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
