//! The hub's pass over PostgreSQL's event log uses its indexes whatever the
//! table looked like when the connection first planned it.

use serde_json::json;
use switchboard_server::db::Db;
use switchboard_server::store::events;

use crate::helpers::{seq_scans, test_config};

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
}
