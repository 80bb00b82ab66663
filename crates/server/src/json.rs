//! A JSON extractor whose rejections speak the API's error format.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;

/// Like `axum::Json`, but each rejection is `{"error": …}`: a missing or
/// other content type 415, an oversized body 413, a body that is not JSON 400,
/// and well-formed JSON of the wrong shape 422 — including a top-level array,
/// which serde would otherwise read into a struct field by field.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::unsupported_media(
                "expected Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large("request body is too large")
            } else {
                ApiError::bad_request("bad_request", e.body_text())
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// `application/json` or any `application/…+json`, parameters aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Every request body of the API is a JSON object.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: serde_json::Error| {
        ApiError::bad_request(
            "malformed_json",
            format!("Failed to parse the request body as JSON: {e}"),
        )
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Not an object: either not JSON at all (400) or the wrong shape (422).
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(malformed)?;
        return Err(ApiError::unprocessable(
            "invalid_fields",
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::unprocessable(
            "invalid_fields",
            format!("Failed to deserialize the JSON body into the target type: {e}"),
        ),
        _ => malformed(e),
    })
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Contact {
        #[allow(dead_code)]
        name: Option<String>,
    }

    fn code(body: &str) -> (u16, &'static str) {
        let e = parse::<Contact>(body.as_bytes()).unwrap_err();
        (e.status.as_u16(), e.code)
    }

    #[test]
    fn each_bad_body_has_its_answer() {
        assert!(parse::<Contact>(br#" {"name": "Ann"}"#).is_ok());
        assert_eq!(code("[null]"), (422, "invalid_fields"));
        assert_eq!(code("null"), (422, "invalid_fields"));
        assert_eq!(code(r#"{"name": 5}"#), (422, "invalid_fields"));
        assert_eq!(code(""), (400, "malformed_json"));
        assert_eq!(code("[nul"), (400, "malformed_json"));
        assert_eq!(code(r#"{"name": "Ann"} x"#), (400, "malformed_json"));
        assert_eq!(code("\u{0}"), (400, "malformed_json"));
    }
}
