//! `POST /api/v1/inbound/email`: the raw-MIME ingress for deployments behind
//! Postfix or a mail provider's webhook.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::services::inbound_mail::{self, Outcome, MAX_BYTES};
use crate::state::SharedState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboundResult {
    /// posted, duplicate or refused
    pub status: &'static str,
    pub message_id: Option<i64>,
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/inbound/email", tag = "email",
    request_body(content = Vec<u8>, content_type = "message/rfc822", description = "the raw RFC 5322 message"),
    responses((status = 202, body = InboundResult, description = "handled: posted, a duplicate, or refused (logged)"),
              (status = 401, body = switchboard_protocol::ErrorBody), (status = 413, body = switchboard_protocol::ErrorBody),
              (status = 422, body = switchboard_protocol::ErrorBody, description = "not a MIME message")),
    security(("ingress" = [])))]
pub async fn receive(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<InboundResult>)> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), state.ingress_secret.as_bytes()) {
        return Err(ApiError::unauthorized("the ingress secret is wrong"));
    }
    let raw = axum::body::to_bytes(body, MAX_BYTES)
        .await
        .map_err(|_| ApiError::too_large(format!("an email may be at most {MAX_BYTES} bytes")))?;
    if mail_parser::MessageParser::default()
        .parse(&raw)
        .is_none_or(|m| m.from().is_none() && m.subject().is_none())
    {
        return Err(ApiError::unprocessable(
            "malformed_email",
            "the body is not an RFC 5322 message",
        ));
    }
    let result = match inbound_mail::receive(&state, &raw, &[]).await? {
        Outcome::Posted { message_id, .. } => InboundResult {
            status: "posted",
            message_id: Some(message_id),
            reason: None,
        },
        Outcome::Duplicate => InboundResult {
            status: "duplicate",
            message_id: None,
            reason: None,
        },
        Outcome::Refused(reason) => InboundResult {
            status: "refused",
            message_id: None,
            reason: Some(reason),
        },
    };
    Ok((StatusCode::ACCEPTED, Json(result)))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
