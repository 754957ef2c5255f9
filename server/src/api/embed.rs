//! `/embed` and the OpenAI-compatible `/v1/embeddings`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use base64::Engine as _;
use seine_engine::Side;
use seine_engine::settings::{EmbedKind, EncodingFormat};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorBody, check_text};
use crate::workers::Embedding;
use crate::{ApiError, AppState, engine_error};

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
    let _permit = s.admit()?;
    let ticket = crate::workers::Ticket::default();
    let _cancel = crate::CancelOnDrop(ticket.clone());
    let rx = s.workers.embed(ticket, kind, side, texts);
    match tokio::time::timeout(s.config.request_timeout, rx).await {
        Ok(Ok(r)) => r.map_err(engine_error),
        Ok(Err(_)) => Err(ApiError::Internal(
            "the job failed on its worker (see the server log)".into(),
        )),
        Err(_) => Err(ApiError::Timeout),
    }
}

/// Dense, sparse or multi-vector embeddings of texts with the index's encoders.
#[utoipa::path(post, path = "/embed", request_body = EmbedRequest, responses(
    (status = 200, body = EmbedResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
))]
pub async fn embed(
    State(s): State<Arc<AppState>>,
    body: Result<Json<EmbedRequest>, JsonRejection>,
) -> Result<Json<EmbedResponse>, ApiError> {
    let Json(req) = body?;
    let kind: EmbedKind = match req.kind.as_deref() {
        Some(k) => k.parse().map_err(engine_error)?,
        None => EmbedKind::default(),
    };
    let side: Side = req
        .side
        .as_deref()
        .unwrap_or("query")
        .parse()
        .map_err(engine_error)?;
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
        kind: kind.as_str().into(),
        data,
    }))
}

/// OpenAI-compatible embeddings (the index's dense model, document side).
#[utoipa::path(post, path = "/v1/embeddings", request_body = OpenAiEmbeddingRequest, responses(
    (status = 200, body = OpenAiEmbeddingResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
))]
pub async fn openai_embeddings(
    State(s): State<Arc<AppState>>,
    body: Result<Json<OpenAiEmbeddingRequest>, JsonRejection>,
) -> Result<Json<OpenAiEmbeddingResponse>, ApiError> {
    let Json(req) = body?;
    let format: EncodingFormat = match req.encoding_format.as_deref() {
        Some(f) => f.parse().map_err(engine_error)?,
        None => EncodingFormat::default(),
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
            let embedding = match format {
                EncodingFormat::Base64 => {
                    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                    OpenAiVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
                EncodingFormat::Float => OpenAiVector::Float(v),
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
