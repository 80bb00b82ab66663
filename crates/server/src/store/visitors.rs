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
    by_id_in(&db.pool, id).await
}

/// `by_id` on a given connection (inside a transaction).
pub async fn by_id_in<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: i64,
) -> Result<Option<VisitorRecord>, sqlx::Error> {
    let row = sqlx::query(BY_ID).bind(id).fetch_optional(executor).await?;
    row.as_ref().map(from_row).transpose()
}

/// The statement of `by_id` (also run by the writer of `sqlite_sends`).
pub(crate) const BY_ID: &str =
    "SELECT id, name, email, locale, email_bounced_at FROM visitors WHERE id = $1";

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

/// What the widget told of a visitor on a page (None leaves a value as it is).
pub struct Context<'a> {
    pub language: Option<&'a str>,
    pub time_zone: Option<&'a str>,
    pub browser: Option<&'a str>,
    pub os: Option<&'a str>,
    pub referrer: Option<&'a str>,
    pub ip_address: Option<&'a str>,
}

/// Pages kept per visitor.
pub const PAGES_KEPT: i64 = 50;

/// Records a page the visitor is on, and what came with it.
pub async fn record_page(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    url: &str,
    title: &str,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "UPDATE visitors SET language = COALESCE($1, language), time_zone = COALESCE($2, time_zone), \
         browser = COALESCE($3, browser), os = COALESCE($4, os), \
         referrer = COALESCE(referrer, $5), ip_address = COALESCE($6, ip_address), last_seen_at = $7 \
         WHERE id = $8",
    )
    .bind(context.language)
    .bind(context.time_zone)
    .bind(context.browser)
    .bind(context.os)
    .bind(context.referrer)
    .bind(context.ip_address)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO visitor_pages (visitor_id, url, title, seen_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(url)
    .bind(title)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // Only the latest pages stay.
    sqlx::query(
        "DELETE FROM visitor_pages WHERE visitor_id = $1 AND id <= \
         (SELECT id FROM visitor_pages WHERE visitor_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(id)
    .bind(PAGES_KEPT)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A visitor's context and latest pages, newest first.
pub struct Profile {
    pub language: Option<String>,
    pub time_zone: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub referrer: Option<String>,
    pub ip_address: Option<String>,
    pub pages: Vec<(String, String, i64)>,
}

pub async fn profile(db: &Db, id: i64) -> Result<Option<Profile>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT language, time_zone, browser, os, referrer, ip_address FROM visitors WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let pages = sqlx::query(
        "SELECT url, title, seen_at FROM visitor_pages WHERE visitor_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(id)
    .bind(PAGES_KEPT)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("url")?, r.try_get("title")?, r.try_get("seen_at")?)))
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Some(Profile {
        language: row.try_get("language")?,
        time_zone: row.try_get("time_zone")?,
        browser: row.try_get("browser")?,
        os: row.try_get("os")?,
        referrer: row.try_get("referrer")?,
        ip_address: row.try_get("ip_address")?,
        pages,
    }))
}

/// Other visitors who gave the same email (earlier visits), newest first.
pub async fn same_email(db: &Db, email: &str, except: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query("SELECT id FROM visitors WHERE email = $1 AND id <> $2 ORDER BY id DESC LIMIT 20")
        .bind(email)
        .bind(except)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
}
