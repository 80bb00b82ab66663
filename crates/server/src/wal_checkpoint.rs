//! SQLite's WAL checkpoints, taken off the writers.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and a checkpoint
//! copies them back into the database file and fsyncs it. By default the
//! connection whose commit takes the WAL past 1,000 pages runs that checkpoint
//! itself, inside its `COMMIT`: the batch in that commit, and every send queued
//! behind the node's write lock, waits for a few megabytes to be copied and the
//! database file to be synced. Under load that is one commit in a hundred —
//! exactly the tail a p99 measures.
//!
//! Here the writers' connections only checkpoint past 10,000 pages (a bound
//! for a process that runs no checkpointer, such as a one-off command; see the
//! pragmas in `db`),
//! and the server runs a `PASSIVE` checkpoint every [`EVERY`] on a pooled
//! connection of its own. A passive checkpoint takes no writer's lock: commits
//! go on appending to the WAL while it copies, and the next write transaction
//! after a complete one starts the WAL again from its beginning. Durability is
//! unchanged: a commit is durable once its WAL frames are synced, which each
//! commit still does (`synchronous = FULL`).

use std::time::Duration;

use sqlx::Row;

use crate::db::{Backend, Db};

/// How often the checkpointer runs. At 2,000 messages a second this is about
/// a thousand WAL pages, as SQLite's own default threshold.
pub const EVERY: Duration = Duration::from_millis(100);

/// What one checkpoint did, as `PRAGMA wal_checkpoint` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Frames in the WAL.
    pub wal_frames: i64,
    /// Of those, copied into the database file (all of them, unless a reader
    /// still needed older pages).
    pub copied: i64,
}

/// Checkpoints the WAL of an SQLite database every [`EVERY`], for as long as
/// the server runs (PostgreSQL: returns at once).
pub async fn run(db: Db) {
    if db.backend != Backend::Sqlite {
        return;
    }
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        every.tick().await;
        match checkpoint(&db).await {
            Ok(_) => failing = false,
            // A full disk or a lost file: the write path reports those; the
            // WAL keeps every commit until a checkpoint succeeds again.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
            }
            Err(_) => {}
        }
    }
}

/// One passive checkpoint: copies what it can without waiting for anyone.
pub async fn checkpoint(db: &Db) -> Result<Checkpoint, sqlx::Error> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&db.pool)
        .await?;
    // Columns: busy (always 0 for PASSIVE), frames in the WAL, frames copied;
    // -1 and -1 when the database is not in WAL mode.
    Ok(Checkpoint {
        wal_frames: row.try_get(1)?,
        copied: row.try_get(2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;

    async fn database(dir: &tempfile::TempDir) -> Db {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let db = Db::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE scratch (b BLOB)")
            .execute(&db.pool)
            .await
            .unwrap();
        db
    }

    /// Commits of about `pages` WAL pages in all, four pages each.
    async fn write_pages(db: &Db, pages: u64) {
        for _ in 0..pages / 4 {
            let mut tx = db.begin_write().await.unwrap();
            sqlx::query("INSERT INTO scratch (b) VALUES (randomblob(3 * 4096))")
                .execute(&mut *tx.tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    }

    fn wal_bytes(db: &Db) -> u64 {
        let mut wal = db.sqlite.as_ref().unwrap().path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    /// No commit pays for a checkpoint: past SQLite's default threshold of
    /// 1,000 pages the WAL keeps growing (a committing connection would have
    /// copied it and started it again), until the checkpointer copies it all;
    /// then the next commit writes at the WAL's start instead of its end.
    #[tokio::test]
    async fn commits_leave_the_checkpoint_to_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        write_pages(&db, 2_000).await;
        let grown = wal_bytes(&db);
        assert!(
            grown > 1_900 * PAGE,
            "the WAL holds {} pages: a commit checkpointed it",
            grown / PAGE
        );

        let done = checkpoint(&db).await.unwrap();
        assert!(done.wal_frames >= 1_900, "{done:?}");
        assert_eq!(
            done.copied, done.wal_frames,
            "nothing held the checkpoint back"
        );

        write_pages(&db, 40).await;
        assert_eq!(
            wal_bytes(&db),
            grown,
            "the WAL started again from its beginning"
        );
        let after = checkpoint(&db).await.unwrap();
        assert!(after.wal_frames < 100, "{after:?}");
    }

    /// The running checkpointer keeps the WAL small under a steady stream of
    /// commits: it never grows far past what is written between two passes.
    #[tokio::test]
    async fn the_checkpointer_keeps_the_wal_small() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let checkpointer = tokio::spawn(run(db.clone()));
        for _ in 0..10 {
            write_pages(&db, 400).await;
            tokio::time::sleep(EVERY * 2).await;
        }
        checkpointer.abort();
        let wal = wal_bytes(&db);
        assert!(
            wal < 1_500 * PAGE,
            "4,000 pages written, the WAL holds {} pages",
            wal / PAGE
        );
    }
}
