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
//! Only the common cases are written here: a visitor's chat message without
//! files, not a retry, into their open conversation or opening their first
//! one (when it answers no greeting). For anything else — a closed
//! conversation, a retry, a greeting, and any error at all — the send is
//! answered [`Written::Elsewhere`] and takes the general path (group commit over
//! sqlx), which decides the rest and turns errors into the right answer (a
//! full disk: 507). What this writes is exactly what the general path writes
//! for those cases (the same statements, see `store::messages`, and the same
//! views), and it takes turns with every other writer of the node through the
//! database's write lock.

use std::sync::mpsc;

use rusqlite::{named_params, OptionalExtension};
use tokio::sync::oneshot;

use crate::db::{now_ms, Db, SqliteFile};
use switchboard_protocol::{event, Message, VisitorRef};

use crate::sends::{Views, VisitorSend};

use crate::store::events::{self, StoredEvent};
use crate::store::messages::{self, MessageRecord};
use crate::store::{conversations, search, visitors};
use crate::wal_checkpoint;

/// At most this many sends share a transaction (as in `group_commit`).
const MAX_BATCH: usize = 256;

/// Receives the events of each batch once it has committed, in `seq` order
/// (the node's hub, which then need not read them back).
pub type Publish = Box<dyn Fn(Vec<StoredEvent>) + Send>;

pub enum Written {
    /// Stored, durable, and in the log (handed to `publish`): the message as
    /// the API shows it.
    Message(Message),
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
    pub fn start(
        db: &Db,
        queue: usize,
        views: Views,
        publish: Publish,
    ) -> anyhow::Result<Option<Self>> {
        let Some(file) = db.sqlite.clone() else {
            return Ok(None);
        };
        if file.path.as_os_str() == ":memory:" {
            return Ok(None);
        }
        let conn = open(&file)?;
        let statements = Statements::new();
        let (jobs, queued) = mpsc::sync_channel(queue.max(1));
        let db = db.clone();
        std::thread::Builder::new()
            .name("sqlite-sends".into())
            .spawn(move || {
                let _checkpoints = wal_checkpoint::wake_when_wal_grows(&conn, file.wal_grew);
                run(&conn, &statements, &db, &queued, &views, &publish)
            })?;
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

/// The inserts' text, built once: `prepare_cached` finds a statement by it.
struct Statements {
    into_open_conversation: String,
    into_conversation: String,
}

impl Statements {
    fn new() -> Self {
        Statements {
            into_open_conversation: messages::insert_into_open_conversation_sql(),
            into_conversation: messages::insert_unless_sent_sql(),
        }
    }
}

fn open(file: &SqliteFile) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(&file.path)?;
    conn.execute_batch(file.pragmas)?;
    Ok(conn)
}

fn run(
    conn: &rusqlite::Connection,
    statements: &Statements,
    db: &Db,
    queued: &mpsc::Receiver<Job>,
    views: &Views,
    publish: &Publish,
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
        let written = write_batch(conn, statements, &batch, views);
        drop(turn);
        match written {
            Ok((written, events)) => {
                db.note_write_ok();
                // Out to the streams before the senders hear back: a 201
                // means the message is durable and on its way to operators.
                publish_or_leave_to_the_log(publish, events);
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

/// Hands the committed events to `publish`, surviving a panic in it: the
/// batch is durable, so its senders must still hear so. Were this thread to
/// die here, they would retry on the general path and a send without a
/// `client_id` would be stored twice. The events themselves are not lost:
/// they are in the log, which the hub reads when its next wake-up or poll
/// finds it behind.
fn publish_or_leave_to_the_log(publish: &Publish, events: Vec<StoredEvent>) {
    let published = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| publish(events)));
    if published.is_err() {
        tracing::error!("sqlite sends: handing committed events to the hub panicked; the hub reads them from the log");
    }
}

/// Writes the batch in one transaction: per send, the message's view if it
/// is the common case (None if not: nothing was written for it); and the
/// events appended to the log, in `seq` order.
fn write_batch(
    conn: &rusqlite::Connection,
    statements: &Statements,
    batch: &[Job],
    views: &Views,
) -> rusqlite::Result<(Vec<Option<Message>>, Vec<StoredEvent>)> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let mut events = Vec::with_capacity(batch.len());
    let written = batch
        .iter()
        .map(|job| write_one(conn, statements, &job.send, views, &mut events))
        .collect::<rusqlite::Result<Vec<_>>>()
        .and_then(|written| index_for_search(conn, batch, &written).map(|()| written))
        .and_then(|written| conn.execute_batch("COMMIT").map(|()| (written, events)));
    if written.is_err() && !conn.is_autocommit() {
        // Still in the transaction (SQLite may have ended it on a failed COMMIT).
        let _ = conn.execute_batch("ROLLBACK");
    }
    written
}

/// The batch's new messages into the search index, all at the end of the
/// transaction. FTS5 keeps what is indexed in memory until the transaction
/// ends — unless a later statement opens a savepoint, which flushes it to
/// disk as a segment of its own. Indexed after each message (whose inserts
/// open savepoints) it wrote a segment per message, and merged them: a sixth
/// of this thread's time in the profile.
fn index_for_search(
    conn: &rusqlite::Connection,
    batch: &[Job],
    written: &[Option<Message>],
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(search::SQLITE_INSERT_MESSAGE_TERMS)?;
    for (job, message) in batch.iter().zip(written) {
        if let (Some(message), false) = (message, job.send.terms.is_empty()) {
            insert.execute(named_params! { "$1": message.id, "$2": job.send.terms })?;
        }
    }
    Ok(())
}

fn write_one(
    conn: &rusqlite::Connection,
    statements: &Statements,
    send: &VisitorSend,
    views: &Views,
    events: &mut Vec<StoredEvent>,
) -> rusqlite::Result<Option<Message>> {
    let now = now_ms();
    let into_open = &statements.into_open_conversation;
    if let Some(stored) = insert_message(conn, into_open, send.visitor_id, send, now)? {
        let message = (views.message)(&stored);
        events.push(record_message(conn, send, &stored, &message)?);
        return Ok(Some(message));
    }
    // No open conversation, or a retry. Only a visitor's first conversation
    // is opened here; a closed one and a retry go the general way.
    if !send.may_open {
        return Ok(None);
    }
    let Some(visitor) = conn
        .prepare_cached(visitors::BY_ID)?
        .query_row(named_params! { "$1": send.visitor_id }, |row| {
            Ok(VisitorRef {
                id: row.get("id")?,
                name: row.get("name")?,
                email: row.get("email")?,
                email_bouncing: row.get::<_, Option<i64>>("email_bounced_at")?.is_some(),
            })
        })
        .optional()?
    else {
        return Ok(None);
    };
    let Some(conversation_id) = conn
        .prepare_cached(conversations::OPEN_FIRST)?
        .query_row(named_params! { "$1": send.visitor_id, "$2": now }, |row| {
            row.get::<_, i64>(0)
        })
        .optional()?
    else {
        return Ok(None);
    };
    // A visitor without a conversation has sent nothing, so this is no
    // retry; were it one after all, the error sends the batch the general way.
    let stored = insert_message(
        conn,
        &statements.into_conversation,
        conversation_id,
        send,
        now,
    )?
    .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    // The conversation's event comes first: a client learns of a
    // conversation before its messages.
    let message = (views.message)(&stored);
    let opened = (views.opened)(visitor, conversation_id, now, message.clone());
    events.push(append_event(
        conn,
        event::CONVERSATION_CREATED,
        send,
        conversation_id,
        &opened,
        now,
    )?);
    events.push(record_message(conn, send, &stored, &message)?);
    Ok(Some(message))
}

/// The visitor's message, inserted by `sql` with `$1` = `key`; None when
/// `sql` found no place for it (see `store::messages`).
fn insert_message(
    conn: &rusqlite::Connection,
    sql: &str,
    key: i64,
    send: &VisitorSend,
    now: i64,
) -> rusqlite::Result<Option<MessageRecord>> {
    conn.prepare_cached(sql)?
        .query_row(
            named_params! {
                "$1": key,
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
        .optional()
}

/// What follows a new message (as `messages::record_new` on the general
/// path): the conversation's summary and the log (with `message`, its view);
/// the search index follows for the whole batch (`index_for_search`).
/// Returns the log's event.
fn record_message(
    conn: &rusqlite::Connection,
    send: &VisitorSend,
    stored: &MessageRecord,
    message: &Message,
) -> rusqlite::Result<StoredEvent> {
    conn.prepare_cached(conversations::RECORD_MESSAGE)?
        .execute(named_params! {
            "$1": stored.id,
            "$2": stored.created_at,
            "$3": stored.conversation_id,
            "$4": "visitor",
            "$5": send.visitor_id,
            "$6": "chat",
        })?;
    append_event(
        conn,
        event::MESSAGE_CREATED,
        send,
        stored.conversation_id,
        message,
        stored.created_at,
    )
}

fn append_event(
    conn: &rusqlite::Connection,
    name: &str,
    send: &VisitorSend,
    conversation_id: i64,
    data: &impl serde::Serialize,
    now: i64,
) -> rusqlite::Result<StoredEvent> {
    let data = serde_json::to_string(data).expect("a view serialises");
    let seq = conn.prepare_cached(events::INSERT)?.query_row(
        named_params! {
            "$1": name,
            "$2": conversation_id,
            "$3": send.visitor_id,
            "$4": data,
            "$5": now,
        },
        |row| row.get::<_, i64>(0),
    )?;
    Ok(StoredEvent {
        seq,
        name: name.to_string(),
        conversation_id: Some(conversation_id),
        visitor_id: Some(send.visitor_id),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn send(visitor_id: i64, body: &str) -> VisitorSend {
        VisitorSend {
            visitor_id,
            client_id: None,
            body: body.into(),
            terms: body.into(),
            may_open: true,
        }
    }

    /// The hub panics on the first batch handed over: its senders are still
    /// told their messages are stored (they are durable), so none retries on
    /// the general path and stores it twice, and the writer goes on with the
    /// next batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_while_publishing_answers_the_senders_and_spares_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let db = Db::connect(&url).await.unwrap();
        let (visitor, _token) = visitors::create(&db, "en").await.unwrap();
        let handed_over = Arc::new(AtomicUsize::new(0));
        let publish: Publish = Box::new({
            let handed_over = handed_over.clone();
            move |events| {
                if handed_over.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("the hub failed on {} events", events.len());
                }
            }
        });
        let views = Views {
            message: Box::new(|m| {
                crate::services::conversations::message_view_without_files("http://localhost", m)
            }),
            opened: crate::services::conversations::opened_view,
        };
        let writer = SqliteSends::start(&db, 16, views, publish)
            .unwrap()
            .expect("an SQLite file gets its own writer");

        for body in ["first, whose batch panics", "second"] {
            let written = writer.write(send(visitor.id, body)).await;
            let Written::Message(message) = written else {
                panic!("{body:?} was sent the general way");
            };
            assert_eq!(message.body, body);
        }
        assert_eq!(handed_over.load(Ordering::SeqCst), 2);
        let stored: Vec<String> = sqlx::query_scalar("SELECT body FROM messages ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        assert_eq!(stored, ["first, whose batch panics", "second"]);
    }
}
