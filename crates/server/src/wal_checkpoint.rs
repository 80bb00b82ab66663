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
//! and the server runs a `PASSIVE` checkpoint on a pooled connection of its
//! own every [`EVERY`], and as soon as a commit of visitors' sends leaves the
//! WAL past [`WAKE_AT_PAGES`] (SQLite tells: see [`wake_when_wal_grows`]). A passive checkpoint takes no writer's lock: commits
//! go on appending to the WAL while it copies, and the next write transaction
//! after a complete one starts the WAL again from its beginning. Durability is
//! unchanged: a commit is durable once its WAL frames are synced, which each
//! commit still does (`synchronous = FULL`).

use std::os::raw::{c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::ffi;
use sqlx::Row;
use tokio::sync::Notify;

use crate::db::{Backend, Db};

/// How often the checkpointer runs at least. At 2,000 messages a second this
/// is about a thousand WAL pages.
pub const EVERY: Duration = Duration::from_millis(100);
/// A commit that leaves the WAL this long wakes the checkpointer at once
/// (SQLite's own threshold for checkpointing in the commit). Writes can
/// outrun a timer: on a fast disk a message committed alone is a dozen WAL
/// pages and a thousand pages take 30 ms, and the WAL's file keeps the size
/// it once reached — with the timer alone, 5 MB of free disk filled with WAL
/// after 61–69 messages of 1.8 KB; with this, after about 220. Waking at 250
/// pages stored 900 there but cost 10 % more CPU per message under load
/// (BENCHMARKS.md, "WAL checkpoints off the writer").
pub const WAKE_AT_PAGES: c_int = 1000;

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
    let Some(wal_grew) = db.sqlite.as_ref().map(|f| f.wal_grew.clone()) else {
        return;
    };
    let mut failing = false;
    // After a checkpoint that failed, or copied nothing more than the one
    // before while frames were left (a long reader still needs older pages),
    // the WAL stays long and every commit would wake the checkpointer again to
    // do nothing new: it waits the full period instead.
    let mut held_back = false;
    let mut copied_before = -1;
    loop {
        if held_back {
            tokio::time::sleep(EVERY).await;
        } else {
            let _ = tokio::time::timeout(EVERY, wal_grew.notified()).await;
        }
        match checkpoint(&db).await {
            Ok(done) => {
                failing = false;
                held_back = done.copied < done.wal_frames && done.copied == copied_before;
                copied_before = done.copied;
            }
            // A full disk or a lost file: the write path reports those; the
            // WAL keeps every commit until a checkpoint succeeds again.
            Err(e) => {
                held_back = true;
                if !failing {
                    failing = true;
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                }
            }
        }
    }
}

/// Has SQLite notify `wal_grew` whenever a commit on `conn` leaves the WAL at
/// [`WAKE_AT_PAGES`] or longer, until the returned guard is dropped. This
/// replaces the connection's own checkpoints (`wal_autocheckpoint` is
/// SQLite's hook of the same kind): the checkpointer does them instead.
pub fn wake_when_wal_grows(conn: &rusqlite::Connection, wal_grew: Arc<Notify>) -> WalWatch<'_> {
    let wake = Arc::into_raw(wal_grew);
    // SAFETY: the hook's argument is the `Notify` leaked just above, which
    // stays alive until the guard removes the hook and frees it; the guard
    // borrows `conn`, so the connection outlives the hook. The hook runs on
    // the thread that commits, and `Notify` may be used from any thread.
    unsafe {
        ffi::sqlite3_wal_hook(conn.handle(), Some(wal_committed), wake as *mut c_void);
    }
    WalWatch { conn, wake }
}

/// Removes the hook of [`wake_when_wal_grows`] when dropped.
pub struct WalWatch<'c> {
    conn: &'c rusqlite::Connection,
    wake: *const Notify,
}

impl Drop for WalWatch<'_> {
    fn drop(&mut self) {
        // SAFETY: no hook refers to `wake` once removed, and it came from
        // `Arc::into_raw`.
        unsafe {
            ffi::sqlite3_wal_hook(self.conn.handle(), None, std::ptr::null_mut());
            drop(Arc::from_raw(self.wake));
        }
    }
}

/// SQLite's WAL hook: called after each commit with the WAL's length in pages.
unsafe extern "C" fn wal_committed(
    wake: *mut c_void,
    _db: *mut ffi::sqlite3,
    _schema: *const c_char,
    pages: c_int,
) -> c_int {
    if pages >= WAKE_AT_PAGES {
        // SAFETY: see `wake_when_wal_grows`.
        unsafe { &*(wake as *const Notify) }.notify_one();
    }
    ffi::SQLITE_OK
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

    /// A commit that leaves the WAL long wakes the checkpointer; short ones
    /// do not, nor any once the hook is gone.
    #[tokio::test]
    async fn a_long_wal_wakes_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let file = db.sqlite.clone().unwrap();
        let conn = rusqlite::Connection::open(&file.path).unwrap();
        conn.execute_batch(file.pragmas).unwrap();
        let woken = |wait_ms| {
            let wal_grew = file.wal_grew.clone();
            async move {
                tokio::time::timeout(Duration::from_millis(wait_ms), wal_grew.notified())
                    .await
                    .is_ok()
            }
        };
        let write = |pages: u32| {
            conn.execute(
                &format!("INSERT INTO scratch (b) VALUES (randomblob({pages} * 4096))"),
                [],
            )
            .unwrap();
        };

        let watch = wake_when_wal_grows(&conn, file.wal_grew.clone());
        write(1);
        assert!(!woken(50).await, "a short WAL woke the checkpointer");
        write(1_100);
        assert!(woken(1_000).await, "a WAL past 1,000 pages did not wake it");
        drop(watch);
        write(1_100);
        assert!(!woken(50).await, "the hook outlived its guard");
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
