use std::collections::HashSet;
use std::time::Duration;

use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

#[tokio::test]
async fn operators_see_dialogs_live_and_visitors_see_answers() {
    let (app, _sink) = spawn_app().await;
    let mut ops = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    let ready = next_frame(&mut ops).await;
    assert_eq!(ready["type"], "ready");
    let start = ready["seq"].as_i64().unwrap();

    let visitor = app.visitor().await;
    let mut mine =
        connect(&app.ws_url(&format!("/widget/stream?visitor_token={}", visitor.token))).await;
    assert_eq!(next_frame(&mut mine).await["type"], "ready");
    let other = app.visitor().await;
    let mut theirs =
        connect(&app.ws_url(&format!("/widget/stream?visitor_token={}", other.token))).await;
    assert_eq!(next_frame(&mut theirs).await["type"], "ready");

    app.visitor_says(&visitor, "hello <b>there</b>", "v1").await;
    let created = next_event(&mut ops, "conversation.created").await;
    assert!(created["seq"].as_i64().unwrap() > start);
    assert_eq!(created["data"]["unread"], 1);
    let message = next_event(&mut ops, "message.created").await;
    assert_eq!(message["data"]["body"], "hello <b>there</b>");
    assert!(message["seq"].as_i64() > created["seq"].as_i64());
    let conversation = message["data"]["conversation_id"].as_i64().unwrap();
    // The event carries the conversation exactly as the API shows it.
    let fetched = app
        .get_json(&app.admin_token, &format!("/conversations/{conversation}"))
        .await;
    assert_eq!(created["data"], fetched);

    // The visitor's own message is echoed to their stream (other tabs), then the answer.
    assert_eq!(
        next_event(&mut mine, "message.created").await["data"]["body"],
        "hello <b>there</b>"
    );
    ops.send(WsMessage::Text(
        json!({ "type": "typing", "conversation_id": conversation })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let typing = next_event(&mut mine, "typing").await;
    assert_eq!(typing["data"]["author"]["kind"], "operator");
    app.operator_says(&app.admin_token, conversation, "Hi! How can I help?", "o1")
        .await;
    let answer = next_event(&mut mine, "message.created").await;
    assert_eq!(answer["data"]["author"]["kind"], "operator");
    assert_eq!(answer["data"]["body"], "Hi! How can I help?");

    // Visitor typing reaches operators, with the name the visitor left
    // after their stream opened.
    crate::email::leave_email(&app, &visitor, "anna@example.net").await;
    mine.send(WsMessage::Text(
        json!({ "type": "typing", "conversation_id": null })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let typing = next_event(&mut ops, "typing").await;
    assert_eq!(typing["data"]["author"]["kind"], "visitor");
    assert_eq!(typing["data"]["author"]["name"], "Anna");
    assert_eq!(typing["data"]["conversation_id"], conversation);

    // The other visitor saw none of it.
    app.visitor_says(&other, "ping", "p").await;
    let first_seen = next_event(&mut theirs, "conversation.created").await;
    assert_ne!(first_seen["data"]["id"], conversation);
    assert_eq!(
        next_event(&mut theirs, "message.created").await["data"]["body"],
        "ping"
    );
}

#[tokio::test]
async fn resume_after_a_disconnect_misses_nothing_and_repeats_nothing_under_concurrent_writes() {
    // Writes faster than a person types: the per-visitor limit is lifted.
    let app = spawn_app_configured(None, unlimited_visitors).await;
    const VISITORS: usize = 4;
    const EACH: usize = 60;
    let mut visitors = Vec::new();
    for _ in 0..VISITORS {
        visitors.push(app.visitor().await);
    }
    let mut ops = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    let mut last_seq = next_frame(&mut ops).await["seq"].as_i64().unwrap();

    // Writers keep sending while the operator's connection drops and resumes.
    let writers: Vec<_> = visitors
        .into_iter()
        .enumerate()
        .map(|(n, v)| {
            let http = app.http.clone();
            let url = app.api("/widget/messages");
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..EACH {
                    let response = http
                        .post(&url)
                        .header("x-visitor-token", &v.token)
                        .json(&json!({ "body": format!("v{n} m{i}"), "client_id": format!("{n}-{i}") }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::CREATED);
                    ids.push(response.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
                    if i % 7 == 0 {
                        tokio::time::sleep(Duration::from_millis(3)).await;
                    }
                }
                ids
            })
        })
        .collect();

    let mut seen = Vec::new();
    let mut reconnects = 0;
    while seen.len() < VISITORS * EACH {
        let frame = next_frame(&mut ops).await;
        assert_ne!(frame["type"], "reset");
        if frame["type"] == "event" {
            let seq = frame["seq"].as_i64().unwrap();
            assert!(
                seq > last_seq,
                "seq strictly increasing: {seq} after {last_seq}"
            );
            last_seq = seq;
            if frame["event"] == "message.created" {
                seen.push(frame["data"]["id"].as_i64().unwrap());
            }
        }
        // Drop the connection now and then, mid-stream, and resume.
        if seen.len() % 50 == 25 && reconnects < 4 && frame["event"] == "message.created" {
            drop(ops);
            reconnects += 1;
            tokio::time::sleep(Duration::from_millis(30)).await;
            ops = connect(&app.ws_url(&format!(
                "/stream?token={}&since={last_seq}",
                app.admin_token
            )))
            .await;
            let ready = next_frame(&mut ops).await;
            assert_eq!(ready["type"], "ready");
        }
    }
    let mut sent = HashSet::new();
    for writer in writers {
        sent.extend(writer.await.unwrap());
    }
    let unique: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no message twice");
    assert_eq!(unique, sent, "every accepted message arrived");
    assert_eq!(reconnects, 4);
}

#[tokio::test]
async fn a_since_the_server_does_not_know_gets_a_reset() {
    let (app, _sink) = spawn_app().await;
    let mut ops =
        connect(&app.ws_url(&format!("/stream?token={}&since=999999", app.admin_token))).await;
    assert_eq!(next_frame(&mut ops).await["type"], "ready");
    assert_eq!(next_frame(&mut ops).await["type"], "reset");
    // The connection goes on live after the reset.
    let v = app.visitor().await;
    app.visitor_says(&v, "after reset", "r").await;
    assert_eq!(
        next_event(&mut ops, "message.created").await["data"]["body"],
        "after reset"
    );
}

#[tokio::test]
async fn streams_refuse_strangers() {
    let (app, _sink) = spawn_app().await;
    for url in [
        app.ws_url("/stream"),
        app.ws_url("/stream?token=sbt_not-a-token"),
        app.ws_url("/widget/stream?visitor_token=sbv_forged"),
        app.ws_url("/widget/stream"),
    ] {
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{url}")
            }
            other => panic!("{url} should be refused, got {:?}", other.map(|_| ())),
        }
    }
    // A bearer header works where a browser is not involved.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            app.ws_url("/stream"),
        )
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", app.admin_token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(next_frame(&mut ws).await["type"], "ready");
    // Garbage from a client is ignored, not fatal.
    ws.send(WsMessage::Text("{not json".into())).await.unwrap();
    let v = app.visitor().await;
    app.visitor_says(&v, "still here", "s").await;
    assert_eq!(
        next_event(&mut ws, "message.created").await["data"]["body"],
        "still here"
    );
}

#[tokio::test]
async fn presence_follows_live_streams() {
    let (app, _sink) = spawn_app().await;
    // Whether a visitor opening the widget now sees the team online.
    let widget_online = || async {
        let session: Value = app
            .http
            .post(app.api("/widget/session"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        session["online"].as_bool().unwrap()
    };
    let me: Value = app.get(&app.admin_token, "/me").await.json().await.unwrap();
    assert_eq!(me["presence"], "offline");
    assert!(!widget_online().await);
    let mut ws = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    next_frame(&mut ws).await;
    let me: Value = app.get(&app.admin_token, "/me").await.json().await.unwrap();
    assert_eq!(me["presence"], "online");
    assert!(widget_online().await);
    let away: Value = app
        .send_json(
            reqwest::Method::PUT,
            &app.admin_token,
            "/me/presence",
            json!({ "presence": "away" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(away["presence"], "away");
    // Visitors see the team away once the change reaches the node (through
    // the log, as on every node).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while widget_online().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the widget still shows an away team online"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(ws);
}

/// A visitor's stream shows their own events only, each once and in order —
/// live, from its feed, and after a resume that reaches back beyond the feed
/// (while other visitors write all along).
#[tokio::test]
async fn a_visitor_stream_resumes_with_their_own_events_only() {
    // Writes faster than a person types: the per-visitor limit is lifted.
    let app = spawn_app_configured(None, unlimited_visitors).await;
    const EACH: usize = 100; // more than a visitor feed keeps
    let me = app.visitor().await;
    let other = app.visitor().await;
    let mut mine =
        connect(&app.ws_url(&format!("/widget/stream?visitor_token={}", me.token))).await;
    let mut last_seq = next_frame(&mut mine).await["seq"].as_i64().unwrap();

    let noise = {
        let (http, url, token) = (app.http.clone(), app.api("/widget/messages"), other.token);
        tokio::spawn(async move {
            for i in 0..EACH {
                let r = http
                    .post(&url)
                    .header("x-visitor-token", &token)
                    .json(&json!({ "body": format!("other {i}"), "client_id": format!("o{i}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
            }
        })
    };
    let mut seen = Vec::new();
    for i in 0..EACH {
        assert_eq!(
            app.visitor_says(&me, &format!("mine {i}"), &format!("m{i}"))
                .await
                .status(),
            StatusCode::CREATED
        );
        if i == 30 {
            // Gone for 70 messages: more than the feed keeps, so the resume
            // reads this visitor's events from the database.
            drop(mine);
            for j in 31..EACH {
                app.visitor_says(&me, &format!("mine {j}"), &format!("m{j}"))
                    .await;
            }
            mine = connect(&app.ws_url(&format!(
                "/widget/stream?visitor_token={}&since={last_seq}",
                me.token
            )))
            .await;
            assert_eq!(next_frame(&mut mine).await["type"], "ready");
            break;
        }
        // Live: read what arrived so far. (A `widget` frame, carrying no
        // seq, may come too: the admin created at start changes what the
        // widget shows, and this stream can hear of it late.)
        while seen.len() <= i {
            let frame = next_frame(&mut mine).await;
            if frame["type"] == "widget" {
                continue;
            }
            let seq = frame["seq"].as_i64().unwrap();
            assert!(seq > last_seq, "in order: {seq} after {last_seq}");
            last_seq = seq;
            if frame["event"] == "message.created" {
                seen.push(frame["data"]["body"].as_str().unwrap().to_string());
            }
        }
    }
    while seen.len() < EACH {
        let frame = next_frame(&mut mine).await;
        assert_ne!(frame["type"], "reset");
        if frame["type"] == "widget" {
            continue;
        }
        let seq = frame["seq"].as_i64().unwrap();
        assert!(seq > last_seq, "in order: {seq} after {last_seq}");
        last_seq = seq;
        if frame["event"] == "message.created" {
            seen.push(frame["data"]["body"].as_str().unwrap().to_string());
        }
    }
    noise.await.unwrap();
    let expected: Vec<String> = (0..EACH).map(|i| format!("mine {i}")).collect();
    assert_eq!(seen, expected, "each of mine once, in order, nobody else's");
}

/// Writing into a closed conversation reopens it, announced as the API shows
/// it; retrying a message sent before the close reopens nothing.
#[tokio::test]
async fn a_reopened_conversation_is_announced_as_the_api_shows_it() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "hello", "h1")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    let path = format!("/conversations/{conversation}");
    let closed = app
        .send_json(
            reqwest::Method::PATCH,
            &app.admin_token,
            &path,
            json!({ "status": "closed" }),
        )
        .await;
    assert_eq!(closed.status(), StatusCode::OK);
    let retried = app.visitor_says(&visitor, "hello", "h1").await;
    assert_eq!(
        retried.status(),
        StatusCode::OK,
        "a retry, not a new message"
    );
    let fetched = app
        .get_json(&app.admin_token, &format!("/conversations/{conversation}"))
        .await;
    assert_eq!(fetched["status"], "closed", "a retry reopens nothing");

    let mut ops = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    next_frame(&mut ops).await;
    assert_eq!(
        app.visitor_says(&visitor, "one more thing", "h2")
            .await
            .status(),
        StatusCode::CREATED
    );
    // (With several writers, PostgreSQL numbers the close's own update
    // once its transaction is below every open one: it may come first.)
    let reopened = loop {
        let update = next_event(&mut ops, "conversation.updated").await;
        if update["data"]["status"] == "open" {
            break update;
        }
    };
    let fetched = app
        .get_json(&app.admin_token, &format!("/conversations/{conversation}"))
        .await;
    assert_eq!(fetched["status"], "open");
    assert_eq!(fetched["unread"], 2);
    assert_eq!(reopened["data"], fetched);
}

/// On SQLite visitors' sends are written by a writer of their own, which hands
/// what it committed straight to the hub, while replies commit through the
/// general path and reach the hub by a read of the log. Side by side, a live
/// stream must still show every event once and in `seq` order — exactly what
/// a stream resumed from the same cursor reads back from the log.
#[tokio::test]
async fn sends_and_replies_committed_side_by_side_reach_a_stream_once_and_in_order() {
    let app = spawn_app_configured(None, unlimited_visitors).await;
    const VISITORS: usize = 3;
    const EACH: usize = 40;
    let mut conversations = Vec::new();
    let mut visitors = Vec::new();
    for n in 0..VISITORS {
        let visitor = app.visitor().await;
        let first = app
            .visitor_says(&visitor, "hello", &format!("{n}-first"))
            .await;
        assert_eq!(first.status(), StatusCode::CREATED);
        let first: Value = first.json().await.unwrap();
        conversations.push(first["conversation_id"].as_i64().unwrap());
        visitors.push(visitor);
    }
    let mut live = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    let since = next_frame(&mut live).await["seq"].as_i64().unwrap();

    /// Sends `EACH` messages one after another, message `i` as `request(i)`
    /// builds it; the ids of the messages created.
    fn send_each(
        request: impl Fn(usize) -> reqwest::RequestBuilder + Send + 'static,
    ) -> tokio::task::JoinHandle<Vec<i64>> {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                let response = request(i).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                ids.push(
                    response.json::<Value>().await.unwrap()["id"]
                        .as_i64()
                        .unwrap(),
                );
            }
            ids
        })
    }
    let mut writers = Vec::new();
    for (n, (visitor, conversation)) in visitors.into_iter().zip(conversations).enumerate() {
        let (http, url) = (app.http.clone(), app.api("/widget/messages"));
        writers.push(send_each(move |i| {
            http.post(&url)
                .header("x-visitor-token", &visitor.token)
                .json(&json!({ "body": format!("v{n} m{i}"), "client_id": format!("{n}-{i}") }))
        }));
        let (http, token) = (app.http.clone(), app.admin_token.clone());
        let url = app.api(&format!("/conversations/{conversation}/messages"));
        writers.push(send_each(move |i| {
            http.post(&url)
                .bearer_auth(&token)
                .json(&json!({ "body": format!("r{n} m{i}"), "client_id": format!("r{n}-{i}") }))
        }));
    }
    let mut sent = HashSet::new();
    for writer in writers {
        sent.extend(writer.await.unwrap());
    }
    assert_eq!(sent.len(), VISITORS * EACH * 2);

    /// (seq, event, message id) of every event until each of `sent` was seen.
    /// (On PostgreSQL the first messages may come too: their events can be
    /// numbered after the stream's starting point.)
    async fn events_until_all(ws: &mut Ws, sent: &HashSet<i64>) -> Vec<(i64, String, i64)> {
        let mut events = Vec::new();
        let mut missing = sent.clone();
        while !missing.is_empty() {
            let frame = next_frame(ws).await;
            assert_ne!(frame["type"], "reset");
            if frame["type"] != "event" {
                continue;
            }
            let name = frame["event"].as_str().unwrap().to_string();
            let id = frame["data"]["id"].as_i64().unwrap_or(0);
            if name == "message.created" {
                missing.remove(&id);
            }
            events.push((frame["seq"].as_i64().unwrap(), name, id));
        }
        events
    }
    let seen_live = events_until_all(&mut live, &sent).await;
    let ids: Vec<i64> = seen_live
        .iter()
        .filter(|(_, name, _)| name == "message.created")
        .map(|(_, _, id)| *id)
        .collect();
    let unique: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no message twice");
    assert!(
        seen_live.windows(2).all(|w| w[0].0 < w[1].0),
        "seq strictly increasing"
    );

    let mut resumed =
        connect(&app.ws_url(&format!("/stream?token={}&since={since}", app.admin_token))).await;
    assert_eq!(next_frame(&mut resumed).await["type"], "ready");
    assert_eq!(events_until_all(&mut resumed, &sent).await, seen_live);
}
