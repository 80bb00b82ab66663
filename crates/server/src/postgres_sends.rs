//! Visitors' sends on PostgreSQL, written a batch to a statement.
//!
//! The group commit (`group_commit`) shares a transaction between sends but
//! runs each send's own statements in it: a batch of k messages was 2 + 2k
//! round trips to the database (BEGIN with the locks, per message its insert
//! and its follow-up, COMMIT), each one a wake-up of a PostgreSQL process and
//! of a writer here. On two cores that PostgreSQL shares with the nodes, that
//! CPU is what limits the rate (BENCHMARKS.md, issue 16 item 4). Here a whole
//! batch is four round trips whatever its size: BEGIN with its visitors'
//! locks, one insert of every message, one statement for every
//! conversation's summary, search terms and events, and COMMIT — two more
//! when it holds visitors' first messages (their conversations opened, then
//! their messages inserted).
//!
//! Only the common cases are written here, as in `sqlite_sends`: a visitor's
//! chat message without files, not a retry, into their open conversation or
//! opening their first one (when it answers no greeting). Anything else — a
//! closed conversation, a retry, a greeting, a visitor whose lock another
//! transaction holds, a second send of the same visitor in one batch — is
//! answered `Ok(None)` and takes the general path; a second send hears so
//! only once the batch has committed, so a visitor's messages keep their
//! order. What this writes is what `services::conversations` writes for
//! those cases.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use switchboard_protocol::{Message, VisitorRef};
use tokio::sync::{mpsc, oneshot};

use crate::db::{now_ms, Db, LockKey, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::sends::{Views, VisitorSend};
use crate::store::conversations;
use crate::store::messages::{self, BatchInto, MessageRecord};

/// At most this many sends share a transaction (as in `group_commit`).
const MAX_BATCH: usize = 256;

struct Job {
    send: VisitorSend,
    done: oneshot::Sender<ApiResult<Option<Message>>>,
}

pub struct PostgresSends {
    jobs: mpsc::Sender<Job>,
}

impl PostgresSends {
    /// Starts the writer when `db` is PostgreSQL; None otherwise. `written`
    /// is called after each commit that stored messages (the hub's wake-up).
    pub fn start(
        db: &Db,
        queue: usize,
        views: Views,
        written: Box<dyn Fn() + Send + Sync>,
    ) -> Option<Self> {
        if db.backend != crate::db::Backend::Postgres {
            return None;
        }
        let (jobs, queued) = mpsc::channel(queue.max(1));
        tokio::spawn(run(db.clone(), queued, views, written));
        Some(PostgresSends { jobs })
    }

    /// Writes `send` if it is the common case: the message as the API shows
    /// it, once durable; `Ok(None)` when it takes the general path; an error
    /// when the database could not take the batch (503, 507).
    pub async fn write(&self, send: VisitorSend) -> ApiResult<Option<Message>> {
        let (done, written) = oneshot::channel();
        // A full queue: the general path answers (it has its own bound).
        if self.jobs.try_send(Job { send, done }).is_err() {
            return Ok(None);
        }
        written.await.unwrap_or(Ok(None))
    }
}

async fn run(
    db: Db,
    mut queued: mpsc::Receiver<Job>,
    views: Views,
    written: Box<dyn Fn() + Send + Sync>,
) {
    while let Some(first) = queued.recv().await {
        let mut batch = vec![first];
        let mut visitors = HashSet::from([batch[0].send.visitor_id]);
        // Later sends of a visitor already in the batch: answered after it.
        let mut after = Vec::new();
        while batch.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(job) if visitors.insert(job.send.visitor_id) => batch.push(job),
                Ok(job) => after.push(job),
                Err(_) => break,
            }
        }
        match write_batch(&db, &batch, &views).await {
            Ok(stored) => {
                if stored.iter().any(Option::is_some) {
                    written();
                }
                for (job, message) in batch.into_iter().zip(stored) {
                    let _ = job.done.send(Ok(message));
                }
            }
            Err(Failed::Store(e)) => {
                for job in batch {
                    let _ = job.done.send(Err(e.clone()));
                }
            }
            Err(Failed::Batch(e)) => {
                tracing::debug!(error = %e, jobs = batch.len(), "postgres sends: a batch goes the general way");
                for job in batch {
                    let _ = job.done.send(Ok(None));
                }
            }
        }
        for job in after {
            let _ = job.done.send(Ok(None));
        }
    }
}

enum Failed {
    /// The database's trouble (unreachable, full) or a COMMIT whose outcome
    /// is unknown: the senders hear the error, nothing is written twice.
    Store(ApiError),
    /// Something about the batch: its sends take the general path, which
    /// gives each its own answer. Nothing was written.
    Batch(sqlx::Error),
}

/// Writes the batch in one transaction: per send, the message's view if it
/// was stored here.
async fn write_batch(
    db: &Db,
    batch: &[Job],
    views: &Views,
) -> Result<Vec<Option<Message>>, Failed> {
    let failed = |e: sqlx::Error| match ApiError::of_store_fault(&e) {
        Some(answer) => Failed::Store(answer),
        None => Failed::Batch(e),
    };
    // A visitor whose lock another transaction holds (a write of theirs on
    // another node, a colleague closing their conversation) would hold up the
    // whole batch: their send takes the general path, which waits for it.
    let locks: Vec<LockKey> = batch
        .iter()
        .map(|job| LockKey::Visitor(job.send.visitor_id))
        .collect();
    let (mut tx, not_held) = db.begin_write_trying(&locks).await.map_err(failed)?;
    let now = now_ms();
    let sends = |pick: &dyn Fn(usize, &VisitorSend) -> Option<serde_json::Value>| {
        let picked: Vec<_> = batch
            .iter()
            .enumerate()
            .filter(|(k, _)| !not_held.contains(k))
            .filter_map(|(k, job)| pick(k, &job.send))
            .collect();
        (!picked.is_empty()).then(|| json!(picked).to_string())
    };
    let send_json = |k: usize, send: &VisitorSend| {
        json!({
            "k": k,
            "visitor_id": send.visitor_id,
            "client_id": send.client_id,
            "body": send.body,
        })
    };

    // Into open conversations: the common case.
    let mut stored: HashMap<i64, MessageRecord> = HashMap::new();
    if let Some(into_open) = sends(&|k, send| Some(send_json(k, send))) {
        insert(
            &mut tx,
            BatchInto::OpenConversations,
            &into_open,
            now,
            &mut stored,
        )
        .await
        .map_err(failed)?;
    }
    // Visitors' first messages (a new visitor's first minute): their
    // conversation opened here. A closed conversation, a retry and a greeting
    // answered are the general path's.
    let mut opened: HashMap<i64, (i64, VisitorRef)> = HashMap::new();
    let first = sends(&|k, send| {
        (send.may_open && !stored.contains_key(&send.visitor_id))
            .then(|| json!({ "k": k, "visitor_id": send.visitor_id }))
    });
    if let Some(first) = first {
        let rows = conversations::open_first_batch(&mut tx.tx, &first, now)
            .await
            .map_err(failed)?;
        opened.extend(
            rows.into_iter()
                .map(|(id, visitor)| (visitor.id, (id, visitor))),
        );
        let into_new = sends(&|k, send| {
            let (conversation_id, _) = opened.get(&send.visitor_id)?;
            let mut value = send_json(k, send);
            value["conversation_id"] = json!(conversation_id);
            Some(value)
        });
        if let Some(into_new) = into_new {
            insert(
                &mut tx,
                BatchInto::Conversations,
                &into_new,
                now,
                &mut stored,
            )
            .await
            .map_err(failed)?;
        }
    }

    // Back in the batch's order: one send per visitor, so its author tells.
    let messages: Vec<Option<Message>> = batch
        .iter()
        .map(|job| {
            stored
                .remove(&job.send.visitor_id)
                .map(|m| (views.message)(&m))
        })
        .collect();
    let follow_ups: Vec<_> = batch
        .iter()
        .zip(&messages)
        .enumerate()
        .filter_map(|(k, (job, message))| {
            let message = message.as_ref()?;
            let opened = opened.remove(&job.send.visitor_id).map(|(id, visitor)| {
                json!((views.opened)(visitor, id, now, message.clone())).to_string()
            });
            Some(json!({
                "k": k,
                "id": message.id,
                "conversation_id": message.conversation_id,
                "visitor_id": job.send.visitor_id,
                "created_at": message.created_at,
                "terms": job.send.terms,
                "data": json!(message).to_string(),
                "opened": opened,
            }))
        })
        .collect();
    if !follow_ups.is_empty() {
        messages::record_visitor_batch(&mut tx.tx, &json!(follow_ups).to_string())
            .await
            .map_err(failed)?;
    }
    // Whether a failed COMMIT committed is not known: never the general path
    // then, which could store the messages again.
    tx.commit()
        .await
        .map_err(|e| Failed::Store(ApiError::from(e)))?;
    Ok(messages)
}

/// Inserts the messages of `sends` (see `messages::insert_visitor_batch`) and
/// adds those stored to `stored`, by visitor.
async fn insert(
    tx: &mut WriteTx,
    into: BatchInto,
    sends: &str,
    now: i64,
    stored: &mut HashMap<i64, MessageRecord>,
) -> Result<(), sqlx::Error> {
    let rows = messages::insert_visitor_batch(&mut tx.tx, into, sends, now).await?;
    stored.extend(rows.into_iter().filter_map(|m| Some((m.author_id?, m))));
    Ok(())
}
