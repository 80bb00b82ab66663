//! The one error type of the HTTP API: `{"error": {"code", "message"}}` with a status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use switchboard_protocol::{ErrorBody, ErrorDetail};

use crate::store_fault::{self, Fault};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 answers.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }
    pub fn too_many(retry_after: u64, message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
        }
    }
    /// 503 with `Retry-After`: a full queue, not a fault of the request.
    pub fn unavailable(retry_after: u64, message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message)
        }
    }
    /// 507: the disk (or the database's) is full; nothing of the request was
    /// kept, and the same request may be sent again once space is back.
    pub fn storage_full() -> Self {
        ApiError {
            retry_after: Some(10),
            ..Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "the server cannot store anything now (its disk is full); nothing was saved, try again later",
            )
        }
    }
    /// 503: the database does not answer; nothing of the request was kept.
    pub fn database_unavailable() -> Self {
        ApiError {
            retry_after: Some(2),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the server cannot reach its database; nothing was saved, try again shortly",
            )
        }
    }
    pub fn internal(err: impl std::fmt::Display) -> Self {
        // The detail goes to the log, not to the client.
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if crate::store::messages::is_attachment_taken(&err) {
            // Two sends racing with the same upload: the second one loses.
            return ApiError::conflict(
                "attachment_sent",
                "one of the files was already sent with another message",
            );
        }
        match ApiError::of_store_fault(&err) {
            Some(answer) => {
                tracing::warn!(error = %err, code = answer.code, "the store refused a request");
                answer
            }
            None => ApiError::internal(err),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        // A store fault or an API answer carried through anyhow keeps its status.
        if let Some(api) = err.downcast_ref::<ApiError>() {
            return api.clone();
        }
        err.chain()
            .find_map(|e| e.downcast_ref::<sqlx::Error>())
            .and_then(ApiError::of_store_fault)
            .unwrap_or_else(|| ApiError::internal(format!("{err:#}")))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// The answer to a database error that is the store's trouble (a full
    /// disk, a database out of reach), not the request's.
    pub(crate) fn of_store_fault(err: &sqlx::Error) -> Option<ApiError> {
        match store_fault::classify(err) {
            Fault::StorageFull => Some(ApiError::storage_full()),
            Fault::Unavailable => Some(ApiError::database_unavailable()),
            Fault::None => None,
        }
    }

    /// The request may succeed later as it is (the server's trouble, not the
    /// request's): 503, 507, 500.
    pub fn is_temporary(&self) -> bool {
        self.status.is_server_error()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
