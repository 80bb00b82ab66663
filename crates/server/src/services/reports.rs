//! Reports for admins and analysts: the figures of a range of days, read
//! from what each conversation keeps (see `domain::report`).

use switchboard_protocol::{Permission, Report};

use crate::auth::CurrentUser;
use crate::db::now_ms;
use crate::domain::report::{self, Range};
use crate::error::{ApiError, ApiResult};
use crate::state::SharedState;
use crate::store::conversations;
use crate::store::users::{self, AccountStatus};

pub async fn report(
    state: &SharedState,
    me: &CurrentUser,
    range: &Range,
    missed_after_minutes: i64,
) -> ApiResult<Report> {
    me.require(Permission::SeeReports)?;
    let (from, to) = range
        .bounds_ms()
        .map_err(|m| ApiError::unprocessable("invalid_range", m))?;
    let rows = conversations::opened_between(&state.db, from, to).await?;
    let operators: Vec<(i64, String)> = users::team(&state.db)
        .await?
        .into_iter()
        .filter(|u| u.status != AccountStatus::Removed && u.role.answers_visitors())
        .map(|u| {
            let name = if u.name.is_empty() { u.email } else { u.name };
            (u.id, name)
        })
        .collect();
    Ok(report::compute(
        range,
        &rows,
        &operators,
        missed_after_minutes,
        now_ms(),
    ))
}
