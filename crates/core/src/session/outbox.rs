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
    /// `files`: local ids of files attached in the composer ([`Session::attach_paths`],
    /// [`Session::attach_bytes`]), sent with it in this order; with files the text may
    /// be empty.
    pub fn send_message(
        &self,
        conversation_id: i64,
        body: &str,
        files: &[String],
    ) -> Result<OutboxItem> {
        if body.trim().is_empty() && files.is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        let files = self.files_for_message(files)?;
        let item = OutboxItem {
            client_id: uuid::Uuid::new_v4().to_string(),
            conversation_id,
            body: body.to_string(),
            created_at: now_ms(),
            failed: None,
            retrying: None,
            files,
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
        let mut dropped = Vec::new();
        let items = {
            let mut st = self.state.lock().unwrap();
            if discard {
                st.outbox.retain(|i| {
                    if i.client_id == client_id {
                        dropped.extend(i.files.iter().cloned());
                        false
                    } else {
                        true
                    }
                });
            } else {
                for i in st.outbox.iter_mut().filter(|i| i.client_id == client_id) {
                    i.failed = None;
                }
            }
            self.cache.save_outbox(&st.outbox)?;
            st.outbox.clone()
        };
        // the copies go only once the outbox no longer names them
        self.drop_files(&dropped);
        self.emit(CoreEvent::Outbox { items });
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Sends every queued message, in order, until the server cannot be reached. A
    /// message's files are uploaded first (those not uploaded yet, or too long ago),
    /// then the message goes with their ids and its `client_id`: sent again after a
    /// lost answer or a crash, the server answers with the first message, not a copy.
    pub async fn flush_outbox(&self) -> Result<usize> {
        let _g = self.flush_lock.lock().await;
        let mut sent = 0;
        // messages whose uploads the server no longer knows (404: deleted unsent after a
        // day): uploaded again once
        let mut reuploaded = std::collections::HashSet::new();
        'items: loop {
            let next = {
                let st = self.state.lock().unwrap();
                st.outbox.iter().find(|i| i.failed.is_none()).cloned()
            };
            let Some(item) = next else { break };
            let mut ids = Vec::with_capacity(item.files.len());
            for f in &item.files {
                match self.ensure_uploaded(&f.local_id).await {
                    Ok((a, at)) => {
                        ids.push(a.id);
                        if f.uploaded.as_ref().map(|u| u.id) != Some(a.id) {
                            self.note_uploaded(&item.client_id, &f.local_id, a, at)?;
                        }
                    }
                    Err(e) if self.waits(&e) => {
                        if let Some(reason) = retry_reason(&e) {
                            self.mark_retrying(&reason);
                        }
                        return Err(e);
                    }
                    Err(e) => {
                        self.mark_failed(&item.client_id, format!("{}: {e}", f.name))?;
                        continue 'items;
                    }
                }
            }
            match self
                .api
                .post_message(item.conversation_id, &item.body, &item.client_id, &ids)
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
                    self.drop_files(&item.files);
                    self.emit(CoreEvent::Outbox { items });
                    sent += 1;
                }
                Err(e) if self.waits(&e) => {
                    if let Some(reason) = retry_reason(&e) {
                        self.mark_retrying(&reason);
                    }
                    return Err(e);
                }
                Err(e)
                    if e.status() == Some(404)
                        && !item.files.is_empty()
                        && reuploaded.insert(item.client_id.clone()) =>
                {
                    // the uploads may be gone (deleted unsent after a day; or the dialog
                    // is, and the next answer says so): upload the copies again and
                    // send once more, with the same client_id
                    tracing::info!(error = %e, "message refused with its files: uploading them again");
                    self.forget_uploaded(&item.files);
                }
                Err(e) => self.mark_failed(&item.client_id, e.to_string())?,
            }
        }
        Ok(sent)
    }

    /// Whether a failed send means "the whole queue waits" (server unreachable or
    /// busy, the token refused, a password to change) rather than "this one failed".
    fn waits(&self, e: &Error) -> bool {
        e.is_network()
            || matches!(e.status(), Some(401) | Some(408) | Some(429))
            || e.status().is_some_and(|s| s >= 500)
            || close::on_error(e) == Reaction::ChangePassword
    }

    /// Keeps the server's copy of a queued file, so a restart does not upload it again.
    fn note_uploaded(
        &self,
        client_id: &str,
        local_id: &str,
        a: switchboard_protocol::Attachment,
        at: i64,
    ) -> Result<()> {
        let mut st = self.state.lock().unwrap();
        for f in st
            .outbox
            .iter_mut()
            .filter(|i| i.client_id == client_id)
            .flat_map(|i| i.files.iter_mut())
            .filter(|f| f.local_id == local_id)
        {
            f.uploaded = Some(a.clone());
            f.uploaded_at = Some(at);
        }
        self.cache.save_outbox(&st.outbox)
    }

    /// The server refused this message for good: kept with why, for retry or discard.
    fn mark_failed(&self, client_id: &str, why: String) -> Result<()> {
        let items = {
            let mut st = self.state.lock().unwrap();
            for i in st.outbox.iter_mut().filter(|i| i.client_id == client_id) {
                i.failed = Some(why.clone());
                i.retrying = None;
            }
            self.cache.save_outbox(&st.outbox)?;
            st.outbox.clone()
        };
        self.emit(CoreEvent::Outbox { items });
        Ok(())
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
            if self.is_online() {
                self.resume_waiting_uploads();
            }
            if !pending {
                continue;
            }
            if let Err(e) = self.flush_outbox().await {
                tracing::info!(error = %e, "outbox waits for the server");
            }
        }
    }
}
