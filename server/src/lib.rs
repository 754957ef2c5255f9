//! seine-server: the HTTP API (axum). Read path so far: `GET /health`, `POST /search`,
//! `GET /documents/{id}`. Searches run on tokio's blocking pool (encoders and index
//! work never block the async runtime); a semaphore bounds the requests in flight and
//! answers 429 with `Retry-After` when it is full. Errors map to status codes in one
//! place ([`ApiError`]): bad input 400/422 (413 over the body limit) with
//! `{"error", "error_type"}`, unknown id 404, overload 429, internal 500.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use seine_engine::{Fusion, FusionMethod, Reduce, Rerank, Searcher};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

/// Server limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// Requests allowed to wait or run at once; more are answered 429.
    pub max_in_flight: usize,
    pub max_k: usize,
    /// Longest query text, in bytes.
    pub max_query_bytes: usize,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_in_flight: 64,
            max_k: 1000,
            max_query_bytes: 8192,
            max_body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(30),
        }
    }
}

struct AppState {
    searcher: Searcher,
    permits: Semaphore,
    config: Config,
}

/// Every error an endpoint can answer, with its status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("server busy: too many requests in flight")]
    Overloaded,
    #[error("request timed out")]
    Timeout,
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Overloaded => (StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            ApiError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.parts();
        let mut r = (
            status,
            Json(json!({"error": self.to_string(), "error_type": kind})),
        )
            .into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(r.body_text()),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(r.body_text()),
            _ => ApiError::BadRequest(r.body_text()),
        }
    }
}

/// Engine errors caused by the request are 422; the rest are 500.
fn engine_error(e: seine_engine::Error) -> ApiError {
    use seine_engine::Error as E;
    match e {
        E::UnknownRetriever { .. } | E::InvalidArgument(_) => {
            ApiError::Unprocessable(e.to_string())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

/// `POST /search` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default = "default_k")]
    pub k: usize,
    /// `bm25`, `dense`, `splade`, or a fusion `bm25+dense`; default: the first the index has.
    pub retriever: Option<String>,
    /// `rrf` (default), `minmax`, `zscore`.
    pub fusion: Option<String>,
    #[serde(default)]
    pub weights: Vec<f32>,
    /// `maxsim` or `flipr`.
    pub rerank: Option<String>,
    pub rerank_depth: Option<usize>,
    pub flipr_k: Option<usize>,
    #[serde(default)]
    pub explain: bool,
    /// Include stored title/text (default true).
    pub fields: Option<bool>,
}

fn default_k() -> usize {
    10
}

async fn health(State(s): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let m = s.searcher.index().manifest();
    Json(json!({"status": "ok", "documents": m.doc_count, "retrievers": s.searcher.retrievers()}))
}

async fn search(
    State(s): State<Arc<AppState>>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(req) = body?;
    if req.query.trim().is_empty() {
        return Err(ApiError::Unprocessable("query is empty".into()));
    }
    if req.query.len() > s.config.max_query_bytes {
        return Err(ApiError::Unprocessable(format!(
            "query is {} bytes; the limit is {}",
            req.query.len(),
            s.config.max_query_bytes
        )));
    }
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
    let fusion = Fusion {
        method,
        weights: req.weights.clone(),
        ..Fusion::default()
    };
    let rerank = match req.rerank.as_deref() {
        None => None,
        Some(how) => Some(Rerank {
            depth: req.rerank_depth.unwrap_or(100).min(s.config.max_k),
            reduce: match how {
                "maxsim" => Reduce::MaxSim,
                "flipr" => Reduce::Flipr {
                    k: req.flipr_k.unwrap_or(8),
                },
                other => {
                    return Err(ApiError::Unprocessable(format!(
                        "unknown rerank {other:?} (expected maxsim or flipr)"
                    )));
                }
            },
        }),
    };
    let Ok(_permit) = s.permits.try_acquire() else {
        return Err(ApiError::Overloaded);
    };
    let state = s.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<serde_json::Value, ApiError> {
        let searcher = &state.searcher;
        let name = match req.retriever.clone() {
            Some(r) => r,
            None => searcher
                .retrievers()
                .first()
                .map(|s| s.to_string())
                .ok_or_else(|| ApiError::Internal("index has no retriever".into()))?,
        };
        let hits = searcher
            .search_with(&name, &req.query, req.k, &fusion, rerank)
            .map_err(engine_error)?;
        let mut out = Vec::with_capacity(hits.len());
        for (i, h) in hits.iter().enumerate() {
            let mut row = json!({"rank": i + 1, "id": h.hit.id, "score": h.hit.score});
            if req.fields.unwrap_or(true)
                && let Some(d) = searcher.stored(h.hit.doc).map_err(engine_error)?
            {
                row["title"] = json!(d.title);
                row["text"] = json!(d.text);
            }
            if req.explain {
                row["sources"] = json!(h.sources);
                if let Some(m) = &h.token_maxima {
                    row["token_maxima"] = json!(m);
                }
            }
            out.push(row);
        }
        Ok(json!({"query": req.query, "retriever": name, "hits": out}))
    });
    match tokio::time::timeout(s.config.request_timeout, work).await {
        Ok(Ok(r)) => r.map(Json),
        Ok(Err(e)) => Err(ApiError::Internal(format!("search task failed: {e}"))),
        Err(_) => Err(ApiError::Timeout),
    }
}

async fn get_document(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let doc = s
        .searcher
        .doc_map()
        .internal(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no document {id:?}")))?;
    let stored = s.searcher.stored(doc).map_err(engine_error)?;
    Ok(Json(json!({
        "id": id,
        "title": stored.as_ref().map(|d| d.title.as_str()),
        "text": stored.as_ref().map(|d| d.text.as_str()),
    })))
}

async fn fallback() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The router over an open searcher.
pub fn router(searcher: Searcher, config: Config) -> Router {
    let state = Arc::new(AppState {
        searcher,
        permits: Semaphore::new(config.max_in_flight.max(1)),
        config: config.clone(),
    });
    Router::new()
        .route("/health", get(health))
        .route("/search", post(search))
        .route("/documents/{id}", get(get_document))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(state)
}

/// Serves until ctrl-c or SIGTERM (in-flight requests finish first). `on_bound` gets
/// the address actually bound (port 0 picks a free one).
pub async fn serve(
    searcher: Searcher,
    addr: SocketAddr,
    config: Config,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_bound(listener.local_addr()?);
    axum::serve(listener, router(searcher, config))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
