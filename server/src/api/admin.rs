//! `/health`, `/metrics` and `/admin/compact`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::ErrorBody;
use crate::{ApiError, AppState, engine_error};

#[derive(Debug, Serialize, ToSchema)]
pub struct CompactResponse {
    pub generation: u64,
    pub documents: usize,
    /// False when nothing was pending (no new generation was written).
    pub compacted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, or `stuck` (answered 503) when the worker pool cannot take work.
    pub status: String,
    /// Why the pool is stuck, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub documents: usize,
    pub generation: u64,
    pub retrievers: Vec<String>,
    /// Documents added since the last compaction.
    pub pending_added: usize,
    /// Generation documents deleted or replaced since the last compaction.
    pub pending_deleted: usize,
}

/// Liveness and index summary: 503 when the worker pool is stuck (a queued job has
/// waited, or every worker has been on one job, longer than the request timeout).
#[utoipa::path(get, path = "/health", responses(
    (status = 200, body = HealthResponse), (status = 503, body = HealthResponse)
))]
pub async fn health(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    let searcher = s.searcher();
    let (added, deleted) = searcher.pending_writes();
    let reason = s.workers.stuck(s.config.request_timeout);
    let code = if reason.is_some() {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        axum::http::StatusCode::OK
    };
    let body = Json(HealthResponse {
        status: if reason.is_some() { "stuck" } else { "ok" }.into(),
        reason,
        documents: searcher.doc_count(),
        generation: searcher.index().manifest().generation,
        retrievers: searcher
            .retrievers()
            .iter()
            .map(|r| r.to_string())
            .collect(),
        pending_added: added,
        pending_deleted: deleted,
    });
    (code, body)
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

/// Folds logged writes into a new generation (rebuilds HNSW without the deleted). One
/// at a time: a second request meanwhile is answered 409; with nothing pending it
/// writes nothing (`compacted: false`). The body, if any, must be JSON.
#[utoipa::path(post, path = "/admin/compact", responses(
    (status = 200, body = CompactResponse),
    (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    (status = 503, body = ErrorBody), (status = 507, body = ErrorBody)
))]
pub async fn compact(State(s): State<Arc<AppState>>) -> Result<Json<CompactResponse>, ApiError> {
    let Ok(_one) = s.compacting.try_lock() else {
        return Err(ApiError::Conflict("a compaction is already running".into()));
    };
    let current = s.searcher();
    if current.pending_writes() == (0, 0) {
        return Ok(Json(CompactResponse {
            generation: current.index().manifest().generation,
            documents: current.doc_count(),
            compacted: false,
        }));
    }
    drop(current);
    let shared = s.searcher.clone();
    let permit = s.admit()?;
    // Not bounded by the request timeout: a compaction runs to its end once started.
    let r = s
        .workers
        .run(move || -> Result<CompactResponse, seine_engine::Error> {
            let _permit = permit;
            let old = shared.read().expect("searcher lock").clone();
            let dir = old.compact()?;
            let new = Arc::new(old.reopen(dir)?);
            *shared.write().expect("searcher lock") = new.clone();
            // The replaced generation goes once no request reads it any more (else at
            // the next compaction).
            drop(old);
            new.index().remove_unused_generations();
            Ok(CompactResponse {
                generation: new.index().manifest().generation,
                documents: new.doc_count(),
                compacted: true,
            })
        })
        .await
        .map_err(ApiError::Internal)?;
    r.map(Json).map_err(engine_error)
}
