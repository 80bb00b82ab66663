//! Nothing is acknowledged before it is durable: the real binary runs under
//! `strace`, which records in one ordered log every request it reads, every
//! fsync/fdatasync of the database and every response it writes; the test
//! then checks that each 201 to a send went out only after a sync of the
//! database completed after that send was read.
//!
//! Sends one at a time give each its own group-commit batch, so there each
//! 201 must have a sync of its own; sends all at once share batches, and each
//! must still wait for a sync that came after it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const SENDS_ONE_BY_ONE: usize = 20;
const SENDS_AT_ONCE: usize = 40;

struct Traced {
    child: Child,
    log: std::path::PathBuf,
    data: std::path::PathBuf,
    base: String,
}

impl Drop for Traced {
    fn drop(&mut self) {
        // Killing strace would only detach it: the server goes on. Stopping
        // the server ends strace too.
        let _ = Command::new("pkill")
            .args(["-f", "--"])
            .arg(format!("--data-dir {}", self.data.display()))
            .status();
        let _ = self.child.wait();
    }
}

fn start_traced(dir: &std::path::Path) -> Traced {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.join("strace.log");
    let data = dir.join("data");
    let mut child = Command::new("strace")
        .args(["-f", "-y", "-qq", "-s", "24", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=fsync,fdatasync,read,recvfrom,readv,write,writev,sendto,sendmsg",
        ])
        .arg(env!("CARGO_BIN_EXE_switchboard-server"))
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--http",
            &format!("127.0.0.1:{port}"),
            "--smtp-in",
            "off",
            "--visitor-limit-factor",
            "1000",
            // Forty new visitors at once from one address.
            "--address-limit-factor",
            "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace (apt-get install strace)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on"), "{line}");
    Traced {
        child,
        log,
        data,
        base: format!("http://127.0.0.1:{port}/api/v1"),
    }
}

/// The socket or file a traced call is on: `12<socket:[…]>`.
fn fd_of(call: &str) -> Option<&str> {
    let open = call.find('(')?;
    let rest = &call[open + 1..];
    let end = rest.find(">,").or_else(|| rest.find(">)"))?;
    Some(&rest[..=end])
}

/// What the log shows, in order: per send, whether a database sync completed
/// between reading it and writing its 201.
#[derive(Debug, Default)]
struct Verdict {
    acknowledged: usize,
    acknowledged_before_a_sync: Vec<String>,
    database_syncs: usize,
}

fn check(log: &str) -> Verdict {
    let mut verdict = Verdict::default();
    // Per connection: a send was read and no database sync has completed since.
    let mut waiting: HashMap<String, bool> = HashMap::new();
    // Calls another thread's event interrupted, by thread: `12 fdatasync(7</…>`.
    let mut unfinished: HashMap<&str, &str> = HashMap::new();
    for line in log.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let call = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            // A write counts from its start (its bytes are shown there); a
            // read or a sync from its end.
            if !is_write(head) {
                unfinished.insert(pid, head);
                continue;
            }
            head.to_string()
        } else if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some(head) = unfinished.remove(pid) else {
                continue;
            };
            let tail = resumed.split_once("resumed>").map_or("", |(_, tail)| tail);
            format!("{head}{tail}")
        } else {
            rest.to_string()
        };
        if call.starts_with("fsync(") || call.starts_with("fdatasync(") {
            if call.contains("switchboard.db") && call.trim_end().ends_with("= 0") {
                verdict.database_syncs += 1;
                for unsynced in waiting.values_mut() {
                    *unsynced = false;
                }
            }
            continue;
        }
        let Some(fd) = fd_of(&call).filter(|fd| fd.contains("socket:")) else {
            continue;
        };
        let reads = ["read(", "recvfrom(", "readv("]
            .iter()
            .any(|c| call.starts_with(c));
        if reads && call.contains("POST /api/v1/widget/mess") {
            waiting.insert(fd.to_string(), true);
        }
        if is_write(&call) && call.contains("HTTP/1.1 201") {
            if let Some(unsynced) = waiting.remove(fd) {
                verdict.acknowledged += 1;
                if unsynced {
                    verdict.acknowledged_before_a_sync.push(line.to_string());
                }
            }
        }
    }
    verdict
}

fn is_write(call: &str) -> bool {
    ["write(", "writev(", "sendto(", "sendmsg("]
        .iter()
        .any(|c| call.starts_with(c))
}

async fn send(http: &reqwest::Client, base: &str, token: &str, n: usize) {
    let response = http
        .post(format!("{base}/widget/messages"))
        .header("x-visitor-token", token)
        .json(&json!({ "body": format!("message {n}"), "client_id": format!("durable-{n:04}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
}

async fn new_visitor(http: &reqwest::Client, base: &str) -> String {
    let session: Value = http
        .post(format!("{base}/widget/session"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["visitor_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_201_to_a_send_comes_after_a_database_sync_that_followed_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_traced(dir.path());
    // One connection per request: each send is told apart by its socket.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let token = new_visitor(&http, &server.base).await;
    for n in 0..SENDS_ONE_BY_ONE {
        send(&http, &server.base, &token, n).await;
    }
    let one_by_one = check(&std::fs::read_to_string(&server.log).unwrap());

    let mut tasks = Vec::new();
    for n in 0..SENDS_AT_ONCE {
        let (http, base) = (http.clone(), server.base.clone());
        // Several visitors: the per-visitor rate limit stays out of the way.
        let token = new_visitor(&http, &base).await;
        tasks.push(tokio::spawn(async move {
            send(&http, &base, &token, 1000 + n).await
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    drop(server);
    let all = check(&std::fs::read_to_string(dir.path().join("strace.log")).unwrap());

    assert_eq!(
        one_by_one.acknowledged, SENDS_ONE_BY_ONE,
        "every 201 seen in the trace: {one_by_one:?}"
    );
    assert!(
        one_by_one.database_syncs >= SENDS_ONE_BY_ONE,
        "one sync per batch at least: {one_by_one:?}"
    );
    assert_eq!(
        all.acknowledged,
        SENDS_ONE_BY_ONE + SENDS_AT_ONCE,
        "{all:?}"
    );
    assert!(
        all.acknowledged_before_a_sync.is_empty(),
        "201s written before their send was synced to disk: {:#?}",
        all.acknowledged_before_a_sync
    );
}

/// The checker itself: a 201 with no sync since its request is caught.
#[test]
fn the_check_catches_an_acknowledgement_before_the_sync() {
    let fd = "12<socket:[512074]>";
    let read =
        format!("100 recvfrom({fd}, \"POST /api/v1/widget/mess\"..., 8192, 0, NULL, NULL) = 300");
    let ack =
        format!("101 writev({fd}, [{{iov_base=\"HTTP/1.1 201 Created\\r\\n\"...}}], 2) = 250");
    let sync = "102 fdatasync(7</tmp/x/data/switchboard.db-wal>) = 0";
    let good = check(&[read.as_str(), sync, ack.as_str()].join("\n"));
    assert_eq!(
        (good.acknowledged, good.acknowledged_before_a_sync.len()),
        (1, 0)
    );
    let bad = check(&[read.as_str(), ack.as_str(), sync].join("\n"));
    assert_eq!(
        (bad.acknowledged, bad.acknowledged_before_a_sync.len()),
        (1, 1)
    );
    let unfinished = [
        read.as_str(),
        "102 fdatasync(7</tmp/x/data/switchboard.db-wal> <unfinished ...>",
        ack.as_str(),
        "102 <... fdatasync resumed>) = 0",
    ];
    let early = check(&unfinished.join("\n"));
    assert_eq!(early.acknowledged_before_a_sync.len(), 1, "{early:?}");
}
