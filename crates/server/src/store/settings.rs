//! Workspace settings: a small key → JSON table.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use crate::db::Db;

pub const TEAM_DEFAULTS: &str = "team_defaults";
pub const SIGNING_KEY: &str = "signing_key";
pub const FILE_LINK_KEY: &str = "file_link_key";
/// The widget's look, texts and greetings (`WidgetSettings`).
pub const WIDGET_SETTINGS: &str = "widget_settings";
/// The id the next new greeting gets (ids are never reused: reports count
/// showings by id).
pub const NEXT_GREETING_ID: &str = "next_greeting_id";

pub async fn get<T: DeserializeOwned>(db: &Db, key: &str) -> anyhow::Result<Option<T>> {
    get_in(&mut *db.pool.acquire().await?, key).await
}

/// `get` on a given connection (inside a transaction, say).
pub async fn get_in<T: DeserializeOwned>(
    conn: &mut sqlx::AnyConnection,
    key: &str,
) -> anyhow::Result<Option<T>> {
    let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(row) => Ok(Some(serde_json::from_str(
            &row.try_get::<String, _>("value")?,
        )?)),
        None => Ok(None),
    }
}

pub async fn put<'e, T: Serialize>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    key: &str,
    value: &T,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(serde_json::to_string(value)?)
    .execute(executor)
    .await?;
    Ok(())
}

/// Stores `value` unless the key already has one; returns what is stored.
/// Several nodes starting at once agree on one value.
pub async fn get_or_init<T: Serialize + DeserializeOwned>(
    db: &Db,
    key: &str,
    value: &T,
) -> anyhow::Result<T> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(serde_json::to_string(value)?)
        .execute(&db.pool)
        .await?;
    get(db, key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("setting {key} vanished"))
}
