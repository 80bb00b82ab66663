//! Group commit: write jobs that arrive while a transaction is running are
//! written together in the next one.
//!
//! Under load most of a small write's cost is not SQLite's work but the round
//! trips around it — taking the write lock, `BEGIN`, `COMMIT`, and a thread hop
//! for each statement — and they are paid one writer at a time. One task that
//! runs whatever is queued in a single transaction pays them once per batch, so
//! throughput grows with load instead of collapsing into a queue.
//!
//! A job runs inside a shared transaction, so a failing job would spoil its
//! batch: then the batch is rolled back and every job of it runs again alone, in
//! a transaction of its own, and only the failing one gets its error. A job is
//! therefore re-runnable (`Fn`) and must not act outside the transaction; its
//! caller acts on the result after the commit.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::db::{Backend, Db, LockKey};
use crate::error::{ApiError, ApiResult};

/// At most this many jobs share a transaction, so that none waits long.
const MAX_BATCH: usize = 256;

type Output = Box<dyn Any + Send>;
type Run =
    Box<dyn for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, ApiResult<Output>> + Send + Sync>;

struct Job {
    /// What the job writes on, locked for the batch (see `LockKey`).
    lock: Option<LockKey>,
    run: Run,
    done: oneshot::Sender<ApiResult<Output>>,
}

/// Writers side by side on PostgreSQL, where transactions of different
/// visitors do not wait on each other (each batch locks only its visitors):
/// with one writer a node's throughput is one transaction's round trips at
/// a time. SQLite has one writer anyway.
const POSTGRES_LANES: usize = 4;

#[derive(Clone)]
pub struct GroupCommit {
    /// One queue per writer; a job goes to the lane of its lock, so one
    /// visitor's writes stay in order.
    lanes: Arc<[mpsc::Sender<Job>]>,
    next: Arc<AtomicUsize>,
}

impl GroupCommit {
    /// `queue` jobs at most wait for the writers; past that `write` answers
    /// 503 at once instead of letting memory and latency grow without bound.
    pub fn start(db: Db, queue: usize) -> GroupCommit {
        let lanes = match db.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_LANES,
        };
        let lanes: Arc<[mpsc::Sender<Job>]> = (0..lanes)
            .map(|_| {
                let (jobs, queue) = mpsc::channel((queue / lanes).max(1));
                tokio::spawn(writer(db.clone(), queue));
                jobs
            })
            .collect();
        GroupCommit {
            lanes,
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn lane(&self, lock: Option<LockKey>) -> &mpsc::Sender<Job> {
        let n = match lock {
            Some(key) => {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                key.hash(&mut hasher);
                hasher.finish() as usize
            }
            None => self.next.fetch_add(1, Ordering::Relaxed),
        };
        &self.lanes[n % self.lanes.len()]
    }

    /// Runs `job` in a write transaction, possibly shared with other jobs, and
    /// returns its result once the transaction is committed.
    pub async fn write<T, F>(&self, lock: Option<LockKey>, job: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, ApiResult<T>> + Send + Sync + 'static,
    {
        let run: Run = Box::new(move |conn| {
            let fut = job(conn);
            Box::pin(async move { fut.await.map(|v| Box::new(v) as Output) })
        });
        let (done, result) = oneshot::channel();
        self.lane(lock)
            .try_send(Job { lock, run, done })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    ApiError::unavailable(1, "the server is busy writing; try again")
                }
                mpsc::error::TrySendError::Closed(_) => {
                    ApiError::internal("the writer has stopped")
                }
            })?;
        let output = result
            .await
            .map_err(|_| ApiError::internal("the writer dropped a job"))??;
        Ok(*output
            .downcast::<T>()
            .expect("a job's output has the job's type"))
    }
}

async fn writer(db: Db, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match write_together(&db, &batch).await {
            Ok(outputs) => {
                for (job, output) in batch.into_iter().zip(outputs) {
                    let _ = job.done.send(Ok(output));
                }
            }
            Err(e) if batch.len() == 1 => {
                let _ = batch.remove(0).done.send(Err(e));
            }
            // The store's trouble, not a job's: running each job alone would
            // only meet it again, so the whole batch is answered at once.
            Err(e) if e.is_temporary() && e.code != "internal" => {
                for job in batch {
                    let _ = job.done.send(Err(e.clone()));
                }
            }
            Err(e) => {
                tracing::debug!(error = ?e.message, jobs = batch.len(), "group commit: a batch failed; writing its jobs one by one");
                for job in batch {
                    let result = write_together(&db, std::slice::from_ref(&job))
                        .await
                        .map(|mut outputs| outputs.remove(0));
                    let _ = job.done.send(result);
                }
            }
        }
    }
}

/// Writes the jobs in one transaction. Whatever happens — an error, a full
/// disk at COMMIT, even a panicking job — the transaction ends here (rolled
/// back by `WriteTx`) and the writer goes on with the next batch.
async fn write_together(db: &Db, batch: &[Job]) -> ApiResult<Vec<Output>> {
    AssertUnwindSafe(write_in_one_transaction(db, batch))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("a write job panicked")))
}

async fn write_in_one_transaction(db: &Db, batch: &[Job]) -> ApiResult<Vec<Output>> {
    // Every lock up front and in order: two nodes' batches never wait on
    // each other in a cycle, and a job's writes come after its lock.
    let mut locks: Vec<LockKey> = batch.iter().filter_map(|job| job.lock).collect();
    locks.sort_unstable();
    locks.dedup();
    let mut tx = db.begin_write_holding(&locks).await?;
    let mut outputs = Vec::with_capacity(batch.len());
    for job in batch {
        outputs.push((job.run)(&mut tx.tx).await?);
    }
    tx.commit().await?;
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn put(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, '1')")
            .bind(key)
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// With the writer stuck (the database busy) and its queue full, a new
    /// write is answered 503 at once instead of waiting in an unbounded queue;
    /// the queued ones are written once the database is free.
    #[tokio::test]
    async fn a_full_queue_answers_503_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let db = Db::connect(&url).await.unwrap();
        let writer = GroupCommit::start(db.clone(), 2);
        let held = db.begin_write().await.unwrap();
        let spawn_put = |n: i64| {
            let writer = writer.clone();
            tokio::spawn(async move {
                writer
                    .write(None, move |conn| {
                        Box::pin(async move {
                            put(conn, &format!("queued-{n}")).await?;
                            Ok(n)
                        })
                    })
                    .await
            })
        };
        let first = spawn_put(1); // taken by the writer, which waits for the lock
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let queued = [spawn_put(2), spawn_put(3)];
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let refused = spawn_put(4).await.unwrap().unwrap_err();
        assert_eq!(refused.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(1));
        drop(held);
        assert_eq!(first.await.unwrap().unwrap(), 1);
        for (job, n) in queued.into_iter().zip([2, 3]) {
            assert_eq!(job.await.unwrap().unwrap(), n);
        }
    }

    /// Many concurrent jobs, one of which writes and then fails: the others are
    /// all committed, the failing one gets its error and leaves nothing behind.
    #[tokio::test]
    async fn a_failing_job_spoils_nothing_but_itself() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let db = Db::connect(&url).await.unwrap();
        let writer = GroupCommit::start(db.clone(), 1024);
        let jobs: Vec<_> = (0..64)
            .map(|n| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .write(None, move |conn| {
                            Box::pin(async move {
                                put(conn, &format!("job-{n}")).await?;
                                if n == 13 {
                                    // A second row with the same key: a constraint error.
                                    put(conn, &format!("job-{n}")).await?;
                                }
                                Ok(n)
                            })
                        })
                        .await
                })
            })
            .collect();
        let mut ok = Vec::new();
        for job in jobs {
            match job.await.unwrap() {
                Ok(n) => ok.push(n),
                Err(e) => assert_eq!(e.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR),
            }
        }
        let expected: Vec<i64> = (0..64).filter(|n| *n != 13).collect();
        assert_eq!(ok, expected);
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT key FROM settings WHERE key LIKE 'job-%' ORDER BY key")
                .fetch_all(&db.pool)
                .await
                .unwrap();
        assert_eq!(stored.len(), 63);
        assert!(!stored.contains(&"job-13".to_string()));
    }
}
