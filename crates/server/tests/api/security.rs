//! Attack tests (SECURITY.md): what a stranger, a visitor's script, a removed
//! colleague or a slow client tries, and what the server answers. Each failed
//! on the main of 2026-11-25 and passes now.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

/// The close code a stream ends with, waiting up to `within`.
async fn closed_with(ws: &mut Ws, within: Duration) -> u16 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the stream is closed in time");
        match next {
            Some(Ok(WsMessage::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(WsMessage::Close(None))) => return 1005,
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("the stream broke without a close frame: {e}"),
            None => panic!("the stream ended without a close frame"),
        }
    }
}

async fn operator_stream(app: &TestApp, token: &str) -> Ws {
    let mut ws = connect(&app.ws_url(&format!("/stream?token={token}"))).await;
    assert_eq!(next_frame(&mut ws).await["type"], "ready");
    ws
}

/// The HTTP status a refused websocket upgrade is answered with.
async fn upgrade_refused(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

async fn a_conversation(app: &TestApp) -> i64 {
    let visitor = app.visitor().await;
    let response = app.visitor_says(&visitor, "hello", "c-1").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let message: Value = response.json().await.unwrap();
    message["conversation_id"].as_i64().unwrap()
}

// ---- sessions -------------------------------------------------------------

#[tokio::test]
async fn the_emailed_password_opens_only_the_own_account_until_it_is_changed() {
    let (app, mut sink) = spawn_app().await;
    let conversation = a_conversation(&app).await;
    app.invite(&app.admin_token, "op@example.com", "operator")
        .await;
    let temporary = sink.next_to("op@example.com").await.field("Password");
    let token = app.login_ok("op@example.com", &temporary).await;

    let answer = app.operator_says(&token, conversation, "hi", "x-1").await;
    assert_eq!(
        expect_error(answer, StatusCode::FORBIDDEN).await,
        "password_change_required"
    );
    for path in ["/conversations", "/team"] {
        let code = expect_error(app.get(&token, path).await, StatusCode::FORBIDDEN).await;
        assert_eq!(code, "password_change_required", "{path}");
    }
    let url = app.ws_url(&format!("/stream?token={token}"));
    assert_eq!(upgrade_refused(&url).await, 403);
    // What stays open: the own account, the password, signing out.
    assert_eq!(app.get(&token, "/me").await.status(), StatusCode::OK);
    let renamed = app
        .send_json(Method::PATCH, &token, "/me", json!({ "name": "Olga" }))
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let changed = app
        .send_json(
            Method::PUT,
            &token,
            "/me/password",
            json!({ "current_password": temporary, "new_password": "olga-own-password" }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let answer = app.operator_says(&token, conversation, "hi", "x-1").await;
    assert_eq!(answer.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_token_got_with_the_emailed_password_dies_with_that_password() {
    let (app, mut sink) = spawn_app().await;
    let invited: Value = app
        .invite(&app.admin_token, "late@example.com", "operator")
        .await
        .json()
        .await
        .unwrap();
    let temporary = sink.next_to("late@example.com").await.field("Password");
    let token = app.login_ok("late@example.com", &temporary).await;
    assert_eq!(app.get(&token, "/me").await.status(), StatusCode::OK);
    // Day 8: the emailed password's seven days are over.
    sqlx::query("UPDATE users SET password_expires_at = $1 WHERE id = $2")
        .bind(switchboard_server::db::now_ms() - 1)
        .bind(invited["id"].as_i64().unwrap())
        .execute(&app.server.state.db.pool)
        .await
        .unwrap();
    let code = expect_error(app.get(&token, "/me").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "password_expired");
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = spawn_app_configured(None, |c| {
        c.sessions.idle = Duration::from_millis(1500);
    })
    .await;
    assert_eq!(
        app.get(&app.admin_token, "/me").await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let code = expect_error(
        app.get(&app.admin_token, "/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(code, "session_expired");
    // A fresh sign-in works.
    let token = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(app.get(&token, "/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_age_even_when_used() {
    let app = spawn_app_configured(None, |c| {
        c.sessions.max_age = Duration::from_millis(1500);
    })
    .await;
    for _ in 0..4 {
        assert_eq!(
            app.get(&app.admin_token, "/me").await.status(),
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let code = expect_error(
        app.get(&app.admin_token, "/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(code, "session_expired");
}

#[tokio::test]
async fn a_removed_colleagues_stream_is_closed_within_a_second() {
    let (app, mut sink) = spawn_app().await;
    let (id, token) = app.onboard(&mut sink, "gone@example.com", "operator").await;
    let mut ws = operator_stream(&app, &token).await;
    let removed = app
        .send_json(
            Method::DELETE,
            &app.admin_token,
            &format!("/team/{id}"),
            json!({}),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(closed_with(&mut ws, Duration::from_secs(1)).await, 4401);
    // And hears nothing of later visitors.
    assert_eq!(
        app.get(&token, "/conversations").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn signing_out_closes_that_tokens_stream_and_no_other() {
    let (app, mut sink) = spawn_app().await;
    let (_, laptop) = app.onboard(&mut sink, "two@example.com", "operator").await;
    let phone = app
        .login_ok("two@example.com", "two@example.com-own-pw")
        .await;
    let mut laptop_ws = operator_stream(&app, &laptop).await;
    let mut phone_ws = operator_stream(&app, &phone).await;
    let out = app
        .send_json(Method::POST, &phone, "/auth/logout", json!({}))
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        closed_with(&mut phone_ws, Duration::from_secs(1)).await,
        4401
    );
    // The laptop's stream goes on: it gets the next visitor's message.
    a_conversation(&app).await;
    next_event(&mut laptop_ws, "message.created").await;
}

#[tokio::test]
async fn a_password_change_closes_the_other_devices_streams() {
    let (app, mut sink) = spawn_app().await;
    let (_, laptop) = app.onboard(&mut sink, "pw@example.com", "operator").await;
    let phone = app
        .login_ok("pw@example.com", "pw@example.com-own-pw")
        .await;
    let mut laptop_ws = operator_stream(&app, &laptop).await;
    let mut phone_ws = operator_stream(&app, &phone).await;
    let changed = app
        .send_json(
            Method::PUT,
            &laptop,
            "/me/password",
            json!({ "current_password": "pw@example.com-own-pw", "new_password": "a-brand-new-one" }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        closed_with(&mut phone_ws, Duration::from_secs(1)).await,
        4401
    );
    a_conversation(&app).await;
    next_event(&mut laptop_ws, "message.created").await;
}

#[tokio::test]
async fn a_demoted_admins_stream_is_closed_to_reconnect_with_the_new_role() {
    let (app, mut sink) = spawn_app().await;
    let (id, token) = app.onboard(&mut sink, "boss@example.com", "admin").await;
    let mut ws = operator_stream(&app, &token).await;
    let demoted = app
        .send_json(
            Method::PATCH,
            &app.admin_token,
            &format!("/team/{id}"),
            json!({ "role": "analyst" }),
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(closed_with(&mut ws, Duration::from_secs(1)).await, 4403);
    // The token itself still works, with the new role.
    let me = app.get_json(&token, "/me").await;
    assert_eq!(me["role"], "analyst");
}

// ---- the last admin -------------------------------------------------------

#[tokio::test]
async fn the_only_active_admin_cannot_leave_while_the_other_admin_is_only_invited() {
    let (app, mut sink) = spawn_app().await;
    app.invite(&app.admin_token, "maybe@example.com", "admin")
        .await;
    sink.next_to("maybe@example.com").await;
    let me = app.get_json(&app.admin_token, "/me").await;
    let my_id = me["id"].as_i64().unwrap();
    let removed = app
        .send_json(
            Method::DELETE,
            &app.admin_token,
            &format!("/team/{my_id}"),
            json!({}),
        )
        .await;
    assert_eq!(
        expect_error(removed, StatusCode::CONFLICT).await,
        "last_admin"
    );
    let demoted = app
        .send_json(
            Method::PATCH,
            &app.admin_token,
            &format!("/team/{my_id}"),
            json!({ "role": "operator" }),
        )
        .await;
    assert_eq!(
        expect_error(demoted, StatusCode::CONFLICT).await,
        "last_admin"
    );
    // Once the second admin is active, the first may go.
    let team = app.get_json(&app.admin_token, "/team").await;
    let other = team
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "maybe@example.com")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // Removing the invited admin is fine: nobody relied on them.
    let removed = app
        .send_json(
            Method::DELETE,
            &app.admin_token,
            &format!("/team/{other}"),
            json!({}),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let (_, _) = app.onboard(&mut sink, "second@example.com", "admin").await;
    let removed = app
        .send_json(
            Method::DELETE,
            &app.admin_token,
            &format!("/team/{my_id}"),
            json!({}),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
}

// ---- limits and quotas ----------------------------------------------------

async fn new_widget_session(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.api("/widget/session"))
        .json(&json!({ "locale": "en" }));
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn one_address_cannot_open_hundreds_of_widget_sessions() {
    let (app, _sink) = spawn_app().await;
    let mut created = 0;
    let mut refused = None;
    let mut first_token = None;
    for _ in 0..400 {
        let response = new_widget_session(&app, None).await;
        match response.status() {
            StatusCode::OK => {
                created += 1;
                let session: Value = response.json().await.unwrap();
                first_token.get_or_insert(session["visitor_token"].as_str().unwrap().to_string());
            }
            StatusCode::TOO_MANY_REQUESTS => refused = Some(response),
            other => panic!("unexpected {other}"),
        }
    }
    assert!(created <= 25, "{created} sessions created");
    let refused = refused.expect("some were refused");
    assert!((1..=10).contains(&retry_after(&refused)));
    assert_eq!(
        expect_error(refused, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_requests"
    );
    // A returning visitor (known token) is no new row and is not refused.
    let token = first_token.expect("the first sessions were created");
    let again = app
        .http
        .post(app.api("/widget/session"))
        .json(&json!({ "visitor_token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn one_visitor_cannot_post_hundreds_of_messages() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let mut created = 0;
    let mut refused = 0;
    for n in 0..300 {
        let response = app.visitor_says(&visitor, "spam", &format!("s-{n}")).await;
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(retry_after(&response) >= 1);
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(created <= 40, "{created} messages accepted");
    assert_eq!(created + refused, 300);
    // Another visitor is not held back by the first one's flood.
    let other = app.visitor().await;
    let response = app.visitor_says(&other, "a real question", "q-1").await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn contact_changes_and_read_receipts_are_limited_per_visitor() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let message: Value = app
        .visitor_says(&visitor, "hello", "c-1")
        .await
        .json()
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for n in 0..20 {
        let response = app
            .http
            .put(app.api("/widget/contact"))
            .header("x-visitor-token", &visitor.token)
            .json(&json!({ "name": format!("Name {n}") }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert!(statuses.contains(&StatusCode::NO_CONTENT));
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS));
    let mut refused = 0;
    for _ in 0..100 {
        let response = app
            .http
            .post(app.api("/widget/read"))
            .header("x-visitor-token", &visitor.token)
            .json(&json!({ "message_id": message["id"] }))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 50, "{refused} of 100 read receipts refused");
}

#[tokio::test]
async fn a_visitor_may_hold_a_few_streams_not_any_number() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let url = app.ws_url(&format!("/widget/stream?visitor_token={}", visitor.token));
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(connect(&url).await);
    }
    assert_eq!(upgrade_refused(&url).await, 429);
    // Closing a tab frees its slot.
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio_tungstenite::connect_async(&url).await {
            Ok(_) => break,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("the slot did not come back: {e}"),
        }
    }
}

#[tokio::test]
async fn parallel_password_guesses_cannot_pass_the_login_limit() {
    let (app, _sink) = spawn_app().await;
    let guesses = (0..30).map(|n| {
        let http = app.http.clone();
        let url = app.api("/auth/login");
        async move {
            http.post(url)
                .json(&json!({ "email": ADMIN_EMAIL, "password": format!("guess-{n}") }))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(checked <= 10, "{checked} guesses were checked");
    assert_eq!(checked + refused, 30);
    // The right password is refused too while the email is locked.
    assert_eq!(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    // No trusted proxy: a client cannot dodge the limit by inventing addresses.
    let (app, _sink) = spawn_app().await;
    let mut refused = 0;
    for n in 0..40 {
        let xff = format!("198.51.100.{n}");
        if new_widget_session(&app, Some(&xff)).await.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 15, "forged X-Forwarded-For dodged the limit");

    // Behind our proxy (loopback here), each real client has its own limit.
    let app = spawn_app_configured(None, |c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    for n in 0..40 {
        let xff = format!("198.51.100.{n}");
        let response = new_widget_session(&app, Some(&xff)).await;
        assert_eq!(response.status(), StatusCode::OK, "client {xff}");
    }
    let mut refused = 0;
    for _ in 0..40 {
        if new_widget_session(&app, Some("203.0.113.1")).await.status()
            == StatusCode::TOO_MANY_REQUESTS
        {
            refused += 1;
        }
    }
    assert!(
        refused >= 15,
        "one client behind the proxy is still limited"
    );
}

// ---- the dev mailbox and the outbox ---------------------------------------

#[tokio::test]
async fn the_dev_mailbox_is_shown_to_this_machine_and_admins_only() {
    // The dev mailbox (no relay) behind a proxy: requests carry the real client.
    let app = spawn_app_configured(None, |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let response = app
        .invite(&app.admin_token, "newbie@example.com", "operator")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let from_afar = |path: &str| {
        app.http
            .get(format!("{}{path}", app.url))
            .header("x-forwarded-for", "203.0.113.50")
    };
    let listing = from_afar("/dev/mailbox").send().await.unwrap();
    assert_eq!(listing.status(), StatusCode::NOT_FOUND);
    // Loopback clients see it, and so do admins from afar.
    // The outbox sender writes the invitation into the mailbox shortly.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let local = loop {
        let local: Value = app
            .http
            .get(format!("{}/dev/mailbox", app.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if local.as_array().is_some_and(|a| !a.is_empty()) {
            break local;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no email in the mailbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let file = local[0]["file"].as_str().unwrap().to_string();
    let raw = from_afar(&format!("/dev/mailbox/{file}"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::NOT_FOUND);
    let as_admin = from_afar("/dev/mailbox")
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(as_admin.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_sent_invitation_leaves_no_password_in_the_outbox() {
    let (app, mut sink) = spawn_app().await;
    app.invite(&app.admin_token, "secret@example.com", "operator")
        .await;
    let mail = sink.next_to("secret@example.com").await;
    let password = mail.field("Password");
    // The sender marks the row sent right after the relay's 250.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rows: Vec<(Vec<u8>, Option<i64>)> =
            sqlx::query_as("SELECT message, sent_at FROM outbox")
                .fetch_all(&app.server.state.db.pool)
                .await
                .unwrap();
        if rows.iter().all(|(_, sent)| sent.is_some()) {
            for (body, _) in rows {
                let text = String::from_utf8_lossy(&body);
                assert!(!text.contains(&password), "the password is still stored");
            }
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not sent in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- transport ------------------------------------------------------------

#[tokio::test]
async fn a_large_client_frame_is_refused_with_1008() {
    let (app, _sink) = spawn_app().await;
    let mut ws = operator_stream(&app, &app.admin_token).await;
    let big = format!(
        r#"{{"type":"typing","conversation_id":1,"pad":"{}"}}"#,
        "x".repeat(40 * 1024)
    );
    ws.send(WsMessage::Text(big.into())).await.unwrap();
    assert_eq!(closed_with(&mut ws, Duration::from_secs(2)).await, 1008);
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let app = spawn_app_configured(None, |c| {
        c.header_read_timeout = Duration::from_millis(800);
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("the server hangs up within 5 s");
    // Closed (0 bytes) or answered 408 and closed: either way it is over.
    let n = read.unwrap_or(0);
    if n > 0 {
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    }
}

#[tokio::test]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let app = spawn_app_configured(None, |c| {
        c.max_connections = 3;
        c.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    // The test client's own keep-alive connection holds a slot too: use fresh ones.
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(
            tokio::net::TcpStream::connect(app.server.addr)
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = format!("{}/healthz", app.url);
    let waited =
        tokio::time::timeout(Duration::from_millis(800), fresh().get(&health).send()).await;
    assert!(waited.is_err(), "a fourth connection was served");
    // (The test client's sign-in connection may hold a slot too, so the
    // third idle one may still wait in the backlog: free them all.)
    drop(idle);
    let served = tokio::time::timeout(Duration::from_secs(5), fresh().get(&health).send())
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
}

// ---- retention and durability ----------------------------------------------

#[tokio::test]
async fn visitors_who_never_wrote_are_swept_and_old_events_compacted() {
    let (app, _sink) = spawn_app().await;
    let state = &app.server.state;
    let mut silent = Vec::new();
    for _ in 0..15 {
        silent.push(app.visitor().await);
    }
    let talker = app.visitor().await;
    assert_eq!(
        app.visitor_says(&talker, "I have a question", "q-1")
            .await
            .status(),
        StatusCode::CREATED
    );
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&state.db.pool)
            .await
            .unwrap()
    };
    assert_eq!(count("SELECT COUNT(*) FROM visitors").await, 16);
    // Wait until the notification worker has handled the events.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let tomorrow = switchboard_server::db::now_ms() + 25 * 3600 * 1000;
    let swept = switchboard_server::retention::sweep(state, tomorrow)
        .await
        .unwrap();
    assert_eq!(swept.visitors, 15);
    assert_eq!(count("SELECT COUNT(*) FROM visitors").await, 1);
    assert_eq!(
        app.visitor_history(&talker).await,
        vec!["I have a question"]
    );
    let gone = app
        .http
        .get(app.api("/widget/messages"))
        .header("x-visitor-token", &silent[0].token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);

    // A week later the event log is compacted; a stream resuming from before
    // it reloads (reset) and one resuming from now goes on.
    let events_before = count("SELECT COUNT(*) FROM events").await;
    assert!(events_before >= 2);
    let next_week = switchboard_server::db::now_ms() + 8 * 24 * 3600 * 1000;
    let swept = switchboard_server::retention::sweep(state, next_week)
        .await
        .unwrap();
    assert_eq!(swept.events as i64, events_before - 1, "all but the newest");
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() == Ok("postgres") {
        // Positions go with their events (migration 0017).
        assert_eq!(count("SELECT COUNT(*) FROM event_positions").await, 1);
    }
    let mut ws = connect(&app.ws_url(&format!("/stream?token={}&since=0", app.admin_token))).await;
    assert_eq!(next_frame(&mut ws).await["type"], "ready");
    assert_eq!(next_frame(&mut ws).await["type"], "reset");
    // The conversation itself is kept.
    let conversations = app.get_json(&app.admin_token, "/conversations").await;
    assert_eq!(conversations["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_commits_are_synced_before_the_api_answers() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() == Ok("postgres") {
        return; // PostgreSQL syncs its WAL at commit by default
    }
    let (app, _sink) = spawn_app().await;
    // Ask several pooled connections: each must run with synchronous = FULL (2).
    for _ in 0..4 {
        let mut conn = app.server.state.db.pool.acquire().await.unwrap();
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(level, 2, "synchronous = FULL");
    }
}

// ---- the stream's incoming frames -----------------------------------------

/// Random frames of every kind — text that is almost JSON, JSON of the wrong
/// shape, binary, pings — on a visitor's and an operator's stream: the server
/// never panics, a stream closes only with 1008 (too large) and otherwise
/// goes on delivering.
#[tokio::test]
async fn garbage_frames_on_the_streams_change_nothing() {
    use rand::{Rng, SeedableRng};
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261204);
    let shapes = [
        r#"{"type":"typing","conversation_id":%}"#,
        r#"{"type":"typing"}"#,
        r#"{"type":"%"}"#,
        r#"{"type":"typing","conversation_id":"%"}"#,
        r#"[%]"#,
        r#"{"type":"typing","conversation_id":-%}"#,
        "%",
    ];
    let mut operator = operator_stream(&app, &app.admin_token).await;
    let mut widget =
        connect(&app.ws_url(&format!("/widget/stream?visitor_token={}", visitor.token))).await;
    assert_eq!(next_frame(&mut widget).await["type"], "ready");
    for _ in 0..300 {
        let noise: String = (0..rng.gen_range(0..40))
            .map(|_| rng.gen_range(0x20u8..0x7f) as char)
            .collect();
        let frame = match rng.gen_range(0..4) {
            0 => WsMessage::Binary(noise.clone().into_bytes().into()),
            1 => WsMessage::Ping(noise.clone().into_bytes().into()),
            _ => {
                let shape = shapes[rng.gen_range(0..shapes.len())];
                WsMessage::Text(shape.replace('%', &noise).into())
            }
        };
        let ws = if rng.gen_bool(0.5) {
            &mut operator
        } else {
            &mut widget
        };
        ws.send(frame).await.expect("the stream takes the frame");
    }
    // Both streams still deliver: the visitor writes, both see it.
    assert_eq!(
        app.visitor_says(&visitor, "still here", "g-1")
            .await
            .status(),
        StatusCode::CREATED
    );
    let seen = next_event(&mut operator, "message.created").await;
    assert_eq!(seen["data"]["body"], "still here");
    let seen = next_event(&mut widget, "message.created").await;
    assert_eq!(seen["data"]["body"], "still here");
    assert_eq!(
        app.http
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}
