//! The HTTP API: one module per resource (search, embed, documents, admin), each with
//! its request and response types (the OpenAPI document is generated from them) and
//! handlers. Handlers parse requests into the engine's typed settings and nothing
//! more.

pub mod admin;
pub mod documents;
pub mod embed;
pub mod page;
pub mod search;

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::ApiError;

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
