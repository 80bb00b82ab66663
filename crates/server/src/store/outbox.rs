//! The durable outbox: an email accepted by the API is a row here first, and a
//! background sender works the rows until each is delivered.

use sqlx::{AnyConnection, Row};

use crate::db::{now_ms, Db};

#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub mail_from: String,
    pub rcpt_to: String,
    pub subject: String,
    pub message: Vec<u8>,
    pub attempts: i64,
}

pub async fn enqueue(
    conn: &mut AnyConnection,
    mail_from: &str,
    rcpt_to: &str,
    subject: &str,
    message: &[u8],
) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO outbox (mail_from, rcpt_to, subject, message, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(mail_from)
    .bind(rcpt_to)
    .bind(subject)
    .bind(message.to_vec())
    .bind(now)
    .fetch_one(conn)
    .await?
    .try_get("id")
}

/// Claims up to `limit` due emails for `lease_ms`. A claim is a conditional
/// update, so two senders (two nodes) never take the same row; a sender that
/// dies leaves its rows to be claimed again when the lease ends.
pub async fn claim_due(db: &Db, limit: i64, lease_ms: i64) -> Result<Vec<OutboxItem>, sqlx::Error> {
    let now = now_ms();
    let candidates = sqlx::query(
        "SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 AND locked_until <= $1 \
         ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut claimed = Vec::new();
    for row in candidates {
        let id: i64 = row.try_get("id")?;
        let updated = sqlx::query(
            "UPDATE outbox SET locked_until = $1 WHERE id = $2 AND sent_at IS NULL AND locked_until <= $3",
        )
        .bind(now + lease_ms)
        .bind(id)
        .bind(now)
        .execute(&db.pool)
        .await?;
        if updated.rows_affected() == 1 {
            let row = sqlx::query(
                "SELECT id, mail_from, rcpt_to, subject, message, attempts FROM outbox WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&db.pool)
            .await?;
            claimed.push(OutboxItem {
                id,
                mail_from: row.try_get("mail_from")?,
                rcpt_to: row.try_get("rcpt_to")?,
                subject: row.try_get("subject")?,
                message: row.try_get("message")?,
                attempts: row.try_get("attempts")?,
            });
        }
    }
    Ok(claimed)
}

/// Marks an email sent and drops its body: invitations carry a generated
/// password, and everything else is kept where it belongs (the conversation).
/// The row stays a while as a log of what was sent to whom.
pub async fn mark_sent(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL, message = $2 \
         WHERE id = $3",
    )
    .bind(now_ms())
    .bind(Vec::<u8>::new())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn mark_failed(db: &Db, id: i64, retry_at: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, locked_until = 0, last_error = $2 \
         WHERE id = $3",
    )
    .bind(retry_at)
    .bind(error)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// How many emails wait to be sent (for health and tests).
pub async fn pending(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")
}

/// Deletes the rows of emails sent before `before`.
pub async fn sweep_sent(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(before)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
