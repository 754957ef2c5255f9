//! `/documents`: put, get and delete documents through the write-ahead log.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorBody, check_text};
use crate::{ApiError, AppState, Work, engine_error};

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
    /// Metadata (what filters read: the index's `--fields`; a declared field with a
    /// value of the wrong type is a 422).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
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
    /// The stored metadata fields (when the index stores any).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResponse {
    pub deleted: String,
    pub documents: usize,
}

/// Adds documents, or replaces those whose id exists. Durable and searchable when
/// this answers.
#[utoipa::path(post, path = "/documents", request_body = PutDocumentsRequest, responses(
    (status = 200, body = PutDocumentsResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    (status = 507, body = ErrorBody)
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
        seine_engine::check_doc_id(&d.id).map_err(engine_error)?;
        let meta = serde_json::to_vec(&d.metadata).map_or(usize::MAX, |v| v.len());
        if meta > s.config.max_metadata_bytes {
            return Err(ApiError::TooLarge(format!(
                "document {:?}: metadata of {meta} bytes; the limit is {}",
                d.id.chars().take(64).collect::<String>(),
                s.config.max_metadata_bytes
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
            metadata: d.metadata,
        })
        .collect();
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let docs = Arc::new(docs);
    let n = s
        .run(Work::Write, move |searcher| {
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
        Some((doc, d)) => Ok(Json(DocumentOut {
            id,
            title: d.title,
            text: d.text,
            metadata: searcher.metadata(doc),
        })),
        None => Err(ApiError::NotFound(format!("no document {id:?}"))),
    }
}

/// Deletes a document from every retriever at once (durable when this answers).
#[utoipa::path(delete, path = "/documents/{id}", params(("id" = String, Path, description = "External document id")), responses(
    (status = 200, body = DeleteResponse),
    (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    (status = 507, body = ErrorBody)
))]
pub async fn delete_document(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<DeleteResponse>, ApiError> {
    let key = id.clone();
    let (deleted, n) = s
        .run(Work::Write, move |searcher| {
            Ok((searcher.delete(&key)?, searcher.doc_count()))
        })
        .await?;
    if !deleted {
        return Err(ApiError::NotFound(format!("no document {id:?}")));
    }
    Ok(Json(DeleteResponse {
        deleted: id,
        documents: n,
    }))
}
