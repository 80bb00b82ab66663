//! Pending notification emails (one per member and conversation at a time) and
//! the log of refused inbound email.

use std::collections::HashSet;

use sqlx::{AnyConnection, Row};

use crate::db::{now_ms, Backend, Db};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    FollowUp,
    Delayed,
    /// Part of the member's next digest (a flood of new conversations).
    Digest,
}

impl PendingKind {
    fn as_str(self) -> &'static str {
        match self {
            PendingKind::FollowUp => "followup",
            PendingKind::Delayed => "delayed",
            PendingKind::Digest => "digest",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pending {
    pub user_id: i64,
    pub conversation_id: i64,
    pub kind: PendingKind,
    pub after_message_id: i64,
}

/// Schedules each of `pending` unless the member has an email pending for
/// that conversation already (one statement for all); returns the (member,
/// conversation) pairs this call scheduled.
///
/// The rows travel as one JSON array, not as four parameters each: sqlx's
/// SQLite driver looks up every parameter's name by a linear scan, so binding
/// n parameters costs n² — milliseconds for a few hundred rows, spent holding
/// the node's one SQLite write lock that visitors' sends wait for. One
/// statement text also means one prepared statement, reused.
pub async fn schedule(
    conn: &mut AnyConnection,
    backend: Backend,
    pending: &[Pending],
    due_at: i64,
) -> Result<HashSet<(i64, i64)>, sqlx::Error> {
    if pending.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<serde_json::Value> = pending
        .iter()
        .map(|p| {
            serde_json::json!([
                p.user_id,
                p.conversation_id,
                p.kind.as_str(),
                p.after_message_id
            ])
        })
        .collect();
    let sql = match backend {
        Backend::Sqlite => SCHEDULE_SQLITE,
        Backend::Postgres => SCHEDULE_POSTGRES,
    };
    sqlx::query(sql)
        .bind(due_at)
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("user_id")?, row.try_get("conversation_id")?)))
        .collect()
}

/// `schedule`'s statement: `$1` the due time, `$2` the rows as a JSON array
/// of `[user_id, conversation_id, kind, after_message_id]`. (`WHERE true`
/// tells SQLite's parser that `ON CONFLICT` is not part of a join.)
const SCHEDULE_SQLITE: &str =
    "INSERT INTO pending_notifications (user_id, conversation_id, kind, after_message_id, due_at) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, $1 FROM json_each($2) WHERE true \
     ON CONFLICT (user_id, conversation_id) DO NOTHING RETURNING user_id, conversation_id";
const SCHEDULE_POSTGRES: &str =
    "INSERT INTO pending_notifications (user_id, conversation_id, kind, after_message_id, due_at) \
     SELECT (p ->> 0)::bigint, (p ->> 1)::bigint, p ->> 2, (p ->> 3)::bigint, $1 \
     FROM json_array_elements($2::json) AS p \
     ON CONFLICT (user_id, conversation_id) DO NOTHING RETURNING user_id, conversation_id";

/// An operator answered: the next visitor message starts afresh (emailed at once).
pub async fn clear_followups(
    conn: &mut AnyConnection,
    conversation_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM pending_notifications WHERE conversation_id = $1 AND kind IN ('followup', 'digest')",
    )
    .bind(conversation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Turns a scheduled follow-up into a digest entry that includes the message
/// after `after_message_id` (nothing was emailed at once).
pub async fn into_digest(
    conn: &mut AnyConnection,
    user_id: i64,
    conversation_id: i64,
    after_message_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE pending_notifications SET kind = 'digest', after_message_id = $1 \
         WHERE user_id = $2 AND conversation_id = $3",
    )
    .bind(after_message_id)
    .bind(user_id)
    .bind(conversation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether some pending email's window is over (a read: no write turn).
pub async fn any_due(pool: &sqlx::AnyPool) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM pending_notifications WHERE due_at <= $1 LIMIT 1")
            .bind(now_ms())
            .fetch_optional(pool)
            .await?
            .is_some(),
    )
}

pub async fn take_due(conn: &mut AnyConnection, limit: i64) -> Result<Vec<Pending>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT user_id, conversation_id, kind, after_message_id FROM pending_notifications \
         WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
    )
    .bind(now_ms())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut due = Vec::new();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let p = Pending {
            user_id: row.try_get("user_id")?,
            conversation_id: row.try_get("conversation_id")?,
            kind: match kind.as_str() {
                "followup" => PendingKind::FollowUp,
                "digest" => PendingKind::Digest,
                _ => PendingKind::Delayed,
            },
            after_message_id: row.try_get("after_message_id")?,
        };
        sqlx::query(
            "DELETE FROM pending_notifications WHERE user_id = $1 AND conversation_id = $2",
        )
        .bind(p.user_id)
        .bind(p.conversation_id)
        .execute(&mut *conn)
        .await?;
        due.push(p);
    }
    Ok(due)
}

pub async fn log_refused(
    db: &Db,
    reason: &str,
    sender: Option<&str>,
    message_id: Option<&str>,
    raw: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO refused_emails (reason, sender, message_id, raw, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(reason)
        .bind(sender)
        .bind(message_id)
        .bind(raw.to_vec())
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Takes on the notifications of these messages; returns the ones this call
/// took (another node has the rest). One statement for the whole batch, the
/// ids as one JSON array (see `schedule` for why).
pub async fn claim_messages(
    conn: &mut AnyConnection,
    backend: Backend,
    message_ids: &[i64],
) -> Result<HashSet<i64>, sqlx::Error> {
    if message_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = match backend {
        Backend::Sqlite => CLAIM_SQLITE,
        Backend::Postgres => CLAIM_POSTGRES,
    };
    sqlx::query(sql)
        .bind(serde_json::Value::from(message_ids).to_string())
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| row.try_get("message_id"))
        .collect()
}

const CLAIM_SQLITE: &str = "INSERT INTO notified_messages (message_id) \
     SELECT value FROM json_each($1) WHERE true \
     ON CONFLICT (message_id) DO NOTHING RETURNING message_id";
const CLAIM_POSTGRES: &str = "INSERT INTO notified_messages (message_id) \
     SELECT id::bigint FROM json_array_elements_text($1::json) AS id \
     ON CONFLICT (message_id) DO NOTHING RETURNING message_id";

/// Deletes refused emails logged before `before`.
pub async fn sweep_refused(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM refused_emails WHERE created_at < $1")
            .bind(before)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
