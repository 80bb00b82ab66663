use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_visitor_message_opens_a_conversation_and_operators_answer() {
    let (app, mut sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let sent = app
        .visitor_says(&visitor, "  Hello, is the green tea in stock?  ", "v-1")
        .await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    let message: Value = sent.json().await.unwrap();
    assert_eq!(message["body"], "Hello, is the green tea in stock?");
    assert_eq!(message["author"]["kind"], "visitor");
    let conversation = message["conversation_id"].as_i64().unwrap();

    let list: Value = app
        .get(&app.admin_token, "/conversations?status=open")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let item = &list["items"][0];
    assert_eq!(item["id"], conversation);
    assert_eq!(item["unread"], 1);
    assert_eq!(item["visitor"]["id"], visitor.id);
    assert_eq!(
        item["last_message"]["body"],
        "Hello, is the green tea in stock?"
    );

    // The answer carries the operator's name; the conversation becomes theirs.
    app.send_json(
        Method::PATCH,
        &app.admin_token,
        "/me",
        json!({ "name": "Ada Admin" }),
    )
    .await;
    let reply = app
        .operator_says(
            &app.admin_token,
            conversation,
            "Yes, 40 packs left.",
            "op-1",
        )
        .await;
    assert_eq!(reply.status(), StatusCode::CREATED);
    let reply: Value = reply.json().await.unwrap();
    assert_eq!(reply["author"]["name"], "Ada Admin");
    let c: Value = app
        .get(&app.admin_token, &format!("/conversations/{conversation}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["assignee_id"], reply["author"]["id"]);
    assert_eq!(c["unread"], 0, "answering reads");

    // The visitor's history holds both, oldest first.
    let bodies = app.visitor_history(&visitor).await;
    assert_eq!(
        bodies,
        ["Hello, is the green tea in stock?", "Yes, 40 packs left."]
    );

    // A marketer reads but does not answer.
    let (_, marketer) = app.onboard(&mut sink, "mk@example.com", "marketer").await;
    assert_eq!(
        app.get(
            &marketer,
            &format!("/conversations/{conversation}/messages")
        )
        .await
        .status(),
        StatusCode::OK
    );
    let denied = app
        .operator_says(&marketer, conversation, "hi", "mk-1")
        .await;
    assert_eq!(
        expect_error(denied, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
}

#[tokio::test]
async fn sends_are_idempotent_by_client_id() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "once", "same-id")
        .await
        .json()
        .await
        .unwrap();
    let again = app.visitor_says(&visitor, "once", "same-id").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let conversation = first["conversation_id"].as_i64().unwrap();
    let r1: Value = app
        .operator_says(&app.admin_token, conversation, "answer", "op-same")
        .await
        .json()
        .await
        .unwrap();
    let r2: Value = app
        .operator_says(&app.admin_token, conversation, "answer", "op-same")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r1["id"], r2["id"]);
    let page: Value = app
        .get(
            &app.admin_token,
            &format!("/conversations/{conversation}/messages"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_messages_are_refused_and_change_nothing() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let empty = app.visitor_says(&visitor, "   \n ", "e-1").await;
    assert_eq!(
        expect_error(empty, StatusCode::UNPROCESSABLE_ENTITY).await,
        "empty_body"
    );
    let long = app.visitor_says(&visitor, &"я".repeat(10_001), "l-1").await;
    assert_eq!(
        expect_error(long, StatusCode::UNPROCESSABLE_ENTITY).await,
        "body_too_long"
    );
    assert_eq!(
        app.visitor_says(&visitor, &"я".repeat(10_000), "l-2")
            .await
            .status(),
        StatusCode::CREATED
    );
    let no_client_id = app.visitor_says(&visitor, "hi", "").await;
    assert_eq!(
        expect_error(no_client_id, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_client_id"
    );
    let huge = app
        .http
        .post(app.api("/widget/messages"))
        .header("x-visitor-token", &visitor.token)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"body\":\"{}\",\"client_id\":\"x\"}}",
            "a".repeat(100_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(huge, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );
    let malformed = app
        .http
        .post(app.api("/widget/messages"))
        .header("x-visitor-token", &visitor.token)
        .header("content-type", "application/json")
        .body("{\"body\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(malformed, StatusCode::BAD_REQUEST).await,
        "malformed_json"
    );
    let forged = app
        .http
        .post(app.api("/widget/messages"))
        .header("x-visitor-token", "sbv_forged")
        .json(&json!({ "body": "hi", "client_id": "f" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let list: Value = app
        .get(&app.admin_token, "/conversations")
        .await
        .json()
        .await
        .unwrap();
    let conversation = list["items"][0]["id"].as_i64().unwrap();
    let page: Value = app
        .get(
            &app.admin_token,
            &format!("/conversations/{conversation}/messages"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "only the valid message was stored"
    );
    let missing = app
        .operator_says(&app.admin_token, 999_999, "hi", "x")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_visitor_sees_only_their_own_conversation() {
    let (app, _sink) = spawn_app().await;
    let alice = app.visitor().await;
    let bob = app.visitor().await;
    app.visitor_says(&alice, "alice's secret", "a-1").await;
    app.visitor_says(&bob, "bob here", "b-1").await;
    let bodies = app.visitor_history(&bob).await;
    assert_eq!(bodies, ["bob here"]);
    // A known token resumes the same visitor; an unknown one starts a new one.
    let resumed: Value = app
        .http
        .post(app.api("/widget/session"))
        .json(&json!({ "visitor_token": alice.token }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["visitor_id"], alice.id);
    assert!(resumed["online"].is_boolean());
}

#[tokio::test]
async fn close_reopen_assign_filters_and_paging() {
    let (app, mut sink) = spawn_app().await;
    let (op_id, op) = app.onboard(&mut sink, "op@example.com", "operator").await;
    let mut conversations = Vec::new();
    for i in 0..5 {
        let v = app.visitor().await;
        let m: Value = app
            .visitor_says(&v, &format!("visitor {i}"), "c")
            .await
            .json()
            .await
            .unwrap();
        conversations.push((v, m["conversation_id"].as_i64().unwrap()));
    }
    let (_, first) = &conversations[0];
    let assigned = app
        .send_json(
            Method::PATCH,
            &app.admin_token,
            &format!("/conversations/{first}"),
            json!({ "assignee_id": op_id }),
        )
        .await;
    assert_eq!(
        assigned.json::<Value>().await.unwrap()["assignee_id"],
        op_id
    );
    let mine: Value = app
        .get(&op, "/conversations?assignee=me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let none: Value = app
        .get(&op, "/conversations?assignee=none")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 4);
    let bad = app
        .send_json(
            Method::PATCH,
            &op,
            &format!("/conversations/{first}"),
            json!({ "assignee_id": 424242 }),
        )
        .await;
    assert_eq!(expect_error(bad, StatusCode::NOT_FOUND).await, "not_found");

    let closed = app
        .send_json(
            Method::PATCH,
            &op,
            &format!("/conversations/{first}"),
            json!({ "status": "closed" }),
        )
        .await;
    assert_eq!(closed.json::<Value>().await.unwrap()["status"], "closed");
    let closed_list: Value = app
        .get(&op, "/conversations?status=closed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed_list["items"].as_array().unwrap().len(), 1);
    // The visitor writes again: the same conversation reopens.
    let again: Value = app
        .visitor_says(&conversations[0].0, "one more thing", "c2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["conversation_id"], *first);
    let c: Value = app
        .get(&op, &format!("/conversations/{first}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["status"], "open");

    // Cursor paging walks every conversation once, newest first.
    let mut seen = Vec::new();
    let mut path = "/conversations?limit=2".to_string();
    loop {
        let page: Value = app.get(&op, &path).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/conversations?limit=2&before={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0], *first, "the reopened one is the most recent");
    let bad_cursor = app.get(&op, "/conversations?before=garbage").await;
    assert_eq!(bad_cursor.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Message paging: oldest first within a page, `next` goes back in time.
    for i in 0..7 {
        app.operator_says(&op, *first, &format!("answer {i}"), &format!("p{i}"))
            .await;
    }
    let page: Value = app
        .get(&op, &format!("/conversations/{first}/messages?limit=4"))
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["answer 3", "answer 4", "answer 5", "answer 6"]);
    let older: Value = app
        .get(
            &op,
            &format!(
                "/conversations/{first}/messages?limit=4&before={}",
                page["next"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<_> = older["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        bodies,
        ["one more thing", "answer 0", "answer 1", "answer 2"]
    );
}

#[tokio::test]
async fn unread_counts_are_per_operator() {
    let (app, mut sink) = spawn_app().await;
    let (_, op) = app.onboard(&mut sink, "op@example.com", "operator").await;
    let v = app.visitor().await;
    let mut last = Value::Null;
    for i in 0..3 {
        last = app
            .visitor_says(&v, &format!("m{i}"), &format!("m{i}"))
            .await
            .json()
            .await
            .unwrap();
    }
    let conversation = last["conversation_id"].as_i64().unwrap();
    let read = app
        .send_json(
            Method::POST,
            &op,
            &format!("/conversations/{conversation}/read"),
            json!({ "message_id": last["id"] }),
        )
        .await;
    assert_eq!(read.status(), StatusCode::NO_CONTENT);
    let for_op: Value = app
        .get(&op, &format!("/conversations/{conversation}"))
        .await
        .json()
        .await
        .unwrap();
    let for_admin: Value = app
        .get(&app.admin_token, &format!("/conversations/{conversation}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (for_op["unread"].as_i64(), for_admin["unread"].as_i64()),
        (Some(0), Some(3))
    );
    let wrong = app
        .send_json(
            Method::POST,
            &op,
            &format!("/conversations/{conversation}/read"),
            json!({ "message_id": 987654 }),
        )
        .await;
    // A message id that names nothing in this conversation, like a path that
    // names nothing: 404.
    assert_eq!(
        expect_error(wrong, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

/// The same send retried many times at once (a flaky network, several tabs):
/// one message, one 201, and every retry gets that message back.
#[tokio::test]
async fn concurrent_retries_of_one_send_store_it_once() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let sends: Vec<_> = (0..20)
        .map(|_| {
            let (http, url, token) = (
                app.http.clone(),
                app.api("/widget/messages"),
                visitor.token.clone(),
            );
            tokio::spawn(async move {
                let r = http
                    .post(&url)
                    .header("x-visitor-token", &token)
                    .json(&json!({ "body": "only once", "client_id": "same" }))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                (
                    status,
                    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap(),
                )
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for send in sends {
        let (status, id) = send.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            other => panic!("unexpected {other}"),
        }
        ids.insert(id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(app.visitor_history(&visitor).await, vec!["only once"]);
}

/// A visitor's first messages sent at once (several tabs) open one
/// conversation, announced once and before its messages, and all of them land in it.
#[tokio::test]
async fn first_messages_sent_at_once_open_one_conversation() {
    let app = spawn_app_configured(None, unlimited_visitors).await;
    let mut ops = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    assert_eq!(next_frame(&mut ops).await["type"], "ready");
    let visitor = app.visitor().await;
    let sends: Vec<_> = (0..12)
        .map(|n| {
            let (http, url, token) = (
                app.http.clone(),
                app.api("/widget/messages"),
                visitor.token.clone(),
            );
            tokio::spawn(async move {
                let r = http
                    .post(&url)
                    .header("x-visitor-token", &token)
                    .json(&json!({ "body": format!("tab {n}"), "client_id": format!("tab-{n}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
                r.json::<Value>().await.unwrap()["conversation_id"]
                    .as_i64()
                    .unwrap()
            })
        })
        .collect();
    let mut conversations = std::collections::HashSet::new();
    for send in sends {
        conversations.insert(send.await.unwrap());
    }
    assert_eq!(conversations.len(), 1);
    let conversation = *conversations.iter().next().unwrap();
    let mut history = app.visitor_history(&visitor).await;
    history.sort();
    let mut expected: Vec<String> = (0..12).map(|n| format!("tab {n}")).collect();
    expected.sort();
    assert_eq!(history, expected);

    let created = next_event(&mut ops, "conversation.created").await;
    assert_eq!(created["data"]["id"], conversation);
    let mut seen = 0;
    while seen < 12 {
        let frame = next_frame(&mut ops).await;
        assert_ne!(frame["event"], "conversation.created", "announced twice");
        if frame["event"] == "message.created" {
            assert!(frame["seq"].as_i64() > created["seq"].as_i64());
            seen += 1;
        }
    }
    // The conversation as the API shows it now: its last message is one of them.
    let fetched = app
        .get_json(&app.admin_token, &format!("/conversations/{conversation}"))
        .await;
    assert_eq!(fetched["status"], "open");
    assert_eq!(fetched["unread"], 12);
}

/// A NUL character in a message (found by schemathesis: PostgreSQL cannot
/// store it and answered 500) is dropped on both stores; a body of nothing
/// else is empty.
#[tokio::test]
async fn nul_characters_are_dropped_from_messages() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let send = |body: &'static str, client_id: &'static str| {
        app.http
            .post(app.api("/widget/messages"))
            .header("X-Visitor-Token", &visitor.token)
            .json(&json!({ "body": body, "client_id": client_id }))
            .send()
    };
    let sent = send("tea\u{0} for two", "nul-1").await.unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    let message: Value = sent.json().await.unwrap();
    assert_eq!(message["body"], "tea for two");
    let empty = send("\u{0} \u{0}", "nul-2").await.unwrap();
    assert_eq!(
        expect_error(empty, StatusCode::UNPROCESSABLE_ENTITY).await,
        "empty_body"
    );
    assert_eq!(app.visitor_history(&visitor).await, ["tea for two"]);
}
