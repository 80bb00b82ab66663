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
}

fn from_row(row: &AnyRow) -> Result<VisitorRecord, sqlx::Error> {
    Ok(VisitorRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        locale: row.try_get("locale")?,
    })
}

/// A new visitor and the token that names them (kept only as a hash).
pub async fn create(db: &Db, locale: &str) -> Result<(VisitorRecord, String), sqlx::Error> {
    let token = secret::new_token("sbv");
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO visitors (token_hash, locale, created_at, last_seen_at) VALUES ($1, $2, $3, $3) \
         RETURNING id, name, email, locale",
    )
    .bind(secret::token_hash(&token))
    .bind(locale)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok((from_row(&row)?, token))
}

pub async fn by_token(db: &Db, token: &str) -> Result<Option<VisitorRecord>, sqlx::Error> {
    let row = sqlx::query("SELECT id, name, email, locale FROM visitors WHERE token_hash = $1")
        .bind(secret::token_hash(token))
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<VisitorRecord>, sqlx::Error> {
    let row = sqlx::query("SELECT id, name, email, locale FROM visitors WHERE id = $1")
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
        "UPDATE visitors SET email = COALESCE($1, email), name = COALESCE($2, name), last_seen_at = $3 WHERE id = $4",
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
