//! Ordinary faults as boring events: a full disk, a database that goes away.
//! Each test checks what clients are answered during the fault, that nothing
//! acknowledged is lost, and that service comes back by itself.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::smtp::Client;

/// A small tmpfs mounted for one test (the tests run as root, as CI does).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap().keep();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount(8)");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l"])
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

struct FullDiskApp {
    app: TestApp,
    smtp_in: u16,
    _disk: Tmpfs,
}

async fn spawn_on(disk: Tmpfs) -> FullDiskApp {
    let data_dir = tempfile::tempdir_in(&disk.0).unwrap();
    let mut config = switchboard_server::Config::for_data_dir(data_dir.path());
    config.smtp_in = Some("127.0.0.1:0".parse().unwrap());
    unlimited_visitors(&mut config);
    let app = start_app(data_dir, config).await;
    let smtp_in = app.server.smtp_in.unwrap().port();
    FullDiskApp {
        app,
        smtp_in,
        _disk: disk,
    }
}

async fn post(app: &TestApp, visitor: &Visitor, client_id: &str, body: &str) -> reqwest::Response {
    app.http
        .post(app.api("/widget/messages"))
        .header("X-Visitor-Token", &visitor.token)
        .json(&json!({ "body": body, "client_id": client_id }))
        .send()
        .await
        .unwrap()
}

async fn health(app: &TestApp) -> (StatusCode, String) {
    let r = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn mail_from_reply(port: u16) -> String {
    let mut smtp = Client::connect(port).await;
    smtp.reply().await;
    smtp.say("EHLO mx.example.net").await;
    smtp.say("MAIL FROM:<someone@example.net>").await
}

/// Every message id of a conversation, through the operators' paged API.
pub async fn all_messages(app: &TestApp, conversation: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut before = String::new();
    loop {
        let page = app
            .get_json(
                &app.admin_token,
                &format!("/conversations/{conversation}/messages?limit=200&before={before}"),
            )
            .await;
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap()),
        );
        match page["next"].as_str() {
            Some(next) => before = next.to_string(),
            None => return ids,
        }
    }
}

/// Writes to `path` until the disk has no byte left.
fn fill_up(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = [7u8; 4096];
    while file
        .write_all(&chunk)
        .and_then(|_| file.sync_data())
        .is_ok()
    {}
}

fn fill(path: &Path, bytes: usize) {
    std::fs::write(path, vec![7u8; bytes]).unwrap();
}

/// The data directory on an 8 MB tmpfs beside a 3 MB file: a visitor writes
/// until the disk is full and on; then the file goes. The full disk is
/// answered 507 `storage_full` (never 500), `/healthz` says the server cannot
/// write, the SMTP listener answers 452 instead of taking mail it cannot keep;
/// once space is back, writes resume within seconds with no restart, the
/// refused messages go through when sent again with the same `client_id`,
/// and every acknowledged message is there.
#[tokio::test]
async fn a_full_disk_is_answered_507_and_writes_resume_when_space_is_back() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() == Ok("postgres") {
        return; // the data directory holds SQLite's file; PostgreSQL's disk is its own
    }
    let disk = Tmpfs::mount("8m");
    let ballast = disk.0.join("ballast");
    fill(&ballast, 3 << 20);
    let disk_path = disk.0.clone();
    let FullDiskApp {
        app,
        smtp_in,
        _disk,
    } = spawn_on(disk).await;
    let visitor = app.visitor().await;
    let body = "Could you tell me whether the Da Hong Pao ships in a tin? ".repeat(30);

    let mut acknowledged: Vec<i64> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let mut conversation = None;
    let mut n = 0;
    while refused.len() < 20 {
        n += 1;
        assert!(n < 50_000, "the disk never filled up");
        let client_id = format!("m-{n}");
        let r = post(&app, &visitor, &client_id, &body).await;
        match r.status() {
            StatusCode::CREATED => {
                let m: Value = r.json().await.unwrap();
                acknowledged.push(m["id"].as_i64().unwrap());
                conversation = m["conversation_id"].as_i64();
            }
            StatusCode::INSUFFICIENT_STORAGE => {
                assert!(r.headers().contains_key("retry-after"));
                let e: Value = r.json().await.unwrap();
                assert_eq!(e["error"]["code"], "storage_full", "{e}");
                refused.push(client_id);
                if refused.len() == 1 {
                    // At the edge a small write may still fit where a message
                    // did not (and clear the fault): take the last bytes too,
                    // so the disk is full for everyone while health and mail
                    // are asked.
                    fill_up(&disk_path.join("last-bytes"));
                    let (status, text) = health(&app).await;
                    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                    assert_eq!(text, "cannot write: storage full");
                    let answer = mail_from_reply(smtp_in).await;
                    assert!(answer.starts_with("452 4.3.1"), "{answer}");
                }
            }
            other => panic!("a full disk answered {other}: {}", r.text().await.unwrap()),
        }
    }
    assert!(
        acknowledged.len() > 100,
        "{} stored before the disk filled",
        acknowledged.len()
    );

    std::fs::remove_file(&ballast).unwrap();
    std::fs::remove_file(disk_path.join("last-bytes")).unwrap();
    let space_back = Instant::now();
    // The first refused message, sent again as a client would, is taken within seconds.
    loop {
        let r = post(&app, &visitor, &refused[0], &body).await;
        if r.status() == StatusCode::CREATED {
            break;
        }
        assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert!(
            space_back.elapsed() < Duration::from_secs(5),
            "writes did not resume within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for client_id in &refused[1..] {
        assert_eq!(
            post(&app, &visitor, client_id, &body).await.status(),
            StatusCode::CREATED
        );
    }
    let healthy = loop {
        let answer = health(&app).await;
        if answer.0 == StatusCode::OK || space_back.elapsed() > Duration::from_secs(5) {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(healthy, (StatusCode::OK, "ok".to_string()));
    // Mail is taken again within seconds (it waits a moment past the last
    // failed write: at the edge of a full disk some writes still fail).
    let answer = loop {
        let answer = mail_from_reply(smtp_in).await;
        if answer.starts_with("250") || space_back.elapsed() > Duration::from_secs(5) {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(answer.starts_with("250"), "{answer}");

    let stored = all_messages(&app, conversation.unwrap()).await;
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged message {id} was lost");
    }
    assert_eq!(stored.len(), acknowledged.len() + refused.len());
}

/// Two nodes whose PostgreSQL and NATS connections go through proxies.
struct ProxiedNodes {
    a: switchboard_server::RunningServer,
    b: switchboard_server::RunningServer,
    database: Proxy,
    nats: Proxy,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn two_nodes_behind_proxies() -> Option<ProxiedNodes> {
    let database = Proxy::start("127.0.0.1:5432").await;
    let nats = Proxy::start(test_nats_url().trim_start_matches("nats://")).await;
    let TwoNodes { a, b, _dir } = two_nodes(None, |config| {
        config.database_url = config
            .database_url
            .replace("127.0.0.1:5432", &database.addr.to_string());
        config.nats_url = Some(format!("nats://{}", nats.addr));
        unlimited_visitors(config);
    })
    .await?;
    Some(ProxiedNodes {
        a,
        b,
        database,
        nats,
        http: reqwest::Client::new(),
        _dir,
    })
}

impl ProxiedNodes {
    async fn visitor_on(&self, node: &switchboard_server::RunningServer) -> String {
        let session: Value = self
            .http
            .post(format!("{}/api/v1/widget/session", node.url()))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        session["visitor_token"].as_str().unwrap().to_string()
    }

    async fn say(
        &self,
        node: &switchboard_server::RunningServer,
        visitor: &str,
        client_id: &str,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/api/v1/widget/messages", node.url()))
            .header("X-Visitor-Token", visitor)
            .json(&json!({ "body": format!("message {client_id}"), "client_id": client_id }))
            .send()
            .await
            .unwrap()
    }
}

/// PostgreSQL out of reach for 6 s behind a closed proxy: every write on
/// either node is answered within 5 s with 503 `database_unavailable` and
/// `Retry-After` (not a hang, not 500); once the proxy opens, both nodes take
/// writes again without a restart, the refused sends go through with their
/// `client_id`, and nothing acknowledged is lost.
#[tokio::test]
async fn a_lost_database_is_answered_503_within_5_s_and_every_node_recovers() {
    let Some(nodes) = two_nodes_behind_proxies().await else {
        return;
    };
    let on_a = nodes.visitor_on(&nodes.a).await;
    let on_b = nodes.visitor_on(&nodes.b).await;
    assert_eq!(nodes.say(&nodes.a, &on_a, "a-1").await.status(), 201);
    assert_eq!(nodes.say(&nodes.b, &on_b, "b-1").await.status(), 201);

    nodes.database.close();
    let cut = Instant::now();
    let mut refused = Vec::new();
    for (node, visitor, id) in [
        (&nodes.a, &on_a, "a-2"),
        (&nodes.b, &on_b, "b-2"),
        (&nodes.a, &on_a, "a-3"),
    ] {
        let asked = Instant::now();
        let r = nodes.say(node, visitor, id).await;
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "answered after {:?}",
            asked.elapsed()
        );
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key("retry-after"));
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "database_unavailable", "{e}");
        refused.push((node, visitor, id));
    }
    let health = nodes
        .http
        .get(format!("{}/healthz", nodes.b.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(cut.elapsed())).await;
    nodes.database.open();

    let back = Instant::now();
    for (node, visitor, id) in refused {
        loop {
            let r = nodes.say(node, visitor, id).await;
            if r.status() == StatusCode::CREATED {
                break;
            }
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(
                back.elapsed() < Duration::from_secs(10),
                "no recovery within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!(
        "writes resumed {:?} after the database came back",
        back.elapsed()
    );
    for node in [&nodes.a, &nodes.b] {
        let health = nodes
            .http
            .get(format!("{}/healthz", node.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
    // Nothing acknowledged lost, nothing twice: each visitor's conversation.
    for (visitor, expected) in [
        (&on_a, ["a-1", "a-2", "a-3"].as_slice()),
        (&on_b, &["b-1", "b-2"]),
    ] {
        let history: Value = nodes
            .http
            .get(format!("{}/api/v1/widget/messages", nodes.b.url()))
            .header("X-Visitor-Token", visitor)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ids: Vec<&str> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["client_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected);
    }
    nodes.a.stop();
    nodes.b.stop();
}

/// NATS out of reach for 4 s: an operator streaming from node B misses
/// nothing posted on node A meanwhile (the stream resumes from the database),
/// in order, nothing twice.
#[tokio::test]
async fn a_nats_cut_loses_nothing() {
    let Some(nodes) = two_nodes_behind_proxies().await else {
        return;
    };
    let login: Value = nodes
        .http
        .post(format!("{}/api/v1/auth/login", nodes.b.url()))
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let base = nodes.b.url().replacen("http://", "ws://", 1);
    let mut stream = connect(&format!("{base}/api/v1/stream?token={token}")).await;
    next_frame(&mut stream).await;
    let visitor = nodes.visitor_on(&nodes.a).await;
    assert_eq!(nodes.say(&nodes.a, &visitor, "n-1").await.status(), 201);

    nodes.nats.close();
    for id in ["n-2", "n-3", "n-4"] {
        assert_eq!(nodes.say(&nodes.a, &visitor, id).await.status(), 201);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    nodes.nats.open();
    assert_eq!(nodes.say(&nodes.a, &visitor, "n-5").await.status(), 201);

    let mut seen = Vec::new();
    while seen.len() < 5 {
        let event = tokio::time::timeout(
            Duration::from_secs(20),
            next_event(&mut stream, "message.created"),
        )
        .await
        .expect("every message reaches node B's stream");
        seen.push(event["data"]["client_id"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ["n-1", "n-2", "n-3", "n-4", "n-5"]);
    nodes.a.stop();
    nodes.b.stop();
}
