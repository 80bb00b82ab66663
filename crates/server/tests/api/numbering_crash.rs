//! The event log's numbering commits without waiting for its WAL flush
//! (migration 0013): a numbering lost in a crash must be redone the same,
//! or a client's cursor would point at another event.
//!
//! The test runs a PostgreSQL of its own (the machine's shared one cannot be
//! crashed), stops its WAL writer so that nothing flushes the numbering,
//! numbers, kills every process of the cluster, starts it again, and checks
//! that the numbering was lost and that numbering again gives each event the
//! position the streams saw before the crash.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use switchboard_server::db::Db;
use switchboard_server::store::events;

/// The newest PostgreSQL's programs on this machine.
fn pg_bin(program: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs (/usr/lib/postgresql)")
        .flatten()
        .map(|e| e.path().join("bin").join(program))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL server installed")
}

/// PostgreSQL refuses to run as root: then its programs run as `postgres`.
fn as_owner(program: &str) -> Command {
    let path = pg_bin(program);
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

fn run(mut command: Command) {
    let out = command.output().expect("running a PostgreSQL program");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Cluster {
    data: PathBuf,
    port: u16,
}

impl Cluster {
    fn create(root: &Path) -> Cluster {
        let data = root.join("data");
        std::fs::create_dir(&data).unwrap();
        if is_root() {
            run({
                let mut c = Command::new("chown");
                c.args(["-R", "postgres:postgres"]).arg(root);
                c
            });
        }
        let mut initdb = as_owner("initdb");
        initdb
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data);
        run(initdb);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Cluster { data, port }
    }

    fn start(&self) {
        let mut pg_ctl = as_owner("pg_ctl");
        pg_ctl.arg("-D").arg(&self.data).args([
            "-w",
            "-l",
            self.data.join("../log").to_str().unwrap(),
            "-o",
            // The background writer would flush WAL before writing out a
            // page the numbering touched: off, only the WAL writer could.
            &format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c bgwriter_lru_maxpages=0",
                self.port,
                self.data.parent().unwrap().display()
            ),
            "start",
        ]);
        let out = pg_ctl.output().expect("running pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(self.data.join("../log")).unwrap_or_default()
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn postmaster(&self) -> i32 {
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        pid.lines().next().unwrap().trim().parse().unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = as_owner("pg_ctl");
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"]);
        let _ = stop.output();
    }
}

fn signal(pid: i32, signal: &str) {
    run({
        let mut c = Command::new("kill");
        c.arg(format!("-{signal}")).arg(pid.to_string());
        c
    });
}

async fn append_three(db: &Db, from: i64) {
    let mut tx = db.pool.begin().await.unwrap();
    for n in from..from + 3 {
        events::append(&mut tx, "test.event", None, &json!({ "n": n }))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_numbering_lost_in_a_crash_is_redone_with_the_same_positions() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        return; // PostgreSQL only: SQLite numbers nothing after commit.
    }
    let root = tempfile::tempdir().unwrap();
    let cluster = Cluster::create(root.path());
    cluster.start();
    let db = Db::connect(&cluster.url()).await.unwrap();

    // Six events, committed (and flushed) as writers commit them.
    append_three(&db, 0).await;
    append_three(&db, 3).await;

    // Nothing may flush the numbering's WAL now: the WAL writer is stopped,
    // no other transaction commits.
    let processes: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let walwriter: i32 =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    signal(walwriter, "STOP");
    let seen = events::numbered_after(&db, 0, 100).await.unwrap();
    let seen: Vec<(i64, String)> = seen.events.into_iter().map(|e| (e.seq, e.data)).collect();
    assert_eq!(seen.len(), 6, "{seen:?}");

    // The crash: every process killed at once, no shutdown.
    let postmaster = cluster.postmaster();
    for pid in std::iter::once(postmaster).chain(processes) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status();
    }
    db.pool.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // A killed postmaster may linger as a zombie where nothing reaps
    // orphans (a container's init), and its lock files would name it alive.
    std::fs::remove_file(cluster.data.join("postmaster.pid")).unwrap();
    for file in std::fs::read_dir(root.path()).unwrap().flatten() {
        if file.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
            std::fs::remove_file(file.path()).unwrap();
        }
    }
    cluster.start();
    let db = Db::connect(&cluster.url()).await.unwrap();

    let unnumbered: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events AS e \
         WHERE NOT EXISTS (SELECT 1 FROM event_positions AS p WHERE p.seq = e.seq)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        unnumbered, 6,
        "the crash should have undone the numbering (else this test proves nothing)"
    );
    // A writer commits more before any hub numbers again.
    append_three(&db, 6).await;
    let again = events::numbered_after(&db, 0, 100).await.unwrap();
    let again: Vec<(i64, String)> = again.events.into_iter().map(|e| (e.seq, e.data)).collect();
    assert_eq!(again.len(), 9, "{again:?}");
    assert_eq!(
        again[..6],
        seen[..],
        "the same events at the same positions"
    );
    let later: Vec<i64> = again[6..].iter().map(|(pos, _)| *pos).collect();
    assert_eq!(later, [7, 8, 9]);
    assert!(again[6].1.contains("\"n\":6"));
    db.pool.close().await;
}
