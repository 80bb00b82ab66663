//! Outgoing messages: queued on disk first, sent in order when the server can be
//! reached, kept with the server's reason when it refuses one (retry or discard).
//! While the server cannot take them (offline, or it answers "try later": a full
//! disk, a lost database, overload) they are marked `retrying` with why.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Session;
use crate::cache::OutboxItem;
use crate::close::{self, Reaction};
use crate::error::{Error, Result};
use crate::CoreEvent;

/// Why a send that failed for now waits for the next try: `offline` when the server
/// was not reached, its error code when it answered "try later" (408, 429, 5xx:
/// `storage_full`, `database_unavailable`, `overloaded`, …). `None` for failures
/// that are not about the server taking writes (401, a password to change).
fn retry_reason(e: &Error) -> Option<String> {
    if e.is_network() {
        return Some("offline".into());
    }
    match e.status() {
        Some(408) | Some(429) => Some(e.code().to_string()),
        Some(s) if s >= 500 => Some(e.code().to_string()),
        _ => None,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Session {
    pub fn outbox(&self) -> Vec<OutboxItem> {
        self.state.lock().unwrap().outbox.clone()
    }

    /// Queues a message: on disk first, then sent (now if online, else on reconnect).
    pub fn send_message(&self, conversation_id: i64, body: &str) -> Result<OutboxItem> {
        if body.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        let item = OutboxItem {
            client_id: uuid::Uuid::new_v4().to_string(),
            conversation_id,
            body: body.to_string(),
            created_at: now_ms(),
            failed: None,
            retrying: None,
        };
        let items = {
            let mut st = self.state.lock().unwrap();
            st.outbox.push(item.clone());
            self.cache.save_outbox(&st.outbox)?;
            st.outbox.clone()
        };
        self.emit(CoreEvent::Outbox { items });
        self.outbox_wake.notify_one();
        Ok(item)
    }

    /// Retries a message the server refused, or drops it (`discard`).
    pub fn retry_outbox(&self, client_id: &str, discard: bool) -> Result<()> {
        let items = {
            let mut st = self.state.lock().unwrap();
            if discard {
                st.outbox.retain(|i| i.client_id != client_id);
            } else {
                for i in st.outbox.iter_mut().filter(|i| i.client_id == client_id) {
                    i.failed = None;
                }
            }
            self.cache.save_outbox(&st.outbox)?;
            st.outbox.clone()
        };
        self.emit(CoreEvent::Outbox { items });
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Sends every queued message, in order, until the server cannot be reached.
    pub async fn flush_outbox(&self) -> Result<usize> {
        let _g = self.flush_lock.lock().await;
        let mut sent = 0;
        loop {
            let next = {
                let st = self.state.lock().unwrap();
                st.outbox.iter().find(|i| i.failed.is_none()).cloned()
            };
            let Some(item) = next else { break };
            match self
                .api
                .post_message(item.conversation_id, &item.body, &item.client_id)
                .await
            {
                Ok(msg) => {
                    // the message is stored before the outbox entry goes: a crash in
                    // between resends the same client_id, which the server dedupes
                    self.add_message(msg.clone(), false);
                    let items = {
                        let mut st = self.state.lock().unwrap();
                        st.outbox.retain(|i| i.client_id != item.client_id);
                        // the server takes messages again: the rest are being sent
                        for i in st.outbox.iter_mut() {
                            i.retrying = None;
                        }
                        self.cache.save_outbox(&st.outbox)?;
                        st.outbox.clone()
                    };
                    self.emit(CoreEvent::Outbox { items });
                    sent += 1;
                }
                Err(e)
                    if e.is_network()
                        || matches!(e.status(), Some(401) | Some(408) | Some(429))
                        || e.status().is_some_and(|s| s >= 500)
                        || close::on_error(&e) == Reaction::ChangePassword =>
                {
                    if let Some(reason) = retry_reason(&e) {
                        self.mark_retrying(&reason);
                    }
                    return Err(e);
                }
                Err(e) => {
                    let items = {
                        let mut st = self.state.lock().unwrap();
                        for i in st
                            .outbox
                            .iter_mut()
                            .filter(|i| i.client_id == item.client_id)
                        {
                            i.failed = Some(e.to_string());
                            i.retrying = None;
                        }
                        self.cache.save_outbox(&st.outbox)?;
                        st.outbox.clone()
                    };
                    self.emit(CoreEvent::Outbox { items });
                }
            }
        }
        Ok(sent)
    }

    /// Marks every message still to be sent as waiting for `reason` (the whole queue
    /// waits: it is sent in order). Saved and shown only when something changed, so
    /// the retries every few seconds stay quiet.
    fn mark_retrying(&self, reason: &str) {
        let items = {
            let mut st = self.state.lock().unwrap();
            let mut changed = false;
            for i in st.outbox.iter_mut().filter(|i| i.failed.is_none()) {
                if i.retrying.as_deref() != Some(reason) {
                    i.retrying = Some(reason.to_string());
                    changed = true;
                }
            }
            if !changed {
                return;
            }
            // only a hint for the UI: the messages themselves are on disk already
            if let Err(e) = self.cache.save_outbox(&st.outbox) {
                tracing::warn!(error = %e, "could not save the outbox");
            }
            st.outbox.clone()
        };
        self.emit(CoreEvent::Outbox { items });
    }

    pub(super) async fn outbox_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.outbox_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                _ = stop.changed() => break,
            }
            let pending = self
                .state
                .lock()
                .unwrap()
                .outbox
                .iter()
                .any(|i| i.failed.is_none());
            if !pending {
                continue;
            }
            if let Err(e) = self.flush_outbox().await {
                tracing::info!(error = %e, "outbox waits for the server");
            }
        }
    }
}
