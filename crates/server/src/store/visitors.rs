//! Website visitors, known by the token their browser keeps.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{now_ms, Db};
use crate::domain::secret;

#[derive(Debug, Clone)]
pub struct VisitorRecord {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub locale: String,
    /// Mail to `email` bounced (a delivery status notification said so).
    pub email_bouncing: bool,
}

fn from_row(row: &AnyRow) -> Result<VisitorRecord, sqlx::Error> {
    Ok(VisitorRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        locale: row.try_get("locale")?,
        email_bouncing: row.try_get::<Option<i64>, _>("email_bounced_at")?.is_some(),
    })
}

/// A new visitor and the token that names them (kept only as a hash).
pub async fn create(db: &Db, locale: &str) -> Result<(VisitorRecord, String), sqlx::Error> {
    let token = secret::new_token("sbv");
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO visitors (token_hash, locale, created_at, last_seen_at) VALUES ($1, $2, $3, $3) \
         RETURNING id, name, email, locale, email_bounced_at",
    )
    .bind(secret::token_hash(&token))
    .bind(locale)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok((from_row(&row)?, token))
}

pub async fn by_token(db: &Db, token: &str) -> Result<Option<VisitorRecord>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, name, email, locale, email_bounced_at FROM visitors WHERE token_hash = $1",
    )
    .bind(secret::token_hash(token))
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<VisitorRecord>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, name, email, locale, email_bounced_at FROM visitors WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn set_contact(
    db: &Db,
    id: i64,
    email: Option<&str>,
    name: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        // A newly given address is tried again, even the one that bounced.
        "UPDATE visitors SET email = COALESCE($1, email), name = COALESCE($2, name), last_seen_at = $3, \
         email_bounced_at = CASE WHEN $1 IS NULL THEN email_bounced_at ELSE NULL END WHERE id = $4",
    )
    .bind(email)
    .bind(name)
    .bind(now_ms())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn set_locale(db: &Db, id: i64, locale: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE visitors SET locale = $1, last_seen_at = $2 WHERE id = $3")
        .bind(locale)
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Marks the visitor's address as bouncing, if `address` is still theirs;
/// returns whether it was.
pub async fn mark_bouncing(db: &Db, id: i64, address: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE visitors SET email_bounced_at = $1 WHERE id = $2 AND LOWER(email) = LOWER($3)",
    )
    .bind(now_ms())
    .bind(id)
    .bind(address)
    .execute(&db.pool)
    .await?
    .rows_affected()
        == 1)
}
