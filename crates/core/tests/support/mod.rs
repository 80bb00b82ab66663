//! Starts the real `switchboard-server` binary for the core's integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::{ConnState, Core, CoreEvent, LocalPrefs, Paths, TokenStore};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

pub fn server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SWITCHBOARD_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_string());
    let p = Path::new(&target).join("debug").join("switchboard-server");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build -p switchboard-server` first or set SWITCHBOARD_SERVER_BIN",
        p.display()
    );
    p
}

pub struct Server {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    /// Extra flags of `serve`, kept for restarts.
    args: Vec<String>,
}

impl Server {
    /// A fresh server with one admin.
    pub async fn start() -> Server {
        Server::start_with("127.0.0.1:0", &[]).await
    }

    /// A fresh server with one admin, listening on `addr`.
    pub async fn start_on(addr: &str) -> Server {
        Server::start_with(addr, &[]).await
    }

    /// A fresh server with one admin, listening on `addr`, with extra `serve` flags.
    pub async fn start_with(addr: &str, args: &[&str]) -> Server {
        Server::start_in_dir(tempfile::tempdir().unwrap(), addr, args).await
    }

    /// A fresh server with one admin keeping its data in `data_dir` (e.g. on a
    /// small [`Tmpfs`]).
    pub async fn start_in(data_dir: tempfile::TempDir) -> Server {
        Server::start_in_dir(data_dir, "127.0.0.1:0", &[]).await
    }

    async fn start_in_dir(data_dir: tempfile::TempDir, addr: &str, args: &[&str]) -> Server {
        let out = Command::new(server_bin())
            .args(["--data-dir"])
            .arg(data_dir.path())
            .args([
                "--smtp-in",
                "off",
                "admin",
                "create",
                "--email",
                ADMIN_EMAIL,
            ])
            .args(["--password", ADMIN_PASSWORD, "--name", "Anna Admin"])
            .output()
            .await
            .expect("run switchboard-server admin create");
        assert!(
            out.status.success(),
            "admin create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut s = Server {
            url: String::new(),
            data_dir,
            child: None,
            port: 0,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        s.spawn(addr).await;
        s
    }

    async fn spawn(&mut self, addr: &str) {
        let mut child = Command::new(server_bin())
            .args(["--http", addr, "--data-dir"])
            .arg(self.data_dir.path())
            .args(["--smtp-in", "off"])
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn switchboard-server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(u) = line.strip_prefix("switchboard-server listening on ") {
                    return u.trim().to_string();
                }
            }
            panic!("server exited before listening");
        })
        .await
        .expect("server did not start within 60 s");
        // keep draining stdout so the server never blocks on a full pipe
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.port = url.rsplit(':').next().unwrap().parse().unwrap();
        self.url = url;
        self.child = Some(child);
    }

    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
    }

    /// Starts the server again on the same port and data.
    pub async fn restart(&mut self) {
        self.stop().await;
        let addr = format!("127.0.0.1:{}", self.port);
        for _ in 0..50 {
            if std::net::TcpListener::bind(&addr).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.spawn(&addr).await;
    }

    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    pub async fn admin_token(&self) -> String {
        let r: serde_json::Value = self
            .http()
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["token"].as_str().unwrap().to_string()
    }

    /// Calls the API as the first admin; returns the status.
    pub async fn as_admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::StatusCode {
        let token = self.admin_token().await;
        let mut rb = self
            .http()
            .request(method, format!("{}/api/v1{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.unwrap().status()
    }

    /// Invites a colleague as the first admin; returns their id and the emailed password.
    pub async fn invite(&self, email: &str, role: &str) -> (i64, String) {
        let token = self.admin_token().await;
        let user: serde_json::Value = self
            .http()
            .post(format!("{}/api/v1/team/invitations", self.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"email": email, "role": role}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = user["id"].as_i64().unwrap();
        for _ in 0..200 {
            let mail = self
                .mailbox()
                .await
                .into_iter()
                .find(|m| m["to"].as_str().unwrap_or("").contains(email));
            if let Some(m) = mail {
                let raw = self
                    .http()
                    .get(format!("{}{}", self.url, m["url"].as_str().unwrap()))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                // quoted-printable soft line breaks
                let text = raw.replace("=\r\n", "").replace("=\n", "");
                let password = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("Password: "))
                    .expect("no password in the invitation email")
                    .trim()
                    .to_string();
                return (id, password);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no invitation email to {email}");
    }

    /// The emails in the dev mailbox: `[{file, to, subject, date, url}]`.
    pub async fn mailbox(&self) -> Vec<serde_json::Value> {
        self.http()
            .get(format!("{}/dev/mailbox", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A small tmpfs mounted for one test (the tests run as root, as CI does), to
/// fill up: the server's data directory on it sees a real full disk.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(size: &str) -> Tmpfs {
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

    /// Writes `name` until the disk has no byte left.
    pub fn fill(&self, name: &str) -> PathBuf {
        use std::io::Write;
        let path = self.0.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![7u8; 64 << 10];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        path
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

/// A visitor talking through the widget API.
pub struct Visitor {
    pub token: String,
    base: String,
}

impl Visitor {
    pub async fn new(server: &Server) -> Visitor {
        let r: serde_json::Value = server
            .http()
            .post(format!("{}/api/v1/widget/session", server.url))
            .json(&serde_json::json!({"locale": "en"}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        Visitor {
            token: r["visitor_token"].as_str().unwrap().to_string(),
            base: server.url.clone(),
        }
    }

    pub async fn say(&self, body: &str) -> switchboard_protocol::Message {
        self.try_say(body)
            .await
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Posts a message and returns the server's answer, whatever it is.
    pub async fn try_say(&self, body: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/api/v1/widget/messages", self.base))
            .header("X-Visitor-Token", &self.token)
            .json(&serde_json::json!({"body": body, "client_id": uuid_like()}))
            .send()
            .await
            .unwrap()
    }

    /// Uploads a file through the widget API.
    pub async fn upload(
        &self,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> switchboard_protocol::Attachment {
        reqwest::Client::new()
            .post(format!("{}/api/v1/widget/attachments", self.base))
            .query(&[("name", name)])
            .header("X-Visitor-Token", &self.token)
            .header("Content-Type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sends a message with uploaded files.
    pub async fn say_with(&self, body: &str, attachments: &[i64]) -> switchboard_protocol::Message {
        reqwest::Client::new()
            .post(format!("{}/api/v1/widget/messages", self.base))
            .header("X-Visitor-Token", &self.token)
            .json(&serde_json::json!({"body": body, "client_id": uuid_like(), "attachments": attachments}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn contact(&self, name: &str, email: &str) {
        reqwest::Client::new()
            .put(format!("{}/api/v1/widget/contact", self.base))
            .header("X-Visitor-Token", &self.token)
            .json(&serde_json::json!({"name": name, "email": email}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    pub async fn messages(&self) -> Vec<switchboard_protocol::Message> {
        let r: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/widget/messages", self.base))
            .header("X-Visitor-Token", &self.token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        serde_json::from_value(r["items"].clone()).unwrap()
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

/// Whether the test runs inside tests/desktop-env.sh (private bus, keyring, ALSA file).
pub fn real_desktop() -> bool {
    std::env::var("SWITCHBOARD_REAL_DESKTOP").as_deref() == Ok("1")
}

/// Waits until `f` is true, polling.
pub async fn eventually<F: FnMut() -> bool>(what: &str, secs: u64, mut f: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A core with its own dirs and keyring service, alerts silenced (tests that check
/// alerts switch them back on).
pub fn new_core(root: &std::path::Path, service: &str) -> Core {
    let core = Core::with_token_store(Paths::under(root), TokenStore::with_service(service));
    core.set_prefs(LocalPrefs {
        volume: 0.0,
        native_notifications: false,
        ..LocalPrefs::default()
    })
    .unwrap();
    core
}

pub fn unique(prefix: &str) -> String {
    use rand::Rng;
    format!("{prefix}-{:08x}", rand::thread_rng().gen::<u32>())
}

/// Collects every event of a core.
pub fn record(core: &Core) -> Arc<Mutex<Vec<CoreEvent>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut rx = core.subscribe();
    let l = log.clone();
    tokio::spawn(async move {
        while let Ok(e) = rx.recv().await {
            l.lock().unwrap().push(e);
        }
    });
    log
}

/// The admin signed in to `server` from a core of its own (its dirs in the
/// returned temporary dir, which must outlive it), the stream online.
pub async fn admin_online(
    server: &Server,
) -> (tempfile::TempDir, Core, Arc<switchboard_core::Session>) {
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let session = core.session().await.unwrap();
    (dir, core, session)
}

pub async fn wait_online(core: &Core) {
    let s = core.session().await.unwrap();
    eventually("the stream to be online", 30, || {
        s.connection() == ConnState::Online
    })
    .await;
}

/// Every file under `dir`.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
