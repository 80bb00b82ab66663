//! The database handle: one SQL dialect (`$n` placeholders, 64-bit integers) that
//! both SQLite and PostgreSQL speak, through sqlx's `Any` driver.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::store_fault::{self, Fault};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite has one writer at a time. Taking this lock before a write
    /// transaction turns "database is locked" retries into a fair queue, and keeps
    /// event sequence numbers in commit order.
    write_lock: Arc<Mutex<()>>,
    /// Why the last write failed for a reason outside the request (a full
    /// disk, a lost database), until a write succeeds again: `/healthz` and
    /// the SMTP listener read it.
    write_fault: Arc<AtomicU8>,
    /// When a write last failed for lack of space (ms since the epoch).
    storage_full_at: Arc<std::sync::atomic::AtomicI64>,
    /// When `can_write` last tried a write, so that probes stay rare.
    last_probe: Arc<std::sync::Mutex<Option<Instant>>>,
    /// SQLite: the database file and the settings of every connection to it
    /// (for a connection of our own, see `sqlite_sends`).
    pub sqlite: Option<SqliteFile>,
}

#[derive(Clone, Debug)]
pub struct SqliteFile {
    pub path: std::path::PathBuf,
    /// PRAGMAs every connection runs first.
    pub pragmas: &'static str,
    /// Notified when a commit left the WAL long enough to checkpoint (see
    /// `wal_checkpoint`).
    pub wal_grew: std::sync::Arc<tokio::sync::Notify>,
}

/// A write transaction; on SQLite it also holds the write lock until it ends.
///
/// `BEGIN`, `COMMIT` and `ROLLBACK` are plain statements here, not sqlx's
/// `Transaction`: sqlx counts transaction depth per connection, and when SQLite
/// rolls a transaction back by itself (a `COMMIT` that meets a full disk) that
/// count stays at one, so the pooled connection refuses every later `BEGIN`.
/// Ending the transaction ourselves, and closing a connection whose state is
/// unsure, means no connection goes back to the pool inside a transaction.
pub struct WriteTx {
    pub tx: TxConn,
    done: bool,
    guard: Option<OwnedMutexGuard<()>>,
    backend: Backend,
    fault: Arc<AtomicU8>,
    storage_full_at: Arc<std::sync::atomic::AtomicI64>,
}

/// The connection of a write transaction; use it as `&mut tx.tx`.
pub struct TxConn(Option<PoolConnection<Any>>);

impl Deref for TxConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.0.as_deref().expect("an open write transaction")
    }
}

impl DerefMut for TxConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.0.as_deref_mut().expect("an open write transaction")
    }
}

/// How SQLite syncs a commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    /// fsync at every commit: an answered write survives a power cut.
    Full,
    /// fsync at checkpoints only: the last commits may be lost on power loss
    /// (not on a crash of the process). For benchmarks that measure the cost.
    Normal,
}

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Self::connect_with(url, SqliteSync::Full).await
    }

    pub async fn connect_with(url: &str, sync: SqliteSync) -> anyhow::Result<Db> {
        // wal_autocheckpoint: a commit leaves the WAL's checkpoints to the
        // server's checkpointer (see `wal_checkpoint`) unless the WAL has grown
        // past 10,000 pages (40 MB), the bound for a process without one.
        let pragmas = match sync {
            SqliteSync::Full => "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;",
            SqliteSync::Normal => "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;",
        };
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://… or postgres://…");
        };
        let options = AnyConnectOptions::from_str(url).context("parsing the database URL")?;
        // Set once the schema is current: connections opened before (the
        // migrations' own) cannot call its functions yet.
        let migrated = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let warm_new = migrated.clone();
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            // A database that does not answer is answered 503 within seconds
            // (ACQUIRE_TIMEOUT), not after a client has given up.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx pings a connection before lending it (and again when it
            // comes back). A pooled SQLite connection is a file handle on a
            // thread of its own: it cannot have gone away, and the ping cost
            // a thread hand-off per query. A PostgreSQL connection may have
            // (a restarted server), but one that passed the ping on its
            // return moments ago is taken as it is: under load that ping
            // was a round trip before every query.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend == Backend::Postgres && meta.idle_for >= PING_WHEN_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _| {
                let warm = backend == Backend::Postgres && warm_new.load(Ordering::Acquire);
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // FULL: every commit is fsynced before the API answers,
                        // so a 201 or an accepted email survives a power cut.
                        // Group commit makes that one fsync per batch.
                        conn.execute(pragmas).await?;
                    }
                    if warm {
                        warm_up_postgres(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", redact(url)))?;
        if backend == Backend::Sqlite {
            // WAL lets readers go on while one writer writes; it persists in the file.
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        let sqlite = match backend {
            Backend::Sqlite => Some(SqliteFile {
                path: sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .get_filename()
                    .to_path_buf(),
                pragmas,
                wal_grew: Default::default(),
            }),
            Backend::Postgres => None,
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .context("running database migrations")?;
        if backend == Backend::Postgres {
            migrated.store(true, Ordering::Release);
            // The connection the migrations ran on stays in the pool.
            let mut conn = pool.acquire().await?;
            if warm_up_postgres(&mut conn).await.is_err() {
                conn.close_on_drop();
            }
        }
        Ok(Db {
            pool,
            backend,
            write_lock: Arc::new(Mutex::new(())),
            write_fault: Arc::new(AtomicU8::new(Fault::None as u8)),
            storage_full_at: Arc::new(std::sync::atomic::AtomicI64::new(0)),
            last_probe: Arc::new(std::sync::Mutex::new(None)),
            sqlite,
        })
    }

    /// Waits, blocking the thread, for this node's turn to write (the same
    /// queue as `begin_write`'s), for a writer outside the async runtime.
    pub fn wait_to_write_blocking(&self) -> OwnedMutexGuard<()> {
        self.write_lock.clone().blocking_lock_owned()
    }

    /// A write outside `WriteTx` succeeded: the store is fine again.
    pub fn note_write_ok(&self) {
        self.write_fault.store(Fault::None as u8, Ordering::Relaxed);
    }

    /// A write outside `WriteTx` failed: notes whether for the store's sake
    /// (see `write_fault`).
    pub fn note_write_error(&self, e: &sqlx::Error) {
        self.note(e);
    }

    /// Why writes are failing now, if they are (until one succeeds).
    pub fn write_fault(&self) -> Fault {
        Fault::from_u8(self.write_fault.load(Ordering::Relaxed))
    }

    /// Whether a write failed for lack of space within `within`.
    pub fn storage_full_within(&self, within: Duration) -> bool {
        now_ms() - self.storage_full_at.load(Ordering::Relaxed) < within.as_millis() as i64
    }

    /// Whether a write would succeed now. While the last write failed for the
    /// store's sake, a tiny real write finds out (at most one a second), so
    /// the answer changes as soon as space or the database is back, even when
    /// no one else writes.
    pub async fn can_write(&self) -> bool {
        if self.write_fault() == Fault::None {
            return true;
        }
        {
            let mut last = self.last_probe.lock().unwrap();
            if last.is_some_and(|at| at.elapsed() < PROBE_EVERY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        let probe = async {
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ('write_probe', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(now_ms().to_string())
            .execute(&mut *tx.tx)
            .await?;
            tx.commit().await
        };
        match tokio::time::timeout(ACQUIRE_TIMEOUT, probe).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                self.note(&e);
                false
            }
            Err(_) => false,
        }
    }

    /// Begins a write transaction (serialised on SQLite).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        self.begin_write_holding(&[]).await
    }

    /// Begins a write transaction that holds `keys` from its start (in the
    /// order given: ascending, see [`WriteTx::lock`]). On PostgreSQL the
    /// `BEGIN` and the locks go in one round trip — a group-commit batch is
    /// otherwise three round trips of bookkeeping (begin, lock, commit) for
    /// one or two messages.
    pub async fn begin_write_holding(&self, keys: &[LockKey]) -> Result<WriteTx, sqlx::Error> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        let mut conn = self.pool.acquire().await.inspect_err(|e| self.note(e))?;
        // IMMEDIATE takes SQLite's write lock up front: a deferred transaction
        // that reads and then writes fails at once (SQLITE_BUSY_SNAPSHOT) when a
        // single-statement write slipped in between.
        let begin: Cow<'static, str> = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE".into(),
            Backend::Postgres if keys.is_empty() => "BEGIN".into(),
            // Without arguments this goes as one simple query: its statements
            // run in order, and the transaction stays open after it.
            Backend::Postgres => keys
                .iter()
                .fold("BEGIN".to_string(), |sql, key| {
                    let (class, id) = key.keys();
                    format!("{sql}; SELECT pg_advisory_xact_lock({class}, {id})")
                })
                .into(),
        };
        if let Err(e) = conn.execute(begin.as_ref()).await {
            // Unsure what state a failed BEGIN leaves: don't pool it again.
            conn.close_on_drop();
            self.note(&e);
            return Err(e);
        }
        Ok(WriteTx {
            tx: TxConn(Some(conn)),
            done: false,
            guard,
            backend: self.backend,
            fault: self.write_fault.clone(),
            storage_full_at: self.storage_full_at.clone(),
        })
    }

    fn note(&self, e: &sqlx::Error) {
        note_fault(&self.write_fault, &self.storage_full_at, e);
    }
}

/// Has a new PostgreSQL connection compile the functions of the hot path
/// (visitors' sends, the numbering of the log) before it is lent out. Each
/// server process compiles a PL/pgSQL function and plans its statements at
/// its first call: 4–5 ms each on a 2-core machine, paid in turn by the first
/// send a connection writes and by the pass that shows it to the operators:
/// without this the first messages of a load run waited 23–43 ms where the
/// rest waited 3–10, with it 7–16 ms less (BENCHMARKS, "Warm connections,
/// and one notifier tried"). The calls run in a transaction that is rolled
/// back, so nothing is written (the compiled functions and their plans stay
/// with the connection). A statement the database refuses costs only the
/// warmth; a connection that fails is not lent out.
async fn warm_up_postgres(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    // The numbering takes the cluster's numbering lock and numbers what
    // waits (then rolled back): it gives up rather than wait for a pass
    // under way, or work through a backlog, while a request waits for this
    // connection.
    let ran = tx
        .execute(
            "SET LOCAL lock_timeout = '20ms'; SET LOCAL statement_timeout = '500ms'; \
             SELECT store_visitor_sends('[]', 0, '', ''); \
             SELECT count(*) FROM read_events_numbered(9223372036854775807, 0);",
        )
        .await;
    let rolled_back = tx.rollback().await;
    match ran {
        // Refused by the database (the lock busy, the timeout, a full disk,
        // a read-only server): only the warmth is lost.
        Err(sqlx::Error::Database(e)) => {
            tracing::debug!(error = %e, "postgres: warming a new connection failed");
        }
        // The connection itself failed: it is not lent out.
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    rolled_back
}

/// A pooled PostgreSQL connection idle this long is pinged before it is used.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// How long a request waits for a database connection before it is answered
/// 503 `database_unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
const PROBE_EVERY: Duration = Duration::from_secs(1);

fn note_fault(cell: &AtomicU8, full_at: &std::sync::atomic::AtomicI64, e: &sqlx::Error) {
    let fault = store_fault::classify(e);
    if fault != Fault::None {
        cell.store(fault as u8, Ordering::Relaxed);
    }
    if fault == Fault::StorageFull {
        full_at.store(now_ms(), Ordering::Relaxed);
    }
}

/// What a write transaction may need to itself among the nodes sharing a
/// PostgreSQL database: writes of different visitors, and the team's, run side
/// by side; only those that read something and write on what they read take
/// the lock of that thing. (SQLite has one writer at a time anyway.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKey {
    /// A visitor's conversation: opening it, its messages, who answers it.
    Visitor(i64),
    /// The team: the last-admin guard, invitations, roles.
    Team,
    /// The notification worker's cursor and digests (one node at a time).
    Notifier,
    /// The widget's settings document and its greeting ids.
    WidgetSettings,
    // (5, 0) is taken too: the database function `number_events` holds it
    // while it numbers the event log (`store::events::numbered_after`).
}

impl LockKey {
    /// The two 32-bit keys of `pg_advisory_xact_lock(int, int)`.
    pub fn keys(self) -> (i32, i32) {
        match self {
            // Visitor ids fit in 32 bits for a long while; past that two
            // visitors may share a lock, which only serialises them.
            LockKey::Visitor(id) => (1, id as i32),
            LockKey::Team => (2, 0),
            LockKey::Notifier => (3, 0),
            LockKey::WidgetSettings => (4, 0),
        }
    }
}

impl WriteTx {
    /// Whether `lock` does anything (several writers at once: PostgreSQL).
    pub fn locks(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Holds `key` until this transaction ends (PostgreSQL; a no-op on
    /// SQLite, where the transaction already has the database to itself).
    /// Take several in ascending order (see `LockKey`'s `Ord`), so that two
    /// transactions never wait on each other in a cycle. Locks known before
    /// the transaction starts are cheaper with [`Db::begin_write_holding`].
    pub async fn lock(&mut self, key: LockKey) -> Result<(), sqlx::Error> {
        if !self.locks() {
            return Ok(());
        }
        let (class, id) = key.keys();
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(class)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .inspect_err(|e| note_fault(&self.fault, &self.storage_full_at, e))
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let mut conn = self.tx.0.take().expect("an open write transaction");
        self.done = true;
        match conn.execute("COMMIT").await {
            Ok(_) => {
                self.fault.store(Fault::None as u8, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                note_fault(&self.fault, &self.storage_full_at, &e);
                // SQLite may have rolled back already (a full disk at COMMIT);
                // if the connection cannot say it is out of the transaction,
                // it is closed rather than pooled.
                end_failed(conn).await;
                Err(e)
            }
        }
    }
}

/// Rolls back what a failed or abandoned transaction left, or closes the
/// connection when even that is unsure.
async fn end_failed(mut conn: PoolConnection<Any>) {
    match conn.execute("ROLLBACK").await {
        Ok(_) => {}
        Err(e) if e.to_string().contains("no transaction is active") => {}
        Err(e) => {
            tracing::warn!(error = %e, "a write connection could not roll back; closing it");
            conn.close_on_drop();
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(mut conn) = self.tx.0.take() else {
            return;
        };
        // Left by `?` before COMMIT: roll back before the next writer starts
        // (the write lock is released only after the rollback).
        let guard = self.guard.take();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    end_failed(conn).await;
                    drop(guard);
                });
            }
            Err(_) => conn.close_on_drop(),
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}
