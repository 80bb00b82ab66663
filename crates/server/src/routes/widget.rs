//! The visitor side: `/widget.js`, `/demo` and `/api/v1/widget/*`.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use switchboard_protocol::{
    AuthorKind, MarkRead, Message, NewMessage, PageView, WidgetContact, WidgetHistory,
    WidgetSession, WidgetSessionRequest,
};

use crate::client_addr::ClientAddr;
use crate::domain::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::json::Json;
use crate::services::conversations as service;
use crate::state::SharedState;
use crate::store::visitors::{self, VisitorRecord};
use crate::store::{conversations, messages};

const WIDGET_JS: &str = include_str!("../../assets/widget.js");
const DEMO_HTML: &str = include_str!("../../assets/demo.html");
/// How much history the widget loads.
const HISTORY_LIMIT: i64 = 200;

pub async fn widget_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        WIDGET_JS,
    )
}

pub async fn demo() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DEMO_HTML,
    )
}

/// The visitor named by `X-Visitor-Token`.
pub struct CurrentVisitor(pub VisitorRecord);

impl FromRequestParts<SharedState> for CurrentVisitor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = visitor_token(parts)?;
        visitors::by_token(&state.db, token)
            .await?
            .map(CurrentVisitor)
            .ok_or_else(unknown_visitor)
    }
}

/// The id of the visitor named by `X-Visitor-Token`, from memory when the
/// token was seen before: the send path needs nothing more up front.
pub struct VisitorId(pub i64);

impl FromRequestParts<SharedState> for VisitorId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = visitor_token(parts)?;
        state
            .visitor_tokens
            .visitor_id(&state.db, token)
            .await?
            .map(VisitorId)
            .ok_or_else(unknown_visitor)
    }
}

fn visitor_token(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get("x-visitor-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing X-Visitor-Token: start with POST /api/v1/widget/session",
            )
        })
}

fn unknown_visitor() -> ApiError {
    ApiError::unauthorized("unknown visitor token: start a new session")
}

fn visitor_locale(requested: Option<&str>) -> &'static str {
    match requested {
        Some(l) if l.to_ascii_lowercase().starts_with("ru") => "ru",
        _ => "en",
    }
}

#[utoipa::path(post, path = "/api/v1/widget/session", tag = "widget", request_body = WidgetSessionRequest,
    responses((status = 200, body = WidgetSession, description = "the same visitor when the token is known, else a new one"),
              (status = 429, description = "`too_many_requests`: too many new visitors from this address; see Retry-After")))]
pub async fn session(
    State(state): State<SharedState>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<WidgetSessionRequest>,
) -> ApiResult<Json<WidgetSession>> {
    let locale = visitor_locale(body.locale.as_deref());
    let known = match body.visitor_token.as_deref() {
        Some(token) => visitors::by_token(&state.db, token)
            .await?
            .map(|v| (v, token.to_string())),
        None => None,
    };
    let (visitor, token) = match known {
        Some((visitor, token)) => {
            visitors::set_locale(&state.db, visitor.id, locale).await?;
            (visitor, token)
        }
        None => {
            // Each new visitor is a row: a script opening sessions is slowed here.
            state.limits.widget_session(client)?;
            visitors::create(&state.db, locale).await?
        }
    };
    state.visitor_tokens.remember(&token, visitor.id);
    let online = state
        .widget
        .answering()
        .iter()
        .any(|&id| state.hub.is_connected(id));
    let widget = state.widget.get();
    Ok(Json(WidgetSession {
        visitor_token: token,
        visitor_id: visitor.id,
        operators: widget.operators.clone(),
        online,
        widget: Some((*widget).clone()),
    }))
}

#[utoipa::path(get, path = "/api/v1/widget/messages", tag = "widget",
    responses((status = 200, body = WidgetHistory, description = "the visitor's conversation, oldest first")),
    security(("visitor" = [])))]
pub async fn history(
    State(state): State<SharedState>,
    CurrentVisitor(visitor): CurrentVisitor,
) -> ApiResult<Json<WidgetHistory>> {
    let mut conn = state.db.pool.acquire().await?;
    let items = match conversations::of_visitor(&mut conn, visitor.id).await? {
        Some(c) => {
            let mut rows = messages::page(&mut conn, c.id, None, HISTORY_LIMIT).await?;
            rows.reverse();
            rows.iter()
                .map(|m| service::message_view(&state, m))
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Json(WidgetHistory { items }))
}

#[utoipa::path(post, path = "/api/v1/widget/messages", tag = "widget", request_body = NewMessage,
    responses((status = 201, body = Message), (status = 200, body = Message, description = "a retry with the same client_id"),
              (status = 409, description = "`client_id_reused`: this client_id was used in another conversation"),
              (status = 404, description = "`not_found`: an attachment id names no upload of this visitor that is not sent yet"),
              (status = 409, description = "`attachment_sent`: one of the files was sent with another message meanwhile"),
              (status = 422, description = "`empty_body` (no text and no files), `body_too_long`, `invalid_client_id`, `invalid_attachment`, `too_many_attachments` or `duplicate_attachment`"),
              (status = 429, description = "`too_many_requests`: too many messages from this visitor or address; see Retry-After")),
    security(("visitor" = [])))]
pub async fn post_message(
    State(state): State<SharedState>,
    VisitorId(visitor_id): VisitorId,
    ClientAddr(client): ClientAddr,
    Json(body): Json<NewMessage>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    state.limits.visitor_message(visitor_id, client)?;
    let files = match service::files_for_send(
        &state,
        AuthorKind::Visitor,
        visitor_id,
        &body.client_id,
        &body.attachments,
    )
    .await?
    {
        Ok(files) => files,
        Err(earlier) => return Ok((StatusCode::OK, Json(earlier))),
    };
    let greeting =
        crate::services::widget_settings::greeting_answered(&state, visitor_id, body.greeting_id)
            .await?;
    let posted = service::post_as_visitor(
        &state,
        visitor_id,
        service::Post {
            greeting,
            ..service::Post::chat(&body.body, &body.client_id, files)
        },
    )
    .await?;
    Ok((
        if posted.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(posted.message),
    ))
}

#[utoipa::path(put, path = "/api/v1/widget/contact", tag = "widget", request_body = WidgetContact,
    responses((status = 204, description = "saved; operators see it on the conversation"),
              (status = 422, description = "`invalid_email` or `invalid_name`"),
              (status = 429, description = "`too_many_requests`: the contact changes too often; see Retry-After")),
    security(("visitor" = [])))]
pub async fn contact(
    State(state): State<SharedState>,
    CurrentVisitor(visitor): CurrentVisitor,
    Json(body): Json<WidgetContact>,
) -> ApiResult<StatusCode> {
    state.limits.contact_change(visitor.id)?;
    let email = body
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| EmailAddress::parse(e).map_err(|m| ApiError::unprocessable("invalid_email", m)))
        .transpose()?;
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control)) {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "the name may have at most 100 printable characters",
        ));
    }
    visitors::set_contact(
        &state.db,
        visitor.id,
        email.as_ref().map(|e| e.as_str()),
        name,
    )
    .await?;
    if let Some(v) = visitors::by_id(&state.db, visitor.id).await? {
        crate::services::search::index_visitor(&state, v.id, v.name.as_deref(), v.email.as_deref())
            .await?;
    }
    // Operators see the new contact on the conversation.
    service::announce_visitor_conversation(&state, visitor.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/widget/pageview", tag = "widget", request_body = PageView,
    responses((status = 204, description = "noted: colleagues see the page, and the browser's language, time zone, browser and OS, beside the dialog"),
              (status = 422, description = "`invalid_url`, `invalid_referrer`, `invalid_language`, `invalid_time_zone` or `invalid_title`"),
              (status = 429, description = "`too_many_requests`: pages reported too often; see Retry-After")),
    security(("visitor" = [])))]
pub async fn pageview(
    State(state): State<SharedState>,
    CurrentVisitor(visitor): CurrentVisitor,
    ClientAddr(client): ClientAddr,
    headers: axum::http::HeaderMap,
    Json(page): Json<PageView>,
) -> ApiResult<StatusCode> {
    state.limits.visitor_page(visitor.id)?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    crate::services::visitors::record_page(&state, &visitor, &page, user_agent, client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/widget/read", tag = "widget", request_body = MarkRead,
    responses((status = 204, description = "read up to that message (operators see it)"),
              (status = 404, description = "`not_found`: no conversation yet, or no such message in it"),
              (status = 429, description = "`too_many_requests`: read receipts too often; see Retry-After")),
    security(("visitor" = [])))]
pub async fn read(
    State(state): State<SharedState>,
    CurrentVisitor(visitor): CurrentVisitor,
    Json(body): Json<MarkRead>,
) -> ApiResult<StatusCode> {
    state.limits.visitor_read(visitor.id)?;
    service::visitor_read(&state, &visitor, body.message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/widget/greetings/{id}/shown", tag = "widget", params(("id" = i64, Path)),
    description = "The widget asks before it shows a greeting: each showing is counted (the cap per visitor, and reports).",
    responses((status = 204, description = "show it"),
              (status = 404, description = "`not_found`: no such greeting, or it is turned off"),
              (status = 409, description = "`greeting_cap_reached`: this visitor has seen it as often as it may be shown"),
              (status = 429, description = "`too_many_requests`: asked too often; see Retry-After")),
    security(("visitor" = [])))]
pub async fn greeting_shown(
    State(state): State<SharedState>,
    CurrentVisitor(visitor): CurrentVisitor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.limits.visitor_page(visitor.id)?;
    crate::services::widget_settings::greeting_shown(&state, visitor.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
