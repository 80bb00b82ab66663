//! The durable event log behind the websocket streams: every event is
//! written in the same transaction as the change it tells of, and gets a
//! workspace-wide position that streams and cursors follow (`seq` on the
//! wire).
//!
//! On SQLite, with one writer at a time, the row id is that position: rows
//! commit in id order. On PostgreSQL writers on several nodes commit side by
//! side, so ids may commit out of order; there the position (`pos`, a row
//! of `event_positions`) is given after commit by [`numbered_after`], to
//! events of transactions older than every transaction still open, in
//! transaction order. A position, once given, is final and nothing later
//! gets a smaller one: a cursor never skips an event.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{now_ms, Backend, Db};

/// How readers find the log in position order (see the module's comment):
/// on SQLite the events' ids are the positions; on PostgreSQL positions are
/// rows of a table of their own (migration 0017), aliased `p`.
struct Layout {
    /// The FROM clause: the events (`e`) with their positions.
    log: &'static str,
    /// The position.
    pos: &'static str,
    /// The event's visitor, where its index is.
    visitor: &'static str,
    /// The FROM clause for the positions alone (the newest, the oldest).
    positions: &'static str,
}

fn layout(db: &Db) -> Layout {
    match db.backend {
        Backend::Sqlite => Layout {
            log: "events AS e",
            pos: "e.seq",
            visitor: "e.visitor_id",
            positions: "events AS e",
        },
        Backend::Postgres => Layout {
            log: "event_positions AS p JOIN events AS e ON e.seq = p.seq",
            pos: "p.pos",
            visitor: "p.visitor_id",
            positions: "event_positions AS p",
        },
    }
}

/// One pass of a hub over the log: what is new after a position.
#[derive(Debug, Default)]
pub struct Pass {
    /// Events after the position asked for, oldest first.
    pub events: Vec<StoredEvent>,
    /// Some committed events wait for an older transaction still open
    /// (PostgreSQL only): they will get positions once it ends.
    pub held_back: bool,
}

/// Events after `seq`, at most `limit`, once what has committed since the
/// last pass is numbered (PostgreSQL; SQLite's row ids are positions already).
/// Any node may call it at any time: the numbering takes turns.
///
/// On PostgreSQL this is one round trip, the database function
/// `read_events_numbered` (migration 0013): `number_events` takes the event
/// log's advisory lock (5, 0), gives positions to the events of finished
/// transactions older than the oldest one still running, in (transaction,
/// id) order, after the highest position given so far, and commits without
/// waiting for its WAL flush (why that is safe: the migration's comment);
/// then the events after `seq` are read.
///
/// Call it only as a statement of its own (as here, on a pooled connection
/// outside any transaction): `number_events` turns off the flush wait of the
/// whole transaction it runs in, and it holds the log's lock until that
/// transaction ends — a write of a visitor's message sharing it would be
/// acknowledged before it is durable.
pub async fn numbered_after(db: &Db, seq: i64, limit: i64) -> Result<Pass, sqlx::Error> {
    if db.backend != Backend::Postgres {
        return Ok(Pass {
            events: after(db, seq, limit).await?,
            held_back: false,
        });
    }
    let rows = sqlx::query(
        "SELECT pos AS seq, name, conversation_id, visitor_id, data, held_back \
         FROM read_events_numbered($1, $2)",
    )
    .bind(seq)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut pass = Pass::default();
    for row in &rows {
        pass.held_back |= row.try_get::<bool, _>("held_back")?;
        // A row without a position only says that events are held back.
        if row.try_get::<Option<i64>, _>("seq")?.is_some() {
            pass.events.push(from_row(row)?);
        }
    }
    Ok(pass)
}

/// Serialisable: nodes send each other what they read (`hub::peers`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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

/// The statement of `append_for`: name, conversation, visitor, data, time.
pub(crate) const INSERT: &str =
    "INSERT INTO events (name, conversation_id, visitor_id, data, created_at) \
    VALUES ($1, $2, $3, $4, $5) RETURNING seq";

/// An event of a visitor's conversation: their stream shows it too.
pub async fn append_for(
    conn: &mut AnyConnection,
    name: &str,
    visitor_id: Option<i64>,
    conversation_id: Option<i64>,
    data: &serde_json::Value,
) -> Result<i64, sqlx::Error> {
    sqlx::query(INSERT)
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
    let Layout { log, pos: p, .. } = layout(db);
    let rows = sqlx::query(&format!(
        "SELECT {p} AS seq, e.name, e.conversation_id, e.visitor_id, e.data FROM {log} \
         WHERE {p} > $1 ORDER BY {p} LIMIT $2"
    ))
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
    let Layout {
        log,
        pos: p,
        visitor,
        ..
    } = layout(db);
    let rows = sqlx::query(&format!(
        "SELECT {p} AS seq, e.name, e.conversation_id, e.visitor_id, e.data FROM {log} \
         WHERE {visitor} = $1 AND {p} > $2 ORDER BY {p} LIMIT $3"
    ))
    .bind(visitor_id)
    .bind(seq)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The newest seq, 0 when the log is empty.
pub async fn latest(db: &Db) -> Result<i64, sqlx::Error> {
    let Layout { pos, positions, .. } = layout(db);
    sqlx::query(&format!(
        "SELECT COALESCE(MAX({pos}), 0) AS seq FROM {positions}"
    ))
    .fetch_one(&db.pool)
    .await?
    .try_get("seq")
}

/// The oldest seq still kept, if any.
pub async fn oldest(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    let Layout { pos, positions, .. } = layout(db);
    sqlx::query(&format!("SELECT MIN({pos}) AS seq FROM {positions}"))
        .fetch_one(&db.pool)
        .await?
        .try_get("seq")
}
