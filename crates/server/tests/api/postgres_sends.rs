//! PostgreSQL's writer of visitors' common sends (`postgres_sends`): sends
//! that wait behind a batch are written together, in one transaction; a
//! visitor's messages keep their order; a visitor whose lock another
//! transaction holds holds up nobody else.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use switchboard_protocol::Message;
use switchboard_server::db::{Db, LockKey};
use switchboard_server::error::ApiResult;
use switchboard_server::postgres_sends::PostgresSends;
use switchboard_server::sends::{Views, VisitorSend};
use switchboard_server::store::{conversations, visitors};

use crate::helpers::{seq_scans, test_config};

type Sent = Pin<Box<dyn Future<Output = ApiResult<Option<Message>>> + Send>>;

struct Setup {
    db: Db,
    url: String,
    writer: Arc<PostgresSends>,
    /// How many commits that stored messages woke the hub.
    wakes: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Option<Setup> {
    setup_then(|_| async {}).await.map(|(setup, ())| setup)
}

/// `setup`, with `prepare` run on the database first by connections that are
/// closed before the writer starts (so that PostgreSQL's statistics of what
/// they did are flushed: a backend flushes them as it exits).
async fn setup_then<T, F, Fut>(prepare: F) -> Option<(Setup, T)>
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = T>,
{
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        return None; // PostgreSQL only: SQLite has its own writer.
    }
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), None).await;
    let first = Db::connect(&config.database_url).await.unwrap();
    let prepared = prepare(first.clone()).await;
    first.pool.close().await;
    let db = Db::connect(&config.database_url).await.unwrap();
    let wakes = Arc::new(AtomicUsize::new(0));
    let writer = PostgresSends::start(
        &db,
        64,
        Views {
            message: Box::new(|m| {
                switchboard_server::services::conversations::message_view_without_files(
                    "http://localhost",
                    m,
                )
            }),
            opened: switchboard_server::services::conversations::opened_view,
        },
        Box::new({
            let wakes = wakes.clone();
            move || {
                wakes.fetch_add(1, Ordering::SeqCst);
            }
        }),
    )
    .expect("a writer on PostgreSQL");
    let setup = Setup {
        db,
        url: config.database_url,
        writer: Arc::new(writer),
        wakes,
        _dir: dir,
    };
    Some((setup, prepared))
}

/// A visitor with an open conversation: (visitor id, conversation id).
async fn visitor_with_conversation(db: &Db) -> (i64, i64) {
    let (visitor, _token) = visitors::create(db, "en").await.unwrap();
    let mut tx = db.begin_write().await.unwrap();
    let (conversation, _) = conversations::create(&mut tx.tx, visitor.id).await.unwrap();
    tx.commit().await.unwrap();
    (visitor.id, conversation)
}

fn queue_send(visitor: i64, body: &str) -> VisitorSend {
    VisitorSend {
        visitor_id: visitor,
        client_id: Some(body.to_string()),
        body: body.to_string(),
        terms: body.to_string(),
        may_open: true,
    }
}

/// Queues `body` of `visitor` with the writer: polled once, so that it is in
/// the writer's queue when this returns.
fn queue(writer: &Arc<PostgresSends>, visitor: i64, body: &str) -> Sent {
    queue_this(writer, queue_send(visitor, body))
}

fn queue_this(writer: &Arc<PostgresSends>, send: VisitorSend) -> Sent {
    let writer = writer.clone();
    let mut sent: Sent = Box::pin(async move { writer.write(send).await });
    assert!(
        (&mut sent).now_or_never().is_none(),
        "nothing is written before the writer's turn"
    );
    sent
}

/// Holds the row of `conversation` until the returned transaction ends.
async fn hold_conversation_row(
    db: &Db,
    conversation: i64,
) -> sqlx::Transaction<'static, sqlx::Any> {
    let mut held = db.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM conversations WHERE id = $1 FOR UPDATE")
        .bind(conversation)
        .execute(&mut *held)
        .await
        .unwrap();
    held
}

async fn wait_until_someone_waits_for_a_lock(db: &Db) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        // (Of this test's database: the suite's other tests run beside it.)
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writer never waited"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn written(sent: Sent) -> Option<Message> {
    tokio::time::timeout(Duration::from_secs(10), sent)
        .await
        .expect("answered")
        .expect("no error")
}

/// How many transactions wrote the messages with these bodies.
async fn transactions_of(db: &Db, bodies: &[&str]) -> i64 {
    let list = bodies
        .iter()
        .map(|b| format!("'{b}'"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_scalar(&format!(
        "SELECT count(DISTINCT xmin::text) FROM messages WHERE body IN ({list})"
    ))
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// While a batch waits (here for a conversation's row), the sends that
/// arrive meanwhile are written together, each to its own conversation with
/// its summary, search terms and event, in one transaction.
#[tokio::test]
async fn sends_that_wait_behind_a_batch_are_written_in_one_transaction() {
    let Some(Setup {
        db, writer, wakes, ..
    }) = setup().await
    else {
        return;
    };
    let (first_visitor, first_conversation) = visitor_with_conversation(&db).await;
    let mut others = Vec::new();
    for _ in 0..6 {
        others.push(visitor_with_conversation(&db).await);
    }
    let held = hold_conversation_row(&db, first_conversation).await;
    let first = queue(&writer, first_visitor, "first");
    wait_until_someone_waits_for_a_lock(&db).await;

    let bodies: Vec<String> = (0..others.len()).map(|n| format!("together{n}")).collect();
    let sent: Vec<Sent> = others
        .iter()
        .zip(&bodies)
        .map(|((visitor, _), body)| queue(&writer, *visitor, body))
        .collect();
    held.rollback().await.unwrap();

    let first = written(first).await.expect("stored");
    assert_eq!(first.conversation_id, first_conversation);
    for ((sent, (visitor, conversation)), body) in sent.into_iter().zip(&others).zip(&bodies) {
        let message = written(sent).await.expect("stored");
        assert_eq!(&message.body, body);
        assert_eq!(message.conversation_id, *conversation);
        assert_eq!(message.author.id, Some(*visitor));
    }
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    assert_eq!(transactions_of(&db, &bodies).await, 1, "one transaction");
    assert_eq!(wakes.load(Ordering::SeqCst), 2, "a wake-up per commit");

    // Each conversation's summary, search terms and event, as the general path.
    for ((_, conversation), body) in others.iter().zip(&bodies) {
        let (last, first_visitor_at): (String, Option<i64>) = sqlx::query_as(
            "SELECT m.body, c.first_visitor_at FROM conversations c \
             JOIN messages m ON m.id = c.last_message_id WHERE c.id = $1",
        )
        .bind(conversation)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(last, *body);
        assert!(first_visitor_at.is_some());
        let (indexed, events): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM message_search s JOIN messages m ON m.id = s.message_id \
                     WHERE m.conversation_id = $1 AND s.terms @@ to_tsquery('simple', $2)), \
                    (SELECT count(*) FROM events WHERE conversation_id = $1 AND name = 'message.created' \
                     AND data::json->>'body' = $2)",
        )
        .bind(conversation)
        .bind(body)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!((indexed, events), (1, 1), "{body}");
    }
}

/// A visitor who sends again while their first send waits in a batch: the
/// second goes with the next batch, a third is answered "elsewhere" only once
/// that batch has committed, so the general path stores it after the second.
#[tokio::test]
async fn a_visitors_sends_keep_their_order() {
    let Some(Setup { db, writer, .. }) = setup().await else {
        return;
    };
    let (blocker, blocker_conversation) = visitor_with_conversation(&db).await;
    let (visitor, _) = visitor_with_conversation(&db).await;
    let (other, _) = visitor_with_conversation(&db).await;
    let held = hold_conversation_row(&db, blocker_conversation).await;
    let blocked = queue(&writer, blocker, "blocked");
    wait_until_someone_waits_for_a_lock(&db).await;

    let second = queue(&writer, visitor, "second");
    let from_other = queue(&writer, other, "from other");
    let third = queue(&writer, visitor, "third");
    held.rollback().await.unwrap();

    assert_eq!(
        written(third).await,
        None,
        "a visitor's second send in one batch takes the general path"
    );
    let committed: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE body = 'second'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        committed, 1,
        "the third hears back once the second is committed"
    );
    assert!(written(blocked).await.is_some());
    assert!(written(second).await.is_some());
    assert!(written(from_other).await.is_some());
}

/// A visitor whose lock another transaction holds (their write on another
/// node) is sent the general way at once; the rest of the batch is written.
#[tokio::test]
async fn a_visitor_whose_lock_is_held_elsewhere_holds_up_nobody() {
    let Some(Setup { db, writer, .. }) = setup().await else {
        return;
    };
    let (locked, _) = visitor_with_conversation(&db).await;
    let (free, _) = visitor_with_conversation(&db).await;
    let held = db
        .begin_write_holding(&[LockKey::Visitor(locked)])
        .await
        .unwrap();
    let from_locked = queue(&writer, locked, "from the locked visitor");
    let from_free = queue(&writer, free, "from the free visitor");
    assert_eq!(
        written(from_locked).await,
        None,
        "the general path waits for the lock"
    );
    assert!(written(from_free).await.is_some());
    drop(held);
}

/// A new visitor's first message opens their conversation here: the
/// conversation's event comes before the message's, as on the general path.
/// A retry, and a first message that answers a greeting, are the general
/// path's, which finds the first copy or writes the greeting first.
#[tokio::test]
async fn a_first_message_opens_the_conversation_and_a_retry_goes_elsewhere() {
    let Some(Setup { db, writer, .. }) = setup().await else {
        return;
    };
    let (new_visitor, _) = visitors::create(&db, "en").await.unwrap();
    let first = written(queue(&writer, new_visitor.id, "hello"))
        .await
        .expect("stored with its conversation");
    let events: Vec<(String, String)> =
        sqlx::query_as("SELECT name, data FROM events WHERE conversation_id = $1 ORDER BY seq")
            .bind(first.conversation_id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["conversation.created", "message.created"]);
    let opened: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(opened["visitor"]["id"], new_visitor.id);
    assert_eq!(opened["last_message"]["body"], "hello");
    assert_eq!(opened["unread"], 1);

    assert_eq!(
        written(queue(&writer, new_visitor.id, "hello")).await,
        None,
        "the same client_id again"
    );
    let copies: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE body = 'hello'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(copies, 1);

    let (greeted, _) = visitors::create(&db, "en").await.unwrap();
    let mut send = queue_send(greeted.id, "an answer to a greeting");
    send.may_open = false;
    assert_eq!(written(queue_this(&writer, send)).await, None);
    let conversations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM conversations WHERE visitor_id = $1")
            .bind(greeted.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(conversations, 0, "nothing written for it here");
}

/// A batch reaches visitors and conversations through their keys, whatever
/// their number: PostgreSQL guesses a hundred rows for the batch, and the
/// first statements hashed a scan of the whole table for them.
#[tokio::test]
async fn a_batch_reads_no_table_whole() {
    let Some((
        Setup {
            db, url, writer, ..
        },
        (with_conversation, new),
    )) = setup_then(|db| async move {
        sqlx::query(
            "INSERT INTO visitors (token_hash, locale, created_at, last_seen_at) \
             SELECT 'bulk-' || n, 'en', 0, 0 FROM generate_series(1, 3000) AS n",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO conversations (visitor_id, status, created_at, updated_at) \
             SELECT id, 'open', 0, 0 FROM visitors WHERE token_hash LIKE 'bulk-%'",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query("ANALYZE visitors, conversations")
            .execute(&db.pool)
            .await
            .unwrap();
        let mut with_conversation = Vec::new();
        for _ in 0..4 {
            with_conversation.push(visitor_with_conversation(&db).await.0);
        }
        let mut new = Vec::new();
        for _ in 0..4 {
            new.push(visitors::create(&db, "en").await.unwrap().0.id);
        }
        (with_conversation, new)
    })
    .await
    else {
        return;
    };
    // (The preparing connections have gone, their counts with them.)
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut conn = db.pool.acquire().await.unwrap();
    let before = (
        seq_scans(&mut conn, "visitors").await,
        seq_scans(&mut conn, "conversations").await,
    );
    drop(conn);
    let sent: Vec<Sent> = with_conversation
        .iter()
        .chain(&new)
        .enumerate()
        .map(|(n, visitor)| queue(&writer, *visitor, &format!("keyed{n}")))
        .collect();
    for sent in sent {
        assert!(written(sent).await.is_some());
    }
    // The writer's counts: flushed as its connection closes.
    db.pool.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = Db::connect(&url).await.unwrap();
    let mut conn = stats.pool.acquire().await.unwrap();
    let after = (
        seq_scans(&mut conn, "visitors").await,
        seq_scans(&mut conn, "conversations").await,
    );
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 0),
        "sequential scans of visitors and conversations"
    );
}
