//! Outgoing messages: queued on disk first, sent in order when the server can be
//! reached, kept with the server's reason when it refuses one (retry or discard).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Session;
use crate::cache::OutboxItem;
use crate::close::{self, Reaction};
use crate::error::{Error, Result};
use crate::CoreEvent;

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
