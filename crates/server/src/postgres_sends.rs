//! Visitors' sends on PostgreSQL, written a batch to a statement.
//!
//! The group commit (`group_commit`) shares a transaction between sends but
//! runs each send's own statements in it: a batch of k messages was 2 + 2k
//! round trips to the database (BEGIN with the locks, per message its insert
//! and its follow-up, COMMIT), each one a wake-up of a PostgreSQL process and
//! of a writer here. On two cores that PostgreSQL shares with the nodes, that
//! CPU is what limits the rate (BENCHMARKS.md, issue 16 item 4). Here a whole
//! batch is two round trips whatever its size (`store::visitor_batch`): a
//! read of where each message goes, with its new id, and one statement that
//! takes the visitors' locks, checks what was read, writes the messages,
//! conversations opened, summaries, search terms and events, and commits as
//! it returns. Its transaction is open only while that statement runs, so
//! it holds back the numbering of other nodes' events (`number_events`) as
//! briefly as it can.
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

use std::collections::HashSet;

use serde_json::json;
use switchboard_protocol::Message;
use tokio::sync::{mpsc, oneshot};

use crate::db::{now_ms, Db, LockKey};
use crate::error::{ApiError, ApiResult};
use crate::sends::{Views, VisitorSend};
use crate::store::messages::MessageRecord;
use crate::store::visitor_batch;

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
    /// The database's trouble (unreachable, full) or a write whose outcome
    /// is unknown: the senders hear the error, nothing is written twice.
    Store(ApiError),
    /// Something about the batch: its sends take the general path, which
    /// gives each its own answer. Nothing was written.
    Batch(sqlx::Error),
}

/// Writes the batch: per send, the message's view if it was stored here.
/// Two round trips whatever its size (`store::visitor_batch`): a read of
/// where each message goes, then one statement that takes the visitors'
/// locks, checks what was read and writes, committing as it returns.
async fn write_batch(
    db: &Db,
    batch: &[Job],
    views: &Views,
) -> Result<Vec<Option<Message>>, Failed> {
    let read_failed = |e| failure(db, e, false);
    let mut conn = db.pool.acquire().await.map_err(read_failed)?;
    let wanted: Vec<visitor_batch::Wanted> = batch
        .iter()
        .enumerate()
        .map(|(k, job)| visitor_batch::Wanted {
            k,
            visitor_id: job.send.visitor_id,
            client_id: job.send.client_id.as_deref(),
            may_open: job.send.may_open,
        })
        .collect();
    let planned = visitor_batch::plan(&mut conn, &wanted)
        .await
        .map_err(read_failed)?;

    // The messages and their events as the API shows them, built before
    // they are written (their ids are known already).
    let now = now_ms();
    let mut messages: Vec<Option<Message>> = vec![None; batch.len()];
    let mut writes = Vec::new();
    for plan in planned {
        let (Some(target), Some(job)) = (plan.into, batch.get(plan.k)) else {
            continue; // a retry, a closed conversation, a greeting: elsewhere
        };
        let send = &job.send;
        let record = MessageRecord::visitor_chat(
            target.message_id,
            target.conversation_id,
            send.visitor_id,
            send.client_id.clone(),
            send.body.clone(),
            plan.visitor.name.clone(),
            now,
        );
        let message = (views.message)(&record);
        let opened = target.opens.then(|| {
            json!((views.opened)(
                plan.visitor,
                target.conversation_id,
                now,
                message.clone()
            ))
            .to_string()
        });
        let (lock_class, lock_id) = LockKey::Visitor(send.visitor_id).keys();
        writes.push(visitor_batch::Write {
            k: plan.k,
            lock_class,
            lock_id,
            visitor_id: send.visitor_id,
            conversation_id: target.conversation_id,
            opens: target.opens,
            id: target.message_id,
            client_id: send.client_id.as_deref(),
            body: &send.body,
            terms: &send.terms,
            data: json!(message).to_string(),
            opened,
        });
        messages[plan.k] = Some(message);
    }
    if writes.is_empty() {
        return Ok(vec![None; batch.len()]);
    }
    let written: HashSet<usize> = visitor_batch::store(&mut conn, &writes, now)
        .await
        .map_err(|e| failure(db, e, true))?
        .into_iter()
        .collect();
    db.note_write_ok();
    Ok(messages
        .into_iter()
        .enumerate()
        .map(|(k, message)| message.filter(|_| written.contains(&k)))
        .collect())
}

/// How the batch is answered after `e`; `may_have_written`: whether the
/// call that failed may have committed.
fn failure(db: &Db, e: sqlx::Error, may_have_written: bool) -> Failed {
    db.note_write_error(&e);
    match ApiError::of_store_fault(&e) {
        Some(answer) => Failed::Store(answer),
        // A statement that failed wrote nothing.
        None if !may_have_written || matches!(e, sqlx::Error::Database(_)) => Failed::Batch(e),
        // Whether it committed is not known: never the general path then,
        // which could store the messages again.
        None => Failed::Store(ApiError::from(e)),
    }
}
