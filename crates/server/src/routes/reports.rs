//! `GET /api/v1/reports`.

use axum::extract::State;
use serde::Deserialize;
use switchboard_protocol::Report;

use crate::auth::CurrentUser;
use crate::domain::report::Range;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::json::Json;
use crate::services::reports as service;
use crate::state::SharedState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReportParams {
    /// The first day, `YYYY-MM-DD`.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: String,
    /// The last day, included (at most 366 days after `from`).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: String,
    /// An IANA time zone (default UTC): days and hours are counted in it.
    #[param(max_length = 64)]
    pub tz: Option<String>,
    /// A conversation is missed when its first answer took longer than this
    /// many minutes (default 15).
    #[param(minimum = 1, maximum = 10080)]
    pub missed_after: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportParams),
    responses((status = 200, body = Report, description = "the figures of the conversations opened in the range"),
              (status = 403, description = "`forbidden`: only admins and analysts see reports"),
              (status = 422, description = "`invalid_range`: a date that is not one, `to` before `from`, more than 366 days, an unknown time zone; `invalid_missed_after`")),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<SharedState>,
    me: CurrentUser,
    Query(params): Query<ReportParams>,
) -> ApiResult<Json<Report>> {
    let tz = params.tz.as_deref().unwrap_or("UTC");
    let range = Range::parse(&params.from, &params.to, tz)
        .map_err(|m| ApiError::unprocessable("invalid_range", m))?;
    let missed_after = params.missed_after.unwrap_or(15);
    if !(1..=10_080).contains(&missed_after) {
        return Err(ApiError::unprocessable(
            "invalid_missed_after",
            "missed_after is 1 to 10080 minutes (a week)",
        ));
    }
    Ok(Json(
        service::report(&state, &me, &range, missed_after).await?,
    ))
}
