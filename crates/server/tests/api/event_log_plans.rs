//! The hub's pass over PostgreSQL's event log uses its indexes whatever the
//! table looked like when the connection first planned it, and a log
//! numbered before positions had a table of their own keeps every position
//! and is read through the indexes.

use serde_json::json;
use switchboard_server::db::Db;
use switchboard_server::store::events;

use crate::helpers::{earlier_migrations, seq_scans, test_config};

/// PL/pgSQL keeps a statement's plan for the life of the connection. Planned
/// on an empty log, the pass used to scan the whole table — the check for
/// events still waiting and the read after a position — every time, under
/// the numbering's lock, for as long as autovacuum had not analysed the
/// table (in a load test, 3 ms a pass after 20,000 events).
#[tokio::test]
async fn the_hubs_pass_never_scans_the_whole_log() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        return; // PostgreSQL only: SQLite numbers nothing after commit.
    }
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), None).await;
    let db = Db::connect(&config.database_url).await.unwrap();
    let mut hub = db.pool.acquire().await.unwrap();
    let pass = |after: i64| sqlx::query("SELECT * FROM read_events_numbered($1, 1000)").bind(after);

    // The first pass plans on an empty log.
    pass(0).fetch_all(&mut *hub).await.unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    for n in 0..3_000 {
        events::append(&mut tx, "test.event", None, &json!({ "n": n }))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let read = pass(0).fetch_all(&mut *hub).await.unwrap();
    assert_eq!(read.len(), 1000, "the pass numbered and read the events");

    let before = seq_scans(&mut hub, "events").await;
    for after in (0..3_000).step_by(150) {
        pass(after).fetch_all(&mut *hub).await.unwrap();
    }
    let after = seq_scans(&mut hub, "events").await;
    assert_eq!(
        after - before,
        0,
        "sequential scans of the log in 20 passes"
    );
    let positions_before = seq_scans(&mut hub, "event_positions").await;
    pass(2_000).fetch_all(&mut *hub).await.unwrap();
    assert_eq!(
        seq_scans(&mut hub, "event_positions").await - positions_before,
        0,
        "sequential scans of the positions"
    );
}

/// A log numbered before migration 0017 (positions were a column of the
/// events, given by updating them) keeps its positions across the upgrade,
/// numbering goes on after them — the events not numbered yet included —
/// and every reader of the log finds its events through indexes.
#[tokio::test]
async fn a_log_numbered_in_the_events_keeps_its_positions_in_their_table() {
    use sqlx::Connection;
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        return; // PostgreSQL only: SQLite's positions are its ids.
    }
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), None).await;

    // The schema as the previous release left it (migrations up to 0016).
    let old = earlier_migrations("postgres", |name| name < "0017");
    let mut previous = sqlx::PgConnection::connect(&config.database_url)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(&mut previous)
        .await
        .unwrap();
    // 3,000 events of ten visitors, numbered; then five not numbered yet.
    let append = "INSERT INTO events (name, visitor_id, data, created_at) \
                  SELECT 'test.event', n % 10 + 1, '{}', 0 FROM generate_series(1, $1) AS n";
    sqlx::query(append)
        .bind(3_000)
        .execute(&mut previous)
        .await
        .unwrap();
    // (Numbering waits for every older transaction of the cluster to end:
    // the suite's other tests run beside this one.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (held_back,): (bool,) = sqlx::query_as("SELECT held_back FROM number_events()")
            .fetch_one(&mut previous)
            .await
            .unwrap();
        if !held_back {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "numbered in time");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sqlx::query(append)
        .bind(5)
        .execute(&mut previous)
        .await
        .unwrap();
    let positions: Vec<(i64, i64)> =
        sqlx::query_as("SELECT seq, pos FROM events WHERE pos IS NOT NULL ORDER BY pos")
            .fetch_all(&mut previous)
            .await
            .unwrap();
    assert_eq!(positions.len(), 3_000);
    previous.close().await.unwrap();

    // This release opens it.
    let db = Db::connect(&config.database_url).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let numbered: Vec<i64> = loop {
        let pass = events::numbered_after(&db, 3_000, 100).await.unwrap();
        if !pass.held_back || std::time::Instant::now() > deadline {
            break pass.events.iter().map(|e| e.seq).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        numbered,
        (3_001..=3_005).collect::<Vec<_>>(),
        "after the old ones"
    );
    let kept: Vec<(i64, i64)> =
        sqlx::query_as("SELECT seq, pos FROM event_positions WHERE pos <= 3000 ORDER BY pos")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(kept, positions, "every position as it was");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes \
         WHERE tablename IN ('events', 'event_positions') ORDER BY indexname",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "event_positions_pkey",
            "event_positions_visitor",
            "events_created",
            "events_pkey",
            "events_transaction"
        ],
        "the events' indexes of positions are gone"
    );
    sqlx::query("ANALYZE events, event_positions")
        .execute(&db.pool)
        .await
        .unwrap();
    // (Building the new indexes read the table: those counts flush as the
    // connections go.)
    db.pool.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // The readers, on connections whose counts are flushed as they close.
    let readers = Db::connect(&config.database_url).await.unwrap();
    let before = {
        let mut conn = readers.pool.acquire().await.unwrap();
        (
            seq_scans(&mut conn, "events").await,
            seq_scans(&mut conn, "event_positions").await,
        )
    };
    assert_eq!(events::latest(&readers).await.unwrap(), 3_005);
    assert_eq!(events::oldest(&readers).await.unwrap(), Some(1));
    assert_eq!(events::after(&readers, 2_990, 100).await.unwrap().len(), 15);
    let of_one = events::of_visitor_after(&readers, 3, 2_900, 1_000)
        .await
        .unwrap();
    assert_eq!(
        of_one.len(),
        11,
        "a visitor's ten last old events and one new"
    );
    readers.pool.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let stats = Db::connect(&config.database_url).await.unwrap();
    let mut conn = stats.pool.acquire().await.unwrap();
    assert_eq!(
        (
            seq_scans(&mut conn, "events").await - before.0,
            seq_scans(&mut conn, "event_positions").await - before.1
        ),
        (0, 0),
        "sequential scans of the log and its positions by its readers"
    );
}

/// A new connection compiles the numbering's functions by calling them in a
/// transaction it rolls back (`db::warm_up_postgres`). That call takes the
/// cluster's numbering lock: with the lock held by a pass elsewhere, the
/// warm-up gives up at once instead of keeping a request waiting for the
/// connection, and it leaves the log as it found it.
#[tokio::test]
async fn warming_a_new_connection_waits_for_no_numbering_and_numbers_nothing() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), None).await;
    let db = Db::connect(&config.database_url).await.unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    for n in 0..3 {
        events::append(&mut tx, "test.event", None, &json!({ "n": n }))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // A numbering pass under way on another node holds the lock.
    let mut pass = db.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(5, 0)")
        .execute(&mut *pass)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let other = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Db::connect(&config.database_url),
    )
    .await
    .expect("connecting waits for the numbering lock")
    .unwrap();
    let mut fresh = other.pool.acquire().await.unwrap();
    let positions: i64 = sqlx::query_scalar("SELECT count(*) FROM event_positions")
        .fetch_one(&mut *fresh)
        .await
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "connecting waited for the numbering lock ({:?})",
        started.elapsed()
    );
    assert_eq!(positions, 0, "the warm-up numbered the log");
    pass.rollback().await.unwrap();

    // Without the lock held, a new connection's warm-up numbers (and rolls
    // back) all the same: nothing is left numbered.
    drop(fresh);
    let third = Db::connect(&config.database_url).await.unwrap();
    let positions: i64 = sqlx::query_scalar("SELECT count(*) FROM event_positions")
        .fetch_one(&third.pool)
        .await
        .unwrap();
    assert_eq!(positions, 0, "the warm-up numbered the log");
}
