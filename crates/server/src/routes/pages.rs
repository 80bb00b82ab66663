//! Plain pages and files: health, the personal cabinet, avatars, the dev mailbox.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::auth::{self, CurrentUser};
use crate::avatar;
use crate::client_addr::ClientAddr;
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::json::Json;
use crate::mail::dev_mailbox::{self, MailboxEntry};
use crate::state::SharedState;
use crate::store_fault::Fault;

#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, body = String, content_type = "text/plain", description = "`ok`: the server can serve"),
              (status = 503, body = String, content_type = "text/plain", description = "the database does not answer, or writes fail (`cannot write: storage full`)")))]
pub async fn healthz(State(state): State<SharedState>) -> Response {
    if let Err(e) = sqlx::query("SELECT 1").execute(&state.db.pool).await {
        tracing::error!(error = %e, "health check: database unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response();
    }
    // A moment past the last write that met a full disk, still "cannot": at
    // the edge some small writes fit while messages do not.
    let recently_full = state
        .db
        .storage_full_within(std::time::Duration::from_secs(2));
    if recently_full || !state.db.can_write().await {
        let why = match state.db.write_fault() {
            Fault::StorageFull => "cannot write: storage full",
            _ if recently_full => "cannot write: storage full",
            _ => "cannot write: the database refuses writes",
        };
        return (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    }
    (StatusCode::OK, "ok").into_response()
}

const CABINET_HTML: &str = include_str!("../../assets/cabinet.html");

pub async fn cabinet() -> Html<&'static str> {
    Html(CABINET_HTML)
}

#[utoipa::path(get, path = "/avatars/{file}", tag = "meta", params(("file" = String, Path, description = "the file name from a member's `avatar_url`")),
    responses((status = 200, content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg")), description = "the avatar; cached for a year (a new upload gets a new name)"),
              (status = 404, body = switchboard_protocol::ErrorBody, description = "`not_found`")))]
pub async fn avatar_file(
    State(state): State<SharedState>,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let valid = file
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !file.starts_with('.')
        && (file.ends_with(".png") || file.ends_with(".jpg"));
    if !valid {
        return Err(ApiError::not_found("avatar"));
    }
    let bytes = state
        .files
        .get(&format!("avatars/{file}"))
        .await?
        .ok_or_else(|| ApiError::not_found("avatar"))?;
    Ok((
        [
            (header::CONTENT_TYPE, avatar::content_type_of(&file)),
            // Each upload gets a new file name, so a stored avatar never changes.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(get, path = "/dev/mailbox", tag = "meta",
    responses((status = 200, body = Vec<MailboxEntry>, description = "emails kept by the dev mailbox, newest first"),
              (status = 404, description = "an SMTP relay is configured")))]
pub async fn mailbox(
    State(state): State<SharedState>,
    ClientAddr(client): ClientAddr,
    parts: Parts,
) -> ApiResult<Json<Vec<MailboxEntry>>> {
    let dir = mailbox_dir(&state, client, &parts).await?;
    Ok(Json(dev_mailbox::list(dir).await?))
}

pub async fn mailbox_file(
    State(state): State<SharedState>,
    ClientAddr(client): ClientAddr,
    Path(file): Path<String>,
    parts: Parts,
) -> ApiResult<Response> {
    let dir = mailbox_dir(&state, client, &parts).await?;
    let bytes = dev_mailbox::read(dir, &file)
        .await
        .ok_or_else(|| ApiError::not_found("email"))?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], bytes).into_response())
}

/// The dev mailbox holds invitation emails with their passwords: it is shown
/// to this machine (loopback) and to signed-in admins, and to nobody else.
async fn mailbox_dir<'s>(
    state: &'s SharedState,
    client: std::net::IpAddr,
    parts: &Parts,
) -> ApiResult<&'s std::path::PathBuf> {
    let dir = state
        .dev_mailbox
        .as_ref()
        .ok_or_else(|| ApiError::not_found("dev mailbox"))?;
    if client.is_loopback() {
        return Ok(dir);
    }
    let token = auth::bearer_token(parts).ok_or_else(|| ApiError::not_found("dev mailbox"))?;
    // The same rules as every admin route; any refusal looks like no mailbox.
    auth::authenticate(state, token)
        .await
        .and_then(CurrentUser::require_own_password)
        .and_then(|me| me.require_admin())
        .map(|()| dir)
        .map_err(|_| ApiError::not_found("dev mailbox"))
}
