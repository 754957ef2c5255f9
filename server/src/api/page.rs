//! The search page (`GET /`, its script and style, embedded in the binary) and
//! `GET /info`, what the page needs to know about the index.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

const INDEX_HTML: &str = include_str!("../page/index.html");
const APP_JS: &str = include_str!("../page/app.js");
const STYLE_CSS: &str = include_str!("../page/style.css");

/// The search page.
pub async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
}

pub async fn app_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_JS,
    )
}

pub async fn style_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE_CSS,
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InfoResponse {
    pub documents: usize,
    /// First-stage retrievers (`bm25`, `dense`, `splade`, `maxsim`).
    pub retrievers: Vec<String>,
    /// Token vectors are stored: `rerank` (maxsim, flipr) is available.
    pub rerank: bool,
    /// `/search` needs an API key (`Authorization: Bearer` or `x-api-key`).
    pub search_needs_key: bool,
    pub max_k: usize,
    pub default_k: usize,
    pub default_rerank_depth: usize,
    pub max_hops: usize,
    /// Metadata fields a `filter` may use, as `name:type`.
    pub fields: Vec<String>,
}

/// What the index offers (for the search page and other clients).
#[utoipa::path(get, path = "/info", responses((status = 200, body = InfoResponse)))]
pub async fn info(State(s): State<Arc<AppState>>) -> Json<InfoResponse> {
    let searcher = s.searcher();
    Json(InfoResponse {
        documents: searcher.doc_count(),
        retrievers: searcher
            .retrievers()
            .iter()
            .map(|r| r.to_string())
            .collect(),
        rerank: searcher.has_tokens(),
        search_needs_key: s.config.api_key.is_some() && !s.config.public_search,
        max_k: s.config.max_k,
        default_k: seine_engine::settings::DEFAULT_K,
        default_rerank_depth: seine_engine::settings::DEFAULT_RERANK_DEPTH,
        max_hops: seine_engine::settings::MAX_HOPS,
        fields: searcher
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name, f.ty))
            .collect(),
    })
}
