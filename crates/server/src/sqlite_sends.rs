//! Visitors' sends on SQLite, written by a thread of their own.
//!
//! sqlx runs each SQLite statement on the connection's own thread: every
//! statement is a hand-off there and back, two threads put to sleep and woken
//! again. A send written through it took five such trips (BEGIN, the insert,
//! the conversation, index and log, COMMIT — shared by a batch or not), and the
//! profile of the stored path was dominated by the kernel switching threads,
//! not by SQLite's work (BENCHMARKS.md, "Where a stored message's CPU goes").
//! Here one thread owns a connection and writes a whole batch of sends in one
//! go — BEGIN, each send's statements, COMMIT with its fsync — so a send costs
//! one hand-off to this thread and one answer back.
//!
//! Only the common case is written here: a visitor's chat message without
//! files, into their open conversation, not a retry. For anything else — no
//! conversation yet, a closed one, a retry, and any error at all — the send is
//! answered [`Written::Elsewhere`] and takes the general path (group commit over
//! sqlx), which decides the rest and turns errors into the right answer (a
//! full disk: 507). What this writes is exactly what the general path writes
//! for that case (the same statements, see `store::messages`), and it takes
//! turns with every other writer of the node through the database's write lock.

use std::sync::mpsc;

use rusqlite::{named_params, OptionalExtension};
use tokio::sync::oneshot;

use crate::db::{now_ms, Db, SqliteFile};
use crate::store::messages::{self, MessageRecord};
use crate::store::{conversations, events, search};

/// At most this many sends share a transaction (as in `group_commit`).
const MAX_BATCH: usize = 256;

/// What the log says of a new message: its `message.created` data, as the
/// API shows the message (given by the caller, who knows the views).
pub type EventData = Box<dyn Fn(&MessageRecord) -> String + Send>;

pub struct VisitorSend {
    pub visitor_id: i64,
    pub client_id: Option<String>,
    pub body: String,
    /// Its search terms (see `domain::search_terms`).
    pub terms: String,
}

pub enum Written {
    /// Stored, durable, and in the log.
    Message(MessageRecord),
    /// Not the common case, or this writer could not: take the general path.
    Elsewhere,
}

struct Job {
    send: VisitorSend,
    done: oneshot::Sender<Written>,
}

pub struct SqliteSends {
    jobs: mpsc::SyncSender<Job>,
}

impl SqliteSends {
    /// Starts the writer for the database of `db`, when it is an SQLite file;
    /// None otherwise (PostgreSQL writers on several nodes go through
    /// `group_commit`). The thread ends when this is dropped.
    pub fn start(db: &Db, queue: usize, event_data: EventData) -> anyhow::Result<Option<Self>> {
        let Some(file) = db.sqlite.clone() else {
            return Ok(None);
        };
        if file.path.as_os_str() == ":memory:" {
            return Ok(None);
        }
        let conn = open(&file)?;
        // Built once: `prepare_cached` finds the statement by its text.
        let insert = messages::insert_into_open_conversation_sql();
        let (jobs, queued) = mpsc::sync_channel(queue.max(1));
        let db = db.clone();
        std::thread::Builder::new()
            .name("sqlite-sends".into())
            .spawn(move || run(&conn, &insert, &db, &queued, &event_data))?;
        Ok(Some(SqliteSends { jobs }))
    }

    /// Writes `send` if it is the common case; see the module's comment.
    pub async fn write(&self, send: VisitorSend) -> Written {
        let (done, written) = oneshot::channel();
        // A full queue: the general path answers (it has its own bound).
        if self.jobs.try_send(Job { send, done }).is_err() {
            return Written::Elsewhere;
        }
        written.await.unwrap_or(Written::Elsewhere)
    }
}

fn open(file: &SqliteFile) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(&file.path)?;
    conn.execute_batch(file.pragmas)?;
    Ok(conn)
}

fn run(
    conn: &rusqlite::Connection,
    insert: &str,
    db: &Db,
    queued: &mpsc::Receiver<Job>,
    event_data: &EventData,
) {
    while let Ok(first) = queued.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let turn = db.wait_to_write_blocking();
        let written = write_batch(conn, insert, &batch, event_data);
        drop(turn);
        match written {
            Ok(written) => {
                db.note_write_ok();
                for (job, message) in batch.into_iter().zip(written) {
                    let _ = job.done.send(match message {
                        Some(message) => Written::Message(message),
                        None => Written::Elsewhere,
                    });
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, jobs = batch.len(), "sqlite sends: a batch goes the general way");
                for job in batch {
                    let _ = job.done.send(Written::Elsewhere);
                }
            }
        }
    }
}

/// Writes the batch in one transaction: per send, the message if it is the
/// common case (None if not: nothing was written for it).
fn write_batch(
    conn: &rusqlite::Connection,
    insert: &str,
    batch: &[Job],
    event_data: &EventData,
) -> rusqlite::Result<Vec<Option<MessageRecord>>> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let written = batch
        .iter()
        .map(|job| write_one(conn, insert, &job.send, event_data))
        .collect::<rusqlite::Result<Vec<_>>>()
        .and_then(|written| conn.execute_batch("COMMIT").map(|()| written));
    if written.is_err() && !conn.is_autocommit() {
        // Still in the transaction (SQLite may have ended it on a failed COMMIT).
        let _ = conn.execute_batch("ROLLBACK");
    }
    written
}

fn write_one(
    conn: &rusqlite::Connection,
    insert: &str,
    send: &VisitorSend,
    event_data: &EventData,
) -> rusqlite::Result<Option<MessageRecord>> {
    let now = now_ms();
    let stored = conn
        .prepare_cached(insert)?
        .query_row(
            named_params! {
                "$1": send.visitor_id,
                "$2": send.client_id,
                "$3": "visitor",
                "$4": send.visitor_id,
                "$5": send.body,
                "$6": "chat",
                "$7": None::<String>,
                "$8": None::<Vec<u8>>,
                "$9": now,
                "$10": 0_i64,
            },
            messages::from_sqlite_row,
        )
        .optional()?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    conn.prepare_cached(conversations::RECORD_MESSAGE)?
        .execute(named_params! {
            "$1": stored.id,
            "$2": stored.created_at,
            "$3": stored.conversation_id,
            "$4": "visitor",
            "$5": send.visitor_id,
            "$6": "chat",
        })?;
    if !send.terms.is_empty() {
        conn.prepare_cached(search::SQLITE_INSERT_MESSAGE_TERMS)?
            .execute(named_params! { "$1": stored.id, "$2": send.terms })?;
    }
    conn.prepare_cached(events::INSERT)?.query_row(
        named_params! {
            "$1": switchboard_protocol::event::MESSAGE_CREATED,
            "$2": stored.conversation_id,
            "$3": send.visitor_id,
            "$4": event_data(&stored),
            "$5": now,
        },
        |_| Ok(()),
    )?;
    Ok(Some(stored))
}
