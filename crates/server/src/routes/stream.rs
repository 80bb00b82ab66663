//! The websocket streams: `/api/v1/stream` (operators) and
//! `/api/v1/widget/stream` (one visitor's conversation).
//!
//! Frames: `ready` with the latest seq, then (with `since`) the missed events in
//! order, then live events — no gap, no repeat — or `reset` when `since` is no
//! longer kept. Each connection follows the hub at its own pace; one that cannot
//! take a frame within `SEND_TIMEOUT` or stops answering pings is dropped.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::SinkExt;
use serde::Deserialize;
use switchboard_protocol::{
    event, Author, AuthorKind, ClientFrame, PublicWidget, Role, StreamFrame,
};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Query, WebSocketUpgrade};
use crate::hub::{Hub, LiveEvent, VisitorFollow};
use crate::services::conversations as service;
use crate::state::SharedState;
use crate::store::{conversations, events};

const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(25);
/// A peer that has not answered for this long is gone.
const DEAD_AFTER: Duration = Duration::from_secs(70);
const BATCH: usize = 256;
/// At most one stored typing event per author and conversation this often.
const TYPING_EVERY: Duration = Duration::from_millis(1500);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StreamParams {
    /// The last `seq` this client has seen: the events after it come first,
    /// then live ones; absent: live ones only.
    since: Option<i64>,
    /// The member's token, for clients that cannot set `Authorization`
    /// (browsers); operator stream only.
    token: Option<String>,
    /// The visitor's token; visitor stream only.
    visitor_token: Option<String>,
}

/// Whose stream this is: it decides which events it shows.
enum Viewer {
    Operator(CurrentUser),
    /// A visitor, by id.
    Visitor(i64),
}

/// Clients send small JSON frames (typing): anything larger is refused with
/// 1008 before it is buffered (tungstenite's default would take 16 MiB).
const MAX_CLIENT_FRAME: usize = 16 * 1024;
/// How often a long-lived operator stream checks its session again, besides
/// at every change of its member's account (expiry needs no event).
const RECHECK_EVERY: Duration = Duration::from_secs(300);

fn upgrade(WebSocketUpgrade(ws): WebSocketUpgrade) -> axum::extract::WebSocketUpgrade {
    // Small buffers: an idle connection costs a few KB instead of ~130 KB.
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_frame_size(MAX_CLIENT_FRAME)
        .max_message_size(MAX_CLIENT_FRAME)
}

#[utoipa::path(get, path = "/api/v1/stream", tag = "stream", params(StreamParams),
    description = "The operator's live feed (websocket). The server sends JSON text frames (`StreamFrame`): first `{\"type\":\"ready\",\"seq\":N}` with the newest seq, \
then — when `since` is given — every event after it in order, then live events `{\"type\":\"event\",\"seq\",\"event\",\"data\"}` \
with no gap and no repeat; `{\"type\":\"reset\"}` when `since` is older than what is kept (reload, then follow). \
The client may send `ClientFrame`s (`{\"type\":\"typing\",\"conversation_id\"}`), at most 16 KiB each (larger: close 1008). \
Pings every 25 s; a peer silent for 70 s is dropped. \
Events: `conversation.created`, `conversation.updated`, `message.created`, `typing`, `read`, `team.updated`. \
Close codes: 4401 the session ended (signed out, removed, password changed, expired: do not reconnect), \
4403 the role changed (reconnect), 1013 the server is overloaded (reconnect later).",
    responses((status = 101, description = "switching to the websocket protocol"),
              (status = 426, body = switchboard_protocol::ErrorBody, description = "`upgrade_required`: not a websocket handshake")),
    security(("bearer" = [])))]
pub async fn operator_stream(
    State(state): State<SharedState>,
    Query(params): Query<StreamParams>,
    // Who asks is checked before how: a stranger hears 401 whatever they send.
    ws: Result<WebSocketUpgrade, ApiError>,
    parts: Parts,
) -> ApiResult<Response> {
    let token = auth::bearer_token(&parts)
        .map(str::to_string)
        .or(params.token.clone())
        .ok_or_else(|| {
            ApiError::unauthorized("missing bearer token (header, or ?token= for browsers)")
        })?;
    let user = auth::authenticate(&state, &token)
        .await?
        .require_own_password()?;
    Ok(upgrade(ws?)
        .on_upgrade(move |socket| run(state, socket, Viewer::Operator(user), params.since)))
}

#[utoipa::path(get, path = "/api/v1/widget/stream", tag = "stream", params(StreamParams),
    description = "One visitor's live feed of their conversation (websocket): the same frames as `/api/v1/stream`. The server sends JSON text frames (`StreamFrame`): first `{\"type\":\"ready\",\"seq\":N}` with the newest seq, \
then — when `since` is given — every event after it in order, then live events `{\"type\":\"event\",\"seq\",\"event\",\"data\"}` \
with no gap and no repeat; `{\"type\":\"reset\"}` when `since` is older than what is kept (reload, then follow). \
The client may send `ClientFrame`s (`{\"type\":\"typing\",\"conversation_id\"}`), at most 16 KiB each (larger: close 1008). \
Pings every 25 s; a peer silent for 70 s is dropped. \
Events: `message.created`, `typing`, `read` of that conversation only. At most 8 streams per visitor (429 beyond).",
    responses((status = 101, description = "switching to the websocket protocol"),
              (status = 426, body = switchboard_protocol::ErrorBody, description = "`upgrade_required`: not a websocket handshake"),
              (status = 429, description = "`too_many_requests`: this visitor has 8 streams open")),
    security(("visitor" = [])))]
pub async fn visitor_stream(
    State(state): State<SharedState>,
    Query(params): Query<StreamParams>,
    ws: Result<WebSocketUpgrade, ApiError>,
) -> ApiResult<Response> {
    let token = params
        .visitor_token
        .as_deref()
        .ok_or_else(|| ApiError::unauthorized("missing ?visitor_token="))?;
    // From the node's memory of tokens when it can: widgets reconnect often.
    let visitor = state
        .visitor_tokens
        .visitor_id(&state.db, token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown visitor token"))?;
    let ws = ws?;
    let slot = state.limits.open_visitor_stream(visitor)?;
    Ok(upgrade(ws).on_upgrade(move |socket| async move {
        run(state, socket, Viewer::Visitor(visitor), params.since).await;
        drop(slot);
    }))
}

async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        timeout(SEND_TIMEOUT, socket.send(WsMessage::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

/// Queues frames without writing them out; `flush` sends what is queued, in
/// one write when it fits (one system call per batch instead of per frame).
async fn feed(socket: &mut WebSocket, text: Utf8Bytes) -> bool {
    matches!(
        timeout(SEND_TIMEOUT, socket.feed(WsMessage::Text(text))).await,
        Ok(Ok(()))
    )
}

async fn flush(socket: &mut WebSocket) -> bool {
    matches!(timeout(SEND_TIMEOUT, socket.flush()).await, Ok(Ok(())))
}

fn frame(f: &StreamFrame) -> String {
    serde_json::to_string(f).expect("frames serialise")
}

/// What a stream follows: every event (operators) or one visitor's feed.
enum Follow<'a> {
    All(&'a Hub, watch::Receiver<i64>),
    Visitor(VisitorFollow<'a>),
}

impl Follow<'_> {
    async fn events_after(&self, seq: i64) -> Result<Vec<Arc<LiveEvent>>, sqlx::Error> {
        match self {
            Follow::All(hub, _) => hub.events_after(seq, BATCH).await,
            Follow::Visitor(feed) => feed.events_after(seq, BATCH).await,
        }
    }

    async fn changed(&mut self) -> Result<(), watch::error::RecvError> {
        match self {
            Follow::All(_, latest) => latest.changed().await,
            Follow::Visitor(feed) => feed.changed().await,
        }
    }
}

async fn run(state: SharedState, mut socket: WebSocket, mut viewer: Viewer, since: Option<i64>) {
    let hub = &*state.hub;
    // Operators count as present (`_presence`); a visitor's feed does that.
    let (_presence, mut follow) = match &viewer {
        Viewer::Operator(me) => (
            Some(hub.connected(me.user.id)),
            Follow::All(hub, hub.subscribe()),
        ),
        Viewer::Visitor(v) => (None, Follow::Visitor(hub.follow_visitor(*v))),
    };
    // Visitors' widgets apply the widget's settings live.
    let mut widget = match &viewer {
        Viewer::Visitor(_) => Some(state.widget.subscribe()),
        Viewer::Operator(_) => None,
    };
    let ready_seq = hub.latest_seq();
    if !send(&mut socket, frame(&StreamFrame::Ready { seq: ready_seq })).await {
        return;
    }
    let mut cursor = ready_seq;
    if let Some(since) = since {
        let oldest = events::oldest(&state.db).await.ok().flatten();
        // A cursor from another node may be ahead of this node's hub for
        // a moment: the log itself says whether it exists.
        let known = since <= ready_seq
            || events::latest(&state.db)
                .await
                .is_ok_and(|latest| since <= latest);
        let kept = since >= 0 && known && oldest.is_none_or(|o| since >= o - 1);
        if kept {
            cursor = since;
        } else if !send(&mut socket, frame(&StreamFrame::Reset)).await {
            return;
        }
    }
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_typing: Option<Instant> = None;
    let mut last_check = Instant::now();
    loop {
        // Catch up with everything committed so far.
        loop {
            let batch = match follow.events_after(cursor).await {
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
                if concerns_session(&viewer, ev) {
                    if let Err(close) = recheck(&state, &mut viewer).await {
                        return say_goodbye(&mut socket, close).await;
                    }
                }
                if let Some(text) = render(&state, &viewer, ev).await {
                    if !feed(&mut socket, text).await {
                        return; // too slow or gone: the client resumes with `since`
                    }
                }
            }
            if !flush(&mut socket).await {
                return;
            }
        }
        tokio::select! {
            changed = follow.changed() => if changed.is_err() { return },
            settings = widget_changed(&mut widget) => {
                if !send(&mut socket, frame(&StreamFrame::Widget { widget: (*settings).clone() })).await {
                    return;
                }
            },
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
                Some(Err(e)) => {
                    // A frame over the limit (or a broken one): say why, then go.
                    let close = (close_code::POLICY, format!("{e}"));
                    return say_goodbye(&mut socket, close).await;
                }
                Some(Ok(WsMessage::Close(_))) | None => return,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    return;
                }
                if last_check.elapsed() >= RECHECK_EVERY {
                    last_check = Instant::now();
                    if let Err(close) = recheck(&state, &mut viewer).await {
                        return say_goodbye(&mut socket, close).await;
                    }
                }
                if !matches!(timeout(SEND_TIMEOUT, socket.send(WsMessage::Ping(Vec::new().into()))).await, Ok(Ok(()))) {
                    return;
                }
            }
        }
    }
}

/// The widget's settings when they change (never, for operators).
async fn widget_changed(rx: &mut Option<watch::Receiver<Arc<PublicWidget>>>) -> Arc<PublicWidget> {
    if let Some(rx) = rx {
        if rx.changed().await.is_ok() {
            return rx.borrow_and_update().clone();
        }
    }
    std::future::pending().await
}

/// Why a stream is closed: a close code and a reason for the client.
type Goodbye = (u16, String);

mod close_code {
    pub use switchboard_protocol::close_code::{ROLE_CHANGED, SESSION_ENDED};
    /// RFC 6455 "policy violation".
    pub const POLICY: u16 = 1008;
}

async fn say_goodbye(socket: &mut WebSocket, (code, reason): Goodbye) {
    let frame = CloseFrame {
        code,
        reason: reason.chars().take(120).collect::<String>().into(),
    };
    let _ = timeout(SEND_TIMEOUT, socket.send(WsMessage::Close(Some(frame)))).await;
}

/// Whether an event may have changed whether this operator's token still
/// works or what their role lets them see.
fn concerns_session(viewer: &Viewer, ev: &LiveEvent) -> bool {
    let Viewer::Operator(me) = viewer else {
        return false;
    };
    (ev.name == event::TEAM_UPDATED || ev.name == events::SESSION_ENDED)
        && serde_json::from_str::<serde_json::Value>(&ev.data)
            .is_ok_and(|d| d["user_id"].as_i64() == Some(me.user.id))
}

/// Checks an operator's token again: Err when the stream must close — the
/// session ended (4401) or the role changed to one that sees less (4403).
async fn recheck(state: &SharedState, viewer: &mut Viewer) -> Result<(), Goodbye> {
    let Viewer::Operator(me) = viewer else {
        return Ok(());
    };
    match auth::authenticate(state, &me.token).await {
        Ok(now) if now.user.role == me.user.role || now.user.role == Role::Admin => {
            *me = now;
            Ok(())
        }
        Ok(now) => Err((
            close_code::ROLE_CHANGED,
            format!("your role is now {}", now.user.role.as_str()),
        )),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            Err((close_code::SESSION_ENDED, e.message))
        }
        // The database is unreachable: keep the stream; the next check decides.
        Err(_) => Ok(()),
    }
}

/// The frame a viewer gets for an event, or None when it is not theirs to see.
async fn render(state: &SharedState, viewer: &Viewer, ev: &Arc<LiveEvent>) -> Option<Utf8Bytes> {
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
            let theirs = ev.visitor_id == Some(*v)
                && matches!(
                    ev.name.as_str(),
                    event::MESSAGE_CREATED
                        | event::TYPING
                        | event::READ
                        | event::CONVERSATION_UPDATED
                        | event::CONVERSATION_CREATED
                );
            if !theirs || own_typing("visitor", *v) {
                return None;
            }
            Some(ev.frame())
        }
        Viewer::Operator(me) => {
            if own_typing("operator", me.user.id) || ev.name == events::SESSION_ENDED {
                return None;
            }
            // `unread` is per operator: recomputed for this one. (Nobody has
            // read a conversation that was just created: its stored count is
            // everyone's.)
            if ev.name == event::CONVERSATION_UPDATED {
                if let (Some(id), Ok(mut data)) = (
                    ev.conversation_id,
                    serde_json::from_str::<serde_json::Value>(&ev.data),
                ) {
                    if let Ok(mut conn) = state.db.pool.acquire().await {
                        if let Ok(Some(c)) = conversations::get(&mut conn, id, me.user.id).await {
                            data["unread"] = c.unread.into();
                        }
                    }
                    return Some(ev.frame_with(&data.to_string()).into());
                }
            }
            Some(ev.frame())
        }
    }
}

async fn typing(state: &SharedState, viewer: &Viewer, conversation_id: Option<i64>) {
    let result = match viewer {
        Viewer::Visitor(v) => {
            if !state.limits.visitor_typing(*v) {
                return; // several tabs typing at once: the excess is dropped
            }
            let Ok(mut conn) = state.db.pool.acquire().await else {
                return;
            };
            let Ok(Some(c)) = conversations::of_visitor(&mut conn, *v).await else {
                return;
            };
            drop(conn);
            // The name as it is now (a visitor may leave one mid-conversation).
            let author = Author {
                kind: AuthorKind::Visitor,
                id: Some(*v),
                name: c.visitor_name.clone(),
                avatar_url: None,
            };
            service::typing(state, *v, c.id, author).await
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
