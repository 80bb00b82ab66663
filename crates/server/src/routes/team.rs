//! `/api/v1/team*`: Settings → Administrators.

use axum::extract::State;
use axum::http::StatusCode;
use switchboard_protocol::{ChangeRole, Invitation, TeamDefaults, User};

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::Path;
use crate::json::Json;
use crate::services::team;
use crate::state::SharedState;
use crate::store::{settings, users};

#[utoipa::path(get, path = "/api/v1/team", tag = "team", responses((status = 200, body = Vec<User>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<SharedState>,
    _me: CurrentUser,
) -> ApiResult<Json<Vec<User>>> {
    let members = users::team(&state.db).await?;
    Ok(Json(members.iter().map(|u| state.user_view(u)).collect()))
}

#[utoipa::path(post, path = "/api/v1/team/invitations", tag = "team", request_body = Invitation,
    responses((status = 201, body = User, description = "invited; the invitation email is on its way"),
              (status = 409, description = "`already_member`: the email belongs to a member"),
              (status = 422, description = "`invalid_email` or `invalid_role`")), security(("bearer" = [])))]
pub async fn invite(
    State(state): State<SharedState>,
    me: CurrentUser,
    Json(body): Json<Invitation>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let user = team::invite(&state, &me, &body.email, &body.role).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(post, path = "/api/v1/team/{user_id}/invitation", tag = "team",
    params(("user_id" = i64, Path)),
    responses((status = 204, description = "a new password is emailed"),
              (status = 409, description = "`already_active`: the member has signed in already")), security(("bearer" = [])))]
pub async fn resend(
    State(state): State<SharedState>,
    me: CurrentUser,
    Path(user_id): Path<i64>,
) -> ApiResult<StatusCode> {
    team::resend(&state, &me, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(patch, path = "/api/v1/team/{user_id}", tag = "team", params(("user_id" = i64, Path)),
    request_body = ChangeRole, responses((status = 200, body = User),
              (status = 409, description = "`last_admin`: the team would be left without an active admin")),
    security(("bearer" = [])))]
pub async fn change_role(
    State(state): State<SharedState>,
    me: CurrentUser,
    Path(user_id): Path<i64>,
    Json(body): Json<ChangeRole>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        team::change_role(&state, &me, user_id, &body.role).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/team/{user_id}", tag = "team", params(("user_id" = i64, Path)),
    responses((status = 204, description = "removed; their tokens stop working"),
              (status = 409, description = "`last_admin`: the team would be left without an active admin")),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<SharedState>,
    me: CurrentUser,
    Path(user_id): Path<i64>,
) -> ApiResult<StatusCode> {
    team::remove(&state, &me, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/team/defaults", tag = "team", responses((status = 200, body = TeamDefaults)), security(("bearer" = [])))]
pub async fn get_defaults(
    State(state): State<SharedState>,
    _me: CurrentUser,
) -> ApiResult<Json<TeamDefaults>> {
    Ok(Json(team::defaults(&state).await?))
}

#[utoipa::path(put, path = "/api/v1/team/defaults", tag = "team", request_body = TeamDefaults,
    responses((status = 200, body = TeamDefaults), (status = 403, body = switchboard_protocol::ErrorBody)), security(("bearer" = [])))]
pub async fn put_defaults(
    State(state): State<SharedState>,
    me: CurrentUser,
    Json(body): Json<TeamDefaults>,
) -> ApiResult<Json<TeamDefaults>> {
    me.require_admin()?;
    settings::put(&state.db.pool, settings::TEAM_DEFAULTS, &body).await?;
    Ok(Json(body))
}
