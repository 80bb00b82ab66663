//! When the server ends a session: close codes 4401 / 4403 / 1008 / 1013, HTTP 401 and
//! 403 `password_change_required` — and where the app may send the password and token
//! at all (https by default, http only to this computer or by explicit choice; the token
//! only in the keyring and the Authorization header).
//!
//! The `real_*` tests run against the real server binary (the contract end to end); the
//! `scripted_*` ones against a tiny server in this file that answers each case alone, so
//! the client's reaction is checked by itself.
//!
//!     cargo build -p switchboard-server
//!     bash tests/desktop-env.sh cargo test -p switchboard-core --test session_end

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::*;
use switchboard_core::{ConnState, Core, CoreEvent, Settings, TokenStore};
use switchboard_protocol::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn signed_out(events: &Mutex<Vec<CoreEvent>>) -> Option<(String, String)> {
    events.lock().unwrap().iter().find_map(|e| match e {
        CoreEvent::SignedOut { code, reason } => Some((code.clone(), reason.clone())),
        _ => None,
    })
}

/// Connection states the core announced after the first `SignedOut`.
fn states_after_sign_out(events: &Mutex<Vec<CoreEvent>>) -> Vec<ConnState> {
    events
        .lock()
        .unwrap()
        .iter()
        .skip_while(|e| !matches!(e, CoreEvent::SignedOut { .. }))
        .filter_map(|e| match e {
            CoreEvent::Connection { state } => Some(*state),
            _ => None,
        })
        .collect()
}

fn count_connecting(events: &Mutex<Vec<CoreEvent>>) -> usize {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                e,
                CoreEvent::Connection {
                    state: ConnState::Connecting
                }
            )
        })
        .count()
}

fn went_offline(events: &Mutex<Vec<CoreEvent>>) -> bool {
    events.lock().unwrap().iter().any(|e| {
        matches!(
            e,
            CoreEvent::Connection {
                state: ConnState::Offline { .. }
            }
        )
    })
}

/// A colleague invited by the admin, signed in on a fresh core with their own password.
async fn colleague_online(
    server: &Server,
    root: &std::path::Path,
    email: &str,
    role: &str,
) -> (Core, String, i64, String) {
    let (id, emailed) = server.invite(email, role).await;
    let service = unique("sb-test");
    let core = new_core(root, &service);
    let info = core
        .sign_in(&server.url, email, &emailed, false)
        .await
        .unwrap();
    assert!(info.user.must_change_password);
    let own = format!("{email}-own-password");
    core.session()
        .await
        .unwrap()
        .change_password(&emailed, &own)
        .await
        .unwrap();
    wait_online(&core).await;
    (core, service, id, own)
}

// ----- against the real server -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_removed_colleague_is_signed_out_within_2s_and_forgets_the_token() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (core, service, id, _) =
        colleague_online(&server, dir.path(), "bob@example.com", "operator").await;
    let s = core.session().await.unwrap();
    let account = s.account().key();
    let events = record(&core);

    let removed_at = Instant::now();
    assert!(server
        .as_admin(reqwest::Method::DELETE, &format!("/team/{id}"), None)
        .await
        .is_success());
    eventually("the removed colleague to be signed out", 2, || {
        signed_out(&events).is_some()
    })
    .await;
    eprintln!("signed out {:?} after the removal", removed_at.elapsed());
    let (code, reason) = signed_out(&events).unwrap();
    assert!(
        ["session_ended", "unauthorized"].contains(&code.as_str()),
        "{code}: {reason}"
    );
    assert!(s.is_signed_out());
    assert_eq!(s.connection(), ConnState::Stopped);
    if real_desktop() {
        assert_eq!(
            TokenStore::with_service(&service).load(&account).unwrap(),
            None,
            "the dead token stayed in the keyring"
        );
    }
    // no reconnect attempts afterwards
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = states_after_sign_out(&events);
    assert!(
        after.iter().all(|c| *c == ConnState::Stopped),
        "reconnecting after the sign-out: {after:?}"
    );
    // signing out in the UI then sends nothing with the dead token and leaves no account open
    core.sign_out().await.unwrap();
    assert!(core.session().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_password_changed_on_another_computer_signs_this_one_out() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (laptop, _, _, own) =
        colleague_online(&server, dir.path(), "bob@example.com", "operator").await;
    let dir2 = tempfile::tempdir().unwrap();
    let desktop = new_core(dir2.path(), &unique("sb-test"));
    desktop
        .sign_in(&server.url, "bob@example.com", &own, false)
        .await
        .unwrap();
    wait_online(&desktop).await;
    let desktop_events = record(&desktop);
    let laptop_events = record(&laptop);

    laptop
        .session()
        .await
        .unwrap()
        .change_password(&own, "a brand new password")
        .await
        .unwrap();
    eventually("the other computer to be signed out", 2, || {
        signed_out(&desktop_events).is_some()
    })
    .await;
    // the computer where the password was changed stays signed in and online
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(signed_out(&laptop_events).is_none());
    let l = laptop.session().await.unwrap();
    assert!(!l.is_signed_out());
    eventually("the laptop online", 5, || {
        l.connection() == ConnState::Online
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_demoted_admin_reconnects_at_once_with_the_new_role() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (core, _, id, _) = colleague_online(&server, dir.path(), "bob@example.com", "admin").await;
    let s = core.session().await.unwrap();
    assert_eq!(s.user().role, Role::Admin);
    let events = record(&core);

    assert!(server
        .as_admin(
            reqwest::Method::PATCH,
            &format!("/team/{id}"),
            Some(serde_json::json!({"role": "operator"}))
        )
        .await
        .is_success());
    // the server closes the stream with 4403; the core reconnects without a backoff
    eventually("a reconnect after the role change", 2, || {
        count_connecting(&events) >= 1
    })
    .await;
    eventually("online again as an operator", 3, || {
        s.connection() == ConnState::Online && s.user().role == Role::Operator
    })
    .await;
    assert!(
        !went_offline(&events),
        "waited out a backoff after the role change"
    );
    assert!(signed_out(&events).is_none());
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, CoreEvent::Me { user } if user.role == Role::Operator)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_emailed_password_leads_to_the_password_screen_then_online() {
    let server = Server::start().await;
    let (_, emailed) = server.invite("olga@example.com", "operator").await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    let events = record(&core);
    let info = core
        .sign_in(&server.url, "olga@example.com", &emailed, false)
        .await
        .unwrap();
    assert!(info.user.must_change_password);
    let s = core.session().await.unwrap();

    // everything but the password is refused: the answer says so, it is not a sign-out
    let e = s.team().await.unwrap_err();
    assert_eq!(e.code(), "password_change_required", "{e:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_ne!(s.connection(), ConnState::Online, "the stream was let in");
    assert!(signed_out(&events).is_none());
    assert!(s.user().must_change_password);

    s.change_password(&emailed, "olga's own password")
        .await
        .unwrap();
    assert!(!s.user().must_change_password);
    // online at once, not after the backoff
    eventually("online after the password change", 2, || {
        s.connection() == ConnState::Online
    })
    .await;
    assert!(s.team().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_no_file_of_the_app_holds_the_token() {
    let server = Server::start().await;
    let (dir, core, s) = admin_online(&server).await;
    let token = s.api().token().unwrap().to_string();
    assert!(token.len() >= 16);
    assert!(!format!("{:?}", s.api()).contains(&token));

    // a session's worth of files: dialogs, messages, the outbox, the team, settings
    let visitor = Visitor::new(&server).await;
    let cid = visitor.say("hello").await.conversation_id;
    eventually("the dialog", 20, || s.conversation(cid).is_some()).await;
    s.send_message(cid, "an answer", &[]).unwrap();
    eventually("the answer sent", 20, || s.outbox().is_empty()).await;
    s.messages(cid).await.unwrap();
    s.team().await.unwrap();
    core.stop().await;

    let files = walk(dir.path());
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
        assert!(!text.contains(&token), "token written to {}", f.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_http_to_another_computer_only_by_choice_and_the_choice_is_remembered() {
    let Some(ip) = lan_ip() else {
        eprintln!("SKIPPED: this machine has no non-loopback address");
        return;
    };
    let server = Server::start_on(&format!("{ip}:0")).await;
    assert!(server.url.starts_with("http://") && !server.url.contains("127.0.0.1"));
    let dir = tempfile::tempdir().unwrap();
    let service = unique("sb-test");
    let core = new_core(dir.path(), &service);
    let e = core
        .sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "insecure_http", "{e:?}");
    assert!(core.settings().accounts.is_empty());

    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, true)
        .await
        .unwrap();
    wait_online(&core).await;
    let saved = Settings::load(&core.paths().config_dir);
    assert!(saved.accounts[0].allow_http, "{:?}", saved.accounts);
    core.stop().await;
    if real_desktop() {
        // a restart opens the account with the remembered choice
        let core = new_core(dir.path(), &service);
        assert!(core.restore().await.unwrap().is_some());
        wait_online(&core).await;
    }
}

// ----- http:// and redirects: nothing is sent where it may not go ---------------------

/// This machine's address on its network (no packet is sent to find it).
fn lan_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Whether anything connects to `l` within `ms`.
async fn gets_a_connection(l: &TcpListener, ms: u64) -> bool {
    tokio::time::timeout(Duration::from_millis(ms), l.accept())
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_elsewhere_is_refused_before_anything_is_sent_even_by_a_redirect() {
    let Some(ip) = lan_ip() else {
        eprintln!("SKIPPED: this machine has no non-loopback address");
        return;
    };
    let elsewhere = TcpListener::bind((ip, 0)).await.unwrap();
    let url = format!("http://{}", elsewhere.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));

    let e = core
        .sign_in(&url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "insecure_http", "{e:?}");
    assert!(e.to_string().contains("clear text"), "{e}");
    assert!(!gets_a_connection(&elsewhere, 300).await, "sent to {url}");
    // the same address with the user's explicit choice is contacted
    let attempt = tokio::spawn(async move {
        let core = new_core(dir.path(), &unique("sb-test"));
        let _ = core.sign_in(&url, ADMIN_EMAIL, ADMIN_PASSWORD, true).await;
    });
    assert!(gets_a_connection(&elsewhere, 5000).await);
    attempt.abort();

    // a server on this computer redirecting the sign-in to plain http elsewhere
    let target = format!(
        "http://{}/api/v1/auth/login",
        elsewhere.local_addr().unwrap()
    );
    let redirector = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let here = format!("http://{}", redirector.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = redirector.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let _ = read_request(&mut sock).await;
                let resp = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    assert!(core
        .sign_in(&here, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .is_err());
    assert!(
        !gets_a_connection(&elsewhere, 300).await,
        "the password followed a redirect to plain http"
    );
}

// ----- a scripted server: each close code alone ----------------------------------------

const FAKE_TOKEN: &str = "fake-token-0c5e9a7d41b2";

/// How the scripted server answers the n-th stream connection.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// `ready`, stay open.
    Ready,
    /// `ready`, then this close code 200 ms later (4403 also demotes the user).
    ReadyThenClose(u16),
    /// The upgrade refused with this HTTP status and error code.
    Refuse(u16, &'static str),
    /// 403 `password_change_required` until the password was changed, then `ready`.
    RefuseUntilPasswordChanged,
}

struct Scripted {
    url: String,
    state: Arc<ScriptState>,
    /// Each request as "METHOD /path" (streams: "STREAM <auth header> <uri>"), with its time.
    log: Arc<Mutex<Vec<(Instant, String)>>>,
}

#[derive(Default)]
struct ScriptState {
    streams: AtomicUsize,
    demoted: AtomicBool,
    must_change: AtomicBool,
    /// Every REST call but the sign-in answers 401.
    token_dead: AtomicBool,
}

impl Scripted {
    async fn start(answers: Vec<Answer>, must_change: bool) -> Scripted {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(ScriptState::default());
        state.must_change.store(must_change, Ordering::SeqCst);
        let answers = Arc::new(answers);
        let (lg, st) = (log.clone(), state.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = l.accept().await {
                tokio::spawn(serve(sock, answers.clone(), st.clone(), lg.clone()));
            }
        });
        Scripted { url, state, log }
    }

    fn entries(&self, prefix: &str) -> Vec<(Instant, String)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, l)| l.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn streams(&self) -> Vec<Instant> {
        self.entries("STREAM").into_iter().map(|(t, _)| t).collect()
    }
}

fn user_json(state: &ScriptState) -> serde_json::Value {
    let role = if state.demoted.load(Ordering::SeqCst) {
        "operator"
    } else {
        "admin"
    };
    serde_json::json!({
        "id": 7, "email": "bob@example.com", "name": "Bob", "role": role, "status": "active",
        "presence": "online", "avatar_url": null, "locale": "en",
        "must_change_password": state.must_change.load(Ordering::SeqCst),
        "notifications": {"sound": true, "email": true}
    })
}

fn error_json(code: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": format!("scripted {code}")}}).to_string()
}

/// Reads one request (head and body); returns its first line.
async fn read_request(sock: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(head.lines().next().unwrap_or_default().to_string())
}

async fn serve(
    mut sock: TcpStream,
    answers: Arc<Vec<Answer>>,
    state: Arc<ScriptState>,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
) {
    // a look at the request line without taking it: streams go to tungstenite whole
    let mut peek = [0u8; 64];
    let n = loop {
        match sock.peek(&mut peek).await {
            Ok(n) if n >= 20 || n == 0 => break n,
            Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(_) => return,
        }
    };
    if peek[..n].starts_with(b"GET /api/v1/stream") {
        return serve_stream(sock, answers, state, log).await;
    }
    let Ok(line) = read_request(&mut sock).await else {
        return;
    };
    let mut it = line.split(' ');
    let method = it.next().unwrap_or_default().to_string();
    let path = it
        .next()
        .unwrap_or_default()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    log.lock()
        .unwrap()
        .push((Instant::now(), format!("{method} {path}")));
    let must_change = state.must_change.load(Ordering::SeqCst);
    let (status, body) = match (method.as_str(), path.as_str()) {
        ("POST", "/api/v1/auth/login") => (
            200,
            serde_json::json!({"token": FAKE_TOKEN, "user": user_json(&state)}).to_string(),
        ),
        _ if path != "/api/v1/auth/login" && state.token_dead.load(Ordering::SeqCst) => {
            (401, error_json("unauthorized"))
        }
        ("GET", "/api/v1/me") => (200, user_json(&state).to_string()),
        ("PUT", "/api/v1/me/password") => {
            state.must_change.store(false, Ordering::SeqCst);
            (204, String::new())
        }
        ("POST", "/api/v1/auth/logout") => (204, String::new()),
        _ if must_change => (403, error_json("password_change_required")),
        ("GET", "/api/v1/team") => (200, format!("[{}]", user_json(&state))),
        ("GET", "/api/v1/conversations") => (200, r#"{"items":[],"next":null}"#.into()),
        _ => (404, error_json("not_found")),
    };
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
}

// tungstenite's own callback type carries a whole HTTP response as its error
#[allow(clippy::result_large_err)]
async fn serve_stream(
    sock: TcpStream,
    answers: Arc<Vec<Answer>>,
    state: Arc<ScriptState>,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
) {
    let i = state.streams.fetch_add(1, Ordering::SeqCst);
    let answer = answers[i.min(answers.len() - 1)];
    let refuse = match answer {
        Answer::Refuse(status, code) => Some((status, code)),
        Answer::RefuseUntilPasswordChanged if state.must_change.load(Ordering::SeqCst) => {
            Some((403, "password_change_required"))
        }
        _ => None,
    };
    let lg = log.clone();
    let callback = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string();
        lg.lock()
            .unwrap()
            .push((Instant::now(), format!("STREAM {auth} {}", req.uri())));
        match refuse {
            Some((status, code)) => Err(http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Some(error_json(code)))
                .unwrap()),
            None => Ok(resp),
        }
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(sock, callback).await else {
        return;
    };
    let _ = ws
        .send(WsMessage::text(r#"{"type":"ready","seq":1}"#))
        .await;
    if let Answer::ReadyThenClose(code) = answer {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if code == 4403 {
            state.demoted.store(true, Ordering::SeqCst);
        }
        log.lock()
            .unwrap()
            .push((Instant::now(), format!("CLOSE {code}")));
        let _ = ws
            .send(WsMessage::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "scripted".into(),
            })))
            .await;
    }
    while let Some(Ok(_)) = ws.next().await {}
}

async fn scripted_core() -> (tempfile::TempDir, String, Core) {
    let dir = tempfile::tempdir().unwrap();
    let service = unique("sb-test");
    let core = new_core(dir.path(), &service);
    (dir, service, core)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_4401_signs_out_forgets_the_token_and_never_reconnects() {
    let fake = Scripted::start(vec![Answer::ReadyThenClose(4401)], false).await;
    let (_dir, service, core) = scripted_core().await;
    let events = record(&core);
    let info = core
        .sign_in(&fake.url, "bob@example.com", "pw", false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    if real_desktop() {
        assert!(info.token_saved);
    }
    eventually("the sign-out", 3, || signed_out(&events).is_some()).await;
    assert_eq!(signed_out(&events).unwrap().0, "session_ended");
    assert!(s.is_signed_out());
    assert_eq!(s.connection(), ConnState::Stopped);
    if real_desktop() {
        assert_eq!(
            TokenStore::with_service(&service)
                .load(&info.account)
                .unwrap(),
            None
        );
    }
    let requests_then = fake.log.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.streams().len(), 1, "reconnected after 4401");
    assert_eq!(
        fake.log.lock().unwrap().len(),
        requests_then,
        "requests after the sign-out: {:?}",
        fake.log.lock().unwrap()
    );
    // the token went in the Authorization header, never in the URL
    let stream = &fake.entries("STREAM")[0].1;
    assert!(
        stream.starts_with(&format!("STREAM Bearer {FAKE_TOKEN} /api/v1/stream")),
        "{stream}"
    );
    assert!(!stream.contains("token="), "{stream}");
    // the UI's sign-out does not send the dead token again
    core.sign_out().await.unwrap();
    assert!(fake.entries("POST /api/v1/auth/logout").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_401_on_the_upgrade_signs_out_with_the_servers_code() {
    let fake = Scripted::start(vec![Answer::Refuse(401, "session_expired")], false).await;
    let (_dir, _service, core) = scripted_core().await;
    let events = record(&core);
    core.sign_in(&fake.url, "bob@example.com", "pw", false)
        .await
        .unwrap();
    eventually("the sign-out", 3, || signed_out(&events).is_some()).await;
    let (code, reason) = signed_out(&events).unwrap();
    assert_eq!(code, "session_expired");
    assert_eq!(reason, "scripted session_expired");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.streams().len(), 1, "reconnected after 401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_401_on_a_rest_call_signs_out_too() {
    let fake = Scripted::start(vec![Answer::Ready], false).await;
    let (_dir, _service, core) = scripted_core().await;
    let events = record(&core);
    core.sign_in(&fake.url, "bob@example.com", "pw", false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();
    // the stream stays up; a REST call is the first to hear that the token is dead
    fake.state.token_dead.store(true, Ordering::SeqCst);
    let e = s.team().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    eventually("the sign-out", 2, || signed_out(&events).is_some()).await;
    assert_eq!(signed_out(&events).unwrap().0, "unauthorized");
    assert_eq!(s.connection(), ConnState::Stopped);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.streams().len(), 1, "reconnected after a 401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_4403_reconnects_at_once_and_refreshes_the_role() {
    let fake = Scripted::start(vec![Answer::ReadyThenClose(4403), Answer::Ready], false).await;
    let (_dir, _service, core) = scripted_core().await;
    let events = record(&core);
    core.sign_in(&fake.url, "bob@example.com", "pw", false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    assert_eq!(s.user().role, Role::Admin);
    eventually("the second stream", 3, || fake.streams().len() >= 2).await;
    let closed = fake.entries("CLOSE 4403")[0].0;
    let again = fake.streams()[1];
    assert!(
        again.duration_since(closed) < Duration::from_millis(200),
        "reconnected {:?} after 4403",
        again.duration_since(closed)
    );
    // /me was asked again between the close and the new stream
    assert!(fake
        .entries("GET /api/v1/me")
        .iter()
        .any(|(t, _)| *t > closed && *t < again));
    eventually("online as an operator", 3, || {
        s.connection() == ConnState::Online && s.user().role == Role::Operator
    })
    .await;
    assert!(!went_offline(&events), "waited out a backoff after 4403");
    assert!(signed_out(&events).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_1008_and_1013_reconnect_with_the_usual_backoff() {
    let fake = Scripted::start(
        vec![
            Answer::ReadyThenClose(1008),
            Answer::ReadyThenClose(1013),
            Answer::Ready,
        ],
        false,
    )
    .await;
    let (_dir, _service, core) = scripted_core().await;
    let events = record(&core);
    core.sign_in(&fake.url, "bob@example.com", "pw", false)
        .await
        .unwrap();
    eventually("the third stream", 10, || fake.streams().len() >= 3).await;
    wait_online(&core).await;
    let streams = fake.streams();
    for (code, next) in [(1008, streams[1]), (1013, streams[2])] {
        let closed = fake.entries(&format!("CLOSE {code}"))[0].0;
        // BACKOFF_MIN 0.5 s with equal jitter: at least 250 ms
        assert!(
            next.duration_since(closed) >= Duration::from_millis(240),
            "reconnected {:?} after {code}",
            next.duration_since(closed)
        );
    }
    assert!(went_offline(&events));
    assert!(signed_out(&events).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_password_change_required_shows_the_password_screen_not_an_error() {
    let fake = Scripted::start(vec![Answer::RefuseUntilPasswordChanged], true).await;
    let (_dir, _service, core) = scripted_core().await;
    let events = record(&core);
    core.sign_in(&fake.url, "bob@example.com", "emailed", false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    eventually("three refused streams", 10, || fake.streams().len() >= 3).await;
    assert!(signed_out(&events).is_none());
    assert!(s.user().must_change_password);
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, CoreEvent::Me { user } if user.must_change_password)));
    assert!(!s.is_signed_out());

    // a message typed meanwhile waits; it is not marked failed
    s.send_message(1, "hello", &[]).unwrap();
    eventually("the refused send", 5, || {
        !fake
            .entries("POST /api/v1/conversations/1/messages")
            .is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.outbox().len(), 1);
    assert_eq!(s.outbox()[0].failed, None);

    // after three failures the backoff is 1–2 s; the password change does not wait it out
    let third = fake.streams()[2];
    s.change_password("emailed", "my own password")
        .await
        .unwrap();
    eventually("the stream after the password change", 3, || {
        fake.streams().len() >= 4
    })
    .await;
    let changed = fake.entries("PUT /api/v1/me/password")[0].0;
    let fourth = fake.streams()[3];
    assert!(
        fourth.duration_since(changed) < Duration::from_millis(500),
        "the stream came {:?} after the password change ({:?} after the third try)",
        fourth.duration_since(changed),
        fourth.duration_since(third)
    );
    wait_online(&core).await;
    assert!(!s.user().must_change_password);
}
