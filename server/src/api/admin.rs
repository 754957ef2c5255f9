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
