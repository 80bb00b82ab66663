//! `/api/v1/me*`: a member's own personal data and notification switches.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use switchboard_protocol::{
    ChangePassword, NotificationSettings, Presence, SetPresence, UpdateMe, User,
};

use crate::auth::{CurrentUser, SignedIn};
use crate::avatar;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::services::accounts;
use crate::state::SharedState;
use crate::store::{events, users};

const MAX_NAME_CHARS: usize = 100;
pub const LOCALES: [&str; 2] = ["en", "ru"];

async fn fresh(state: &SharedState, id: i64) -> ApiResult<Json<User>> {
    let user = users::by_id(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(state.user_view(&user)))
}

/// Tells every operator's app that a member's public face changed.
async fn announce(state: &SharedState, id: i64) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    append_team_updated(&mut tx.tx, id).await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(())
}

async fn append_team_updated(conn: &mut sqlx::AnyConnection, id: i64) -> ApiResult<()> {
    let data = serde_json::json!({ "user_id": id });
    events::append(conn, switchboard_protocol::event::TEAM_UPDATED, None, &data).await?;
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = User)), security(("bearer" = [])))]
pub async fn get_me(
    State(state): State<SharedState>,
    SignedIn(me): SignedIn,
) -> ApiResult<Json<User>> {
    Ok(Json(state.user_view(&me.user)))
}

#[utoipa::path(patch, path = "/api/v1/me", tag = "me", request_body = UpdateMe,
    responses((status = 200, body = User), (status = 422, description = "`invalid_name` or `invalid_locale`")), security(("bearer" = [])))]
pub async fn patch_me(
    State(state): State<SharedState>,
    SignedIn(me): SignedIn,
    Json(body): Json<UpdateMe>,
) -> ApiResult<Json<User>> {
    let name = match body.name {
        Some(name) => {
            let name = name.trim().to_string();
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(ApiError::unprocessable(
                    "invalid_name",
                    format!("the name may have at most {MAX_NAME_CHARS} characters"),
                ));
            }
            if name.chars().any(char::is_control) {
                return Err(ApiError::unprocessable(
                    "invalid_name",
                    "the name may not contain control characters",
                ));
            }
            name
        }
        None => me.user.name.clone(),
    };
    let locale = match body.locale {
        Some(locale) if LOCALES.contains(&locale.as_str()) => locale,
        Some(other) => {
            return Err(ApiError::unprocessable(
                "invalid_locale",
                format!("{other:?} is not a locale: use en or ru"),
            ))
        }
        None => me.user.locale.clone(),
    };
    users::set_profile(&state.db, me.user.id, &name, &locale).await?;
    announce(&state, me.user.id).await?;
    fresh(&state, me.user.id).await
}

#[utoipa::path(put, path = "/api/v1/me/password", tag = "me", request_body = ChangePassword,
    responses((status = 204, description = "changed; must_change_password is cleared, other sessions end"),
              (status = 422, description = "`wrong_current_password`, `weak_password` (8 to 256 characters) or `same_password`")), security(("bearer" = [])))]
pub async fn put_password(
    State(state): State<SharedState>,
    SignedIn(me): SignedIn,
    Json(body): Json<ChangePassword>,
) -> ApiResult<StatusCode> {
    accounts::change_password(
        &state,
        me.user.id,
        &me.token,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/me/avatar", tag = "me",
    request_body(content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/gif")),
        description = "the image's bytes, at most 1,048,576 bytes; stored re-encoded (PNG or JPEG), metadata dropped"),
    responses((status = 200, body = User), (status = 413, description = "`payload_too_large`: over 1 MiB"),
              (status = 415, description = "`unsupported_media_type`: not one of the four image types"),
              (status = 422, description = "`not_an_image` or `image_type_mismatch`: the bytes are not an image of the declared type")),
    security(("bearer" = [])))]
pub async fn put_avatar(
    State(state): State<SharedState>,
    me: CurrentUser,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<User>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = avatar::declared_format(content_type)?;
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || ApiError::too_large("the avatar may be at most 1 MB (1,048,576 bytes)");
    if declared_len.is_some_and(|n| n > avatar::MAX_BYTES) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, avatar::MAX_BYTES)
        .await
        .map_err(|_| too_large())?;
    let stored = tokio::task::spawn_blocking(move || avatar::process(&bytes, format))
        .await
        .map_err(ApiError::internal)??;
    let file = format!(
        "{}-{:016x}.{}",
        me.user.id,
        rand::random::<u64>(),
        stored.extension
    );
    state
        .files
        .put(&format!("avatars/{file}"), &stored.bytes)
        .await?;
    users::set_avatar(&state.db, me.user.id, Some(&file)).await?;
    remove_avatar_file(&state, me.user.avatar_file.as_deref()).await;
    announce(&state, me.user.id).await?;
    fresh(&state, me.user.id).await
}

#[utoipa::path(delete, path = "/api/v1/me/avatar", tag = "me", responses((status = 200, body = User)), security(("bearer" = [])))]
pub async fn delete_avatar(
    State(state): State<SharedState>,
    me: CurrentUser,
) -> ApiResult<Json<User>> {
    users::set_avatar(&state.db, me.user.id, None).await?;
    remove_avatar_file(&state, me.user.avatar_file.as_deref()).await;
    announce(&state, me.user.id).await?;
    fresh(&state, me.user.id).await
}

async fn remove_avatar_file(state: &SharedState, file: Option<&str>) {
    if let Some(file) = file {
        if let Err(e) = state.files.delete(&format!("avatars/{file}")).await {
            tracing::warn!(file, error = %e, "could not delete a replaced avatar");
        }
    }
}

#[utoipa::path(put, path = "/api/v1/me/notifications", tag = "me", request_body = NotificationSettings,
    responses((status = 200, body = User)), security(("bearer" = [])))]
pub async fn put_notifications(
    State(state): State<SharedState>,
    me: CurrentUser,
    Json(body): Json<NotificationSettings>,
) -> ApiResult<Json<User>> {
    users::set_notifications(&state.db, me.user.id, body).await?;
    fresh(&state, me.user.id).await
}

#[utoipa::path(put, path = "/api/v1/me/presence", tag = "me", request_body = SetPresence,
    responses((status = 200, body = User), (status = 422, description = "`invalid_presence`: only online or away can be set")), security(("bearer" = [])))]
pub async fn put_presence(
    State(state): State<SharedState>,
    me: CurrentUser,
    Json(body): Json<SetPresence>,
) -> ApiResult<Json<User>> {
    let away = match body.presence {
        Presence::Online => false,
        Presence::Away => true,
        Presence::Offline => {
            return Err(ApiError::unprocessable(
                "invalid_presence",
                "set online or away; offline follows from having no live stream",
            ))
        }
    };
    // The change and its announcement commit together: every node's widget
    // view learns who answers visitors now from the log.
    let mut tx = state.db.begin_write().await?;
    users::set_away(&mut tx.tx, me.user.id, away).await?;
    append_team_updated(&mut tx.tx, me.user.id).await?;
    tx.commit().await?;
    state.hub.wake();
    fresh(&state, me.user.id).await
}
