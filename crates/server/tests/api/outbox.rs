use std::net::TcpListener;
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

/// A loopback port nobody listens on (yet).
fn free_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

#[tokio::test]
async fn the_outbox_delivers_once_the_relay_comes_back() {
    let reserved = free_port();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let app = spawn_app_with(Some(format!("smtp://127.0.0.1:{port}"))).await;
    assert_eq!(
        app.invite(&app.admin_token, "patient@example.com", "operator")
            .await
            .status(),
        StatusCode::CREATED
    );

    // The relay is down: the email waits in the outbox, attempts pile up.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let pending = switchboard_server::store::outbox::pending(&app.server.state.db)
        .await
        .unwrap();
    assert_eq!(pending, 1);

    let mut sink = SmtpSink::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["patient@example.com".to_string()]);
    let password = mail.field("Password");
    app.login_ok("patient@example.com", &password).await;
    sink.assert_quiet(Duration::from_secs(1)).await;
    assert_eq!(
        switchboard_server::store::outbox::pending(&app.server.state.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn an_accepted_email_survives_a_server_restart() {
    let reserved = free_port();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let app = spawn_app_with(Some(format!("smtp://127.0.0.1:{port}"))).await;
    assert_eq!(
        app.invite(&app.admin_token, "restart@example.com", "analyst")
            .await
            .status(),
        StatusCode::CREATED
    );
    // Stop between attempts, with the next one more than a second away (a stop
    // in the middle of an attempt leaves a two-minute lease on the email).
    loop {
        let row: (i64, i64, i64) =
            sqlx::query_as("SELECT attempts, locked_until, next_attempt_at FROM outbox")
                .fetch_one(&app.server.state.db.pool)
                .await
                .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        if row.0 >= 1 && row.1 == 0 && row.2 > now + 1_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let TestApp {
        server, data_dir, ..
    } = app;
    server.stop();

    let mut sink = SmtpSink::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let restarted = switchboard_server::start(test_config(data_dir.path(), Some(sink.url())).await)
        .await
        .unwrap();
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["restart@example.com".to_string()]);
    sink.assert_quiet(Duration::from_secs(1)).await;
    restarted.stop();
}

#[tokio::test]
async fn without_a_relay_the_dev_mailbox_keeps_every_email() {
    let app = spawn_app_with(None).await;
    assert_eq!(
        app.invite(&app.admin_token, "dev@example.com", "operator")
            .await
            .status(),
        StatusCode::CREATED
    );
    let mut listed = Vec::new();
    for _ in 0..50 {
        listed = app
            .http
            .get(format!("{}/dev/mailbox", app.url))
            .send()
            .await
            .unwrap()
            .json::<Vec<serde_json::Value>>()
            .await
            .unwrap();
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["to"], "dev@example.com");
    let raw = app
        .http
        .get(format!("{}{}", app.url, listed[0]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-type"], "message/rfc822");
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw.bytes().await.unwrap()[..])
        .map(|m| m.subject().map(str::to_string));
    assert_eq!(
        parsed.flatten().as_deref(),
        Some("You are invited to Switchboard")
    );
    let files = std::fs::read_dir(app.data_dir.path().join("mailbox"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
    let traversal = app
        .http
        .get(format!("{}/dev/mailbox/..%2Fswitchboard.db", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(traversal.status(), StatusCode::NOT_FOUND);
}
