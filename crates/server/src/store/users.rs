//! Team members (`users`).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use switchboard_protocol::{NotificationSettings, Role};

use crate::db::{now_ms, Db};
use crate::domain::email::EmailAddress;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Invited,
    Active,
    Removed,
}

impl AccountStatus {
    fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Invited => "invited",
            AccountStatus::Active => "active",
            AccountStatus::Removed => "removed",
        }
    }
    fn parse(s: &str) -> AccountStatus {
        match s {
            "active" => AccountStatus::Active,
            "invited" => AccountStatus::Invited,
            _ => AccountStatus::Removed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub status: AccountStatus,
    pub password_hash: String,
    pub must_change_password: bool,
    pub password_expires_at: Option<i64>,
    pub avatar_file: Option<String>,
    pub locale: String,
    pub notifications: NotificationSettings,
    pub away: bool,
}

const COLUMNS: &str = "id, email, name, role, status, password_hash, must_change_password, \
    password_expires_at, avatar_file, locale, notify_sound, notify_email, away";

fn from_row(row: &AnyRow) -> Result<UserRecord, sqlx::Error> {
    let role: String = row.try_get("role")?;
    let status: String = row.try_get("status")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).unwrap_or(Role::Analyst),
        status: AccountStatus::parse(&status),
        password_hash: row.try_get("password_hash")?,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        password_expires_at: row.try_get("password_expires_at")?,
        avatar_file: row.try_get("avatar_file")?,
        locale: row.try_get("locale")?,
        notifications: NotificationSettings {
            sound: row.try_get::<i64, _>("notify_sound")? != 0,
            email: row.try_get::<i64, _>("notify_email")? != 0,
        },
        away: row.try_get::<i64, _>("away")? != 0,
    })
}

pub struct NewUser<'a> {
    pub email: &'a EmailAddress,
    pub name: &'a str,
    pub role: Role,
    pub status: AccountStatus,
    pub password_hash: &'a str,
    pub must_change_password: bool,
    pub password_expires_at: Option<i64>,
    pub locale: &'a str,
    pub notifications: NotificationSettings,
    pub invited_by: Option<i64>,
}

pub async fn insert(conn: &mut AnyConnection, user: NewUser<'_>) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO users (email, name, role, status, password_hash, must_change_password, \
         password_expires_at, locale, notify_sound, notify_email, invited_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
    )
    .bind(user.email.as_str())
    .bind(user.name)
    .bind(user.role.as_str())
    .bind(user.status.as_str())
    .bind(user.password_hash)
    .bind(user.must_change_password as i64)
    .bind(user.password_expires_at)
    .bind(user.locale)
    .bind(user.notifications.sound as i64)
    .bind(user.notifications.email as i64)
    .bind(user.invited_by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    row.try_get("id")
}

/// A removed member's row stays (their past messages keep their name), so an
/// invitation to the same email brings the row back.
pub async fn reinvite_removed(
    conn: &mut AnyConnection,
    id: i64,
    role: Role,
    password_hash: &str,
    password_expires_at: i64,
    notifications: NotificationSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET role = $1, status = 'invited', password_hash = $2, must_change_password = 1, \
         password_expires_at = $3, notify_sound = $4, notify_email = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(role.as_str())
    .bind(password_hash)
    .bind(password_expires_at)
    .bind(notifications.sound as i64)
    .bind(notifications.email as i64)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<UserRecord>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_email(db: &Db, email: &EmailAddress) -> Result<Option<UserRecord>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
        .bind(email.as_str())
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Everyone on the team (invited and active), oldest first.
pub async fn team(db: &Db) -> Result<Vec<UserRecord>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE status <> 'removed' ORDER BY id"
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Admins who can sign in and act (invited ones may never accept).
pub async fn count_active_admins(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND status = 'active'")
        .fetch_one(conn)
        .await?
        .try_get("n")
}

pub async fn set_profile(db: &Db, id: i64, name: &str, locale: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET name = $1, locale = $2, updated_at = $3 WHERE id = $4")
        .bind(name)
        .bind(locale)
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A password the member chose: it never expires and makes an invited member active.
pub async fn set_own_password(
    conn: &mut AnyConnection,
    id: i64,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = 0, password_expires_at = NULL, \
         status = CASE WHEN status = 'invited' THEN 'active' ELSE status END, updated_at = $2 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A new emailed password (a resent invitation).
pub async fn set_temporary_password(
    conn: &mut AnyConnection,
    id: i64,
    password_hash: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = 1, password_expires_at = $2, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(password_hash)
    .bind(expires_at)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_avatar(db: &Db, id: i64, file: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET avatar_file = $1, updated_at = $2 WHERE id = $3")
        .bind(file)
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn set_notifications(
    db: &Db,
    id: i64,
    settings: NotificationSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET notify_sound = $1, notify_email = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(settings.sound as i64)
    .bind(settings.email as i64)
    .bind(now_ms())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn set_away(conn: &mut AnyConnection, id: i64, away: bool) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET away = $1, updated_at = $2 WHERE id = $3")
        .bind(away as i64)
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_role(conn: &mut AnyConnection, id: i64, role: Role) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_removed(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET status = 'removed', password_hash = '!', must_change_password = 0, \
         password_expires_at = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
