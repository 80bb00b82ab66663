//! PostgreSQL's writer of visitors' common sends (`postgres_sends`): sends
//! that wait behind a batch are written together, in one transaction; a
//! visitor's messages keep their order; a visitor whose lock another
//! transaction holds holds up nobody else; what changed between the batch's
//! read and its write sends a message the general way.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use switchboard_protocol::{AuthorKind, Message};
use switchboard_server::db::{Db, LockKey, WriteTx};
use switchboard_server::error::ApiResult;
use switchboard_server::postgres_sends::PostgresSends;
use switchboard_server::sends::{Views, VisitorSend};
use switchboard_server::store::{conversations, messages, visitor_batch, visitors};

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

/// `visitor_batch::plan` for a send (client id "c1") of each of `visitors`,
/// in that order, on a connection kept for the write.
async fn plan_sends(
    db: &Db,
    visitors: &[i64],
) -> (
    sqlx::pool::PoolConnection<sqlx::Any>,
    Vec<visitor_batch::Planned>,
) {
    let wanted: Vec<visitor_batch::Wanted> = visitors
        .iter()
        .enumerate()
        .map(|(k, &visitor_id)| visitor_batch::Wanted {
            k,
            visitor_id,
            client_id: Some("c1"),
            may_open: true,
        })
        .collect();
    let mut conn = db.pool.acquire().await.unwrap();
    let planned = visitor_batch::plan(&mut conn, &wanted).await.unwrap();
    (conn, planned)
}

/// A chat message stored as the general path stores it (without its
/// conversation's summary).
async fn insert_chat(
    tx: &mut WriteTx,
    conversation_id: i64,
    author_kind: AuthorKind,
    author_id: Option<i64>,
    client_id: Option<&str>,
    body: &str,
) -> messages::MessageRecord {
    messages::insert(
        &mut tx.tx,
        messages::NewMessage {
            conversation_id,
            client_id,
            author_kind,
            author_id,
            body,
            channel: switchboard_protocol::Channel::Chat,
            email_message_id: None,
            raw_email: None,
            attachments: &[],
        },
    )
    .await
    .unwrap()
}

/// One batch planned for two visitors: a new one's first message, and one
/// into the open conversation of another (whose id comes back too).
async fn first_and_later_sends(
    db: &Db,
    body: &'static str,
) -> (
    sqlx::pool::PoolConnection<sqlx::Any>,
    Vec<visitor_batch::Write<'static>>,
    i64,
) {
    let (new_visitor, _) = visitors::create(db, "en").await.unwrap();
    let (visitor, conversation) = visitor_with_conversation(db).await;
    let (conn, planned) = plan_sends(db, &[new_visitor.id, visitor]).await;
    let writes = planned
        .iter()
        .map(|planned| write_of(planned, "c1", body))
        .collect();
    (conn, writes, conversation)
}

/// A send as `visitor_batch::store` takes it, for `planned`.
fn write_of<'a>(
    planned: &visitor_batch::Planned,
    client_id: &'a str,
    body: &'a str,
) -> visitor_batch::Write<'a> {
    let target = planned.into.as_ref().expect("a send that can be written");
    let (lock_class, lock_id) = LockKey::Visitor(planned.visitor.id).keys();
    visitor_batch::Write {
        k: planned.k,
        lock_class,
        lock_id,
        visitor_id: planned.visitor.id,
        conversation_id: target.conversation_id,
        opens: target.opens,
        id: target.message_id,
        client_id: Some(client_id),
        body,
        terms: body,
        data: "{}".into(),
        opened: target.opens.then(|| "{}".into()),
    }
}

/// The batch's read takes no lock: what changes between it and the write
/// (a colleague closes the conversation or answers in it, the general path
/// stores a retry or opens the visitor's first conversation, retention
/// removes a visitor who never wrote) leaves that send out of the write, and
/// the rest of the batch is written. An answer
/// in between has a higher id than the one read: written after it, the
/// visitor's message would come after it in the log but before it in the
/// conversation, and its summary would go back.
#[tokio::test]
async fn what_changed_since_the_read_is_left_to_the_general_path() {
    let Some(Setup { db, .. }) = setup().await else {
        return;
    };
    let (closed, closed_conversation) = visitor_with_conversation(&db).await;
    let (retried, retried_conversation) = visitor_with_conversation(&db).await;
    let (opened_elsewhere, _) = visitors::create(&db, "en").await.unwrap();
    let (untouched, untouched_conversation) = visitor_with_conversation(&db).await;
    let (answered, answered_conversation) = visitor_with_conversation(&db).await;
    let (gone, _) = visitors::create(&db, "en").await.unwrap();
    let (mut conn, planned) = plan_sends(
        &db,
        &[
            closed,
            retried,
            opened_elsewhere.id,
            untouched,
            answered,
            gone.id,
        ],
    )
    .await;
    assert_eq!(planned.len(), 6);
    assert!(planned[2].into.as_ref().unwrap().opens);

    let mut tx = db.begin_write().await.unwrap();
    conversations::set_status(
        &mut tx.tx,
        closed_conversation,
        switchboard_protocol::ConversationStatus::Closed,
    )
    .await
    .unwrap();
    insert_chat(
        &mut tx,
        retried_conversation,
        AuthorKind::Visitor,
        Some(retried),
        Some("c1"),
        "the first try",
    )
    .await;
    conversations::create(&mut tx.tx, opened_elsewhere.id)
        .await
        .unwrap();
    let answer = insert_chat(
        &mut tx,
        answered_conversation,
        AuthorKind::Operator,
        None,
        None,
        "an answer",
    )
    .await;
    conversations::record_message(&mut tx.tx, answered_conversation, &answer)
        .await
        .unwrap();
    // (Retention removes visitors who never wrote, without their lock.)
    sqlx::query("DELETE FROM visitors WHERE id = $1")
        .bind(gone.id)
        .execute(&mut *tx.tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let bodies = [
        "after closing",
        "a retry",
        "a second first",
        "untouched",
        "after the answer",
        "from a visitor removed",
    ];
    let writes: Vec<_> = planned
        .iter()
        .zip(bodies)
        .map(|(planned, body)| write_of(planned, "c1", body))
        .collect();
    let written = visitor_batch::store(&mut conn, &writes, 1).await.unwrap();
    assert_eq!(written, [3], "only the untouched visitor's");
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT body, conversation_id FROM messages \
         WHERE body IN ('after closing', 'a retry', 'a second first', 'untouched', \
                        'after the answer', 'from a visitor removed')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored, [("untouched".to_string(), untouched_conversation)]);
    let conversations_of_new: i64 =
        sqlx::query_scalar("SELECT count(*) FROM conversations WHERE visitor_id = $1")
            .bind(opened_elsewhere.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(conversations_of_new, 1, "no second conversation");
    let last: Option<i64> =
        sqlx::query_scalar("SELECT last_message_id FROM conversations WHERE id = $1")
            .bind(answered_conversation)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(last, Some(answer.id), "the answer stays the last message");
}

/// One batch with a visitor's first message and another's into their open
/// conversation: each conversation's summary points at its message, as the
/// general path leaves it. A conversation updated later than the batch's
/// clock (a colleague on a node whose clock runs ahead) keeps that time.
#[tokio::test]
async fn a_batch_of_first_and_later_messages_leaves_each_summary_right() {
    let Some(Setup { db, .. }) = setup().await else {
        return;
    };
    let (mut conn, writes, conversation) = first_and_later_sends(&db, "in one batch").await;
    let now = switchboard_server::db::now_ms();
    let ahead = now + 60_000;
    sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
        .bind(ahead)
        .bind(conversation)
        .execute(&db.pool)
        .await
        .unwrap();
    let written = visitor_batch::store(&mut conn, &writes, now).await.unwrap();
    assert_eq!(written, [0, 1]);
    let opened = writes[0].conversation_id;
    for ((id, updated_at), write) in [(opened, now), (conversation, ahead)]
        .into_iter()
        .zip(&writes)
    {
        let summary: (i64, Option<i64>, i64, Option<i64>, String) = sqlx::query_as(
            "SELECT visitor_id, last_message_id, updated_at, first_visitor_at, status \
             FROM conversations WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            summary,
            (
                write.visitor_id,
                Some(write.id),
                updated_at,
                Some(now),
                "open".to_string()
            )
        );
    }
}

/// The write is one statement and its own transaction: when it fails
/// (here a message id taken already), nothing of the batch stays — neither
/// the conversation it opened nor the other message.
#[tokio::test]
async fn a_write_that_fails_leaves_nothing() {
    let Some(Setup { db, .. }) = setup().await else {
        return;
    };
    let (mut conn, mut writes, conversation) = first_and_later_sends(&db, "doomed").await;
    let mut tx = db.begin_write().await.unwrap();
    let taken = insert_chat(
        &mut tx,
        conversation,
        AuthorKind::Visitor,
        Some(writes[1].visitor_id),
        None,
        "before",
    )
    .await;
    tx.commit().await.unwrap();
    writes[1].id = taken.id;

    let failed = visitor_batch::store(&mut conn, &writes, 1).await;
    assert!(
        matches!(failed, Err(sqlx::Error::Database(_))),
        "{failed:?}"
    );
    let (doomed, opened, events): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM messages WHERE body = 'doomed'), \
                (SELECT count(*) FROM conversations WHERE visitor_id = $1), \
                (SELECT count(*) FROM events WHERE visitor_id = $1)",
    )
    .bind(writes[0].visitor_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((doomed, opened, events), (0, 0, 0));
}
