//! The HTTP API: one module per resource (search, embed, documents, admin), each with
//! its request and response types (the OpenAPI document is generated from them) and
//! handlers. Handlers parse requests into the engine's typed settings and nothing
//! more.

pub mod admin;
pub mod documents;
pub mod embed;
pub mod page;
pub mod search;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::{ApiError, AppState};

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// `bad_request`, `invalid_request`, `not_found`, `too_large`, `unauthorized`,
    /// `overloaded`, `timeout`, `internal`.
    pub error_type: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "seine",
        description = "Retrieval and embedding engine: search, embed, documents."
    ),
    paths(
        admin::health,
        admin::metrics,
        page::info,
        openapi,
        search::search,
        embed::embed,
        embed::openai_embeddings,
        documents::put_documents,
        documents::get_document,
        documents::delete_document,
        admin::compact
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi(State(s): State<std::sync::Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document(&s.config).to_string(),
    )
}

/// The OpenAPI document with this server's limits (`--max-k`, `--max-batch`, the
/// engine's most hops) where the schema states them: one source for both.
pub fn document(config: &crate::Config) -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let limits = [
        ("SearchRequest", "k", "maximum", config.max_k),
        ("SearchRequest", "hop_depth", "maximum", config.max_k),
        ("SearchRequest", "rerank_depth", "maximum", config.max_k),
        (
            "SearchRequest",
            "hops",
            "maximum",
            seine_engine::settings::MAX_HOPS,
        ),
        (
            "PutDocumentsRequest",
            "documents",
            "maxItems",
            config.max_batch,
        ),
    ];
    for (schema, prop, key, value) in limits {
        let p = &mut doc["components"]["schemas"][schema]["properties"][prop];
        if let Some(p) = p.as_object_mut() {
            p.insert(key.into(), value.into());
        }
    }
    doc
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

#[cfg(test)]
mod tests {
    /// The document states the limits the server was started with, not the defaults
    /// (it hard-coded 1000 and 256 whatever `--max-k`/`--max-batch` said).
    #[test]
    fn openapi_states_the_configured_limits() {
        let config = crate::Config {
            max_k: 50,
            max_batch: 7,
            ..crate::Config::default()
        };
        let doc = super::document(&config);
        let props = |s: &str| doc["components"]["schemas"][s]["properties"].clone();
        assert_eq!(props("SearchRequest")["k"]["maximum"], 50);
        assert_eq!(props("SearchRequest")["hop_depth"]["maximum"], 50);
        assert_eq!(props("SearchRequest")["hops"]["maximum"], 4);
        assert_eq!(props("PutDocumentsRequest")["documents"]["maxItems"], 7);
        let d = super::document(&crate::Config::default());
        assert_eq!(
            d["components"]["schemas"]["SearchRequest"]["properties"]["k"]["maximum"],
            1000
        );
    }
}
