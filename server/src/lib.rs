//! seine-server: the HTTP API (axum).
//!
//! Endpoints: `POST /search`, `POST /embed`, `POST /v1/embeddings` (OpenAI-compatible),
//! `POST /documents`, `GET|DELETE /documents/{id}`, `POST /admin/compact`,
//! `GET /health`, `GET /metrics`, `GET /openapi.json`.
//!
//! Encoders and index work run on worker threads ([`workers`]) fed by one queue with
//! one-shot replies; embedding requests queued together are encoded as one batch
//! under a token budget. A semaphore bounds the requests queued or running and
//! answers 429 with `Retry-After` when it is full. Errors map to status codes in one
//! place ([`ApiError`]). With an API key, writes and embeddings need it, and search
//! too unless `public_search`.

mod api;
pub mod metrics;
pub mod workers;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use seine_engine::Searcher;
use tokio::sync::Semaphore;

pub use api::ApiDoc;

/// Server limits and options.
#[derive(Debug, Clone)]
pub struct Config {
    /// Requests allowed to wait or run at once; more are answered 429.
    pub max_in_flight: usize,
    pub max_k: usize,
    /// Longest query text, in bytes.
    pub max_query_bytes: usize,
    /// Longest document or embedding input text, in bytes.
    pub max_text_bytes: usize,
    /// Most texts or documents in one request.
    pub max_batch: usize,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Worker threads for encoders and index work.
    pub workers: usize,
    /// Estimated tokens (bytes / 4) per embedding batch.
    pub token_budget: usize,
    /// When set, requests need `Authorization: Bearer <key>` (or `x-api-key`).
    pub api_key: Option<String>,
    /// With an API key: let search and document reads through without it.
    pub public_search: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_in_flight: 64,
            max_k: 1000,
            max_query_bytes: 8192,
            max_text_bytes: 100_000,
            max_batch: 256,
            max_body_bytes: 4 << 20,
            request_timeout: Duration::from_secs(30),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            token_budget: 8192,
            api_key: None,
            public_search: false,
        }
    }
}

pub(crate) struct AppState {
    searcher: Arc<RwLock<Arc<Searcher>>>,
    permits: Semaphore,
    config: Config,
    metrics: metrics::Metrics,
    workers: workers::Workers,
    /// One compaction at a time.
    compacting: tokio::sync::Mutex<()>,
}

impl AppState {
    fn searcher(&self) -> Arc<Searcher> {
        self.searcher.read().expect("searcher lock").clone()
    }

    /// Runs `f` on a worker against the current searcher, holding an admission
    /// permit, within the request timeout. A write that meets a searcher retired by
    /// a compaction is retried on the new one.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl Fn(&Searcher) -> Result<T, seine_engine::Error> + Send + Sync + 'static,
    ) -> Result<T, ApiError> {
        let Ok(_permit) = self.permits.try_acquire() else {
            return Err(ApiError::Overloaded);
        };
        let f = Arc::new(f);
        let work = async {
            loop {
                let s = self.searcher();
                let f = f.clone();
                let r = self
                    .workers
                    .run(move || f(&s))
                    .await
                    .map_err(ApiError::Internal)?;
                match r {
                    Err(seine_engine::Error::Retired) => {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    other => return other.map_err(engine_error),
                }
            }
        };
        match tokio::time::timeout(self.config.request_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::Timeout),
        }
    }
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
    #[error("missing or wrong API key")]
    Unauthorized,
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
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
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
            Json(api::ErrorBody {
                error: self.to_string(),
                error_type: kind.to_string(),
            }),
        )
            .into_response();
        match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            StatusCode::UNAUTHORIZED => {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
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
pub(crate) fn engine_error(e: seine_engine::Error) -> ApiError {
    use seine_engine::Error as E;
    match e {
        E::UnknownRetriever { .. } | E::InvalidArgument(_) => {
            ApiError::Unprocessable(e.to_string())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

/// Which key a route needs.
fn needs_key(method: &axum::http::Method, path: &str, public_search: bool) -> bool {
    match path {
        "/health" | "/metrics" | "/openapi.json" | "/" | "/app.js" | "/style.css" | "/info" => {
            false
        }
        "/search" => !public_search,
        p if p.starts_with("/documents/") && method == axum::http::Method::GET => !public_search,
        _ => true,
    }
}

/// Compares in time independent of where the strings differ.
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn presented_key(h: &HeaderMap) -> Option<&str> {
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").map(str::trim);
    }
    h.get("x-api-key").and_then(|v| v.to_str().ok())
}

/// Auth, then the handler, then metrics.
async fn middleware(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let resp = match &s.config.api_key {
        Some(key)
            if needs_key(&method, req.uri().path(), s.config.public_search)
                && !presented_key(req.headers()).is_some_and(|k| same_key(k, key)) =>
        {
            ApiError::Unauthorized.into_response()
        }
        _ => next.run(req).await,
    };
    s.metrics.record(
        method.as_str(),
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

async fn fallback() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The router over an open searcher (starts the worker threads).
pub fn router(searcher: Searcher, config: Config) -> Router {
    let shared = Arc::new(RwLock::new(Arc::new(searcher)));
    let current: Arc<dyn Fn() -> Arc<Searcher> + Send + Sync> = {
        let shared = shared.clone();
        Arc::new(move || shared.read().expect("searcher lock").clone())
    };
    let state = Arc::new(AppState {
        searcher: shared,
        permits: Semaphore::new(config.max_in_flight.max(1)),
        config: config.clone(),
        metrics: metrics::Metrics::default(),
        workers: workers::Workers::start(config.workers, config.token_budget, current),
        compacting: tokio::sync::Mutex::new(()),
    });
    Router::new()
        .route("/", get(api::page::index))
        .route("/app.js", get(api::page::app_js))
        .route("/style.css", get(api::page::style_css))
        .route("/info", get(api::page::info))
        .route("/health", get(api::admin::health))
        .route("/metrics", get(api::admin::metrics))
        .route("/openapi.json", get(api::openapi))
        .route("/search", post(api::search::search))
        .route("/embed", post(api::embed::embed))
        .route("/v1/embeddings", post(api::embed::openai_embeddings))
        .route("/documents", post(api::documents::put_documents))
        .route(
            "/documents/{id}",
            get(api::documents::get_document).delete(api::documents::delete_document),
        )
        .route("/admin/compact", post(api::admin::compact))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware,
        ))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(state)
}

/// Serves until ctrl-c or SIGTERM: stops accepting, lets in-flight requests finish
/// (their writes are already durable). `on_bound` gets the address actually bound
/// (port 0 picks a free one).
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
