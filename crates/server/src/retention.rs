//! What is not kept for ever: the retention sweep.
//!
//! - visitors who opened the widget but never wrote, once unseen for
//!   `silent_visitors_after` (a script that opens sessions leaves nothing),
//!   with the pages they saw;
//! - stream events older than `events_after`, once the notification worker has
//!   handled them (a stream resuming from further back gets `reset` and
//!   reloads over REST); the newest event always stays, so `seq` goes on;
//! - expired sessions, and sent emails' rows after 30 days (their bodies are
//!   dropped as soon as they are sent; see `store::outbox`);
//! - refused inbound emails after `--refused-mail-days` (only their headers
//!   and the start of the body were kept; see `services::inbound_mail::for_audit`);
//! - uploads never sent, after a day, with their bytes unless another
//!   upload has the same (see `services::attachments`);
//! - the rate limiters' memory of clients that went quiet (every minute).
//!
//! The same minute tick reloads the reply-token keys (another node may have
//! rotated them) and rotates them when due.
//!
//! Each node sweeps; the statements are idempotent, so nodes need no lock.

use std::time::Duration;

use crate::db::now_ms;
use crate::state::SharedState;
use crate::store::{notifications, outbox, sessions, settings};

/// Rows deleted per statement, so the write lock is never held for long.
const BATCH: i64 = 5_000;
const SENT_EMAILS_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub visitors: u64,
    pub events: u64,
    pub sessions: u64,
    pub sent_emails: u64,
    pub refused_emails: u64,
    pub unsent_uploads: u64,
}

pub struct Sweeper {
    state: SharedState,
}

impl Sweeper {
    pub fn new(state: SharedState) -> Sweeper {
        Sweeper { state }
    }

    pub async fn run(self) {
        let every = self.state.config.retention.sweep_every;
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sweep: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            self.state.limits.forget_idle();
            // Picks up keys rotated by other nodes, and rotates when due.
            if let Err(e) = crate::services::reply_keys::rotate_if_due(&self.state, now_ms()).await
            {
                tracing::warn!(error = %e, "reply keys: reloading or rotating failed");
            }
            if last_sweep.is_some_and(|t| t.elapsed() < every) {
                continue;
            }
            last_sweep = Some(tokio::time::Instant::now());
            match sweep(&self.state, now_ms()).await {
                Ok(swept) if swept != Swept::default() => {
                    tracing::info!(?swept, "retention: swept");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention: sweeping failed"),
            }
        }
    }
}

/// One sweep as of `now` (milliseconds since the epoch; tests move it ahead).
pub async fn sweep(state: &SharedState, now: i64) -> anyhow::Result<Swept> {
    let retention = state.config.retention;
    let policy = state.config.sessions;
    let ms = |d: Duration| d.as_millis() as i64;
    let mut swept = Swept {
        sessions: sessions::sweep_expired(
            &state.db,
            now - ms(policy.idle),
            now - ms(policy.max_age),
        )
        .await?,
        sent_emails: outbox::sweep_sent(&state.db, now - ms(SENT_EMAILS_KEPT)).await?,
        refused_emails: notifications::sweep_refused(
            &state.db,
            now - ms(state.config.smtp.refused_kept),
        )
        .await?,
        unsent_uploads: crate::services::attachments::sweep_unsent(state, now, BATCH).await?,
        ..Swept::default()
    };
    swept.visitors = delete_in_batches(
        state,
        "DELETE FROM visitors WHERE id IN (SELECT v.id FROM visitors v \
         WHERE v.last_seen_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.visitor_id = v.id) LIMIT $2)",
        now - ms(retention.silent_visitors_after),
    )
    .await?;
    // The pages of the visitors just deleted go with them.
    delete_in_batches(
        state,
        "DELETE FROM visitor_pages WHERE id IN (SELECT p.id FROM visitor_pages p \
         WHERE p.seen_at < $1 AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.id = p.visitor_id) LIMIT $2)",
        now,
    )
    .await?;
    // Never past what the notification worker has handled.
    let handled: i64 = settings::get(&state.db, crate::services::notify::CURSOR_KEY)
        .await?
        .unwrap_or(0);
    swept.events = delete_in_batches(
        state,
        &old_events_sql(&state.db, handled),
        now - ms(retention.events_after),
    )
    .await?;
    Ok(swept)
}

/// Deletes a batch of the events older than `$1` that the notification
/// worker has handled (up to `handled`), never the newest (`$2` the batch
/// size). On PostgreSQL an event's position goes with it (migration 0017);
/// events not numbered yet have none and stay.
fn old_events_sql(db: &crate::db::Db, handled: i64) -> String {
    match db.backend {
        crate::db::Backend::Sqlite => format!(
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events \
             WHERE created_at < $1 AND seq <= {handled} \
             AND seq < (SELECT MAX(seq) FROM events) ORDER BY seq LIMIT $2)"
        ),
        crate::db::Backend::Postgres => format!(
            "WITH gone AS (DELETE FROM event_positions WHERE pos IN \
             (SELECT p.pos FROM event_positions AS p JOIN events AS e ON e.seq = p.seq \
             WHERE e.created_at < $1 AND p.pos <= {handled} \
             AND p.pos < (SELECT MAX(pos) FROM event_positions) ORDER BY p.pos LIMIT $2) \
             RETURNING seq) \
             DELETE FROM events WHERE seq IN (SELECT seq FROM gone)"
        ),
    }
}

/// Runs `sql` (`$1` a time, `$2` the batch size) until a batch deletes less
/// than a full one; each batch is a write transaction of its own.
async fn delete_in_batches(
    state: &SharedState,
    sql: &str,
    before: i64,
) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    loop {
        let mut tx = state.db.begin_write().await?;
        let n = sqlx::query(sql)
            .bind(before)
            .bind(BATCH)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        deleted += n;
        if n < BATCH as u64 {
            return Ok(deleted);
        }
    }
}
