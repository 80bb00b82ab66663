//! Search across the correspondence (issue 12): word forms in Russian and
//! English, visitors by name and email, pages, bad queries — the same on
//! SQLite and PostgreSQL (this suite runs on both) — and the index built for
//! messages stored before search existed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::helpers::*;

async fn search(app: &TestApp, q: &str, extra: &str) -> Value {
    let response = app
        .http
        .get(app.api("/search"))
        .query(&[("q", q)])
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "search {q:?}");
    let _ = extra;
    response.json().await.unwrap()
}

fn bodies(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|hit| !hit["message"].is_null())
        .map(|hit| hit["message"]["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn words_match_their_other_forms_in_russian_and_english() {
    let (app, _sink) = spawn_app().await;
    let olga = app.visitor().await;
    for (i, body) in [
        "Здравствуйте! Где мой заказ 4512?",
        "I ordered a kettle last week",
        "Спасибо, я доволен заказом",
        "Nothing to see here",
    ]
    .iter()
    .enumerate()
    {
        let r = app.visitor_says(&olga, body, &format!("o{i}")).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let response = app
        .http
        .put(app.api("/widget/contact"))
        .header("x-visitor-token", &olga.token)
        .json(&json!({"name": "Ольга Петрова", "email": "olga.petrova@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // заказ finds заказ and заказом, newest first, with the words to highlight.
    let page = search(&app, "заказ", "").await;
    assert_eq!(
        bodies(&page),
        vec![
            "Спасибо, я доволен заказом",
            "Здравствуйте! Где мой заказ 4512?"
        ]
    );
    let hit = &page["items"][0];
    assert_eq!(hit["matched"], json!(["заказом"]));
    assert_eq!(hit["snippet"], "Спасибо, я доволен заказом");
    assert_eq!(hit["conversation"]["visitor"]["name"], "Ольга Петрова");

    // order finds ordered; a number is a word; the case does not matter.
    assert_eq!(
        bodies(&search(&app, "ORDER ", "").await),
        vec!["I ordered a kettle last week"]
    );
    assert_eq!(
        bodies(&search(&app, "4512", "").await),
        vec!["Здравствуйте! Где мой заказ 4512?"]
    );
    // Every word must match; the last one may be unfinished (typing).
    assert_eq!(
        bodies(&search(&app, "kettle ord", "").await),
        vec!["I ordered a kettle last week"]
    );
    assert!(bodies(&search(&app, "kettle заказ", "").await).is_empty());

    // Visitors by name and email come first, without a message.
    let page = search(&app, "петрова", "").await;
    let first = &page["items"][0];
    assert!(first["message"].is_null());
    assert_eq!(
        first["conversation"]["visitor"]["email"],
        "olga.petrova@example.org"
    );
    assert_eq!(first["matched"], json!(["Петрова"]));
    let page = search(&app, "olga.petrova@example.org", "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn pages_follow_the_cursor_and_bad_queries_are_refused() {
    let (app, mut sink) = spawn_app().await;
    let visitor = app.visitor().await;
    for i in 0..5 {
        app.visitor_says(
            &visitor,
            &format!("Delivery question number {i}"),
            &format!("d{i}"),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut request = app
            .http
            .get(app.api("/search"))
            .query(&[("q", "deliveries"), ("limit", "2")])
            .bearer_auth(&app.admin_token);
        if let Some(cursor) = &next {
            request = request.query(&[("before", cursor)]);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        seen.extend(bodies(&page));
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..5)
        .rev()
        .map(|i| format!("Delivery question number {i}"))
        .collect();
    assert_eq!(seen, expected);

    for (query, code) in [
        (vec![("q", "!!! ...")], "invalid_query"),
        (vec![("q", "delivery"), ("limit", "0")], "invalid_limit"),
        (
            vec![("q", "delivery"), ("before", "yesterday")],
            "invalid_cursor",
        ),
    ] {
        let response = app
            .http
            .get(app.api("/search"))
            .query(&query)
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            code
        );
    }
    let response = app
        .http
        .get(app.api("/search?q=delivery"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED).await;
    // Every colleague may search what they may read.
    let (_, analyst) = app.onboard(&mut sink, "ana@example.com", "analyst").await;
    let response = app.get(&analyst, "/search?q=delivery").await;
    assert_eq!(response.status(), StatusCode::OK);
}

const MIGRATIONS_OF_THE_PREVIOUS_RELEASE: [&str; 5] = [
    "0001_initial.sql",
    "0002_notifications.sql",
    "0003_events_by_visitor.sql",
    "0004_session_expiry.sql",
    "0005_mail_auth_and_bounces.sql",
];

/// A data dir of the release before search (migrations 0001–0005): its
/// messages and visitors become searchable after the upgrade, and its
/// messages come with an empty list of attachments.
#[tokio::test]
async fn messages_stored_before_search_existed_are_indexed_after_the_upgrade() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() == Ok("postgres") {
        return; // the migrations are the same per store; SQLite is checked here
    }
    let (dir, mut db) = data_dir_migrated_to(&MIGRATIONS_OF_THE_PREVIOUS_RELEASE).await;
    let now = switchboard_server::db::now_ms() - 3_600_000;
    sqlx::query(&format!(
        "INSERT INTO visitors (token_hash, name, email, locale, created_at, last_seen_at) \
         VALUES ('v', 'Борис', 'boris@example.org', 'ru', {now}, {now})"
    ))
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO conversations (visitor_id, status, last_message_id, created_at, updated_at) \
         VALUES (1, 'open', 1200, {now}, {now})"
    ))
    .execute(&mut db)
    .await
    .unwrap();
    // More than one batch of the backfill.
    for i in 1..=1200 {
        let body = if i == 7 {
            "Посылки приходят помятыми".to_string()
        } else {
            format!("message {i}")
        };
        sqlx::query(
            "INSERT INTO messages (conversation_id, client_id, author_kind, author_id, body, channel, created_at) \
             VALUES (1, $1, 'visitor', 1, $2, 'chat', $3)",
        )
        .bind(format!("c{i}"))
        .bind(body)
        .bind(now + i)
        .execute(&mut db)
        .await
        .unwrap();
    }
    db.close().await.unwrap();

    let config = test_config(dir.path(), None).await;
    let app = start_app(tempfile::tempdir().unwrap(), config).await;
    let mut found = Vec::new();
    for _ in 0..100 {
        found = bodies(&search(&app, "посылка", "").await);
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found, vec!["Посылки приходят помятыми"]);
    let mut page = Value::Null;
    for _ in 0..100 {
        page = search(&app, "борис", "").await;
        if !page["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page["items"][0]["message"].is_null(), "{page}");
    let page = app
        .get_json(&app.admin_token, "/conversations/1/messages?limit=1")
        .await;
    assert_eq!(page["items"][0]["attachments"], json!([]));
    // The backfill ends, and stays done (its progress is stored).
    let mut done = false;
    for _ in 0..50 {
        done = switchboard_server::services::search::backfill_step(&app.server.state)
            .await
            .unwrap();
        if done {
            break;
        }
    }
    assert!(done);
}

/// Sends that arrive together are written in one transaction, their search
/// terms all at its end (`sqlite_sends`): each message must still be found
/// by its own words, and only by them.
#[tokio::test]
async fn messages_sent_at_once_are_each_found_by_their_own_words() {
    let app = spawn_app_configured(None, unlimited_visitors).await;
    const WORDS: [&str; 12] = [
        "apricot", "bramble", "cobalt", "dulcimer", "ember", "fjord", "gingham", "harbour",
        "indigo", "juniper", "kestrel", "lantern",
    ];
    let mut visitors = Vec::new();
    for _ in 0..4 {
        visitors.push(app.visitor().await);
    }
    // A first message each (it opens the conversation), then all at once.
    for (v, visitor) in visitors.iter().enumerate() {
        let r = app
            .visitor_says(visitor, "hello", &format!("hello-{v}"))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let sends = WORDS.iter().enumerate().map(|(i, word)| {
        let visitor = &visitors[i % visitors.len()];
        let body = format!("a note about the {word}");
        let client_id = format!("w{i}");
        let app = &app;
        async move {
            let r = app.visitor_says(visitor, &body, &client_id).await;
            assert_eq!(r.status(), StatusCode::CREATED);
        }
    });
    futures_util::future::join_all(sends).await;
    for word in WORDS {
        assert_eq!(
            bodies(&search(&app, word, "").await),
            vec![format!("a note about the {word}")],
            "{word}"
        );
    }
    assert_eq!(bodies(&search(&app, "note", "").await).len(), WORDS.len());
}
