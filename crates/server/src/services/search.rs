//! Searching the whole correspondence: message bodies (email replies
//! included) and visitors' names and emails, by word stems (see
//! `domain::search_terms`).

use std::time::Duration;

use switchboard_protocol::{Page, SearchHit};

use crate::domain::search_terms::{self, Query};
use crate::error::{ApiError, ApiResult};
use crate::services::conversations::{conversation_view, message_view};
use crate::state::SharedState;
use crate::store::{conversations, messages, search, settings};

/// Visitors shown above the messages on a search's first page.
const VISITOR_HITS: i64 = 5;
const SNIPPET_CHARS: usize = 160;
pub const MAX_LIMIT: i64 = 100;

/// A page of hits, newest first; `before` is the `next` of the previous page.
pub async fn search(
    state: &SharedState,
    q: &str,
    before: Option<i64>,
    limit: i64,
) -> ApiResult<Page<SearchHit>> {
    let Some(query) = Query::parse(q) else {
        return Err(ApiError::unprocessable(
            "invalid_query",
            "search for at least one word (letters or digits)",
        ));
    };
    let backend = state.db.backend;
    let mut conn = state.db.pool.acquire().await?;
    let mut items = Vec::new();
    if before.is_none() {
        for visitor_id in search::visitors(&mut conn, backend, &query, VISITOR_HITS).await? {
            let Some(c) = conversations::of_visitor(&mut conn, visitor_id).await? else {
                continue;
            };
            let view = conversation_view(state, &mut conn, &c).await?;
            let label = [view.visitor.name.as_deref(), view.visitor.email.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
            let (snippet, matched) = search_terms::snippet(&label, &query, SNIPPET_CHARS);
            items.push(SearchHit {
                conversation: view,
                message: None,
                snippet,
                matched,
            });
        }
    }
    // One more than asked tells whether there is a next page.
    let mut ids =
        search::messages(&mut conn, backend, &query, before.unwrap_or(0), limit + 1).await?;
    let more = ids.len() as i64 > limit;
    ids.truncate(limit as usize);
    let mut found = messages::by_ids(&mut conn, &ids).await?;
    found.sort_by_key(|m| std::cmp::Reverse(m.id));
    for m in &found {
        let Some(c) = conversations::get(&mut conn, m.conversation_id, 0).await? else {
            continue;
        };
        let (snippet, matched) = search_terms::snippet(&m.body, &query, SNIPPET_CHARS);
        items.push(SearchHit {
            conversation: conversation_view(state, &mut conn, &c).await?,
            message: Some(message_view(state, m)),
            snippet,
            matched,
        });
    }
    Ok(Page {
        items,
        next: if more {
            ids.last().map(|id| id.to_string())
        } else {
            None
        },
    })
}

/// Indexes a visitor's name and email (after they change).
pub async fn index_visitor(
    state: &SharedState,
    visitor_id: i64,
    name: Option<&str>,
    email: Option<&str>,
) -> ApiResult<()> {
    let terms = visitor_terms(name, email);
    let mut tx = state.db.begin_write().await?;
    search::index_visitor(&mut tx.tx, state.db.backend, visitor_id, &terms).await?;
    tx.commit().await?;
    Ok(())
}

fn visitor_terms(name: Option<&str>, email: Option<&str>) -> String {
    search_terms::index_terms(&format!(
        "{} {}",
        name.unwrap_or_default(),
        email.unwrap_or_default()
    ))
}

const BACKFILL_KEY: &str = "search_backfill";
const BACKFILL_BATCH: i64 = 500;

#[derive(serde::Serialize, serde::Deserialize, Default, Clone, Copy)]
struct Backfill {
    /// Messages below this id are still to be indexed (0: none indexed yet).
    messages_below: i64,
    visitors_below: i64,
    done: bool,
}

/// Indexes what was stored before search existed (an upgraded data dir or
/// database), newest first, in small batches beside the live traffic; new
/// messages are indexed as they are written. Its progress is kept, so a
/// restart goes on where it stopped; several nodes doing it at once only
/// index some messages twice, which changes nothing.
pub async fn backfill(state: SharedState) {
    loop {
        match backfill_step(&state).await {
            Ok(true) => return,
            Ok(false) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => {
                tracing::warn!(error = %e, "search: indexing older messages failed; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// One batch; true when everything is indexed.
pub async fn backfill_step(state: &SharedState) -> anyhow::Result<bool> {
    let mut progress: Backfill = settings::get(&state.db, BACKFILL_KEY)
        .await?
        .unwrap_or_default();
    if progress.done {
        return Ok(true);
    }
    let backend = state.db.backend;
    let mut conn = state.db.pool.acquire().await?;
    let batch =
        search::unindexed_messages(&mut conn, progress.messages_below, BACKFILL_BATCH).await?;
    let visitors = if batch.is_empty() {
        search::unindexed_visitors(&mut conn, progress.visitors_below, BACKFILL_BATCH).await?
    } else {
        Vec::new()
    };
    drop(conn);
    let terms: Vec<(i64, String)> = batch
        .iter()
        .map(|(id, body)| (*id, search_terms::index_terms(body)))
        .collect();
    let mut tx = state.db.begin_write().await?;
    for (id, terms) in &terms {
        search::index_message(&mut tx.tx, backend, *id, terms).await?;
    }
    for (id, name, email) in &visitors {
        let terms = visitor_terms(name.as_deref(), email.as_deref());
        search::index_visitor(&mut tx.tx, backend, *id, &terms).await?;
    }
    if let Some((last, _)) = batch.last() {
        progress.messages_below = *last;
    } else if let Some((last, _, _)) = visitors.last() {
        progress.visitors_below = *last;
    } else {
        progress.done = true;
    }
    // A message indexed here lies below every id written with search on, so
    // the live path and the backfill never disagree about one.
    settings::put(&mut *tx.tx, BACKFILL_KEY, &progress).await?;
    tx.commit().await?;
    if progress.done {
        tracing::info!("search: every earlier message is indexed");
    }
    Ok(progress.done)
}
