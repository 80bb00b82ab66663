//! A data dir made by the previous release (migrations 0001–0003, the first
//! reply-token format) opens with this one and nothing is lost: the signed-in
//! session still works, the dialog is there, and a reply address emailed
//! before the upgrade still takes replies. (SQLite: the default store.)

use serde_json::Value;
use sqlx::Connection;

use crate::helpers::*;

const OLD_MIGRATIONS: [&str; 3] = [
    "0001_initial.sql",
    "0002_notifications.sql",
    "0003_events_by_visitor.sql",
];

#[tokio::test]
async fn a_data_dir_of_the_previous_release_opens_with_nothing_lost() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() == Ok("postgres") {
        return; // the migrations are the same per store; SQLite is checked here
    }
    // The schema exactly as the previous release left it.
    let (dir, mut db) = data_dir_migrated_to(&OLD_MIGRATIONS).await;
    // Its data: an admin signed in, the workspace key, a visitor's dialog.
    let now = switchboard_server::db::now_ms() - 3_600_000;
    let hash = switchboard_server::domain::password::hash(ADMIN_PASSWORD).unwrap();
    let token = "sbt_token_from_the_previous_release";
    for sql in [
        format!(
            "INSERT INTO users (email, name, role, status, password_hash, locale, created_at, updated_at) \
             VALUES ('{ADMIN_EMAIL}', 'Ada', 'admin', 'active', '{hash}', 'en', {now}, {now})"
        ),
        format!(
            "INSERT INTO sessions (user_id, token_hash, created_at) VALUES (1, '{}', {now})",
            switchboard_server::domain::secret::token_hash(token)
        ),
        r#"INSERT INTO settings (key, value) VALUES ('signing_key', '"key_from_the_previous_release"')"#.to_string(),
        format!("INSERT INTO visitors (token_hash, name, locale, created_at, last_seen_at) VALUES ('v', 'Olga', 'en', {now}, {now})"),
        format!("INSERT INTO conversations (visitor_id, status, last_message_id, created_at, updated_at) VALUES (1, 'open', 1, {now}, {now})"),
        format!("INSERT INTO messages (conversation_id, client_id, author_kind, author_id, body, channel, created_at) \
                 VALUES (1, 'c1', 'visitor', 1, 'Kept across the upgrade', 'chat', {now})"),
    ] {
        sqlx::query(&sql).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();

    // The new release on that data dir.
    // Notifications go to a real SMTP server (none are expected here).
    let sink = SmtpSink::start();
    let mut config = test_config(dir.path(), Some(sink.url())).await;
    config.smtp_in = Some("127.0.0.1:0".parse().unwrap());
    let server = switchboard_server::start(config).await.unwrap();
    let api = format!("{}/api/v1", server.url());
    let http = reqwest::Client::new();
    // GET as the session of the previous release.
    let get = |path: &str| {
        let request = http.get(format!("{api}{path}")).bearer_auth(token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let me = get("/me").await;
    assert_eq!(
        me["email"], ADMIN_EMAIL,
        "the old session still works: {me}"
    );
    let messages = get("/conversations/1/messages").await;
    assert_eq!(messages["items"][0]["body"], "Kept across the upgrade");

    // A reply address of the first format, emailed before the upgrade.
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"key_from_the_previous_release").unwrap();
    mac.update(b"c1-u1");
    let tag: String = mac.finalize().into_bytes()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let address = format!("reply+c1-u1-{tag}@{}", server.state.config.reply_domain);
    let raw = crate::email::reply_email(
        ADMIN_EMAIL,
        &address,
        "<after-upgrade@mail>",
        "<x>",
        "Answered after the upgrade",
        "",
    );
    crate::email::smtp_send(server.smtp_in.unwrap().port(), ADMIN_EMAIL, &address, &raw)
        .await
        .unwrap();
    let mut found = false;
    for _ in 0..50 {
        let messages = get("/conversations/1/messages").await;
        if messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == "Answered after the upgrade")
        {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "the old reply address took the reply");
    server.stop();
}

/// A data dir of the last landed release (migrations 0001–0005): its dialogs
/// gain what later migrations add — report figures from their messages,
/// search over their text (indexed in the background), no greeting — and
/// the new features work on it.
#[tokio::test]
async fn a_data_dir_before_files_reports_and_greetings_opens_with_nothing_lost() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() == Ok("postgres") {
        return; // the migrations are the same per store; SQLite is checked here
    }
    let (dir, mut db) = data_dir_migrated_to(&[
        "0001_initial.sql",
        "0002_notifications.sql",
        "0003_events_by_visitor.sql",
        "0004_session_expiry.sql",
        "0005_mail_auth_and_bounces.sql",
    ])
    .await;
    // Yesterday noon (UTC): the visitor wrote, Ada answered 90 s later.
    let day_ms = 86_400_000;
    let noon = (switchboard_server::db::now_ms() / day_ms - 1) * day_ms + day_ms / 2;
    let answered = noon + 90_000;
    let hash = switchboard_server::domain::password::hash(ADMIN_PASSWORD).unwrap();
    let token = "sbt_token_from_the_release_before";
    for sql in [
        format!(
            "INSERT INTO users (email, name, role, status, password_hash, locale, created_at, updated_at) \
             VALUES ('{ADMIN_EMAIL}', 'Ada', 'admin', 'active', '{hash}', 'en', {noon}, {noon})"
        ),
        format!(
            "INSERT INTO sessions (user_id, token_hash, created_at, last_seen_at) VALUES (1, '{}', {noon}, {noon})",
            switchboard_server::domain::secret::token_hash(token)
        ),
        format!("INSERT INTO visitors (token_hash, name, locale, created_at, last_seen_at) VALUES ('v', 'Olga', 'ru', {noon}, {noon})"),
        format!("INSERT INTO conversations (visitor_id, status, last_message_id, created_at, updated_at) VALUES (1, 'open', 2, {noon}, {answered})"),
        format!("INSERT INTO messages (conversation_id, client_id, author_kind, author_id, body, channel, created_at) \
                 VALUES (1, 'c1', 'visitor', 1, 'Где мой заказ 4512?', 'chat', {noon})"),
        format!("INSERT INTO messages (conversation_id, client_id, author_kind, author_id, body, channel, created_at) \
                 VALUES (1, 'c2', 'operator', 1, 'Заказ уже в пути.', 'email', {answered})"),
    ] {
        sqlx::query(&sql).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();

    let sink = SmtpSink::start();
    let config = test_config(dir.path(), Some(sink.url())).await;
    let server = switchboard_server::start(config).await.unwrap();
    let api = format!("{}/api/v1", server.url());
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http.get(format!("{api}{path}")).bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            response.json::<Value>().await.unwrap()
        }
    };
    let conversation = get("/conversations/1".into()).await;
    assert_eq!(conversation["greeting_id"], Value::Null);
    assert_eq!(conversation["last_message"]["body"], "Заказ уже в пути.");

    // Reports see the old dialog's first answer, from its messages.
    let yesterday = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::from_millisecond(noon).unwrap())
        .date();
    let report = get(format!("/reports?from={yesterday}&to={yesterday}")).await;
    assert_eq!(report["first_response"]["median_seconds"], 90);
    assert_eq!(report["answered_by_email"], 1);

    // Search finds old messages once the background indexing has run.
    let mut found = Value::Null;
    for _ in 0..100 {
        found = get("/search?q=заказом".into()).await;
        if found["items"]
            .as_array()
            .is_some_and(|hits| hits.len() == 2)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found["items"].as_array().map(Vec::len), Some(2), "{found}");

    // The widget has its defaults.
    assert_eq!(get("/widget-settings".into()).await["color"], "#2563eb");
    server.stop();
}
