//! Keeping the cache in step with the server: the full reload over REST (first start,
//! `reset`), applying each stream event to the dialogs and unread counts, storing
//! messages, and writing the dialog list and stream position to disk.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_protocol::{event, AuthorKind, Conversation, Message, WidgetSettings};
use tokio::sync::watch;

use super::{Session, State, PAGE};
use crate::api::ConversationStatusFilter;
use crate::error::Result;
use crate::CoreEvent;

impl State {
    pub(super) fn upsert(&mut self, c: Conversation, take_unread: bool) {
        if take_unread {
            if let Some(m) = &c.last_message {
                let e = self.counted.entry(c.id).or_insert(m.id);
                *e = (*e).max(m.id);
            }
        }
        upsert(&mut self.convs, c, take_unread);
    }
}

/// Puts a server copy of a dialog into the map. A copy older than what we have is
/// ignored; the local unread count is kept unless `take_unread` (a REST answer for us).
fn upsert(map: &mut HashMap<i64, Conversation>, mut c: Conversation, take_unread: bool) {
    if let Some(old) = map.get(&c.id) {
        if old.updated_at > c.updated_at {
            return;
        }
        if !take_unread {
            c.unread = old.unread;
        }
        if let (Some(a), Some(b)) = (&old.last_message, &c.last_message) {
            if a.id > b.id {
                c.last_message = old.last_message.clone();
            }
        } else if c.last_message.is_none() {
            c.last_message = old.last_message.clone();
        }
    }
    map.insert(c.id, c);
}

impl Session {
    /// Loads everything over REST (first start or after `reset`).
    pub(super) async fn reload(&self) -> Result<()> {
        let me = self.api.me().await?;
        self.set_user(me);
        let team = self.api.team().await.unwrap_or_else(|_| self.team_cached());
        let mut convs = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .api
                .conversations(
                    Some(ConversationStatusFilter::Open),
                    None,
                    cursor.as_deref(),
                    Some(PAGE),
                )
                .await?;
            for c in page.items {
                convs.insert(c.id, c);
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let closed = self
            .api
            .conversations(
                Some(ConversationStatusFilter::Closed),
                None,
                None,
                Some(PAGE),
            )
            .await?;
        for c in closed.items {
            convs.insert(c.id, c);
        }
        {
            let mut st = self.state.lock().unwrap();
            st.counted = convs
                .values()
                .filter_map(|c| c.last_message.as_ref().map(|m| (c.id, m.id)))
                .collect();
            st.convs = convs;
            st.closed_next = closed.next;
            st.acct.team = team.clone();
            st.dirty = true;
        }
        // cached message pages may have gaps after a reset: they reload on open
        self.cache.clear_messages()?;
        self.emit(CoreEvent::Team { members: team });
        self.emit(CoreEvent::Reloaded);
        Ok(())
    }

    /// Applies one stream event to the cache and raises alerts.
    pub(super) async fn apply(&self, name: &str, data: serde_json::Value) {
        match name {
            event::CONVERSATION_CREATED | event::CONVERSATION_UPDATED => {
                let Ok(c) = serde_json::from_value::<Conversation>(data) else {
                    tracing::warn!(event = name, "bad conversation payload");
                    return;
                };
                let created = name == event::CONVERSATION_CREATED;
                let merged = {
                    let mut st = self.state.lock().unwrap();
                    let known = st.convs.contains_key(&c.id);
                    st.upsert(c.clone(), !known);
                    st.dirty = true;
                    st.convs.get(&c.id).cloned()
                };
                if let Some(m) = merged {
                    self.emit(CoreEvent::Conversation { conversation: m });
                }
                self.emit_unread();
                if created {
                    self.alert_new_conversation(&c);
                }
            }
            event::MESSAGE_CREATED => {
                let Ok(m) = serde_json::from_value::<Message>(data) else {
                    tracing::warn!("bad message payload");
                    return;
                };
                if !self
                    .state
                    .lock()
                    .unwrap()
                    .convs
                    .contains_key(&m.conversation_id)
                {
                    if let Ok(c) = self.api.conversation(m.conversation_id).await {
                        let mut st = self.state.lock().unwrap();
                        st.upsert(c, true);
                    }
                }
                self.add_message(m, true);
            }
            event::READ => {
                // {conversation_id, message_id, reader: {kind, id}}: this operator read the
                // dialog elsewhere (another device), so the count clears here too
                let cid = data.get("conversation_id").and_then(|v| v.as_i64());
                let reader = data.get("reader");
                let kind = reader.and_then(|r| r.get("kind")).and_then(|v| v.as_str());
                let uid = reader
                    .and_then(|r| r.get("id"))
                    .and_then(|v| v.as_i64())
                    .or_else(|| data.get("user_id").and_then(|v| v.as_i64()));
                if let (Some(cid), Some(uid)) = (cid, uid) {
                    if kind != Some("visitor") && uid == self.account.user_id {
                        let c = {
                            let mut st = self.state.lock().unwrap();
                            st.convs.get_mut(&cid).map(|c| {
                                c.unread = 0;
                                c.clone()
                            })
                        };
                        if let Some(c) = c {
                            self.emit(CoreEvent::Conversation { conversation: c });
                            self.emit_unread();
                        }
                    }
                }
            }
            event::TYPING => {
                let cid = data.get("conversation_id").and_then(|v| v.as_i64());
                self.emit(CoreEvent::Typing {
                    conversation_id: cid,
                    data,
                });
            }
            event::WIDGET_UPDATED => match serde_json::from_value::<WidgetSettings>(data) {
                Ok(settings) => self.emit(CoreEvent::Widget { settings }),
                Err(e) => tracing::warn!(error = %e, "bad widget.updated payload"),
            },
            event::TEAM_UPDATED => {
                if let Ok(t) = self.api.team().await {
                    self.state.lock().unwrap().acct.team = t.clone();
                    self.emit(CoreEvent::Team { members: t });
                }
                let _ = self.refresh_me().await;
            }
            other => tracing::debug!(event = other, "ignoring stream event"),
        }
    }

    /// Stores a message (from the stream or a send) and updates its dialog.
    pub(super) fn add_message(&self, m: Message, live: bool) {
        // known even when the write fails (a full disk): the dialog still shows it once
        let mut new = false;
        if let Err(e) = self.cache.update_messages(m.conversation_id, |log| {
            new = !log.merge([m.clone()]).is_empty();
        }) {
            tracing::warn!(error = %e, "cannot cache a message");
        }
        if !new {
            return;
        }
        let view = *self.shared.view.lock().unwrap();
        let looking = view.focused && view.conversation == Some(m.conversation_id);
        let from_visitor = m.author.kind == AuthorKind::Visitor;
        let mut fresh = false;
        let conv = {
            let mut guard = self.state.lock().unwrap();
            let st = &mut *guard;
            let c = st.convs.get_mut(&m.conversation_id).map(|c| {
                let upto = st
                    .counted
                    .get(&c.id)
                    .copied()
                    .unwrap_or_else(|| c.last_message.as_ref().map(|l| l.id).unwrap_or(0));
                if from_visitor && live && m.id > upto {
                    fresh = true;
                    if !looking {
                        c.unread += 1;
                    }
                    st.counted.insert(c.id, m.id);
                }
                if c.last_message.as_ref().is_none_or(|l| l.id <= m.id) {
                    c.last_message = Some(m.clone());
                }
                c.updated_at = c.updated_at.max(m.created_at);
                c.clone()
            });
            st.dirty = true;
            c
        };
        self.emit(CoreEvent::Message { message: m.clone() });
        if let Some(c) = conv {
            self.emit(CoreEvent::Conversation {
                conversation: c.clone(),
            });
            self.emit_unread();
            // a message already announced with its new conversation alerts once
            if fresh {
                self.alert_message(&c, &m);
            }
        }
    }

    /// Writes the dialog list and the stream position to disk now.
    pub fn persist(&self) -> Result<()> {
        let mut st = self.state.lock().unwrap();
        // dialogs first, then the position: a crash in between replays events (idempotent)
        self.cache.save_conversations(&st.convs)?;
        self.cache.save_state(&st.acct)?;
        st.dirty = false;
        Ok(())
    }

    pub(super) async fn persist_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => break,
            }
            let dirty = self.state.lock().unwrap().dirty;
            if dirty {
                if let Err(e) = self.persist() {
                    tracing::warn!(error = %e, "cannot write the cache");
                }
            }
        }
    }
}
