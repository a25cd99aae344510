//! Request parsing that never answers a client's mistake with a 5xx or a plain-text body: order ids from the path,
//! JSON bodies read leniently (no Content-Type needed, an empty body may mean "nothing") with precise errors.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::OrderId;

/// Largest JSON body accepted.
pub const JSON_BODY_LIMIT: usize = 64 << 10;

/// The `{id}` of `/orders/{id}/…`, parsed.
#[derive(Debug, Clone)]
pub struct OrderPath(pub OrderId);

impl<S: Send + Sync> FromRequestParts<S> for OrderPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_id", e.body_text()))?;
        OrderId::parse(&id).map(OrderPath).map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))
    }
}

/// An optional JSON body: `None` when the body is empty. Content-Type is not required (the seed's curls send none
/// for commands), but a body that is there must be valid JSON of the right shape.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req.into_body(), JSON_BODY_LIMIT).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        parse_json(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

/// A required JSON body.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match OptionalJson::<T>::from_request(req, state).await? {
            OptionalJson(Some(v)) => Ok(JsonBody(v)),
            OptionalJson(None) => Err(ApiError::unprocessable("a JSON body is required")),
        }
    }
}

/// How long a client may pause between two pieces of a body before the request is answered 408.
pub const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a whole body may take, however steadily it trickles.
pub const BODY_TOTAL_TIMEOUT: std::time::Duration = std::time::Duration::from_mins(2);

/// Reads a body up to `limit` bytes; more is a 413. An oversized body is read on (and discarded) up to a few
/// times the limit, so the client, still sending, receives the 413 instead of a reset connection. A client that
/// stops sending for [`BODY_IDLE_TIMEOUT`], or whose body takes longer than [`BODY_TOTAL_TIMEOUT`], gets a 408: a
/// slow body cannot hold the request (and its buffer) open.
pub async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    use http_body_util::BodyExt;

    let mut body = body;
    let mut bytes = Vec::new();
    let idle = || {
        ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the body stalled for {BODY_IDLE_TIMEOUT:?} or took longer than {BODY_TOTAL_TIMEOUT:?}"),
        )
    };
    let deadline = tokio::time::Instant::now() + BODY_TOTAL_TIMEOUT;
    let wait = || BODY_IDLE_TIMEOUT.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
    while let Some(frame) = tokio::time::timeout(wait(), body.frame()).await.map_err(|_| idle())? {
        let frame =
            frame.map_err(|e| ApiError::bad_request("unreadable_body", format!("the body could not be read: {e}")))?;
        let Ok(chunk) = frame.into_data() else { continue };
        if bytes.len() + chunk.len() > limit {
            let mut drained = bytes.len() + chunk.len();
            while drained <= limit.saturating_mul(4) {
                match body.frame().await {
                    Some(Ok(frame)) => drained += frame.data_ref().map_or(0, axum::body::Bytes::len),
                    _ => break,
                }
            }
            return Err(ApiError::too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

/// Malformed JSON is a 400; well-formed JSON of the wrong shape (missing fields, wrong types, unknown fields) a 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof | serde_json::error::Category::Io => {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        }
        serde_json::error::Category::Data => ApiError::unprocessable(format!("the body does not fit: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
    }

    #[test]
    fn syntax_is_400_and_shape_is_422() {
        assert_eq!(parse_json::<Shape>(b"{").unwrap_err().status, 400);
        assert_eq!(parse_json::<Shape>(b"{\"name\":1}").unwrap_err().status, 422);
        assert_eq!(parse_json::<Shape>(b"{}").unwrap_err().status, 422);
        assert_eq!(parse_json::<Shape>(b"{\"name\":\"a\",\"x\":1}").unwrap_err().status, 422);
        assert!(parse_json::<Shape>(b"{\"name\":\"a\"}").is_ok());
    }
}
