//! The dialogs as the UI reads and changes them: the lists per filter, unread counts,
//! message pages (cache first, the server when online), closed dialogs page by page,
//! updates, marking read and typing.

use std::collections::HashMap;

use switchboard_protocol::{Conversation, ConversationStatus, UpdateConversation, VisitorProfile};

use super::{Filter, Session, PAGE};
use crate::api::ConversationStatusFilter;
use crate::cache::MessageLog;
use crate::error::Result;
use crate::CoreEvent;

/// A part of a dialog list (see [`Session::conversations_window`]).
#[derive(Debug, Clone)]
pub struct Window {
    /// Dialogs in the whole list.
    pub total: usize,
    /// The position of `items[0]` in it.
    pub start: usize,
    pub items: Vec<Conversation>,
}

impl Session {
    /// Every dialog of `filter`, the latest first.
    pub fn conversations(&self, filter: Filter) -> Vec<Conversation> {
        self.conversations_window(filter, 0, usize::MAX).items
    }

    /// The dialogs of `filter` at positions `start..start + count` in the
    /// list (the latest first), and how many it has in all. A list of
    /// thousands is shown a screenful at a time: only those are copied and
    /// sent to the UI.
    pub fn conversations_window(&self, filter: Filter, start: usize, count: usize) -> Window {
        let me = self.account.user_id;
        let st = self.state.lock().unwrap();
        let mut matching: Vec<&Conversation> = st
            .convs
            .values()
            .filter(|c| match filter {
                Filter::Mine => c.status == ConversationStatus::Open && c.assignee_id == Some(me),
                Filter::Unassigned => {
                    c.status == ConversationStatus::Open && c.assignee_id.is_none()
                }
                Filter::All => c.status == ConversationStatus::Open,
                Filter::Closed => c.status == ConversationStatus::Closed,
            })
            .collect();
        matching
            .sort_unstable_by_key(|c| (std::cmp::Reverse(c.updated_at), std::cmp::Reverse(c.id)));
        let total = matching.len();
        let start = start.min(total);
        let items = matching[start..]
            .iter()
            .take(count)
            .map(|c| (*c).clone())
            .collect();
        Window {
            total,
            start,
            items,
        }
    }

    /// Who the visitor is, for the panel beside the dialog (needs the server).
    pub async fn visitor_profile(&self, visitor_id: i64) -> Result<VisitorProfile> {
        self.api.visitor(visitor_id).await
    }

    pub fn conversation(&self, id: i64) -> Option<Conversation> {
        self.state.lock().unwrap().convs.get(&id).cloned()
    }

    /// Unread visitor messages per filter, for the badges.
    pub fn unread_counts(&self) -> HashMap<&'static str, i64> {
        let me = self.account.user_id;
        let st = self.state.lock().unwrap();
        let mut m = HashMap::from([("mine", 0), ("unassigned", 0), ("all", 0), ("closed", 0)]);
        for c in st.convs.values() {
            if c.status == ConversationStatus::Open {
                *m.get_mut("all").unwrap() += c.unread;
                if c.assignee_id == Some(me) {
                    *m.get_mut("mine").unwrap() += c.unread;
                }
                if c.assignee_id.is_none() {
                    *m.get_mut("unassigned").unwrap() += c.unread;
                }
            } else {
                *m.get_mut("closed").unwrap() += c.unread;
            }
        }
        m
    }

    pub fn unread_total(&self) -> i64 {
        let st = self.state.lock().unwrap();
        st.convs
            .values()
            .filter(|c| c.status == ConversationStatus::Open)
            .map(|c| c.unread)
            .sum()
    }

    pub(super) fn emit_unread(&self) {
        let total = self.unread_total();
        self.emit(CoreEvent::Unread { total });
    }

    /// Cached messages of a dialog (instant, works offline).
    pub fn cached_messages(&self, id: i64) -> MessageLog {
        self.cache.load_messages(id)
    }

    /// The latest page from the server merged into the cache; the cache when offline.
    pub async fn messages(&self, id: i64) -> Result<MessageLog> {
        match self.api.messages(id, None, Some(50)).await {
            Ok(page) => {
                let ((), log) = self.cache.update_messages(id, |log| {
                    let had_before = log.items.first().map(|m| m.id);
                    let page_oldest = page.items.first().map(|m| m.id);
                    log.merge(page.items);
                    // the page is the newest one; its cursor continues further back
                    if !log.paged || had_before.is_none() || page_oldest <= had_before {
                        log.next = page.next;
                        log.paged = true;
                    }
                })?;
                Ok(log)
            }
            Err(e) if e.is_network() => Ok(self.cache.load_messages(id)),
            Err(e) => Err(e),
        }
    }

    /// The page before the oldest cached message. Returns the whole log.
    pub async fn older_messages(&self, id: i64) -> Result<MessageLog> {
        let log = self.cache.load_messages(id);
        let Some(cursor) = log.next.clone() else {
            return Ok(log);
        };
        let page = self.api.messages(id, Some(&cursor), Some(50)).await?;
        let ((), log) = self.cache.update_messages(id, |log| {
            log.merge(page.items);
            log.next = page.next;
        })?;
        Ok(log)
    }

    /// Loads (more) closed dialogs from the server into the cache; returns whether more exist.
    pub async fn load_closed(&self, more: bool) -> Result<bool> {
        let cursor = if more {
            self.state.lock().unwrap().closed_next.clone()
        } else {
            None
        };
        if more && cursor.is_none() {
            return Ok(false);
        }
        let page = self
            .api
            .conversations(
                Some(ConversationStatusFilter::Closed),
                None,
                cursor.as_deref(),
                Some(PAGE),
            )
            .await?;
        let mut st = self.state.lock().unwrap();
        for c in page.items {
            st.upsert(c, true);
        }
        st.closed_next = page.next.clone();
        st.dirty = true;
        Ok(page.next.is_some())
    }

    pub async fn update_conversation(
        &self,
        id: i64,
        update: UpdateConversation,
    ) -> Result<Conversation> {
        let c = self.api.update_conversation(id, &update).await?;
        {
            let mut st = self.state.lock().unwrap();
            st.upsert(c.clone(), false);
            st.dirty = true;
        }
        let c = self.conversation(id).unwrap_or(c);
        self.emit(CoreEvent::Conversation {
            conversation: c.clone(),
        });
        self.emit_unread();
        Ok(c)
    }

    /// Marks a dialog read up to its newest message.
    pub async fn mark_read(&self, id: i64) -> Result<()> {
        let last = {
            let log = self.cache.load_messages(id);
            let from_log = log.items.last().map(|m| m.id);
            let from_conv = self
                .conversation(id)
                .and_then(|c| c.last_message.map(|m| m.id));
            from_log.max(from_conv)
        };
        let changed = {
            let mut guard = self.state.lock().unwrap();
            let st = &mut *guard;
            match st.convs.get_mut(&id) {
                Some(c) if c.unread != 0 => {
                    c.unread = 0;
                    st.dirty = true;
                    Some(c.clone())
                }
                _ => None,
            }
        };
        if let Some(c) = changed {
            self.emit(CoreEvent::Conversation { conversation: c });
            self.emit_unread();
        }
        if let Some(m) = last {
            self.api.mark_read(id, m).await?;
        }
        Ok(())
    }

    pub fn send_typing(&self, conversation_id: i64) {
        let _ = self.typing_tx.send(Some(conversation_id));
    }
}
