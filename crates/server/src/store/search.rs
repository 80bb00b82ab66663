//! The search index: stems of each message (see `domain::search_terms`), and
//! of each visitor's name and email. The one place where the two stores need
//! their own SQL: SQLite's FTS5 tables against PostgreSQL's `tsvector` + GIN.

use sqlx::{AnyConnection, Row};

use crate::db::Backend;
use crate::domain::search_terms::Query;

/// Indexes a message's stems (again, if it was indexed before).
pub async fn index_message(
    conn: &mut AnyConnection,
    backend: Backend,
    message_id: i64,
    terms: &str,
) -> Result<(), sqlx::Error> {
    index(
        conn,
        backend,
        "message_search",
        "message_id",
        message_id,
        terms,
    )
    .await
}

/// Indexes a visitor's name and email (again, when they change).
pub async fn index_visitor(
    conn: &mut AnyConnection,
    backend: Backend,
    visitor_id: i64,
    terms: &str,
) -> Result<(), sqlx::Error> {
    index(
        conn,
        backend,
        "visitor_search",
        "visitor_id",
        visitor_id,
        terms,
    )
    .await
}

/// Indexes a new message's terms (`$1` its id, `$2` its terms) on SQLite.
pub(crate) const SQLITE_INSERT_MESSAGE_TERMS: &str =
    "INSERT INTO message_search (rowid, terms) VALUES ($1, $2)";

/// Indexes a message just written. On SQLite its id was never used before
/// (AUTOINCREMENT), so there is nothing to replace: one statement, not two,
/// on the hottest path.
pub async fn index_new_message(
    conn: &mut AnyConnection,
    backend: Backend,
    message_id: i64,
    terms: &str,
) -> Result<(), sqlx::Error> {
    match backend {
        Backend::Sqlite => insert_terms(conn, "message_search", message_id, terms).await,
        Backend::Postgres => index_message(conn, backend, message_id, terms).await,
    }
}

async fn insert_terms(
    conn: &mut AnyConnection,
    table: &str,
    id: i64,
    terms: &str,
) -> Result<(), sqlx::Error> {
    if !terms.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO {table} (rowid, terms) VALUES ($1, $2)"
        ))
        .bind(id)
        .bind(terms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn index(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    key: &str,
    id: i64,
    terms: &str,
) -> Result<(), sqlx::Error> {
    match backend {
        Backend::Sqlite => {
            // Contentless FTS5 replaces nothing by itself: delete, then insert.
            sqlx::query(&format!("DELETE FROM {table} WHERE rowid = $1"))
                .bind(id)
                .execute(&mut *conn)
                .await?;
            insert_terms(conn, table, id, terms).await?;
        }
        Backend::Postgres => {
            sqlx::query(&format!(
                // Stripped: no positions (nothing searches phrases), a third the size.
                "INSERT INTO {table} ({key}, terms) VALUES ($1, strip(to_tsvector('simple', $2))) \
                 ON CONFLICT ({key}) DO UPDATE SET terms = excluded.terms"
            ))
            .bind(id)
            .bind(terms)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Ids of messages matching `query`, newest first, below `before` (0: from
/// the newest).
pub async fn messages(
    conn: &mut AnyConnection,
    backend: Backend,
    query: &Query,
    before: i64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let rows = match backend {
        Backend::Sqlite => {
            sqlx::query(
                "SELECT rowid AS id FROM message_search WHERE message_search MATCH $1 \
                 AND ($2 = 0 OR rowid < $2) ORDER BY rowid DESC LIMIT $3",
            )
            .bind(query.fts5())
            .bind(before)
            .bind(limit)
            .fetch_all(conn)
            .await?
        }
        Backend::Postgres => return postgres_messages(conn, query, before, limit).await,
    };
    rows.iter().map(|r| r.try_get("id")).collect()
}

/// The newest messages PostgreSQL looks through row by row before it asks
/// the GIN index instead.
const RECENT_WINDOW: i64 = 20_000;

/// PostgreSQL has no index that is both full-text and ordered by id, and its
/// planner guesses a word's frequency badly: a frequent word is fastest
/// walking ids backwards, a rare one through the GIN index and a sort, and
/// the wrong choice costs hundreds of milliseconds on a million messages.
/// So: first the newest `RECENT_WINDOW` messages, walked backwards (a frequent
/// word fills the page there), then, if the page is not full, the GIN index
/// below them (a word that rare has few matches to sort).
async fn postgres_messages(
    conn: &mut AnyConnection,
    query: &Query,
    before: i64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let tsquery = query.tsquery();
    let recent = sqlx::query(
        "SELECT message_id AS id FROM (SELECT message_id, terms FROM message_search \
         WHERE ($2 = 0 OR message_id < $2) ORDER BY message_id DESC LIMIT $4) AS recent \
         WHERE terms @@ to_tsquery('simple', $1) ORDER BY message_id DESC LIMIT $3",
    )
    .bind(&tsquery)
    .bind(before)
    .bind(limit)
    .bind(RECENT_WINDOW)
    .fetch_all(&mut *conn)
    .await?;
    let mut ids: Vec<i64> = recent
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    if ids.len() as i64 >= limit {
        return Ok(ids);
    }
    // Where the window ended: the oldest of the messages it looked through.
    let edge = sqlx::query(
        "SELECT message_id AS id FROM message_search WHERE ($1 = 0 OR message_id < $1) \
         ORDER BY message_id DESC OFFSET $2 LIMIT 1",
    )
    .bind(before)
    .bind(RECENT_WINDOW - 1)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(edge) = edge else {
        return Ok(ids); // the window held every message
    };
    let edge: i64 = edge.try_get("id")?;
    let older = sqlx::query(
        "WITH hits AS MATERIALIZED (SELECT message_id FROM message_search \
         WHERE terms @@ to_tsquery('simple', $1) AND message_id < $2) \
         SELECT message_id AS id FROM hits ORDER BY message_id DESC LIMIT $3",
    )
    .bind(&tsquery)
    .bind(edge)
    .bind(limit - ids.len() as i64)
    .fetch_all(&mut *conn)
    .await?;
    for row in &older {
        ids.push(row.try_get("id")?);
    }
    Ok(ids)
}

/// Ids of visitors whose name or email matches `query`, newest first.
pub async fn visitors(
    conn: &mut AnyConnection,
    backend: Backend,
    query: &Query,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let rows = match backend {
        Backend::Sqlite => {
            sqlx::query(
                "SELECT rowid AS id FROM visitor_search WHERE visitor_search MATCH $1 \
                 ORDER BY rowid DESC LIMIT $2",
            )
            .bind(query.fts5())
            .bind(limit)
            .fetch_all(conn)
            .await?
        }
        Backend::Postgres => {
            sqlx::query(
                "SELECT visitor_id AS id FROM visitor_search \
                 WHERE terms @@ to_tsquery('simple', $1) ORDER BY visitor_id DESC LIMIT $2",
            )
            .bind(query.tsquery())
            .bind(limit)
            .fetch_all(conn)
            .await?
        }
    };
    rows.iter().map(|r| r.try_get("id")).collect()
}

/// Up to `limit` messages below `before` (0: from the newest), newest first,
/// for the backfill of messages stored before the index existed.
pub async fn unindexed_messages(
    conn: &mut AnyConnection,
    before: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, body FROM messages WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("body")?)))
        .collect()
}

/// Up to `limit` visitors with a name or email below `before`, newest first.
pub async fn unindexed_visitors(
    conn: &mut AnyConnection,
    before: i64,
    limit: i64,
) -> Result<Vec<(i64, Option<String>, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, email FROM visitors WHERE ($1 = 0 OR id < $1) \
         AND (name IS NOT NULL OR email IS NOT NULL) ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, r.try_get("email")?)))
        .collect()
}
