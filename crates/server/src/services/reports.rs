//! Reports for admins and analysts: the figures of a range of days, read
//! from what each conversation keeps (see `domain::report`).

use switchboard_protocol::{GreetingFigures, Permission, Report};

use crate::auth::CurrentUser;
use crate::db::now_ms;
use crate::domain::report::{self, Range};
use crate::error::{ApiError, ApiResult};
use crate::services::widget_settings;
use crate::state::SharedState;
use crate::store::users::{self, AccountStatus};
use crate::store::{conversations, greetings};

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
    let mut report = report::compute(range, &rows, &operators, missed_after_minutes, now_ms());
    report.greetings = greeting_figures(state, from, to).await?;
    Ok(report)
}

/// Showings and answers of each greeting in the range, with its text today.
async fn greeting_figures(
    state: &SharedState,
    from: i64,
    to: i64,
) -> ApiResult<Vec<GreetingFigures>> {
    let mut conn = state.db.pool.acquire().await?;
    let counts = greetings::figures(&mut conn, from, to).await?;
    drop(conn);
    let settings = widget_settings::load(&state.db).await?;
    Ok(counts
        .into_iter()
        .map(|(id, shown, answered)| GreetingFigures {
            id,
            message: settings
                .greetings
                .iter()
                .find(|g| g.id == Some(id))
                .map(|g| g.message.clone())
                .unwrap_or_default(),
            shown,
            answered,
        })
        .collect())
}
