//! The background worker that empties the outbox, retrying with backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::Transport;
use crate::db::{now_ms, Db};
use crate::store::outbox;

/// How long a claimed email stays ours before another sender may retry it.
const LEASE_MS: i64 = 120_000;
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

pub struct OutboxSender {
    pub db: Db,
    pub transport: Transport,
    /// Woken when an email is enqueued, so it leaves at once.
    pub wake: Arc<Notify>,
    pub retry_base: Duration,
    /// Adds the DKIM signatures as each email leaves (why then: `dkim`).
    pub dkim: Arc<super::dkim::Signer>,
}

impl OutboxSender {
    pub async fn run(self) {
        loop {
            match self.send_due().await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(e) => tracing::warn!(error = %e, "outbox: reading due emails failed"),
            }
            // Sleep until woken, or poll now and then for retries that came due.
            let _ = tokio::time::timeout(Duration::from_millis(500), self.wake.notified()).await;
        }
    }

    /// Sends what is due; returns how many it tried.
    async fn send_due(&self) -> anyhow::Result<usize> {
        let due = outbox::claim_due(&self.db, 20, LEASE_MS).await?;
        for item in &due {
            let message = match self.dkim.sign(&item.message) {
                Ok(signed) => signed,
                Err(e) => {
                    // Cannot happen with a message we built; if it does, the
                    // email still goes (unsigned mail may land in spam, held
                    // mail never arrives) and the log says why.
                    tracing::error!(id = item.id, error = %e, "DKIM signing failed; sending unsigned");
                    item.message.clone()
                }
            };
            match self
                .transport
                .deliver(&item.mail_from, &item.rcpt_to, &message)
                .await
            {
                Ok(()) => {
                    outbox::mark_sent(&self.db, item.id).await?;
                    tracing::info!(id = item.id, to = %item.rcpt_to, subject = %item.subject, "email sent");
                }
                Err(e) => {
                    let delay = backoff(self.retry_base, item.attempts);
                    tracing::warn!(id = item.id, attempt = item.attempts + 1, retry_in = ?delay, error = %e, "email delivery failed");
                    outbox::mark_failed(
                        &self.db,
                        item.id,
                        now_ms() + delay.as_millis() as i64,
                        &e.to_string(),
                    )
                    .await?;
                }
            }
        }
        Ok(due.len())
    }
}

/// base, 2·base, 4·base … capped at 15 minutes.
fn backoff(base: Duration, attempts: i64) -> Duration {
    let factor = 1u32 << attempts.clamp(0, 16) as u32;
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 0), Duration::from_secs(5));
        assert_eq!(backoff(base, 3), Duration::from_secs(40));
        assert_eq!(backoff(base, 40), MAX_BACKOFF);
    }
}
