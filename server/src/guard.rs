//! What every request passes before its handler: the Host check (DNS rebinding), the
//! API key, JSON-only POSTs (no cross-site simple requests), the body read under the
//! read timeout; and what every answer gets: security headers, bounded metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState, needs_key, presented_key, same_key};

/// Whether the `Host` header names this server: an IP address, `localhost`, or a
/// configured name (a missing header, as HTTP/1.0 allows, passes).
fn host_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest
            .split(']')
            .next()
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(&name))
}

/// Whether a request body is declared JSON (`application/json` or `…+json`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

/// The headers every answer carries: no framing, no sniffing, no outside scripts.
fn secure(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Host check, auth, JSON content type on every POST (a cross-site form or
/// `text/plain` request cannot be JSON without a CORS preflight, which this server
/// never grants), the body read under the read timeout, then the handler, then
/// security headers and metrics.
pub(crate) async fn middleware(
    State(s): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let mut resp = match check_request(&s, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    secure(&mut resp);
    s.metrics.record(
        method.as_str(),
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

async fn check_request(s: &AppState, req: Request) -> Result<Request, ApiError> {
    if !host_allowed(req.headers(), &s.config.allowed_hosts) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("?")
            .chars()
            .take(100)
            .collect::<String>();
        return Err(ApiError::Forbidden(format!(
            "host {host:?} is not allowed: start the server with --allow-host NAME to \
             answer under that name"
        )));
    }
    if let Some(key) = &s.config.api_key
        && needs_key(req.method(), req.uri().path(), s.config.public_search)
        && !presented_key(req.headers()).is_some_and(|k| same_key(k, key))
    {
        return Err(ApiError::Unauthorized);
    }
    if req.method() == axum::http::Method::POST && !is_json(req.headers()) {
        return Err(ApiError::UnsupportedMediaType(
            "POST bodies must be JSON: send Content-Type: application/json".into(),
        ));
    }
    // Read the body here, under the read timeout: a client trickling it in holds a
    // connection, never a worker.
    let (parts, body) = req.into_parts();
    let limit = s.config.max_body_bytes;
    let bytes = match tokio::time::timeout(
        s.config.read_timeout,
        axum::body::to_bytes(body, limit.saturating_add(1)),
    )
    .await
    {
        Err(_) => {
            return Err(ApiError::RequestTimeout(format!(
                "the request body did not arrive within {} s",
                s.config.read_timeout.as_secs_f64()
            )));
        }
        Ok(Err(_)) => {
            return Err(ApiError::TooLarge(format!(
                "the request body is over {limit} bytes (or was cut off)"
            )));
        }
        Ok(Ok(b)) if b.len() > limit => {
            return Err(ApiError::TooLarge(format!(
                "the request body is over {limit} bytes"
            )));
        }
        Ok(Ok(b)) => b,
    };
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}
