//! Path and query extractors whose rejections speak the API's error format.
//!
//! axum's own `Path` and `Query` answer a malformed id or query string with a
//! plain-text 400; every answer of the API is `{"error": {code, message}}`, so a
//! client (and the OpenAPI document) meets one shape for every failure.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::extract::Path`: a segment of the wrong type answers
/// 400 `invalid_path`.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// Like `axum::extract::Query`: a parameter of the wrong type answers
/// 400 `invalid_query`.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// Like `axum::extract::WebSocketUpgrade`: a request that is not a websocket
/// handshake answers `upgrade_required` in the API's format (426, or 400 for a
/// malformed handshake) instead of plain text.
pub struct WebSocketUpgrade(pub axum::extract::WebSocketUpgrade);

impl<S> FromRequestParts<S> for WebSocketUpgrade
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(WebSocketUpgrade)
            .map_err(|e| {
                let status = e.status();
                let code = if status == axum::http::StatusCode::UPGRADE_REQUIRED {
                    "upgrade_required"
                } else {
                    "bad_handshake"
                };
                ApiError::new(status, code, e.body_text())
            })
    }
}
