//! `GET /api/v1/search`.

use axum::extract::State;
use serde::Deserialize;
use switchboard_protocol::{Page, SearchHit};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::json::Json;
use crate::services::search as service;
use crate::state::SharedState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchParams {
    /// The words to find; each must match (in any of its forms), the last one
    /// also as the start of a word.
    #[param(
        min_length = 1,
        max_length = 200,
        pattern = "[0-9A-Za-z\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u024f\\u0400-\\u0481\\u048a-\\u04ff]"
    )]
    pub q: String,
    /// The `next` cursor of the previous page.
    #[param(pattern = "^[0-9]{0,15}$")]
    pub before: Option<String>,
    /// Hits per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "conversations", params(SearchParams),
    responses((status = 200, body = Page<SearchHit>, description = "newest first; on the first page visitors whose name or email matched come before the messages"),
              (status = 422, description = "`invalid_query` (no word to search for), `invalid_cursor` or `invalid_limit`")),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<SharedState>,
    _me: CurrentUser,
    Query(params): Query<SearchParams>,
) -> ApiResult<Json<Page<SearchHit>>> {
    if params.q.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "invalid_query",
            "search for at most 200 characters",
        ));
    }
    let limit = params.limit.unwrap_or(20);
    if !(1..=service::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be 1 to {}", service::MAX_LIMIT),
        ));
    }
    let before = params
        .before
        .as_deref()
        .filter(|b| !b.is_empty())
        .map(|b| {
            b.parse::<i64>().map_err(|_| {
                ApiError::unprocessable("invalid_cursor", "before must be a cursor from `next`")
            })
        })
        .transpose()?;
    Ok(Json(
        service::search(&state, &params.q, before, limit).await?,
    ))
}
