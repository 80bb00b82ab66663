//! Search across the whole history (`GET /api/v1/search`), and opening a dialog at a
//! found message: its pages are fetched back until the message is among them.

use serde::Serialize;
use switchboard_protocol::SearchHit;

use super::Session;
use crate::cache::MessageLog;
use crate::error::{Error, Result};

/// Hits per page.
const SEARCH_PAGE: u32 = 30;
/// How far back opening a hit pages (50 messages a page) before it gives up and
/// shows the dialog without it.
const MAX_PAGES_BACK: usize = 40;

/// One page of search results, newest first; `next` continues further back.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    pub next: Option<String>,
}

impl Session {
    /// Messages, visitor names and emails matching `q` (other word forms too). Needs
    /// the server: offline it fails with a network error.
    pub async fn search(&self, q: &str, before: Option<&str>) -> Result<SearchResults> {
        let q = q.trim();
        if q.is_empty() {
            return Err(Error::Invalid("type something to search for".into()));
        }
        let page = self.api.search(q, before, Some(SEARCH_PAGE)).await?;
        Ok(SearchResults {
            items: page.items,
            next: page.next,
        })
    }

    /// The dialog's messages from the newest back to `message_id` at least (a search
    /// hit), cached like any page. Offline, what the cache holds.
    pub async fn messages_until(
        &self,
        conversation_id: i64,
        message_id: i64,
    ) -> Result<MessageLog> {
        let mut log = self.messages(conversation_id).await?;
        for _ in 0..MAX_PAGES_BACK {
            if log.items.iter().any(|m| m.id == message_id) || log.next.is_none() {
                break;
            }
            log = match self.older_messages(conversation_id).await {
                Ok(l) => l,
                Err(e) if e.is_network() => break,
                Err(e) => return Err(e),
            };
        }
        Ok(log)
    }
}
