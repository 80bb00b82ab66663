//! Operator sessions: bearer tokens, kept as hashes.

use sqlx::{AnyConnection, Row};

use crate::db::{now_ms, Db};
use crate::domain::secret;

/// Opens a session and returns the bearer token (shown once, never stored).
pub async fn create(db: &Db, user_id: i64) -> Result<String, sqlx::Error> {
    let token = secret::new_token("sbt");
    sqlx::query("INSERT INTO sessions (user_id, token_hash, created_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(secret::token_hash(&token))
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(token)
}

/// The user a live token belongs to; removed members have no sessions.
pub async fn user_of(db: &Db, token: &str) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query("SELECT user_id FROM sessions WHERE token_hash = $1")
        .bind(secret::token_hash(token))
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| r.try_get("user_id")).transpose()
}

pub async fn revoke(db: &Db, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(secret::token_hash(token))
        .execute(&db.pool)
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
