//! Test harness: the real server on a random port with a fresh data dir, a real
//! SMTP server receiving what it sends, and an HTTP client.

use std::net::TcpListener;
use std::time::Duration;

use mailin_embedded::{Handler, Response, Server, SslConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_server::{Config, RunningServer};
use tokio::sync::mpsc;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// One email as the relay received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (MAIL FROM).
    pub from: String,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parseable email")
    }
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .unwrap_or_default()
            .replace("\r\n", "\n")
    }
    pub fn html(&self) -> String {
        self.parsed().body_html(0).unwrap_or_default().into_owned()
    }
    /// Reads "Label: value" off the plain-text body, as a person would.
    pub fn field(&self, label: &str) -> String {
        self.text()
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{label}: "))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {label:?} line in:\n{}", self.text()))
    }
}

#[derive(Clone)]
struct SinkHandler {
    tx: mpsc::UnboundedSender<ReceivedMail>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for SinkHandler {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            raw: std::mem::take(&mut self.data),
        };
        let _ = self.tx.send(mail);
        mailin_embedded::response::OK
    }
}

/// A real SMTP server (mailin) on loopback that hands every email to the test.
pub struct SmtpSink {
    pub port: u16,
    rx: mpsc::UnboundedReceiver<ReceivedMail>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::start_on(listener)
    }

    pub fn start_on(listener: TcpListener) -> SmtpSink {
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::unbounded_channel();
        let handler = SinkHandler {
            tx,
            from: String::new(),
            to: vec![],
            data: vec![],
        };
        std::thread::spawn(move || {
            let mut server = Server::new(handler);
            server
                .with_name("sink.test")
                .with_ssl(SslConfig::None)
                .unwrap()
                .with_tcp_listener(listener);
            server.serve().unwrap();
        });
        SmtpSink { port, rx }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The next email, waiting up to 15 s.
    pub async fn next(&mut self) -> ReceivedMail {
        tokio::time::timeout(Duration::from_secs(15), self.rx.recv())
            .await
            .expect("an email within 15 s")
            .expect("sink open")
    }

    /// The next email to `address`, setting aside others (notifications of
    /// other tests' steps) until then.
    pub async fn next_to(&mut self, address: &str) -> ReceivedMail {
        loop {
            let mail = self.next().await;
            if mail.to.iter().any(|t| t == address) {
                return mail;
            }
        }
    }

    /// Asserts no email arrives within `wait`.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        if let Ok(Some(mail)) = tokio::time::timeout(wait, self.rx.recv()).await {
            panic!("unexpected email: {}", mail.subject());
        }
    }
}

pub struct TestApp {
    pub server: RunningServer,
    pub url: String,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub admin_token: String,
}

/// SQLite in the data dir, or, with `SWITCHBOARD_TEST_DATABASE=postgres`, a
/// PostgreSQL database of its own on the loopback server (one per data dir, so
/// a restarted server finds its data): the same suite checks both stores.
pub async fn test_config(data_dir: &std::path::Path, smtp_out: Option<String>) -> Config {
    let mut config = Config::for_data_dir(data_dir);
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() == Ok("postgres") {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let base = std::env::var("SWITCHBOARD_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let name = format!(
            "sb_test_{}",
            data_dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        let mut admin = sqlx::AnyConnection::connect(&format!("{base}/postgres"))
            .await
            .expect("PostgreSQL on loopback");
        let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_optional(&mut admin)
            .await
            .unwrap();
        if exists.is_none() {
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
        config.database_url = format!("{base}/{name}");
    }
    config.smtp_out = smtp_out;
    config.outbox_retry_base = Duration::from_millis(200);
    config
}

pub async fn spawn_app_with(smtp_out: Option<String>) -> TestApp {
    spawn_app_configured(smtp_out, |_| {}).await
}

/// For tests that write as fast as a script (streams under load): the
/// per-visitor and per-address message limits out of the way.
pub fn unlimited_visitors(config: &mut Config) {
    let plenty = switchboard_server::limits::Rate::new(100_000, 1);
    config.limits.messages_per_visitor = plenty;
    config.limits.messages_per_address = plenty;
}

/// The server with a configuration the test adjusts (shorter expiries, limits).
pub async fn spawn_app_configured(
    smtp_out: Option<String>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(data_dir.path(), smtp_out).await;
    adjust(&mut config);
    start_app(data_dir, config).await
}

/// Starts the server on `config` (whose data dir is `data_dir`), with the
/// admin created and signed in.
pub async fn start_app(data_dir: tempfile::TempDir, config: Config) -> TestApp {
    let server = switchboard_server::start(config).await.unwrap();
    switchboard_server::services::accounts::create_admin(
        &server.state,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        Some("Ada Admin"),
    )
    .await
    .unwrap();
    let url = server.url();
    let mut app = TestApp {
        server,
        url,
        http: reqwest::Client::new(),
        data_dir,
        admin_token: String::new(),
    };
    app.admin_token = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app
}

/// The server, sending its email to a fresh SMTP sink.
pub async fn spawn_app() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start();
    let app = spawn_app_with(Some(sink.url())).await;
    (app, sink)
}

impl TestApp {
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.api("/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn login_ok(&self, email: &str, password: &str) -> String {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {email}");
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    /// GET as JSON, expecting success.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let response = self.get(token, path).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.http
            .request(method, self.api(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn invite(&self, token: &str, email: &str, role: &str) -> reqwest::Response {
        self.send_json(
            reqwest::Method::POST,
            token,
            "/team/invitations",
            json!({ "email": email, "role": role }),
        )
        .await
    }

    /// Invites a colleague, reads the password off the email, signs in and sets
    /// their own password. Returns (user id, token).
    pub async fn onboard(&self, sink: &mut SmtpSink, email: &str, role: &str) -> (i64, String) {
        let response = self.invite(&self.admin_token, email, role).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let user: Value = response.json().await.unwrap();
        let mail = sink.next_to(email).await;
        let temporary = mail.field("Password");
        let token = self.login_ok(email, &temporary).await;
        let response = self
            .send_json(
                reqwest::Method::PUT,
                &token,
                "/me/password",
                json!({ "current_password": temporary, "new_password": format!("{email}-own-pw") }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        (user["id"].as_i64().unwrap(), token)
    }
}

/// Asserts the status and the API's error shape; returns the error code.
pub async fn expect_error(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("a JSON error body");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_string();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error.message"
    );
    code
}

/// A visitor of the widget API.
pub struct Visitor {
    pub token: String,
    pub id: i64,
}

impl TestApp {
    pub async fn visitor(&self) -> Visitor {
        let session: Value = self
            .http
            .post(self.api("/widget/session"))
            .json(&json!({ "locale": "en" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Visitor {
            token: session["visitor_token"].as_str().unwrap().into(),
            id: session["visitor_id"].as_i64().unwrap(),
        }
    }

    pub async fn visitor_says(
        &self,
        visitor: &Visitor,
        body: &str,
        client_id: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.api("/widget/messages"))
            .header("x-visitor-token", &visitor.token)
            .json(&json!({ "body": body, "client_id": client_id }))
            .send()
            .await
            .unwrap()
    }

    pub async fn operator_says(
        &self,
        token: &str,
        conversation: i64,
        body: &str,
        client_id: &str,
    ) -> reqwest::Response {
        self.send_json(
            reqwest::Method::POST,
            token,
            &format!("/conversations/{conversation}/messages"),
            json!({ "body": body, "client_id": client_id }),
        )
        .await
    }

    /// The bodies of a visitor's widget history, oldest first.
    pub async fn visitor_history(&self, visitor: &Visitor) -> Vec<String> {
        let history: Value = self
            .http
            .get(self.api("/widget/messages"))
            .header("x-visitor-token", &visitor.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url.replacen("http://", "ws://", 1))
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects")
        .0
}

/// The next JSON text frame, waiting up to 10 s.
pub async fn next_frame(ws: &mut Ws) -> Value {
    use futures_util::StreamExt;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("stream open")
            .expect("no websocket error");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = msg {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// The next `event` frame with this name, skipping others.
pub async fn next_event(ws: &mut Ws, name: &str) -> Value {
    loop {
        let frame = next_frame(ws).await;
        if frame["type"] == "event" && frame["event"] == name {
            return frame;
        }
    }
}

/// A TCP proxy on loopback that a test closes and opens again: closed, it cuts
/// every connection through it and drops new ones at once (as a database or
/// broker that went away); open, it forwards to `target`.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    open: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (open, _) = tokio::sync::watch::channel(true);
        let watch = open.clone();
        let target = target.to_string();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*watch.borrow() {
                    drop(client);
                    continue;
                }
                let mut closed = watch.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client, mut upstream) = (client, upstream);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = closed.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Proxy { addr, open }
    }

    pub fn close(&self) {
        self.open.send_replace(false);
    }

    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

/// Two nodes on one PostgreSQL database and NATS, the admin created. Only in
/// the PostgreSQL pass (`SWITCHBOARD_TEST_DATABASE=postgres`): `None` with
/// SQLite. `adjust` changes node A's configuration, which node B copies.
pub struct TwoNodes {
    pub a: RunningServer,
    pub b: RunningServer,
    pub _dir: tempfile::TempDir,
}

pub async fn two_nodes(
    smtp_out: Option<String>,
    adjust: impl FnOnce(&mut Config),
) -> Option<TwoNodes> {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        eprintln!("skipped: needs SWITCHBOARD_TEST_DATABASE=postgres");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config_a = test_config(dir.path(), smtp_out).await;
    config_a.nats_url = Some(test_nats_url());
    adjust(&mut config_a);
    let mut config_b = config_a.clone();
    config_b.data_dir = dir.path().join("node-b");
    let a = switchboard_server::start(config_a).await.unwrap();
    let b = switchboard_server::start(config_b).await.unwrap();
    switchboard_server::services::accounts::create_admin(
        &a.state,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        Some("Ada"),
    )
    .await
    .unwrap();
    Some(TwoNodes { a, b, _dir: dir })
}

pub fn test_nats_url() -> String {
    std::env::var("SWITCHBOARD_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Sequential scans of `table` so far, as PostgreSQL's statistics count them
/// (the calling backend's own counts flushed first).
pub async fn seq_scans(conn: &mut sqlx::AnyConnection, table: &str) -> i64 {
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = $1")
        .bind(table)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

/// A directory holding the migrations of `store` ("sqlite" or "postgres")
/// that `keep` takes, by file name: the schema of an earlier release, for
/// the upgrade tests.
pub fn earlier_migrations(store: &str, keep: impl Fn(&str) -> bool) -> tempfile::TempDir {
    let old = tempfile::tempdir().unwrap();
    let dir = format!("{}/migrations/{store}", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if keep(&name) {
            std::fs::copy(&path, old.path().join(&name)).unwrap();
        }
    }
    old
}

/// A SQLite data dir whose schema is what these migrations (of an earlier
/// release) made, and a connection to fill it.
pub async fn data_dir_migrated_to(
    migrations: &[&str],
) -> (tempfile::TempDir, sqlx::SqliteConnection) {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let old = earlier_migrations("sqlite", |name| migrations.contains(&name));
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("switchboard.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(&mut db)
        .await
        .unwrap();
    (dir, db)
}
