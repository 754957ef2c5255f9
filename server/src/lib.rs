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
mod guard;
pub mod metrics;
pub mod workers;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
    /// Open connections at once (also capped at half the open-file limit, so index
    /// work always has descriptors left); more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (an idle kept-alive connection
    /// too), and then its body; slower connections are closed (408 for a body).
    pub read_timeout: Duration,
    /// Host names (the `Host` header) this server answers besides IP addresses and
    /// `localhost`: a DNS-rebinding page reaches a server on 127.0.0.1 under a name of
    /// its own, which is refused (403). `*` allows any.
    pub allowed_hosts: Vec<String>,
    /// Largest metadata of one written document, in bytes (as JSON).
    pub max_metadata_bytes: usize,
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
            token_budget: seine_engine::settings::DEFAULT_TOKEN_BUDGET,
            api_key: None,
            public_search: false,
            max_connections: 1024,
            read_timeout: Duration::from_secs(10),
            allowed_hosts: Vec::new(),
            max_metadata_bytes: 64 * 1024,
        }
    }
}

pub(crate) struct AppState {
    searcher: Arc<RwLock<Arc<Searcher>>>,
    permits: Arc<Semaphore>,
    config: Config,
    metrics: metrics::Metrics,
    workers: workers::Workers,
    /// One compaction at a time.
    compacting: tokio::sync::Mutex<()>,
}

/// Whether a job changes the index: a write that has started runs to its end and its
/// outcome is the answer (never "503, but applied later").
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    Read,
    Write,
}

/// Cancels a queued job when its handler goes away (timeout or client gone).
struct CancelOnDrop(workers::Ticket);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl AppState {
    fn searcher(&self) -> Arc<Searcher> {
        self.searcher.read().expect("searcher lock").clone()
    }

    /// An admission permit, or 429.
    fn admit(&self) -> Result<Arc<tokio::sync::OwnedSemaphorePermit>, ApiError> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map(Arc::new)
            .map_err(|_| ApiError::Overloaded)
    }

    /// Runs `f` on a worker against the current searcher, holding an admission permit
    /// until the job has ended (not only until the answer). A job not started by the
    /// request timeout is cancelled and answered 503: it never runs. A read still
    /// running at the timeout is answered 503 (the permit stays taken until it ends);
    /// a write that has started is waited for. A write that meets a searcher retired
    /// by a compaction is retried on the new one.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: Work,
        f: impl Fn(&Searcher) -> Result<T, seine_engine::Error> + Send + Sync + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.admit()?;
        let deadline = tokio::time::Instant::now() + self.config.request_timeout;
        let f = Arc::new(f);
        loop {
            let s = self.searcher();
            let f = f.clone();
            let p = permit.clone();
            let ticket = workers::Ticket::default();
            let _cancel = CancelOnDrop(ticket.clone());
            let mut rx = self.workers.submit(ticket.clone(), move || {
                let _permit = p;
                f(&s)
            });
            let r = match tokio::time::timeout_at(deadline, &mut rx).await {
                Ok(r) => r,
                Err(_) if ticket.cancel() || work == Work::Read => {
                    return Err(ApiError::Timeout);
                }
                Err(_) => rx.await,
            };
            match r {
                Err(_) => {
                    return Err(ApiError::Internal(
                        "the job failed on its worker (see the server log)".into(),
                    ));
                }
                Ok(Err(seine_engine::Error::Retired)) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(ApiError::Timeout);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Ok(other) => return other.map_err(engine_error),
            }
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
    #[error("request timed out (not applied)")]
    Timeout,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    RequestTimeout(String),
    /// Storage is full: the write was not applied.
    #[error("{0}")]
    InsufficientStorage(String),
    /// The index cannot take the request now (storage failing, writer lost).
    #[error("{0}")]
    Unavailable(String),
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
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::InsufficientStorage(_) => {
                (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
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
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::INSUFFICIENT_STORAGE => {
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
        E::Storage { full: true, .. } => ApiError::InsufficientStorage(e.to_string()),
        E::Storage { full: false, .. } | E::ReadOnly(_) | E::Retired => {
            ApiError::Unavailable(e.to_string())
        }
        E::Index(seine_index::Error::Locked { .. }) => ApiError::Unavailable(e.to_string()),
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
        permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
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
            guard::middleware,
        ))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(state)
}

/// Connections allowed at once: `want`, but at most half the open-file limit (raised
/// to its hard limit first), so that index work (compaction opens many files) always
/// has descriptors left.
fn connection_cap(want: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return want.max(1);
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur
    };
    let half = usize::try_from(soft / 2).unwrap_or(usize::MAX);
    want.min(half).max(1)
}

/// Serves until ctrl-c or SIGTERM: stops accepting, lets in-flight requests finish
/// (their writes are already durable). `on_bound` gets the address actually bound
/// (port 0 picks a free one). Connections are capped ([`Config::max_connections`]) and
/// must send their headers and body within [`Config::read_timeout`].
pub async fn serve(
    searcher: Searcher,
    addr: SocketAddr,
    config: Config,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let cap = connection_cap(config.max_connections);
    if cap < config.max_connections {
        eprintln!(
            "connections capped at {cap} (half the open-file limit; raise it with ulimit -n)"
        );
    }
    let read_timeout = config.read_timeout;
    let app = router(searcher, config);
    on_bound(listener.local_addr()?);
    let slots = Arc::new(Semaphore::new(cap));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait, go on.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {},
        _ = tokio::time::sleep(Duration::from_secs(60)) => {
            eprintln!("requests still running after 60 s; stopping anyway");
        },
    }
    Ok(())
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
