//! Conversations (dialogs) and what each operator has read of them.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use switchboard_protocol::ConversationStatus;

use crate::db::{now_ms, Db};
use crate::domain::report::ReportRow;
use crate::store::visitors::VisitorRecord;

#[derive(Debug, Clone)]
pub struct ConversationRecord {
    pub id: i64,
    pub status: ConversationStatus,
    pub visitor_id: i64,
    pub visitor_name: Option<String>,
    pub visitor_email: Option<String>,
    pub visitor_email_bouncing: bool,
    pub assignee_id: Option<i64>,
    pub last_message_id: Option<i64>,
    /// Visitor messages the asking operator has not read.
    pub unread: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The greeting whose answer opened it.
    pub greeting_id: Option<i64>,
}

/// Columns of a conversation as seen by operator `$1`. With `$1 = 0` (no
/// operator: a visitor's send, the notifier) `unread` is 0 and its count over
/// the conversation's messages is not computed on that hot path.
const SELECT: &str = "SELECT c.id, c.status, c.visitor_id, v.name AS visitor_name, v.email AS visitor_email, \
    v.email_bounced_at AS visitor_email_bounced_at, \
    c.assignee_id, c.last_message_id, c.created_at, c.updated_at, c.greeting_id, \
    CASE WHEN $1 = 0 THEN 0 ELSE \
    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'visitor' \
       AND m.id > COALESCE((SELECT r.last_read_message_id FROM reads r WHERE r.user_id = $1 AND r.conversation_id = c.id), 0)) \
    END AS unread \
    FROM conversations c JOIN visitors v ON v.id = c.visitor_id";

fn from_row(row: &AnyRow) -> Result<ConversationRecord, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(ConversationRecord {
        id: row.try_get("id")?,
        status: if status == "closed" {
            ConversationStatus::Closed
        } else {
            ConversationStatus::Open
        },
        visitor_id: row.try_get("visitor_id")?,
        visitor_name: row.try_get("visitor_name")?,
        visitor_email: row.try_get("visitor_email")?,
        visitor_email_bouncing: row
            .try_get::<Option<i64>, _>("visitor_email_bounced_at")?
            .is_some(),
        assignee_id: row.try_get("assignee_id")?,
        last_message_id: row.try_get("last_message_id")?,
        unread: row.try_get("unread")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        greeting_id: row.try_get("greeting_id")?,
    })
}

pub async fn get(
    conn: &mut AnyConnection,
    id: i64,
    viewer: i64,
) -> Result<Option<ConversationRecord>, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE c.id = $2"))
        .bind(viewer)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Several conversations at once, as seen by no operator (`unread` is 0).
pub async fn get_many(
    executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
    ids: &[i64],
) -> Result<Vec<ConversationRecord>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!("{SELECT} WHERE c.id IN ({})", placeholders.join(", "));
    let mut query = sqlx::query(&sql).bind(0_i64);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(executor).await?;
    rows.iter().map(from_row).collect()
}

pub async fn of_visitor(
    conn: &mut AnyConnection,
    visitor_id: i64,
) -> Result<Option<ConversationRecord>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE c.visitor_id = $2 ORDER BY c.id DESC LIMIT 1"
    ))
    .bind(0_i64)
    .bind(visitor_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// A visitor and their latest conversation, if they have one, in one round
/// trip: a send that found no open conversation needs the one or the other
/// (a first message needs the visitor, a closed conversation reopens). None
/// when the visitor is gone.
pub async fn visitor_and_latest(
    conn: &mut AnyConnection,
    visitor_id: i64,
) -> Result<Option<(VisitorRecord, Option<ConversationRecord>)>, sqlx::Error> {
    const STATEMENT: &str = "SELECT v.locale, \
        c.id, c.status, v.id AS visitor_id, v.name AS visitor_name, v.email AS visitor_email, \
        v.email_bounced_at AS visitor_email_bounced_at, \
        c.assignee_id, c.last_message_id, c.created_at, c.updated_at, c.greeting_id, \
        CAST(0 AS BIGINT) AS unread \
        FROM visitors v LEFT JOIN conversations c \
        ON c.id = (SELECT MAX(id) FROM conversations WHERE visitor_id = v.id) \
        WHERE v.id = $1";
    let Some(row) = sqlx::query(STATEMENT)
        .bind(visitor_id)
        .fetch_optional(conn)
        .await?
    else {
        return Ok(None);
    };
    let visitor = VisitorRecord {
        id: row.try_get("visitor_id")?,
        name: row.try_get("visitor_name")?,
        email: row.try_get("visitor_email")?,
        locale: row.try_get("locale")?,
        email_bouncing: row
            .try_get::<Option<i64>, _>("visitor_email_bounced_at")?
            .is_some(),
    };
    let conversation = match row.try_get::<Option<i64>, _>("id")? {
        Some(_) => Some(from_row(&row)?),
        None => None,
    };
    Ok(Some((visitor, conversation)))
}

/// Opens a conversation; returns its id and creation time.
pub async fn create(conn: &mut AnyConnection, visitor_id: i64) -> Result<(i64, i64), sqlx::Error> {
    let now = now_ms();
    let id = sqlx::query(
        "INSERT INTO conversations (visitor_id, status, created_at, updated_at) VALUES ($1, 'open', $2, $2) RETURNING id",
    )
    .bind(visitor_id)
    .bind(now)
    .fetch_one(conn)
    .await?
    .try_get("id")?;
    Ok((id, now))
}

/// Opens a visitor's first conversation (`$1`, at `$2`), unless they have
/// one already: then nothing is written and no id comes back. For the writer
/// of `sqlite_sends`, which has not read the visitor's conversations first.
pub(crate) const OPEN_FIRST: &str =
    "INSERT INTO conversations (visitor_id, status, created_at, updated_at) \
     SELECT $1, 'open', $2, $2 WHERE NOT EXISTS (SELECT 1 FROM conversations WHERE visitor_id = $1) \
     RETURNING id";

/// Notes which greeting a new conversation answers.
pub async fn set_greeting(
    conn: &mut AnyConnection,
    id: i64,
    greeting_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE conversations SET greeting_id = $1 WHERE id = $2")
        .bind(greeting_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    status: ConversationStatus,
) -> Result<(), sqlx::Error> {
    // Closing notes when (for reports); reopening forgets it.
    sqlx::query(
        "UPDATE conversations SET status = $1, updated_at = $2, \
         closed_at = CASE WHEN $1 = 'closed' THEN $2 END WHERE id = $3",
    )
    .bind(status.as_str())
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_assignee(
    conn: &mut AnyConnection,
    id: i64,
    assignee: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE conversations SET assignee_id = $1, updated_at = $2 WHERE id = $3")
        .bind(assignee)
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A message was written: it is the conversation's last, and the first
/// visitor message or the first answer after it are noted for reports (in
/// the same statement: this is on every send's path).
pub async fn record_message(
    conn: &mut AnyConnection,
    id: i64,
    message: &crate::store::messages::MessageRecord,
) -> Result<(), sqlx::Error> {
    debug_assert_eq!(id, message.conversation_id);
    bind_record_message(sqlx::query(RECORD_MESSAGE), message)
        .execute(conn)
        .await?;
    Ok(())
}

/// The statement of `record_message`, with its parameters `$1`–`$6` (see
/// `bind_record_message`). Every SET reads the row as it was before it.
pub(crate) const RECORD_MESSAGE: &str = "UPDATE conversations SET last_message_id = $1, updated_at = $2, \
     first_visitor_at = CASE WHEN $4 = 'visitor' AND first_visitor_at IS NULL THEN $2 ELSE first_visitor_at END, \
     first_answer_at = CASE WHEN $4 = 'operator' AND first_answer_at IS NULL AND first_visitor_at IS NOT NULL THEN $2 ELSE first_answer_at END, \
     first_answer_by = CASE WHEN $4 = 'operator' AND first_answer_at IS NULL AND first_visitor_at IS NOT NULL THEN $5 ELSE first_answer_by END, \
     first_answer_channel = CASE WHEN $4 = 'operator' AND first_answer_at IS NULL AND first_visitor_at IS NOT NULL THEN $6 ELSE first_answer_channel END \
     WHERE id = $3";

/// Binds `$1`–`$6` of `RECORD_MESSAGE` for `message`.
pub(crate) fn bind_record_message<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    message: &crate::store::messages::MessageRecord,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let kind = match message.author_kind {
        switchboard_protocol::AuthorKind::Visitor => "visitor",
        switchboard_protocol::AuthorKind::Operator => "operator",
        switchboard_protocol::AuthorKind::System => "system",
    };
    let channel = match message.channel {
        switchboard_protocol::Channel::Email => "email",
        switchboard_protocol::Channel::Chat => "chat",
    };
    query
        .bind(message.id)
        .bind(message.created_at)
        .bind(message.conversation_id)
        .bind(kind)
        .bind(message.author_id)
        .bind(channel)
}

/// Who a list shows.
#[derive(Debug, Clone, Copy)]
pub enum AssigneeFilter {
    Any,
    Nobody,
    User(i64),
}

pub struct ListQuery {
    pub viewer: i64,
    pub status: Option<ConversationStatus>,
    pub assignee: AssigneeFilter,
    /// Newest first: only conversations updated before this (updated_at, id).
    pub before: Option<(i64, i64)>,
    pub limit: i64,
}

pub async fn list(db: &Db, q: &ListQuery) -> Result<Vec<ConversationRecord>, sqlx::Error> {
    // Every filter is a fixed clause with its own placeholder, unused ones made
    // true by their flag, so one statement serves every combination.
    let sql = format!(
        "{SELECT} WHERE ($2 = '' OR c.status = $2) \
         AND ($3 = 0 OR ($3 = 1 AND c.assignee_id IS NULL) OR ($3 = 2 AND c.assignee_id = $4)) \
         AND ($5 = 0 OR c.updated_at < $6 OR (c.updated_at = $6 AND c.id < $7)) \
         ORDER BY c.updated_at DESC, c.id DESC LIMIT $8"
    );
    let (assignee_mode, assignee_id) = match q.assignee {
        AssigneeFilter::Any => (0_i64, 0_i64),
        AssigneeFilter::Nobody => (1, 0),
        AssigneeFilter::User(id) => (2, id),
    };
    let (before_on, before_at, before_id) = match q.before {
        Some((at, id)) => (1_i64, at, id),
        None => (0, 0, 0),
    };
    let rows = sqlx::query(&sql)
        .bind(q.viewer)
        .bind(q.status.map(|s| s.as_str()).unwrap_or(""))
        .bind(assignee_mode)
        .bind(assignee_id)
        .bind(before_on)
        .bind(before_at)
        .bind(before_id)
        .bind(q.limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Remembers that `user_id` has read up to `message_id` (never moves back).
pub async fn mark_read(
    conn: &mut AnyConnection,
    user_id: i64,
    conversation_id: i64,
    message_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reads (user_id, conversation_id, last_read_message_id) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_message_id = \
         CASE WHEN excluded.last_read_message_id > reads.last_read_message_id \
              THEN excluded.last_read_message_id ELSE reads.last_read_message_id END",
    )
    .bind(user_id)
    .bind(conversation_id)
    .bind(message_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The last message `user_id` has read in a conversation (0: none).
pub async fn last_read(
    conn: &mut AnyConnection,
    user_id: i64,
    conversation_id: i64,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT last_read_message_id FROM reads WHERE user_id = $1 AND conversation_id = $2",
    )
    .bind(user_id)
    .bind(conversation_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("last_read_message_id"))
        .transpose()
        .map(|v| v.unwrap_or(0))
}

/// Conversations opened in `[from, to)` (ms since the epoch).
pub async fn opened_between(
    db: &crate::db::Db,
    from: i64,
    to: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    // A report reads every conversation of its range (50,000 in a busy
    // month). Row by row, each crossed from SQLite's thread on its own and
    // was converted value by value: 420 ms for 50,000. The database packs
    // them into one text value instead ("created,closed,assignee,asked,
    // answered,by,email;…", empty for NULL), a month at a time, and they are
    // parsed here.
    const MONTH_MS: i64 = 31 * 86_400_000;
    let mut rows = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + MONTH_MS).min(to);
        let packed: Option<String> = sqlx::query(
            "SELECT string_agg(CAST(created_at AS TEXT) || ',' || \
             COALESCE(CAST(closed_at AS TEXT), '') || ',' || \
             COALESCE(CAST(assignee_id AS TEXT), '') || ',' || \
             COALESCE(CAST(first_visitor_at AS TEXT), '') || ',' || \
             COALESCE(CAST(first_answer_at AS TEXT), '') || ',' || \
             COALESCE(CAST(first_answer_by AS TEXT), '') || ',' || \
             CASE WHEN first_answer_channel = 'email' THEN '1' ELSE '0' END, ';') AS packed \
             FROM conversations WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(start)
        .bind(end)
        .fetch_one(&db.pool)
        .await?
        .try_get("packed")?;
        if let Some(packed) = packed {
            for row in packed.split(';') {
                rows.push(unpack(row).ok_or_else(|| {
                    sqlx::Error::Decode(format!("a packed report row: {row:?}").into())
                })?);
            }
        }
        start = end;
    }
    Ok(rows)
}

fn unpack(row: &str) -> Option<ReportRow> {
    let mut fields = row.split(',');
    let mut next = || -> Option<Option<i64>> {
        let field = fields.next()?;
        if field.is_empty() {
            Some(None)
        } else {
            field.parse().ok().map(Some)
        }
    };
    Some(ReportRow {
        created_at: next()??,
        closed_at: next()?,
        assignee_id: next()?,
        first_visitor_at: next()?,
        first_answer_at: next()?,
        first_answer_by: next()?,
        first_answer_by_email: next()?? == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_report_rows_read_back_with_their_nulls() {
        let row = unpack("1700000000000,,7,1700000001000,1700000061000,7,1").unwrap();
        assert_eq!(row.created_at, 1_700_000_000_000);
        assert_eq!(row.closed_at, None);
        assert_eq!(row.assignee_id, Some(7));
        assert_eq!(row.first_answer_at, Some(1_700_000_061_000));
        assert!(row.first_answer_by_email);
        let unanswered = unpack("5,,,,,,0").unwrap();
        assert_eq!(unanswered.first_visitor_at, None);
        assert!(!unanswered.first_answer_by_email);
        assert!(unpack("5,x,,,,,0").is_none());
        assert!(unpack("5,,").is_none());
    }
}
