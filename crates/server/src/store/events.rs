//! The durable event log behind the websocket streams: every event gets a
//! workspace-wide `seq`, written in the same transaction as the change it tells of.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{now_ms, Db};

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub name: String,
    /// The conversation the event belongs to; None for team-wide events.
    pub conversation_id: Option<i64>,
    /// The visitor whose conversation it is; their stream shows it.
    pub visitor_id: Option<i64>,
    /// The JSON `data` of the frame, serialised once.
    pub data: String,
}

/// A server-internal event that no client sees: a member's sessions changed
/// (a sign-out), so their open streams check their token again.
pub const SESSION_ENDED: &str = "session.ended";

pub async fn announce_session_ended(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<i64, sqlx::Error> {
    append(
        conn,
        SESSION_ENDED,
        None,
        &serde_json::json!({ "user_id": user_id }),
    )
    .await
}

pub async fn append(
    conn: &mut AnyConnection,
    name: &str,
    conversation_id: Option<i64>,
    data: &serde_json::Value,
) -> Result<i64, sqlx::Error> {
    append_for(conn, name, None, conversation_id, data).await
}

/// An event of a visitor's conversation: their stream shows it too.
pub async fn append_for(
    conn: &mut AnyConnection,
    name: &str,
    visitor_id: Option<i64>,
    conversation_id: Option<i64>,
    data: &serde_json::Value,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (name, conversation_id, visitor_id, data, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
    )
    .bind(name)
    .bind(conversation_id)
    .bind(visitor_id)
    .bind(data.to_string())
    .bind(now_ms())
    .fetch_one(conn)
    .await?
    .try_get("seq")
}

fn from_row(row: &AnyRow) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        seq: row.try_get("seq")?,
        name: row.try_get("name")?,
        conversation_id: row.try_get("conversation_id")?,
        visitor_id: row.try_get("visitor_id")?,
        data: row.try_get("data")?,
    })
}

/// Events after `seq`, oldest first, at most `limit`.
pub async fn after(db: &Db, seq: i64, limit: i64) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, name, conversation_id, visitor_id, data FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(seq)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// One visitor's events after `seq`, oldest first, at most `limit`.
pub async fn of_visitor_after(
    db: &Db,
    visitor_id: i64,
    seq: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, name, conversation_id, visitor_id, data FROM events WHERE visitor_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(visitor_id)
    .bind(seq)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The newest seq, 0 when the log is empty.
pub async fn latest(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events")
        .fetch_one(&db.pool)
        .await?
        .try_get("seq")
}

/// The oldest seq still kept, if any.
pub async fn oldest(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT MIN(seq) AS seq FROM events")
        .fetch_one(&db.pool)
        .await?
        .try_get("seq")
}
