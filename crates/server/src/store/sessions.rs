//! Operator sessions: bearer tokens, kept as hashes, with the times that decide
//! when they expire.

use sqlx::{AnyConnection, Row};

use crate::db::{now_ms, Db};
use crate::domain::secret;

/// A live session row.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// Opens a session and returns the bearer token (shown once, never stored).
pub async fn create(db: &Db, user_id: i64) -> Result<String, sqlx::Error> {
    let token = secret::new_token("sbt");
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sessions (user_id, token_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(user_id)
    .bind(secret::token_hash(&token))
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(token)
}

/// The session of a token, if it exists; removed members have no sessions.
pub async fn find(db: &Db, token: &str) -> Result<Option<SessionRecord>, sqlx::Error> {
    let row =
        sqlx::query("SELECT user_id, created_at, last_seen_at FROM sessions WHERE token_hash = $1")
            .bind(secret::token_hash(token))
            .fetch_optional(&db.pool)
            .await?;
    row.map(|r| {
        Ok(SessionRecord {
            user_id: r.try_get("user_id")?,
            created_at: r.try_get("created_at")?,
            last_seen_at: r.try_get("last_seen_at")?,
        })
    })
    .transpose()
}

/// Records that the token was used now (for the idle expiry).
pub async fn touch(db: &Db, token: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(secret::token_hash(token))
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn revoke(conn: &mut AnyConnection, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(secret::token_hash(token))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn revoke_all_of(conn: &mut AnyConnection, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every session but the one in use (after a password change).
pub async fn revoke_others(
    conn: &mut AnyConnection,
    user_id: i64,
    keep_token: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(secret::token_hash(keep_token))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes sessions idle since `idle_before` or created before `created_before`.
pub async fn sweep_expired(
    db: &Db,
    idle_before: i64,
    created_before: i64,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(created_before)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
