//! Dialogs: visitors and operators writing, assigning, closing, reading, typing.
//!
//! Every change is stored together with its event in one transaction, before it
//! is acknowledged; the hub then streams the event.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::json;
use switchboard_protocol::{
    event, Author, AuthorKind, Channel, Conversation, ConversationStatus, Message, VisitorRef,
};

use crate::auth::CurrentUser;
use crate::db::{LockKey, WriteTx};
use crate::domain::search_terms;
use crate::error::{ApiError, ApiResult};
use crate::services::widget_settings::AnsweredGreeting;
use crate::state::SharedState;
use crate::store::attachments::AttachmentRecord;
use crate::store::conversations::{self, ConversationRecord};
use crate::store::messages::{self, MessageRecord, NewMessage};
use crate::store::users::UserRecord;
use crate::store::visitors::VisitorRecord;
use crate::store::{events, search, users};

pub const MAX_BODY_CHARS: usize = 10_000;
const MAX_CLIENT_ID_CHARS: usize = 100;

/// A message body as stored: trimmed, without NUL (never meant in text, and
/// PostgreSQL cannot store it), 1..=10,000 characters.
pub fn parse_body(body: &str) -> ApiResult<Cow<'_, str>> {
    parse_body_with_files(body, false)
}

/// Like `parse_body`, but a message that carries files may have no text.
pub fn parse_body_with_files(body: &str, has_files: bool) -> ApiResult<Cow<'_, str>> {
    let body = if body.contains('\0') {
        Cow::Owned(body.replace('\0', "").trim().to_string())
    } else {
        Cow::Borrowed(body.trim())
    };
    if body.is_empty() && !has_files {
        return Err(ApiError::unprocessable(
            "empty_body",
            "the message is empty",
        ));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::unprocessable(
            "body_too_long",
            format!("a message may have at most {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok(body)
}

pub fn parse_client_id(client_id: &str) -> ApiResult<&str> {
    let id = client_id.trim();
    if id.is_empty() || id.chars().count() > MAX_CLIENT_ID_CHARS || id.chars().any(char::is_control)
    {
        return Err(ApiError::unprocessable(
            "invalid_client_id",
            format!("client_id must be 1..{MAX_CLIENT_ID_CHARS} printable characters, unique per message"),
        ));
    }
    Ok(id)
}

pub fn message_view(state: &SharedState, m: &MessageRecord) -> Message {
    Message {
        attachments: m
            .attachments
            .iter()
            .map(|a| crate::services::attachments::view(state, a))
            .collect(),
        ..message_view_without_files(&state.public_url, m)
    }
}

/// `message_view` of a message that has no files (links to files are
/// signed with the state's key; avatars need only the public address).
pub fn message_view_without_files(public_url: &str, m: &MessageRecord) -> Message {
    Message {
        id: m.id,
        conversation_id: m.conversation_id,
        client_id: m.client_id.clone(),
        author: Author {
            kind: m.author_kind,
            id: m.author_id,
            name: m.author_name.clone(),
            avatar_url: crate::state::avatar_url(public_url, m.author_avatar.as_deref()),
        },
        body: m.body.clone(),
        channel: m.channel,
        created_at: m.created_at,
        attachments: Vec::new(),
    }
}

/// The conversation (`id`, opened at `created_at`) that a visitor's first
/// message (`first`) has just opened, as the API shows it (without a greeting).
pub fn opened_view(visitor: VisitorRef, id: i64, created_at: i64, first: Message) -> Conversation {
    Conversation {
        id,
        status: ConversationStatus::Open,
        visitor,
        assignee_id: None,
        created_at,
        updated_at: first.created_at,
        last_message: Some(first),
        // Nobody has read a conversation opened by this very message: 1 for
        // every operator.
        unread: 1,
        greeting_id: None,
    }
}

pub async fn conversation_view(
    state: &SharedState,
    conn: &mut sqlx::AnyConnection,
    c: &ConversationRecord,
) -> ApiResult<Conversation> {
    let last_message = match c.last_message_id {
        Some(id) => messages::get(conn, id)
            .await?
            .map(|m| message_view(state, &m)),
        None => None,
    };
    Ok(Conversation {
        id: c.id,
        status: c.status,
        visitor: VisitorRef {
            id: c.visitor_id,
            name: c.visitor_name.clone(),
            email: c.visitor_email.clone(),
            email_bouncing: c.visitor_email_bouncing,
        },
        assignee_id: c.assignee_id,
        last_message,
        unread: c.unread,
        created_at: c.created_at,
        updated_at: c.updated_at,
        greeting_id: c.greeting_id,
    })
}

/// The files a send names, checked before it is written — or, when they were
/// already sent by an earlier try of this very send (same `client_id`), that
/// earlier message, which is the answer to a retry.
pub async fn files_for_send(
    state: &SharedState,
    author: AuthorKind,
    author_id: i64,
    client_id: &str,
    ids: &[i64],
) -> ApiResult<Result<Vec<AttachmentRecord>, Message>> {
    use crate::store::attachments::Uploader;
    if ids.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let uploader = match author {
        AuthorKind::Visitor => Uploader::Visitor(author_id),
        _ => Uploader::Operator(author_id),
    };
    match crate::services::attachments::for_message(state, uploader, ids).await {
        Ok(files) => Ok(Ok(files)),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
            let mut conn = state.db.pool.acquire().await?;
            match messages::by_client_id(&mut conn, author, author_id, client_id.trim()).await? {
                Some(first) => Ok(Err(message_view(state, &first))),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// What a send brings: its text, the sender's id for it, the way it came,
/// the email it came in (Message-ID and raw bytes), its files.
pub struct Post<'a> {
    pub body: &'a str,
    pub client_id: Option<&'a str>,
    pub channel: Channel,
    pub email: Option<(&'a str, &'a [u8])>,
    pub attachments: Vec<AttachmentRecord>,
    /// A visitor's answer to a greeting they were shown: when it opens the
    /// conversation, the greeting becomes its first message.
    pub greeting: Option<AnsweredGreeting>,
}

impl<'a> Post<'a> {
    /// A chat message from the app or the widget.
    pub fn chat(body: &'a str, client_id: &'a str, attachments: Vec<AttachmentRecord>) -> Self {
        Post {
            body,
            client_id: Some(client_id),
            channel: Channel::Chat,
            email: None,
            attachments,
            greeting: None,
        }
    }
}

/// The outcome of a send: the message, and whether this call created it (a
/// retry with the same `client_id` gets the first one back).
pub struct Posted {
    pub message: Message,
    pub created: bool,
}

/// A visitor writes: the first message opens their conversation, a message after
/// it was closed reopens it (a visitor has one conversation, so the whole
/// correspondence stays in one place for both sides).
pub async fn post_as_visitor(
    state: &SharedState,
    visitor_id: i64,
    post: Post<'_>,
) -> ApiResult<Posted> {
    let Post {
        body,
        client_id,
        channel,
        email,
        attachments,
        greeting,
    } = post;
    let body = parse_body_with_files(body, !attachments.is_empty())?.to_string();
    let post = Arc::new(VisitorPost {
        state: state.clone(),
        visitor_id,
        // Stemming is done here, not in the writer that every send waits for.
        terms: search_terms::index_terms(&body),
        body,
        attachments,
        client_id: client_id
            .map(parse_client_id)
            .transpose()?
            .map(str::to_string),
        channel,
        email: email.map(|(id, raw)| (id.to_string(), raw.to_vec())),
        greeting: greeting.map(|g| {
            let terms = search_terms::index_terms(&g.message);
            (g, terms)
        }),
    });
    // Visitors' messages are the bulk of all writes. The common case goes
    // to SQLite's own writer when there is one (see `sqlite_sends`), which
    // hands what it stored to the hub itself, or to PostgreSQL's batch writer
    // (`postgres_sends`)…
    if post.attachments.is_empty() && post.channel == Channel::Chat && post.email.is_none() {
        let send = crate::sends::VisitorSend {
            visitor_id,
            client_id: post.client_id.clone(),
            body: post.body.clone(),
            terms: post.terms.clone(),
            may_open: post.greeting.is_none(),
        };
        let written = match (&state.sqlite_sends, &state.postgres_sends) {
            (Some(writer), _) => match writer.write(send).await {
                crate::sqlite_sends::Written::Message(message) => Some(message),
                crate::sqlite_sends::Written::Elsewhere => None,
            },
            (None, Some(writer)) => state.cluster_sends.write(&state.hub, writer, send).await?,
            (None, None) => None,
        };
        if let Some(message) = written {
            return Ok(Posted {
                message,
                created: true,
            });
        }
    }
    // …the rest share transactions of the group commit.
    let posted = state
        .messages_writer
        .write(Some(LockKey::Visitor(visitor_id)), move |conn| {
            let post = post.clone();
            Box::pin(async move { write_visitor_message(conn, &post).await })
        })
        .await?;
    if posted.created {
        state.hub.wake();
    }
    Ok(posted)
}

/// A visitor's send, owned so that the group writer can run it.
struct VisitorPost {
    state: SharedState,
    visitor_id: i64,
    body: String,
    terms: String,
    attachments: Vec<AttachmentRecord>,
    client_id: Option<String>,
    channel: Channel,
    email: Option<(String, Vec<u8>)>,
    /// The greeting answered, with its search terms.
    greeting: Option<(AnsweredGreeting, String)>,
}

async fn write_visitor_message(
    conn: &mut sqlx::AnyConnection,
    post: &VisitorPost,
) -> ApiResult<Posted> {
    let (state, visitor_id) = (&post.state, post.visitor_id);
    let new = |conversation_id| NewMessage {
        conversation_id,
        client_id: post.client_id.as_deref(),
        author_kind: AuthorKind::Visitor,
        author_id: Some(visitor_id),
        body: &post.body,
        channel: post.channel,
        email_message_id: post.email.as_ref().map(|e| e.0.as_str()),
        raw_email: post.email.as_ref().map(|e| e.1.as_slice()),
        attachments: &post.attachments,
    };
    // The common case in one statement: the conversation is open and this
    // is no retry. Nothing changes about the conversation itself then.
    if let Some(stored) = messages::insert_into_open_conversation(conn, visitor_id, new(0)).await? {
        let message = message_view(state, &stored);
        return record_visitor_message(conn, post, &stored, message, None).await;
    }
    // The visitor has no conversation yet, it is closed, or this is a retry.
    // (They may be gone since their token was checked.)
    let (visitor_record, conversation) = conversations::visitor_and_latest(conn, visitor_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown visitor token: start a new session"))?;
    let retry = |first: &MessageRecord| Posted {
        message: message_view(state, first),
        created: false,
    };
    // A retry must not reopen anything: look for it first when the
    // conversation is closed. A visitor without a conversation has sent
    // nothing yet, and in an open one (the common case) the insert itself
    // tells: neither needs the lookup.
    let closed = conversation
        .as_ref()
        .is_some_and(|c| c.status == ConversationStatus::Closed);
    if let (true, Some(client_id)) = (closed, &post.client_id) {
        if let Some(first) =
            messages::by_client_id(conn, AuthorKind::Visitor, visitor_id, client_id).await?
        {
            return Ok(retry(&first));
        }
    }
    let mut greeting_id = conversation.as_ref().and_then(|c| c.greeting_id);
    let mut greeting_message = None;
    // Who the visitor is, as the conversation's view shows them (read with
    // the conversation above, in the transaction).
    let visitor = VisitorRef {
        id: visitor_record.id,
        name: visitor_record.name,
        email: visitor_record.email,
        email_bouncing: visitor_record.email_bouncing,
    };
    let (conversation_id, created_at, change) = match &conversation {
        None => {
            let (id, created_at) = conversations::create(conn, visitor_id).await?;
            if let Some((greeting, terms)) = &post.greeting {
                greeting_message =
                    Some(open_with_greeting(conn, state, id, greeting, terms).await?);
                greeting_id = Some(greeting.id);
            }
            (id, created_at, Some(event::CONVERSATION_CREATED))
        }
        Some(c) => {
            if c.status == ConversationStatus::Closed {
                conversations::set_status(conn, c.id, ConversationStatus::Open).await?;
                (c.id, c.created_at, Some(event::CONVERSATION_UPDATED))
            } else {
                (c.id, c.created_at, None)
            }
        }
    };
    let Some(stored) = messages::insert_unless_sent(conn, new(conversation_id)).await? else {
        // Only possible with the conversation open: nothing was written.
        let client_id = post.client_id.as_deref().unwrap_or_default();
        let first = messages::by_client_id(conn, AuthorKind::Visitor, visitor_id, client_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        return Ok(retry(&first));
    };
    let message = message_view(state, &stored);
    // The conversation's event, then the greeting's, then the message's: a
    // client learns of a conversation before its messages.
    let opened = change.map(|change| {
        // Everything the view shows is at hand: no need to read it back.
        let view = match &conversation {
            None => Conversation {
                greeting_id,
                ..opened_view(visitor, conversation_id, created_at, message.clone())
            },
            Some(c) => Conversation {
                id: conversation_id,
                status: ConversationStatus::Open,
                visitor,
                assignee_id: c.assignee_id,
                last_message: Some(message.clone()),
                // Counted per operator by their stream.
                unread: 0,
                created_at,
                updated_at: stored.created_at,
                greeting_id,
            },
        };
        (change, json!(view))
    });
    let Some(greeting) = greeting_message else {
        // The common case: the conversation's event goes with the message's.
        let before = opened.as_ref().map(|(name, view)| (*name, view));
        return record_visitor_message(conn, post, &stored, message, before).await;
    };
    if let Some((change, view)) = &opened {
        events::append_for(conn, change, Some(visitor_id), Some(conversation_id), view).await?;
    }
    events::append_for(
        conn,
        event::MESSAGE_CREATED,
        Some(visitor_id),
        Some(conversation_id),
        &json!(greeting),
    )
    .await?;
    record_visitor_message(conn, post, &stored, message, None).await
}

/// What follows a visitor's new message in its transaction (see
/// `messages::record_new`); `message` is its view.
async fn record_visitor_message(
    conn: &mut sqlx::AnyConnection,
    post: &VisitorPost,
    stored: &MessageRecord,
    message: Message,
    before: Option<(&str, &serde_json::Value)>,
) -> ApiResult<Posted> {
    messages::record_new(
        conn,
        post.state.db.backend,
        stored,
        &post.terms,
        Some(post.visitor_id),
        &json!(message),
        before,
    )
    .await?;
    Ok(Posted {
        message,
        created: true,
    })
}

/// A conversation, read again once this transaction holds its visitor's lock
/// (writes of one conversation happen one after another on every node).
async fn locked_conversation(
    tx: &mut WriteTx,
    conversation_id: i64,
    viewer: i64,
) -> ApiResult<ConversationRecord> {
    let c = conversations::get(&mut tx.tx, conversation_id, viewer)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    if !tx.locks() {
        return Ok(c);
    }
    tx.lock(LockKey::Visitor(c.visitor_id)).await?;
    Ok(conversations::get(&mut tx.tx, conversation_id, viewer)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?)
}

/// Notes the greeting on a new conversation and writes it as the first
/// message, from its colleague (before the visitor's: it is not an answer).
async fn open_with_greeting(
    conn: &mut sqlx::AnyConnection,
    state: &SharedState,
    conversation_id: i64,
    greeting: &AnsweredGreeting,
    terms: &str,
) -> ApiResult<Message> {
    conversations::set_greeting(conn, conversation_id, greeting.id).await?;
    let stored = messages::insert(
        conn,
        NewMessage {
            conversation_id,
            client_id: None,
            author_kind: AuthorKind::Operator,
            author_id: Some(greeting.from_user_id),
            body: &greeting.message,
            channel: Channel::Chat,
            email_message_id: None,
            raw_email: None,
            attachments: &[],
        },
    )
    .await?;
    conversations::record_message(conn, conversation_id, &stored).await?;
    search::index_new_message(conn, state.db.backend, stored.id, terms).await?;
    Ok(message_view(state, &stored))
}

/// An operator answers (from the app or, later, from their mailbox). An
/// unassigned conversation becomes theirs.
pub async fn post_as_operator(
    state: &SharedState,
    user: &UserRecord,
    conversation_id: i64,
    post: Post<'_>,
) -> ApiResult<Posted> {
    let Post {
        body,
        client_id,
        channel,
        email,
        attachments,
        greeting: _,
    } = post;
    crate::auth::require_answering(user)?;
    let body = parse_body_with_files(body, !attachments.is_empty())?;
    let terms = search_terms::index_terms(&body);
    let client_id = client_id.map(parse_client_id).transpose()?;
    let mut tx = state.db.begin_write().await?;
    if let Some(client_id) = client_id {
        if let Some(first) =
            messages::by_client_id(&mut tx.tx, AuthorKind::Operator, user.id, client_id).await?
        {
            if first.conversation_id != conversation_id {
                return Err(ApiError::conflict(
                    "client_id_reused",
                    "this client_id was used for another conversation",
                ));
            }
            return Ok(Posted {
                message: message_view(state, &first),
                created: false,
            });
        }
    }
    let c = locked_conversation(&mut tx, conversation_id, user.id).await?;
    let stored = messages::insert(
        &mut tx.tx,
        NewMessage {
            conversation_id,
            client_id,
            author_kind: AuthorKind::Operator,
            author_id: Some(user.id),
            body: &body,
            channel,
            email_message_id: email.map(|e| e.0),
            raw_email: email.map(|e| e.1),
            attachments: &attachments,
        },
    )
    .await?;
    let message = message_view(state, &stored);
    messages::record_new(
        &mut tx.tx,
        state.db.backend,
        &stored,
        &terms,
        Some(c.visitor_id),
        &json!(message),
        None,
    )
    .await?;
    // Answering is reading: the operator has seen everything up to their reply.
    conversations::mark_read(&mut tx.tx, user.id, conversation_id, stored.id).await?;
    if c.assignee_id.is_none() {
        conversations::set_assignee(&mut tx.tx, conversation_id, Some(user.id)).await?;
        let c = conversations::get(&mut tx.tx, conversation_id, 0)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let view = conversation_view(state, &mut tx.tx, &c).await?;
        events::append_for(
            &mut tx.tx,
            event::CONVERSATION_UPDATED,
            Some(c.visitor_id),
            Some(conversation_id),
            &json!(view),
        )
        .await?;
    }
    tx.commit().await?;
    state.hub.wake();
    Ok(Posted {
        message,
        created: true,
    })
}

pub async fn update(
    state: &SharedState,
    user: &CurrentUser,
    conversation_id: i64,
    status: Option<ConversationStatus>,
    assignee: Option<Option<i64>>,
) -> ApiResult<Conversation> {
    user.require_answering()?;
    if let Some(Some(assignee_id)) = assignee {
        let assignee = users::by_id(&state.db, assignee_id)
            .await?
            .filter(|u| u.status != crate::store::users::AccountStatus::Removed)
            .ok_or_else(|| ApiError::not_found("assignee"))?;
        if !assignee.role.answers_visitors() {
            return Err(ApiError::unprocessable(
                "invalid_assignee",
                "the assignee must be a team member who answers visitors (admin or operator)",
            ));
        }
    }
    let mut tx = state.db.begin_write().await?;
    let c = locked_conversation(&mut tx, conversation_id, user.user.id).await?;
    let mut changed = false;
    if let Some(status) = status.filter(|s| *s != c.status) {
        conversations::set_status(&mut tx.tx, c.id, status).await?;
        changed = true;
    }
    if let Some(assignee) = assignee.filter(|a| *a != c.assignee_id) {
        conversations::set_assignee(&mut tx.tx, c.id, assignee).await?;
        changed = true;
    }
    let fresh = conversations::get(&mut tx.tx, c.id, user.user.id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let view = conversation_view(state, &mut tx.tx, &fresh).await?;
    if changed {
        events::append_for(
            &mut tx.tx,
            event::CONVERSATION_UPDATED,
            Some(c.visitor_id),
            Some(c.id),
            &json!(view),
        )
        .await?;
    }
    tx.commit().await?;
    if changed {
        state.hub.wake();
    }
    Ok(view)
}

pub async fn mark_read(
    state: &SharedState,
    user: &CurrentUser,
    conversation_id: i64,
    message_id: i64,
) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    let c = conversations::get(&mut tx.tx, conversation_id, user.user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let message = messages::get(&mut tx.tx, message_id)
        .await?
        .filter(|m| m.conversation_id == c.id);
    if message.is_none() {
        // An id that names nothing here answers like a path that names nothing.
        return Err(ApiError::not_found("message"));
    }
    conversations::mark_read(&mut tx.tx, user.user.id, c.id, message_id).await?;
    let data = json!({ "conversation_id": c.id, "message_id": message_id,
                       "reader": { "kind": "operator", "id": user.user.id, "name": user.user.name } });
    events::append_for(
        &mut tx.tx,
        event::READ,
        Some(c.visitor_id),
        Some(c.id),
        &data,
    )
    .await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(())
}

/// A visitor has seen the operator's messages up to `message_id`.
/// Something about a visitor changed (their contact, a bouncing address):
/// operators get their conversation, if they have one, as it is now.
pub async fn announce_visitor_conversation(state: &SharedState, visitor_id: i64) -> ApiResult<()> {
    let mut conn = state.db.pool.acquire().await?;
    let Some(c) = conversations::of_visitor(&mut conn, visitor_id).await? else {
        return Ok(());
    };
    drop(conn);
    let mut tx = state.db.begin_write().await?;
    let view = conversation_view(state, &mut tx.tx, &c).await?;
    events::append_for(
        &mut tx.tx,
        event::CONVERSATION_UPDATED,
        Some(visitor_id),
        Some(c.id),
        &json!(view),
    )
    .await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(())
}

pub async fn visitor_read(
    state: &SharedState,
    visitor: &VisitorRecord,
    message_id: i64,
) -> ApiResult<()> {
    let mut tx = state
        .db
        .begin_write_holding(&[LockKey::Visitor(visitor.id)])
        .await?;
    let c = conversations::of_visitor(&mut tx.tx, visitor.id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    if messages::get(&mut tx.tx, message_id)
        .await?
        .filter(|m| m.conversation_id == c.id)
        .is_none()
    {
        // An id that names nothing here answers like a path that names nothing.
        return Err(ApiError::not_found("message"));
    }
    let data = json!({ "conversation_id": c.id, "message_id": message_id, "reader": { "kind": "visitor", "id": visitor.id } });
    events::append_for(&mut tx.tx, event::READ, Some(visitor.id), Some(c.id), &data).await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(())
}

/// Someone is typing in a conversation; `author` is the typing event's author.
pub async fn typing(
    state: &SharedState,
    visitor_id: i64,
    conversation_id: i64,
    author: Author,
) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    let data = json!({ "conversation_id": conversation_id, "author": author });
    events::append_for(
        &mut tx.tx,
        event::TYPING,
        Some(visitor_id),
        Some(conversation_id),
        &data,
    )
    .await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(())
}
