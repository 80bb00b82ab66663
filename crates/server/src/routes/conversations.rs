//! `/api/v1/conversations*`: dialogs for the operator app.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use switchboard_protocol::{
    AuthorKind, Conversation, ConversationStatus, MarkRead, Message, NewMessage, Page,
    UpdateConversation, VisitorProfile,
};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::json::Json;
use crate::services::conversations as service;
use crate::state::SharedState;
use crate::store::conversations::{self, AssigneeFilter, ListQuery};
use crate::store::messages;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

fn limit(requested: Option<i64>) -> ApiResult<i64> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be 1..{MAX_LIMIT}"),
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// open or closed; absent, empty or `all`: both.
    #[param(pattern = "^(open|closed|all)?$")]
    pub status: Option<String>,
    /// me, none, or a user id; absent, empty or `any`: anyone.
    #[param(pattern = "^(me|none|any|[0-9]{1,15})?$")]
    pub assignee: Option<String>,
    /// The `next` cursor of the previous page.
    #[param(pattern = "^[0-9]{1,15}_[0-9]{1,15}$")]
    pub before: Option<String>,
    /// Conversations per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ListParams),
    responses((status = 200, body = Page<Conversation>, description = "the conversations this member may see, most recently active first; `next` is the cursor of the following page or null")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<SharedState>,
    me: CurrentUser,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Page<Conversation>>> {
    let status = match params.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some("open") => Some(ConversationStatus::Open),
        Some("closed") => Some(ConversationStatus::Closed),
        Some(other) => {
            return Err(ApiError::unprocessable(
                "invalid_status",
                format!("{other:?}: use open or closed"),
            ))
        }
    };
    let assignee = match params.assignee.as_deref() {
        None | Some("") | Some("any") => AssigneeFilter::Any,
        Some("me") => AssigneeFilter::User(me.user.id),
        Some("none") => AssigneeFilter::Nobody,
        Some(id) => AssigneeFilter::User(id.parse().map_err(|_| {
            ApiError::unprocessable("invalid_assignee", "assignee is me, none or a user id")
        })?),
    };
    let before = params
        .before
        .as_deref()
        .map(|c| {
            c.split_once('_')
                .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
                .ok_or_else(|| {
                    ApiError::unprocessable("invalid_cursor", "before must be a cursor from `next`")
                })
        })
        .transpose()?;
    let limit = limit(params.limit)?;
    let rows = conversations::list(
        &state.db,
        &ListQuery {
            viewer: me.user.id,
            status,
            assignee,
            before,
            limit: limit + 1,
        },
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let mut conn = state.db.pool.acquire().await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        items.push(service::conversation_view(&state, &mut conn, row).await?);
    }
    let next = more
        .then(|| {
            items
                .last()
                .map(|c: &Conversation| format!("{}_{}", c.updated_at, c.id))
        })
        .flatten();
    Ok(Json(Page { items, next }))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = switchboard_protocol::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<SharedState>,
    me: CurrentUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Conversation>> {
    let mut conn = state.db.pool.acquire().await?;
    let c = conversations::get(&mut conn, id, me.user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    Ok(Json(
        service::conversation_view(&state, &mut conn, &c).await?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations", params(("id" = i64, Path)),
    request_body = UpdateConversation,
    responses((status = 200, body = Conversation),
              (status = 422, description = "`invalid_assignee`: the assignee is not a member who answers visitors")), security(("bearer" = [])))]
pub async fn patch(
    State(state): State<SharedState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<UpdateConversation>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(
        service::update(&state, &me, id, body.status, body.assignee_id).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// The `next` cursor of the previous page (a message id): the page holds
    /// messages older than it.
    #[param(pattern = "^[0-9]{0,15}$")]
    pub before: Option<String>,
    /// Messages per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations", params(("id" = i64, Path), PageParams),
    responses((status = 200, body = Page<Message>, description = "the newest messages before the cursor, oldest first within the page; `next` is the cursor of older ones or null")), security(("bearer" = [])))]
pub async fn messages(
    State(state): State<SharedState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Page<Message>>> {
    let limit = limit(params.limit)?;
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
    let mut conn = state.db.pool.acquire().await?;
    conversations::get(&mut conn, id, me.user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let mut rows = messages::page(&mut conn, id, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    rows.reverse();
    let next = if more {
        rows.first().map(|m| m.id.to_string())
    } else {
        None
    };
    Ok(Json(Page {
        items: rows
            .iter()
            .map(|m| service::message_view(&state, m))
            .collect(),
        next,
    }))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations", params(("id" = i64, Path)),
    request_body = NewMessage,
    responses((status = 201, body = Message), (status = 200, body = Message, description = "a retry: the first message with this client_id"),
              (status = 404, description = "`not_found`: no such conversation, or an attachment id names no upload of this member that is not sent yet"),
              (status = 409, description = "`client_id_reused`: this client_id was used for another conversation; `attachment_sent`: one of the files was sent with another message meanwhile"),
              (status = 422, description = "`empty_body` (no text and no files), `body_too_long`, `invalid_client_id`, `invalid_attachment`, `too_many_attachments` or `duplicate_attachment`")),
    security(("bearer" = [])))]
pub async fn post_message(
    State(state): State<SharedState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<NewMessage>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    me.require_answering()?;
    let files = match service::files_for_send(
        &state,
        AuthorKind::Operator,
        me.user.id,
        &body.client_id,
        &body.attachments,
    )
    .await?
    {
        Ok(files) => files,
        Err(earlier) => return Ok((StatusCode::OK, Json(earlier))),
    };
    let posted = service::post_as_operator(
        &state,
        &me.user,
        id,
        service::Post::chat(&body.body, &body.client_id, files),
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

#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "conversations", params(("id" = i64, Path)),
    request_body = MarkRead, responses((status = 204, description = "read up to that message (the visitor sees it)")), security(("bearer" = [])))]
pub async fn read(
    State(state): State<SharedState>,
    me: CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<MarkRead>,
) -> ApiResult<StatusCode> {
    service::mark_read(&state, &me, id, body.message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/visitors/{id}", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 200, body = VisitorProfile, description = "who the visitor is: language, time zone, browser, OS, where they came from, the pages they saw, their conversations")),
    security(("bearer" = [])))]
pub async fn visitor(
    State(state): State<SharedState>,
    _me: CurrentUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<VisitorProfile>> {
    Ok(Json(crate::services::visitors::profile(&state, id).await?))
}
