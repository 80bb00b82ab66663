//! `/api/v1/auth/*`

use axum::extract::State;
use axum::http::StatusCode;
use switchboard_protocol::{LoginRequest, LoginResponse};

use crate::auth::SignedIn;
use crate::client_addr::ClientAddr;
use crate::error::ApiResult;
use crate::json::Json;
use crate::services::accounts;
use crate::state::SharedState;

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse, description = "signed in; `user.must_change_password` says whether the emailed password must be changed first"),
              (status = 401, description = "`unauthorized`: no such member or a wrong password (the same answer for both)"),
              (status = 429, description = "`too_many_requests`: too many failed sign-ins for this email or address; see Retry-After")))]
pub async fn login(
    State(state): State<SharedState>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let response = accounts::login(&state, &body.email, &body.password, client).await?;
    Ok(Json(response))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "the token stops working")), security(("bearer" = [])))]
pub async fn logout(
    State(state): State<SharedState>,
    SignedIn(me): SignedIn,
) -> ApiResult<StatusCode> {
    accounts::logout(&state, &me).await?;
    Ok(StatusCode::NO_CONTENT)
}
