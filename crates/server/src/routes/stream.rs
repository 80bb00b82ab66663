//! The websocket streams: `/api/v1/stream` (operators) and
//! `/api/v1/widget/stream` (one visitor's conversation).
//!
//! Frames: `ready` with the latest seq, then (with `since`) the missed events in
//! order, then live events — no gap, no repeat — or `reset` when `since` is no
//! longer kept. Each connection follows the hub at its own pace; one that cannot
//! take a frame within `SEND_TIMEOUT` or stops answering pings is dropped.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use switchboard_protocol::{event, Author, AuthorKind, ClientFrame, StreamFrame};
use tokio::time::{timeout, Instant};

use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::hub::Party;
use crate::services::conversations as service;
use crate::state::SharedState;
use crate::store::events::StoredEvent;
use crate::store::visitors::{self, VisitorRecord};
use crate::store::{conversations, events};

const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(25);
/// A peer that has not answered for this long is gone.
const DEAD_AFTER: Duration = Duration::from_secs(70);
const BATCH: usize = 256;
/// At most one stored typing event per author and conversation this often.
const TYPING_EVERY: Duration = Duration::from_millis(1500);

#[derive(Debug, Deserialize)]
pub struct StreamParams {
    since: Option<i64>,
    token: Option<String>,
    visitor_token: Option<String>,
}

/// Whose stream this is: it decides which events it shows.
enum Viewer {
    Operator(CurrentUser),
    Visitor(VisitorRecord),
}

fn upgrade(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    // Small buffers: an idle connection costs a few KB instead of ~130 KB.
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(64 * 1024)
}

pub async fn operator_stream(
    State(state): State<SharedState>,
    Query(params): Query<StreamParams>,
    ws: WebSocketUpgrade,
    parts: Parts,
) -> ApiResult<Response> {
    let token = auth::bearer_token(&parts)
        .map(str::to_string)
        .or(params.token.clone())
        .ok_or_else(|| {
            ApiError::unauthorized("missing bearer token (header, or ?token= for browsers)")
        })?;
    let user = auth::authenticate(&state, &token).await?;
    Ok(upgrade(ws)
        .on_upgrade(move |socket| run(state, socket, Viewer::Operator(user), params.since)))
}

pub async fn visitor_stream(
    State(state): State<SharedState>,
    Query(params): Query<StreamParams>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let token = params
        .visitor_token
        .as_deref()
        .ok_or_else(|| ApiError::unauthorized("missing ?visitor_token="))?;
    let visitor = visitors::by_token(&state.db, token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown visitor token"))?;
    Ok(upgrade(ws)
        .on_upgrade(move |socket| run(state, socket, Viewer::Visitor(visitor), params.since)))
}

async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        timeout(SEND_TIMEOUT, socket.send(WsMessage::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

fn frame(f: &StreamFrame) -> String {
    serde_json::to_string(f).expect("frames serialise")
}

async fn run(state: SharedState, mut socket: WebSocket, viewer: Viewer, since: Option<i64>) {
    let _presence = state.hub.connected(match &viewer {
        Viewer::Operator(me) => Party::User(me.user.id),
        Viewer::Visitor(v) => Party::Visitor(v.id),
    });
    let mut latest = state.hub.subscribe();
    let ready_seq = state.hub.latest_seq();
    if !send(&mut socket, frame(&StreamFrame::Ready { seq: ready_seq })).await {
        return;
    }
    let mut cursor = ready_seq;
    if let Some(since) = since {
        let oldest = events::oldest(&state.db).await.ok().flatten();
        let kept = since >= 0 && since <= ready_seq && oldest.is_none_or(|o| since >= o - 1);
        if kept {
            cursor = since;
        } else if !send(&mut socket, frame(&StreamFrame::Reset)).await {
            return;
        }
    }
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_typing: Option<Instant> = None;
    loop {
        // Catch up with everything committed so far.
        loop {
            let batch = match state.hub.events_after(cursor, BATCH).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "stream: reading events failed");
                    return;
                }
            };
            if batch.is_empty() {
                break;
            }
            for ev in &batch {
                cursor = ev.seq;
                if let Some(text) = render(&state, &viewer, ev).await {
                    if !send(&mut socket, text).await {
                        return; // too slow or gone: the client resumes with `since`
                    }
                }
            }
        }
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { return },
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    last_heard = Instant::now();
                    if let Ok(ClientFrame::Typing { conversation_id }) = serde_json::from_str::<ClientFrame>(&text) {
                        let throttled = last_typing.is_some_and(|t| t.elapsed() < TYPING_EVERY);
                        if !throttled {
                            last_typing = Some(Instant::now());
                            typing(&state, &viewer, conversation_id).await;
                        }
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    return;
                }
                if !matches!(timeout(SEND_TIMEOUT, socket.send(WsMessage::Ping(Vec::new().into()))).await, Ok(Ok(()))) {
                    return;
                }
            }
        }
    }
}

/// The frame a viewer gets for an event, or None when it is not theirs to see.
async fn render(state: &SharedState, viewer: &Viewer, ev: &Arc<StoredEvent>) -> Option<String> {
    let own_typing = |kind: &str, id: i64| {
        ev.name == event::TYPING
            && serde_json::from_str::<serde_json::Value>(&ev.data)
                .ok()
                .is_some_and(|d| {
                    d["author"]["kind"] == kind && d["author"]["id"].as_i64() == Some(id)
                })
    };
    match viewer {
        Viewer::Visitor(v) => {
            let theirs = ev.visitor_id == Some(v.id)
                && matches!(
                    ev.name.as_str(),
                    event::MESSAGE_CREATED
                        | event::TYPING
                        | event::READ
                        | event::CONVERSATION_UPDATED
                        | event::CONVERSATION_CREATED
                );
            if !theirs || own_typing("visitor", v.id) {
                return None;
            }
            Some(raw_frame(ev, &ev.data))
        }
        Viewer::Operator(me) => {
            if own_typing("operator", me.user.id) {
                return None;
            }
            // `unread` is per operator: recomputed for this one.
            if ev.name == event::CONVERSATION_CREATED || ev.name == event::CONVERSATION_UPDATED {
                if let (Some(id), Ok(mut data)) = (
                    ev.conversation_id,
                    serde_json::from_str::<serde_json::Value>(&ev.data),
                ) {
                    if let Ok(mut conn) = state.db.pool.acquire().await {
                        if let Ok(Some(c)) = conversations::get(&mut conn, id, me.user.id).await {
                            data["unread"] = c.unread.into();
                        }
                    }
                    return Some(raw_frame(ev, &data.to_string()));
                }
            }
            Some(raw_frame(ev, &ev.data))
        }
    }
}

/// The event frame, built without re-parsing the stored JSON.
fn raw_frame(ev: &StoredEvent, data: &str) -> String {
    format!(
        r#"{{"type":"event","seq":{},"event":{},"data":{}}}"#,
        ev.seq,
        serde_json::Value::from(ev.name.as_str()),
        data
    )
}

async fn typing(state: &SharedState, viewer: &Viewer, conversation_id: Option<i64>) {
    let result = match viewer {
        Viewer::Visitor(v) => {
            let Ok(mut conn) = state.db.pool.acquire().await else {
                return;
            };
            let Ok(Some(c)) = conversations::of_visitor(&mut conn, v.id).await else {
                return;
            };
            drop(conn);
            let author = Author {
                kind: AuthorKind::Visitor,
                id: Some(v.id),
                name: v.name.clone(),
                avatar_url: None,
            };
            service::typing(state, v.id, c.id, author).await
        }
        Viewer::Operator(me) => {
            let Some(id) = conversation_id else { return };
            let Ok(mut conn) = state.db.pool.acquire().await else {
                return;
            };
            let Ok(Some(c)) = conversations::get(&mut conn, id, me.user.id).await else {
                return;
            };
            drop(conn);
            if !me.user.role.answers_visitors() {
                return;
            }
            let author = Author {
                kind: AuthorKind::Operator,
                id: Some(me.user.id),
                name: Some(me.user.name.clone()).filter(|n| !n.is_empty()),
                avatar_url: state.avatar_url(me.user.avatar_file.as_deref()),
            };
            service::typing(state, c.visitor_id, c.id, author).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = ?e.message, "typing event not stored");
    }
}
