//! Messages of conversations, from visitors, operators or the system.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use switchboard_protocol::{AuthorKind, Channel};

use crate::db::{now_ms, Backend};
use crate::store::attachments::{self, AttachmentRecord};

#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub id: i64,
    pub conversation_id: i64,
    pub client_id: Option<String>,
    pub author_kind: AuthorKind,
    pub author_id: Option<i64>,
    /// The author's current name (operators) or the name they left (visitors).
    pub author_name: Option<String>,
    pub author_avatar: Option<String>,
    pub body: String,
    pub channel: Channel,
    pub created_at: i64,
    /// Its files, in order (loaded only for messages that have any).
    pub attachments: Vec<AttachmentRecord>,
    attachment_count: i64,
}

impl MessageRecord {
    /// A visitor's chat message without files, as it will be stored (the
    /// batch writer of `postgres_sends` builds it before writing it).
    pub(crate) fn visitor_chat(
        id: i64,
        conversation_id: i64,
        visitor_id: i64,
        client_id: Option<String>,
        body: String,
        visitor_name: Option<String>,
        created_at: i64,
    ) -> MessageRecord {
        MessageRecord {
            id,
            conversation_id,
            client_id,
            author_kind: AuthorKind::Visitor,
            author_id: Some(visitor_id),
            author_name: visitor_name.filter(|n| !n.is_empty()),
            author_avatar: None,
            body,
            channel: Channel::Chat,
            created_at,
            attachments: Vec::new(),
            attachment_count: 0,
        }
    }
}

const SELECT: &str = "SELECT m.id, m.conversation_id, m.client_id, m.author_kind, m.author_id, m.body, m.channel, m.created_at, m.attachment_count, \
    CASE WHEN m.author_kind = 'operator' THEN u.name ELSE v.name END AS author_name, u.avatar_file AS author_avatar \
    FROM messages m \
    LEFT JOIN users u ON m.author_kind = 'operator' AND u.id = m.author_id \
    LEFT JOIN visitors v ON m.author_kind = 'visitor' AND v.id = m.author_id";

fn from_row(row: &AnyRow) -> Result<MessageRecord, sqlx::Error> {
    let kind: String = row.try_get("author_kind")?;
    let channel: String = row.try_get("channel")?;
    Ok(MessageRecord {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        client_id: row.try_get("client_id")?,
        author_kind: kind_from(&kind),
        author_id: row.try_get("author_id")?,
        author_name: row
            .try_get::<Option<String>, _>("author_name")?
            .filter(|n| !n.is_empty()),
        author_avatar: row.try_get("author_avatar")?,
        body: row.try_get("body")?,
        channel: channel_from(&channel),
        created_at: row.try_get("created_at")?,
        attachments: Vec::new(),
        attachment_count: row.try_get("attachment_count")?,
    })
}

/// `from_row` for a row of the same columns read with rusqlite (the SQLite
/// writer of `sqlite_sends`).
pub(crate) fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRecord> {
    let kind: String = row.get("author_kind")?;
    let channel: String = row.get("channel")?;
    Ok(MessageRecord {
        id: row.get("id")?,
        conversation_id: row.get("conversation_id")?,
        client_id: row.get("client_id")?,
        author_kind: kind_from(&kind),
        author_id: row.get("author_id")?,
        author_name: row
            .get::<_, Option<String>>("author_name")?
            .filter(|n| !n.is_empty()),
        author_avatar: row.get("author_avatar")?,
        body: row.get("body")?,
        channel: channel_from(&channel),
        created_at: row.get("created_at")?,
        attachments: Vec::new(),
        attachment_count: row.get("attachment_count")?,
    })
}

fn kind_from(kind: &str) -> AuthorKind {
    match kind {
        "visitor" => AuthorKind::Visitor,
        "operator" => AuthorKind::Operator,
        _ => AuthorKind::System,
    }
}

fn channel_from(channel: &str) -> Channel {
    if channel == "email" {
        Channel::Email
    } else {
        Channel::Chat
    }
}

/// Fills in the attachments of the messages that have any, in one query.
async fn with_attachments(
    conn: &mut AnyConnection,
    mut messages: Vec<MessageRecord>,
) -> Result<Vec<MessageRecord>, sqlx::Error> {
    let ids: Vec<i64> = messages
        .iter()
        .filter(|m| m.attachment_count > 0)
        .map(|m| m.id)
        .collect();
    for a in attachments::of_messages(conn, &ids).await? {
        if let Some(m) = messages.iter_mut().find(|m| Some(m.id) == a.message_id) {
            m.attachments.push(a);
        }
    }
    Ok(messages)
}

async fn one_with_attachments(
    conn: &mut AnyConnection,
    message: Option<MessageRecord>,
) -> Result<Option<MessageRecord>, sqlx::Error> {
    match message {
        Some(m) if m.attachment_count > 0 => Ok(with_attachments(conn, vec![m]).await?.pop()),
        other => Ok(other),
    }
}

fn kind_str(kind: AuthorKind) -> &'static str {
    match kind {
        AuthorKind::Visitor => "visitor",
        AuthorKind::Operator => "operator",
        AuthorKind::System => "system",
    }
}

pub struct NewMessage<'a> {
    pub conversation_id: i64,
    pub client_id: Option<&'a str>,
    pub author_kind: AuthorKind,
    pub author_id: Option<i64>,
    pub body: &'a str,
    pub channel: Channel,
    pub email_message_id: Option<&'a str>,
    pub raw_email: Option<&'a [u8]>,
    /// Uploads sent with the message (checked by the caller), in order.
    pub attachments: &'a [AttachmentRecord],
}

/// Stores a message and returns it as `get` would, in one statement (and one
/// more per attachment).
pub async fn insert(
    conn: &mut AnyConnection,
    m: NewMessage<'_>,
) -> Result<MessageRecord, sqlx::Error> {
    let into = Destination::Conversation(m.conversation_id);
    insert_with(conn, into, m, "")
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Like `insert`, but None when the author already sent a message with this
/// `client_id` (a retry): nothing is written then.
pub async fn insert_unless_sent(
    conn: &mut AnyConnection,
    m: NewMessage<'_>,
) -> Result<Option<MessageRecord>, sqlx::Error> {
    let into = Destination::Conversation(m.conversation_id);
    insert_with(conn, into, m, UNLESS_SENT).await
}

/// A visitor's message into their conversation if it is open, in one
/// statement (the hottest path: no read of the conversation first). None when
/// they have no open conversation, or already sent this `client_id`: nothing
/// is written then. `m.conversation_id` is not used.
pub async fn insert_into_open_conversation(
    conn: &mut AnyConnection,
    visitor_id: i64,
    m: NewMessage<'_>,
) -> Result<Option<MessageRecord>, sqlx::Error> {
    debug_assert_eq!(m.author_kind, AuthorKind::Visitor);
    insert_with(
        conn,
        Destination::OpenConversationOf(visitor_id),
        m,
        UNLESS_SENT,
    )
    .await
}

/// The rows of an insert into a visitor's (`$1`) latest conversation if it
/// is open. (SQLite reads ON CONFLICT after INSERT … SELECT only after a WHERE.)
const INTO_OPEN_CONVERSATION: &str =
    "SELECT c.id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM conversations c \
    WHERE c.id = (SELECT MAX(id) FROM conversations WHERE visitor_id = $1) AND c.status = 'open'";
const UNLESS_SENT: &str = "ON CONFLICT (author_kind, author_id, client_id) DO NOTHING";

/// The statement of `insert_into_open_conversation`, for the SQLite writer
/// of `sqlite_sends` (parameters as `insert_with` binds them).
pub(crate) fn insert_into_open_conversation_sql() -> String {
    insert_sql(INTO_OPEN_CONVERSATION, UNLESS_SENT)
}

/// An insert into the conversation `$1` unless its author already sent this
/// `client_id`, for the SQLite writer of `sqlite_sends`.
pub(crate) fn insert_unless_sent_sql() -> String {
    insert_sql(INTO_CONVERSATION, UNLESS_SENT)
}

const INTO_CONVERSATION: &str = "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// An insert of `rows` ($1: the conversation, or what finds it; then the
/// columns after it) that gives back what `SELECT` would read, author's name
/// included, saving a round trip on the hottest path.
fn insert_sql(rows: &str, on_conflict: &str) -> String {
    format!(
        "INSERT INTO messages (conversation_id, client_id, author_kind, author_id, body, channel, email_message_id, raw_email, created_at, attachment_count) \
         {rows} {on_conflict} \
         RETURNING id, conversation_id, client_id, author_kind, author_id, body, channel, created_at, attachment_count, \
         CASE WHEN author_kind = 'operator' \
              THEN (SELECT u.name FROM users u WHERE u.id = messages.author_id) \
              ELSE (SELECT v.name FROM visitors v WHERE v.id = messages.author_id) END AS author_name, \
         CASE WHEN author_kind = 'operator' \
              THEN (SELECT u.avatar_file FROM users u WHERE u.id = messages.author_id) END AS author_avatar"
    )
}

/// Where a message goes.
enum Destination {
    Conversation(i64),
    /// A visitor's latest conversation, if it is open.
    OpenConversationOf(i64),
}

async fn insert_with(
    conn: &mut AnyConnection,
    into: Destination,
    m: NewMessage<'_>,
    on_conflict: &str,
) -> Result<Option<MessageRecord>, sqlx::Error> {
    let (rows, key) = match into {
        Destination::Conversation(id) => (INTO_CONVERSATION, id),
        Destination::OpenConversationOf(visitor_id) => (INTO_OPEN_CONVERSATION, visitor_id),
    };
    let sql = insert_sql(rows, on_conflict);
    let row = sqlx::query(&sql)
        .bind(key)
        .bind(m.client_id)
        .bind(kind_str(m.author_kind))
        .bind(m.author_id)
        .bind(m.body)
        .bind(if m.channel == Channel::Email {
            "email"
        } else {
            "chat"
        })
        .bind(m.email_message_id)
        .bind(m.raw_email.map(<[u8]>::to_vec))
        .bind(now_ms())
        .bind(m.attachments.len() as i64)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(mut stored) = row.as_ref().map(from_row).transpose()? else {
        return Ok(None);
    };
    let ids: Vec<i64> = m.attachments.iter().map(|a| a.id).collect();
    if !attachments::attach(conn, stored.id, &ids).await? {
        return Err(sqlx::Error::Protocol(ATTACHMENT_TAKEN.into()));
    }
    stored.attachments = m
        .attachments
        .iter()
        .map(|a| AttachmentRecord {
            message_id: Some(stored.id),
            ..a.clone()
        })
        .collect();
    Ok(Some(stored))
}

/// Why an insert failed when one of its uploads was sent with another
/// message meanwhile (two sends racing); see `is_attachment_taken`.
const ATTACHMENT_TAKEN: &str = "an attachment was sent with another message";

pub fn is_attachment_taken(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Protocol(m) if m == ATTACHMENT_TAKEN)
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<Option<MessageRecord>, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE m.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let m = row.as_ref().map(from_row).transpose()?;
    one_with_attachments(conn, m).await
}

/// The message an author already sent with this `client_id`, if any.
pub async fn by_client_id(
    conn: &mut AnyConnection,
    kind: AuthorKind,
    author_id: i64,
    client_id: &str,
) -> Result<Option<MessageRecord>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE m.author_kind = $1 AND m.author_id = $2 AND m.client_id = $3"
    ))
    .bind(kind_str(kind))
    .bind(author_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    let m = row.as_ref().map(from_row).transpose()?;
    one_with_attachments(conn, m).await
}

pub async fn by_email_message_id(
    conn: &mut AnyConnection,
    message_id: &str,
) -> Result<Option<MessageRecord>, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE m.email_message_id = $1"))
        .bind(message_id)
        .fetch_optional(&mut *conn)
        .await?;
    let m = row.as_ref().map(from_row).transpose()?;
    one_with_attachments(conn, m).await
}

/// A page of a conversation, newest first from the database; callers reverse it.
pub async fn page(
    conn: &mut AnyConnection,
    conversation_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageRecord>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE m.conversation_id = $1 AND ($2 = 0 OR m.id < $2) ORDER BY m.id DESC LIMIT $3"
    ))
    .bind(conversation_id)
    .bind(before.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let page = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    with_attachments(conn, page).await
}

/// Visitor messages of a conversation after `after_id`, oldest first.
pub async fn visitor_messages_after(
    conn: &mut AnyConnection,
    conversation_id: i64,
    after_id: i64,
) -> Result<Vec<MessageRecord>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE m.conversation_id = $1 AND m.author_kind = 'visitor' AND m.id > $2 ORDER BY m.id LIMIT 50"
    ))
    .bind(conversation_id)
    .bind(after_id)
    .fetch_all(&mut *conn)
    .await?;
    let found = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    with_attachments(conn, found).await
}

/// Messages by id (those that exist), with their attachments.
pub async fn by_ids(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<Vec<MessageRecord>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!("{SELECT} WHERE m.id IN ({})", placeholders.join(", "));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let found = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    with_attachments(conn, found).await
}

/// Records what SPF, DKIM and DMARC said of an emailed reply.
pub async fn set_email_auth(db: &crate::db::Db, id: i64, results: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE messages SET email_auth = $1 WHERE id = $2")
        .bind(results)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// What follows a new message in its transaction: its conversation notes it
/// (`conversations::record_message`), the search index gets its terms
/// (`search::index_new_message`) and the log tells of it (`events::append_for`,
/// `message.created` with `event_data`).
///
/// This is on every send's path, and each statement is a round trip: to the
/// connection's own thread on SQLite (sqlx), to the server's process on
/// PostgreSQL. So the three go as one: a script on SQLite, one statement
/// with a WITH on PostgreSQL.
///
/// `before`, an event of the conversation (its name and data) that must come
/// just before the message's — its opening or reopening by this message — is
/// written by the same statement, so that a visitor's first message costs no
/// round trip more for it.
pub async fn record_new(
    conn: &mut AnyConnection,
    backend: Backend,
    message: &MessageRecord,
    terms: &str,
    visitor_id: Option<i64>,
    event_data: &serde_json::Value,
    before: Option<(&str, &serde_json::Value)>,
) -> Result<(), sqlx::Error> {
    use crate::store::conversations;
    use switchboard_protocol::event::MESSAGE_CREATED;
    // The conversation's update, the search terms and the event, in one
    // round trip: `$1`–`$6` as `bind_record_message` binds them, `$7` the
    // terms, `$8`–`$11` the event's name, visitor, data and time, `$12` and
    // `$13` the name and data of the event before it, if any (NULL).
    static SQLITE_SCRIPT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{}; \
             INSERT INTO message_search (rowid, terms) SELECT $1, $7 WHERE $7 <> ''; \
             INSERT INTO events (name, conversation_id, visitor_id, data, created_at) \
             SELECT $12, $3, $9, $13, $11 WHERE $12 IS NOT NULL; \
             INSERT INTO events (name, conversation_id, visitor_id, data, created_at) \
             VALUES ($8, $3, $9, $10, $11)",
            conversations::RECORD_MESSAGE
        )
    });
    // PostgreSQL runs no scripts with parameters, but every statement of a
    // WITH runs once, whether or not the main statement reads it. Each
    // statement is a trip to another process, paid under the visitor's lock.
    // Both events come from one INSERT whose rows are produced in order, so
    // their ids (the order within the transaction) are in that order too.
    static POSTGRES_STATEMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH recorded AS ({}), \
             indexed AS (INSERT INTO message_search (message_id, terms) \
                         VALUES ($1, strip(to_tsvector('simple', $7)))) \
             INSERT INTO events (name, conversation_id, visitor_id, data, created_at) \
             SELECT e.name, $3, $9, e.data, $11 \
             FROM (VALUES (1, $12, $13), (2, $8, $10)) AS e(k, name, data) \
             WHERE e.name IS NOT NULL ORDER BY e.k",
            conversations::RECORD_MESSAGE
        )
    });
    let statement = match backend {
        Backend::Sqlite => SQLITE_SCRIPT.as_str(),
        Backend::Postgres => POSTGRES_STATEMENT.as_str(),
    };
    conversations::bind_record_message(sqlx::query(statement), message)
        .bind(terms)
        .bind(MESSAGE_CREATED)
        .bind(visitor_id)
        .bind(event_data.to_string())
        .bind(now_ms())
        .bind(before.map(|(name, _)| name))
        .bind(before.map(|(_, data)| data.to_string()))
        .execute(conn)
        .await?;
    Ok(())
}
