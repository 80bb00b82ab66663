//! Two server nodes on one PostgreSQL database with NATS fan-out: a visitor on
//! node A, an operator streaming from node B. Runs in the PostgreSQL pass
//! (`SWITCHBOARD_TEST_DATABASE=postgres`); with SQLite there is one node.

use serde_json::{json, Value};

use crate::helpers::*;

/// The admin's bearer token, signed in on this node.
async fn admin_login(http: &reqwest::Client, node: &switchboard_server::RunningServer) -> String {
    let login: Value = http
        .post(format!("{}/api/v1/auth/login", node.url()))
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().unwrap().to_string()
}

/// A new widget session opened on the node at `base` (its URL).
async fn widget_session(http: &reqwest::Client, base: &str) -> Value {
    widget_session_with(http, base, json!({})).await
}

/// A widget session opened on the node at `base` with `request` (a visitor
/// token to go on with, a locale).
async fn widget_session_with(http: &reqwest::Client, base: &str, request: Value) -> Value {
    http.post(format!("{base}/api/v1/widget/session"))
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_visitor_on_one_node_reaches_an_operator_on_another_and_resume_works_across_nodes() {
    let Some(TwoNodes {
        a: node_a,
        b: node_b,
        _dir,
    }) = two_nodes(None, |_| {}).await
    else {
        return;
    };
    let http = reqwest::Client::new();
    let token = &admin_login(&http, &node_b).await;
    let ws = |node: &switchboard_server::RunningServer, since: Option<i64>| {
        let base = node.url().replacen("http://", "ws://", 1);
        match since {
            Some(s) => format!("{base}/api/v1/stream?token={token}&since={s}"),
            None => format!("{base}/api/v1/stream?token={token}"),
        }
    };
    let mut on_b = connect(&ws(&node_b, None)).await;
    next_frame(&mut on_b).await;

    let session = widget_session(&http, &node_a.url()).await;
    let visitor = session["visitor_token"].as_str().unwrap().to_string();
    let say = |body: &'static str, id: &'static str| {
        let (http, url, visitor) = (
            http.clone(),
            format!("{}/api/v1/widget/messages", node_a.url()),
            visitor.clone(),
        );
        async move {
            let r = http
                .post(url)
                .header("x-visitor-token", visitor)
                .json(&json!({ "body": body, "client_id": id }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    };
    say("hello from node A", "1").await;
    let first = next_event(&mut on_b, "message.created").await;
    assert_eq!(first["data"]["body"], "hello from node A");

    // The operator drops off node B, messages keep coming on A, and the
    // operator resumes on node A with `since`: nothing missed, nothing twice.
    let since = first["seq"].as_i64().unwrap();
    drop(on_b);
    say("while away 1", "2").await;
    say("while away 2", "3").await;
    let mut on_a = connect(&ws(&node_a, Some(since))).await;
    assert_eq!(next_frame(&mut on_a).await["type"], "ready");
    assert_eq!(
        next_event(&mut on_a, "message.created").await["data"]["body"],
        "while away 1"
    );
    assert_eq!(
        next_event(&mut on_a, "message.created").await["data"]["body"],
        "while away 2"
    );
    node_a.stop();
    node_b.stop();
}

/// The SMTP relay is down while both nodes queue invitations; when it comes
/// back, every email is delivered exactly once although both nodes' senders
/// compete for the same outbox. (With SQLite: one node, same checks.)
#[tokio::test]
async fn after_an_smtp_outage_every_email_is_delivered_once_from_any_number_of_nodes() {
    const EACH_NODE: usize = 10;
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved); // nobody listens: the relay is down
    let postgres = std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() == Ok("postgres");
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), Some(format!("smtp://127.0.0.1:{port}"))).await;
    let mut nodes = vec![switchboard_server::start(config.clone()).await.unwrap()];
    if postgres {
        let mut config_b = config;
        config_b.data_dir = dir.path().join("node-b");
        nodes.push(switchboard_server::start(config_b).await.unwrap());
    }
    switchboard_server::services::accounts::create_admin(
        &nodes[0].state,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        Some("Ada"),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let mut expected = std::collections::BTreeSet::new();
    for (n, node) in nodes.iter().enumerate() {
        let token = admin_login(&http, node).await;
        for i in 0..EACH_NODE {
            let email = format!("colleague-{n}-{i}@example.com");
            let r = http
                .post(format!("{}/api/v1/team/invitations", node.url()))
                .bearer_auth(&token)
                .json(&json!({ "email": email, "role": "operator" }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            expected.insert(email);
        }
    }
    // Several attempts fail on every node while the relay is down.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let waiting = switchboard_server::store::outbox::pending(&nodes[0].state.db)
        .await
        .unwrap();
    assert_eq!(waiting, expected.len() as i64);

    let mut sink = SmtpSink::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    let mut delivered = Vec::new();
    while delivered.len() < expected.len() {
        delivered.extend(sink.next().await.to);
    }
    sink.assert_quiet(std::time::Duration::from_secs(2)).await;
    let unique: std::collections::BTreeSet<String> = delivered.iter().cloned().collect();
    assert_eq!(unique.len(), delivered.len(), "no email twice");
    assert_eq!(unique, expected, "every email");
    assert_eq!(
        switchboard_server::store::outbox::pending(&nodes[0].state.db)
            .await
            .unwrap(),
        0
    );
    eprintln!(
        "outage: {} emails queued on {} node(s) while the relay was down, {} delivered once each",
        expected.len(),
        nodes.len(),
        delivered.len()
    );
    for node in nodes {
        node.stop();
    }
}

/// A colleague streaming from node B is removed through node A: their stream
/// on B closes with 4401 within a second (the removal is an event in the
/// shared log; B wakes over NATS).
#[tokio::test]
async fn a_removal_on_one_node_closes_the_stream_on_another() {
    use futures_util::StreamExt;
    let mut sink = SmtpSink::start();
    let Some(TwoNodes {
        a: node_a,
        b: node_b,
        _dir,
    }) = two_nodes(Some(sink.url()), |_| {}).await
    else {
        return;
    };
    let http = reqwest::Client::new();
    let admin = admin_login(&http, &node_a).await;
    let invited: Value = http
        .post(format!("{}/api/v1/team/invitations", node_a.url()))
        .bearer_auth(&admin)
        .json(&json!({ "email": "far@example.com", "role": "operator" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let password = sink.next_to("far@example.com").await.field("Password");
    let login: Value = http
        .post(format!("{}/api/v1/auth/login", node_b.url()))
        .json(&json!({ "email": "far@example.com", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let changed = http
        .put(format!("{}/api/v1/me/password", node_b.url()))
        .bearer_auth(token)
        .json(&json!({ "current_password": password, "new_password": "far-own-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    let base = node_b.url().replacen("http://", "ws://", 1);
    let mut on_b = connect(&format!("{base}/api/v1/stream?token={token}")).await;
    next_frame(&mut on_b).await;

    let removed = http
        .delete(format!(
            "{}/api/v1/team/{}",
            node_a.url(),
            invited["id"].as_i64().unwrap()
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let code = loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(1), on_b.next())
            .await
            .expect("closed within a second");
        match next {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
                break u16::from(frame.code)
            }
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, 4401);
    node_a.stop();
    node_b.stop();
}

/// Whatever one node stores, every node serves: an avatar uploaded through
/// node A is served by node B (a JetStream object store on the shared NATS).
/// And an avatar a single node kept on its own disk before the team grew to
/// two nodes is still there after the upgrade.
#[tokio::test]
async fn an_avatar_uploaded_through_one_node_is_served_by_every_node() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        eprintln!("skipped: needs SWITCHBOARD_TEST_DATABASE=postgres");
        return;
    }
    let nats_url = test_nats_url();
    let bucket = format!("sb-test-{:016x}", rand::random::<u64>());
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let upload = |node: &switchboard_server::RunningServer, token: &str| {
        let request = http
            .put(format!("{}/api/v1/me/avatar", node.url()))
            .bearer_auth(token)
            .header("content-type", "image/png")
            .body(crate::profile::noisy_png(5_000));
        async move {
            let me: Value = request.send().await.unwrap().json().await.unwrap();
            me["avatar_url"].as_str().unwrap().to_string()
        }
    };

    // One node, files on its disk: the admin's first avatar.
    let mut config = test_config(dir.path(), None).await;
    config.file_bucket = bucket.clone();
    let single = switchboard_server::start(config.clone()).await.unwrap();
    switchboard_server::services::accounts::create_admin(
        &single.state,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        Some("Ada"),
    )
    .await
    .unwrap();
    let token = admin_login(&http, &single).await;
    let before = upload(&single, &token).await;
    let file = before.rsplit('/').next().unwrap().to_string();
    single.stop();

    // The team grows to two nodes on NATS.
    config.nats_url = Some(nats_url.clone());
    let mut config_b = config.clone();
    config_b.data_dir = dir.path().join("node-b");
    let node_a = switchboard_server::start(config).await.unwrap();
    let node_b = switchboard_server::start(config_b).await.unwrap();
    let served = |node: &switchboard_server::RunningServer, file: &str| {
        let url = format!("{}/avatars/{file}", node.url());
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status() }
    };
    assert_eq!(
        served(&node_b, &file).await,
        200,
        "the avatar kept before the upgrade"
    );

    let token = admin_login(&http, &node_a).await;
    let after = upload(&node_a, &token).await;
    let file = after.rsplit('/').next().unwrap().to_string();
    assert_eq!(
        served(&node_b, &file).await,
        200,
        "uploaded on A, served by B"
    );
    assert_eq!(served(&node_a, &file).await, 200);
    // The team list on B points at it too.
    let team: Value = http
        .get(format!("{}/api/v1/team", node_b.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(team[0]["avatar_url"].as_str().unwrap().ends_with(&file));
    // Replaced on B: the old file is gone everywhere.
    let replaced = upload(&node_b, &token).await;
    assert!(!replaced.ends_with(&file));
    assert_eq!(served(&node_a, &file).await, 404);

    node_a.stop();
    node_b.stop();
    let nats = async_nats::connect(&nats_url).await.unwrap();
    let _ = async_nats::jetstream::new(nats)
        .delete_object_store(&bucket)
        .await;
}

#[tokio::test]
async fn a_file_attached_through_one_node_is_served_by_the_other() {
    let Some(nodes) = two_nodes(None, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let token = admin_login(&http, &nodes.a).await;
    let photo = crate::profile::noisy_png(50_000);
    let file: Value = http
        .post(format!(
            "{}/api/v1/attachments?name=shelf.png",
            nodes.a.url()
        ))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(photo.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Links name the public URL of the node that made them; behind a load
    // balancer that is the same for both. Here node B is asked directly.
    let on_b = |url: &str| url.replacen(&nodes.a.url(), &nodes.b.url(), 1);
    let got = http
        .get(on_b(file["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), reqwest::StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().to_vec(), photo);
    let preview = http
        .get(on_b(file["thumbnail_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn widget_settings_saved_on_one_node_reach_a_widget_open_on_another() {
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let token = admin_login(&http, &a).await;
    let session = widget_session(&http, &b.url()).await;
    let visitor = session["visitor_token"].as_str().unwrap();
    let mut widget = widget_stream(&b, visitor).await;

    let mut settings: Value = http
        .get(format!("{}/api/v1/widget-settings", a.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    settings["color"] = json!("#b45309");
    settings["title"] = json!("Tea shop");
    let saved = http
        .put(format!("{}/api/v1/widget-settings", a.url()))
        .bearer_auth(&token)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success());
    let frame = next_frame(&mut widget).await;
    assert_eq!(frame["type"], "widget");
    assert_eq!(frame["widget"]["color"], "#b45309");
    assert_eq!(frame["widget"]["title"], "Tea shop");
}

/// A visitor's message on node B while node A holds a write transaction open
/// (as a slow write would): B answers at once — writers on different nodes
/// share no lock — and its event reaches streams only once A's transaction
/// has ended, after A's event: the log stays in commit order, so no cursor
/// can pass an event that commits late.
#[tokio::test]
async fn writers_on_two_nodes_do_not_wait_for_each_other_and_no_late_event_is_skipped() {
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let token = admin_login(&http, &b).await;
    let mut ops = operator_stream(&b, &token).await;

    // Node A: a write transaction that has written an event and stays open.
    let mut held = a.state.db.begin_write().await.unwrap();
    switchboard_server::store::events::append(
        &mut held.tx,
        "test.held",
        None,
        &json!({ "by": "node A" }),
    )
    .await
    .unwrap();

    let session = widget_session(&http, &b.url()).await;
    let send = http
        .post(format!("{}/api/v1/widget/messages", b.url()))
        .header(
            "x-visitor-token",
            session["visitor_token"].as_str().unwrap(),
        )
        .json(&json!({ "body": "Written beside an open transaction", "client_id": "n1" }))
        .send();
    let sent = tokio::time::timeout(std::time::Duration::from_secs(5), send)
        .await
        .expect("node B's write does not wait for node A's open transaction")
        .unwrap();
    assert_eq!(sent.status(), reqwest::StatusCode::CREATED);

    // Committed, but behind A's open transaction: not streamed yet.
    use futures_util::StreamExt;
    let early = tokio::time::timeout(std::time::Duration::from_millis(500), ops.next()).await;
    assert!(
        early.is_err(),
        "an event passed an older open transaction: {early:?}"
    );

    held.commit().await.unwrap();
    a.state.hub.wake();
    let mut names = Vec::new();
    let mut last_seq = 0;
    while !names.iter().any(|n| n == "message.created") {
        let frame = next_frame(&mut ops).await;
        if frame["type"] != "event" {
            continue;
        }
        let seq = frame["seq"].as_i64().unwrap();
        assert!(seq > last_seq, "positions only grow");
        last_seq = seq;
        names.push(frame["event"].as_str().unwrap().to_string());
    }
    assert_eq!(
        names,
        ["test.held", "conversation.created", "message.created"],
        "A's event, committed last, still comes first: it was written first"
    );
}

/// The other half of the test above: writes of one visitor do wait for each
/// other across nodes. A transaction on node A that took the visitor's lock
/// as it began (the lock goes with `BEGIN` in one round trip) holds that
/// visitor's send on node B until it ends; another visitor's send on B goes
/// through meanwhile.
#[tokio::test]
async fn a_visitors_lock_taken_with_begin_holds_their_writes_on_another_node() {
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    use switchboard_server::db::LockKey;
    let http = reqwest::Client::new();
    let locked = widget_session(&http, &b.url()).await;
    let other = widget_session(&http, &b.url()).await;
    let send = |session: &Value, body: &str| {
        http.post(format!("{}/api/v1/widget/messages", b.url()))
            .header(
                "x-visitor-token",
                session["visitor_token"].as_str().unwrap(),
            )
            .json(&json!({ "body": body, "client_id": body }))
            .send()
    };
    let held = a
        .state
        .db
        .begin_write_holding(&[LockKey::Visitor(locked["visitor_id"].as_i64().unwrap())])
        .await
        .unwrap();

    let waiting = tokio::spawn(send(&locked, "held back"));
    // Until node B's writer waits for the lock (as PostgreSQL shows it).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let waiters: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(&b.state.db.pool)
        .await
        .unwrap();
        if waiters > 0 {
            break;
        }
        assert!(
            !waiting.is_finished(),
            "the visitor's send went through while their lock was held"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "nobody waits for the lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // (Sent once the first waits in a writer of its own, so that the two
    // are not one batch.)
    let free = tokio::time::timeout(std::time::Duration::from_secs(5), send(&other, "free"))
        .await
        .expect("another visitor's send does not wait")
        .unwrap();
    assert_eq!(free.status(), reqwest::StatusCode::CREATED);
    assert!(!waiting.is_finished());

    held.commit().await.unwrap();
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .expect("the send goes through once the lock is released")
        .unwrap()
        .unwrap();
    assert_eq!(answered.status(), reqwest::StatusCode::CREATED);
}

/// Visitors write on both nodes at once while a colleague's stream hops
/// between the nodes, resuming each time from the last seq it saw: every
/// message arrives once, none is missing, positions only grow.
#[tokio::test]
async fn a_stream_resumed_across_two_nodes_under_concurrent_writes_misses_and_repeats_nothing() {
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, unlimited_visitors).await else {
        return;
    };
    let http = reqwest::Client::new();
    let token = admin_login(&http, &a).await;
    const VISITORS: usize = 6;
    const EACH: usize = 20;
    let mut writers = Vec::new();
    for v in 0..VISITORS {
        let node = if v % 2 == 0 { a.url() } else { b.url() };
        let http = http.clone();
        writers.push(tokio::spawn(async move {
            let session = widget_session(&http, &node).await;
            let visitor = session["visitor_token"].as_str().unwrap().to_string();
            let mut ids = Vec::new();
            for i in 0..EACH {
                let sent: Value = http
                    .post(format!("{node}/api/v1/widget/messages"))
                    .header("x-visitor-token", &visitor)
                    .json(&json!({ "body": format!("visitor {v} message {i}"), "client_id": format!("{v}-{i}") }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(sent["id"].as_i64().expect("a stored message"));
            }
            ids
        }));
    }

    // The reader: a few events from one node, then resume on the other.
    let nodes = [a.url(), b.url()];
    let mut seen: Vec<i64> = Vec::new();
    let mut cursor: Option<i64> = None;
    let mut last_seq = 0;
    let mut hop = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while seen.len() < VISITORS * EACH {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} messages arrived",
            seen.len()
        );
        let base = nodes[hop % 2].replacen("http://", "ws://", 1);
        let url = match cursor {
            Some(s) => format!("{base}/api/v1/stream?token={token}&since={s}"),
            None => format!("{base}/api/v1/stream?token={token}&since=0"),
        };
        let mut ws = connect(&url).await;
        let ready = next_frame(&mut ws).await;
        assert_eq!(ready["type"], "ready");
        let mut taken = 0;
        while taken < 7 + hop % 5 && seen.len() < VISITORS * EACH {
            let frame = next_frame(&mut ws).await;
            assert_ne!(
                frame["type"], "reset",
                "the log keeps everything this test wrote"
            );
            if frame["type"] != "event" {
                continue;
            }
            let seq = frame["seq"].as_i64().unwrap();
            assert!(
                seq > last_seq,
                "seq {seq} after {last_seq}: repeated or out of order"
            );
            last_seq = seq;
            cursor = Some(seq);
            taken += 1;
            if frame["event"] == "message.created" {
                seen.push(frame["data"]["id"].as_i64().unwrap());
            }
        }
        drop(ws);
        hop += 1;
    }
    let mut written: Vec<i64> = Vec::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    written.sort_unstable();
    let mut got = seen.clone();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), seen.len(), "a message arrived twice");
    assert_eq!(got, written, "every message written arrived");
}

/// Other nodes' hubs send the events they numbered over NATS, and a hub takes
/// them as they are: here events that no database holds, so they cannot have
/// been read from the log. A batch that does not follow on from what the hub
/// holds is left (the hub reads the log instead), and so is another
/// cluster's (clusters on different databases may share a NATS server).
#[tokio::test]
async fn a_hub_takes_its_clusters_events_from_nats_in_order_and_no_others() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        eprintln!("skipped: needs SWITCHBOARD_TEST_DATABASE=postgres (and NATS)");
        return;
    }
    use switchboard_server::hub::Hub;
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite").display()
    );
    let db = switchboard_server::db::Db::connect(&url).await.unwrap();
    let hub = Hub::start(db).await.unwrap();
    hub.connect_nats(&test_nats_url()).await.unwrap();
    assert_eq!(hub.latest_seq(), 0, "an empty log");
    let peer = hub.peer_subjects().unwrap().replace('*', "peer-node");
    let elsewhere = "switchboard.another-cluster.log.peer-node";

    let nats = async_nats::connect(test_nats_url()).await.unwrap();
    let send = |subject: String, seqs: &[i64], from: &str| {
        let batch: Vec<Value> = seqs
            .iter()
            .map(|seq| {
                json!({
                    "seq": seq,
                    "name": "test.from_peer",
                    "conversation_id": 7,
                    "visitor_id": null,
                    "data": json!({ "from": from, "seq": seq }).to_string(),
                })
            })
            .collect();
        let nats = nats.clone();
        async move {
            nats.publish(subject, serde_json::to_vec(&batch).unwrap().into())
                .await
                .unwrap();
            nats.flush().await.unwrap();
        }
    };
    let wait_for = |seq: i64| {
        let hub = &hub;
        async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            while hub.latest_seq() < seq {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the hub holds {} after 5 s, not {seq}",
                    hub.latest_seq()
                );
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    };
    send(elsewhere.into(), &[1], "another cluster").await;
    send(peer.clone(), &[1, 2], "this cluster").await;
    wait_for(2).await;
    // One NATS connection delivers in order: once the hub holds seq 3 below,
    // it has seen (and left) the batch sent before it.
    send(peer.clone(), &[5], "after a gap").await;
    send(peer.clone(), &[2, 3], "this cluster").await;
    wait_for(3).await;

    let expected: Vec<(i64, String)> = (1..=3)
        .map(|seq| {
            (
                seq,
                json!({ "from": "this cluster", "seq": seq }).to_string(),
            )
        })
        .collect();
    let held: Vec<(i64, String)> = hub
        .events_after(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.seq, e.data.clone()))
        .collect();
    assert_eq!(held, expected);
    assert_eq!(hub.latest_seq(), 3);
}

/// An operator with the app open on one node is present on every node: a
/// visitor arriving through the other node sees the team online, colleagues
/// there see them online, and both follow when the app closes. (Before, each
/// node knew only its own streams: with two nodes behind a balancer, half the
/// visitors saw an empty team, and notification emails went out at once for
/// operators who had the app open on the other node.) A node that stops says
/// so on its way out.
#[tokio::test]
async fn an_operator_connected_to_one_node_is_present_on_every_node() {
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let token = admin_login(&http, &a).await;
    // One visitor asks again and again (new visitors would soon meet the
    // per-address limit on sessions).
    let visitor = widget_session(&http, &b.url()).await["visitor_token"].clone();
    let seen_from_b = || async {
        let session =
            widget_session_with(&http, &b.url(), json!({ "visitor_token": visitor })).await;
        let team: Value = http
            .get(format!("{}/api/v1/team", b.url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            session["online"].as_bool().unwrap(),
            team[0]["presence"].as_str().unwrap().to_string(),
        )
    };
    let becomes = |expected: (bool, &'static str)| {
        let seen_from_b = &seen_from_b;
        async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            loop {
                let seen = seen_from_b().await;
                if (seen.0, seen.1.as_str()) == expected {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "node B still shows {seen:?}, not {expected:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    becomes((false, "offline")).await;

    let app = operator_stream(&a, &token).await;
    becomes((true, "online")).await;

    drop(app);
    becomes((false, "offline")).await;

    // A node that stops tells the others first: its operators stop counting
    // at once, not when its last word runs out (the app here is still
    // connected to it, so only that word can take them offline).
    let app = operator_stream(&a, &token).await;
    becomes((true, "online")).await;
    assert!(!b.state.hub.other_nodes().is_empty());
    let left_at = std::time::Instant::now();
    a.state.hub.leave().await;
    becomes((false, "offline")).await;
    // …and the node itself stops counting there: nobody asks it anything.
    while !b.state.hub.other_nodes().is_empty() {
        assert!(
            left_at.elapsed() < std::time::Duration::from_secs(2),
            "node B forgets node A well before its last word runs out (7 s)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(app);
}

/// Waits until the two nodes agree which of them numbers the log; returns
/// (the numbering node, the other).
async fn numbering_pair<'n>(
    a: &'n switchboard_server::RunningServer,
    b: &'n switchboard_server::RunningServer,
) -> (
    &'n switchboard_server::RunningServer,
    &'n switchboard_server::RunningServer,
) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (hub_a, hub_b) = (&a.state.hub, &b.state.hub);
        let asks = |hub: &switchboard_server::hub::Hub, other: &switchboard_server::hub::Hub| {
            hub.numbering_node().as_deref() == other.node_name() && other.numbering_node().is_none()
        };
        if asks(hub_a, hub_b) {
            return (b, a);
        }
        if asks(hub_b, hub_a) {
            return (a, b);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes did not agree who numbers the log in 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Sends `bodies` one after another as a new visitor through `node`.
async fn visitor_says(http: &reqwest::Client, node: &str, bodies: &[String]) {
    let session = widget_session(http, node).await;
    let visitor = session["visitor_token"].as_str().unwrap().to_string();
    for (i, body) in bodies.iter().enumerate() {
        let r = http
            .post(format!("{node}/api/v1/widget/messages"))
            .header("x-visitor-token", &visitor)
            .json(&json!({ "body": body, "client_id": format!("m{i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
}

/// An operator stream on `node`, past its `ready` frame.
async fn operator_stream(node: &switchboard_server::RunningServer, token: &str) -> Ws {
    let base = node.url().replacen("http://", "ws://", 1);
    let mut ws = connect(&format!("{base}/api/v1/stream?token={token}")).await;
    assert_eq!(next_frame(&mut ws).await["type"], "ready");
    ws
}

/// The NATS subjects' prefix of the node's cluster: `switchboard.<cluster>`.
fn cluster_prefix(node: &switchboard_server::RunningServer) -> String {
    let subjects = node.state.hub.peer_subjects().unwrap();
    subjects.strip_suffix(".log.*").unwrap().to_string()
}

/// A "node" named `name` tells its presence on NATS; returns once each of
/// `nodes` takes it for the lowest (a name shorter than the real nodes' 16
/// hex digits sorts before them).
async fn pose_as_lowest_node(
    nats: &async_nats::Client,
    prefix: &str,
    name: &str,
    nodes: &[&switchboard_server::RunningServer],
) {
    nats.publish(format!("{prefix}.presence.{name}"), "[]".into())
        .await
        .unwrap();
    nats.flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while nodes
        .iter()
        .any(|n| n.state.hub.lowest_node().as_deref() != Some(name))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes did not hear of node {name}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A visitor's widget stream on `node`, once it is ready.
async fn widget_stream(node: &switchboard_server::RunningServer, visitor_token: &str) -> Ws {
    let base = node.url().replacen("http://", "ws://", 1);
    let mut ws = connect(&format!(
        "{base}/api/v1/widget/stream?visitor_token={visitor_token}"
    ))
    .await;
    assert_eq!(next_frame(&mut ws).await["type"], "ready");
    ws
}

/// Waits until each of two nodes has heard of the other.
async fn nodes_met(a: &switchboard_server::RunningServer, b: &switchboard_server::RunningServer) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while a.state.hub.other_nodes().is_empty() || b.state.hub.other_nodes().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the nodes met");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The bodies of the next `n` messages a stream shows.
async fn next_bodies(ws: &mut Ws, n: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    while bodies.len() < n {
        let e = next_event(ws, "message.created").await;
        bodies.push(e["data"]["body"].as_str().unwrap().to_string());
    }
    bodies
}

/// One node numbers the log for both: the other, woken by its own writers,
/// asks it over NATS instead of numbering (before, each node numbered after
/// its own commits: twice the passes on PostgreSQL, taking turns on the
/// log's lock). Messages written through the node that asks — visitors'
/// sends, handed to the numbering node's writer, and an operator's answers,
/// written where they were taken — reach the streams on both nodes, in
/// order, without a single numbering pass of its own.
#[tokio::test]
async fn one_node_numbers_the_log_for_both_and_the_other_asks_it() {
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    let (numbering, asking) = numbering_pair(&a, &b).await;
    let http = reqwest::Client::new();
    let token = admin_login(&http, &a).await;
    let mut on_numbering = operator_stream(numbering, &token).await;
    let mut on_asking = operator_stream(asking, &token).await;

    let passes_before = asking.state.hub.own_numbering_passes();
    let numbering_before = numbering.state.hub.own_numbering_passes();
    let bodies: Vec<String> = (0..10)
        .map(|i| format!("through the asking node {i}"))
        .collect();
    // Visitors' sends go to the numbering node's writer (`cluster_sends`)…
    visitor_says(&http, &asking.url(), &bodies).await;
    assert_eq!(next_bodies(&mut on_numbering, 10).await, bodies);
    let mut conversation = 0;
    for body in &bodies {
        let e = next_event(&mut on_asking, "message.created").await;
        assert_eq!(e["data"]["body"], body.as_str());
        conversation = e["data"]["conversation_id"].as_i64().unwrap();
    }
    // …while an operator's answer is written by the node that took it,
    // whose hub then asks the numbering node for a pass.
    let answers: Vec<String> = (0..3)
        .map(|i| format!("answered on the asking node {i}"))
        .collect();
    for (i, body) in answers.iter().enumerate() {
        let r = http
            .post(format!(
                "{}/api/v1/conversations/{conversation}/messages",
                asking.url()
            ))
            .bearer_auth(&token)
            .json(&json!({ "body": body, "client_id": format!("op{i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    assert_eq!(next_bodies(&mut on_asking, 3).await, answers);
    assert_eq!(next_bodies(&mut on_numbering, 3).await, answers);
    assert_eq!(
        asking.state.hub.own_numbering_passes(),
        passes_before,
        "the asking node numbered the log itself"
    );
    assert!(numbering.state.hub.own_numbering_passes() > numbering_before);
    a.stop();
    b.stop();
}

/// A numbering node that does not answer — nobody listens where it is asked
/// (it stopped, or runs a version that does not answer), or it listens and
/// hangs — costs nothing but time: each node numbers the log itself and
/// every message arrives. Here a third "node" with a name lower than any
/// real one tells its presence, so both real nodes ask it.
#[tokio::test]
async fn when_the_numbering_node_does_not_answer_each_node_numbers_itself() {
    use futures_util::StreamExt;
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    numbering_pair(&a, &b).await;
    let prefix = cluster_prefix(&a);
    let nats = async_nats::connect(test_nats_url()).await.unwrap();
    let http = reqwest::Client::new();
    let token = admin_login(&http, &a).await;
    let mut stream = operator_stream(&a, &token).await;

    // Node names are 16 hex digits: "00", then "0", sort before any.
    for (node, hangs) in [("00", false), ("0", true)] {
        let mut hanging = match hangs {
            true => Some(
                nats.subscribe(format!("{prefix}.number.{node}"))
                    .await
                    .unwrap(),
            ),
            false => None,
        };
        pose_as_lowest_node(&nats, &prefix, node, &[&a, &b]).await;
        let passes_before = [&a, &b].map(|n| n.state.hub.own_numbering_passes());
        let bodies: Vec<String> = (0..4).map(|i| format!("node {node} away: {i}")).collect();
        visitor_says(&http, &a.url(), &bodies[..2]).await;
        visitor_says(&http, &b.url(), &bodies[2..]).await;
        let mut got = next_bodies(&mut stream, 4).await;
        got.sort();
        assert_eq!(got, bodies, "node {node} away: every message arrived");
        // A node whose ask is still waiting out its timeout has its messages
        // shown by the other one's pass already: wait for both passes.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let passes_after = [&a, &b].map(|n| n.state.hub.own_numbering_passes());
            if passes_after[0] > passes_before[0] && passes_after[1] > passes_before[1] {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {node} away: each node numbered itself ({passes_before:?} → {passes_after:?})"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        if let Some(asked) = hanging.as_mut() {
            let request = tokio::time::timeout(std::time::Duration::from_secs(5), asked.next())
                .await
                .expect("the hanging node was asked")
                .unwrap();
            assert!(request.reply.is_some(), "asked with a subject to answer on");
        }
    }
    a.stop();
    b.stop();
}

/// Visitors' sends on either node are written by one, the node that numbers
/// the log: the other hands them over NATS and answers its visitors once the
/// writer has made them durable (two nodes committing their own batches
/// queued on the database's WAL: BENCHMARKS, "Where the second node's cost
/// lands"). Every message reaches a stream on the node that handed it over.
#[tokio::test]
async fn visitors_sends_on_both_nodes_are_written_by_one() {
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    let (writer, other) = numbering_pair(&a, &b).await;
    let http = reqwest::Client::new();
    let token = admin_login(&http, &a).await;
    let mut stream = operator_stream(other, &token).await;

    let bodies: Vec<String> = (0..6).map(|i| format!("written by one {i}")).collect();
    visitor_says(&http, &other.url(), &bodies[..3]).await;
    visitor_says(&http, &writer.url(), &bodies[3..]).await;
    let mut got = next_bodies(&mut stream, 6).await;
    got.sort();
    assert_eq!(
        got, bodies,
        "each message once, on the node that handed it over too"
    );
    assert_eq!(
        other.state.cluster_sends.forwarded(),
        3,
        "the other node's sends went to the writer"
    );
    assert_eq!(writer.state.cluster_sends.forwarded(), 0);
    a.stop();
    b.stop();
}

/// A writer that takes a send and never answers: the send is refused with
/// 503, as whether it was stored is not known; the node then writes its own
/// sends, and the visitor's retry with the same `client_id` is stored once.
#[tokio::test]
async fn a_writer_that_does_not_answer_costs_one_refusal_then_the_node_writes_itself() {
    use futures_util::StreamExt;
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    numbering_pair(&a, &b).await;
    let prefix = cluster_prefix(&a);
    let nats = async_nats::connect(test_nats_url()).await.unwrap();
    // "0" sorts before any real node's name (16 hex digits): both take it for
    // the writer. It listens where it is asked to write, and never answers.
    let mut asked = nats.subscribe(format!("{prefix}.write.0")).await.unwrap();
    pose_as_lowest_node(&nats, &prefix, "0", &[&a]).await;
    let http = reqwest::Client::new();
    let token = admin_login(&http, &a).await;
    let mut stream = operator_stream(&a, &token).await;

    let session = widget_session(&http, &a.url()).await;
    let visitor = session["visitor_token"].as_str().unwrap().to_string();
    let send = || {
        http.post(format!("{}/api/v1/widget/messages", a.url()))
            .header("x-visitor-token", &visitor)
            .json(&json!({ "body": "are you there?", "client_id": "retry-me" }))
            .send()
    };
    let refused = send().await.unwrap();
    assert_eq!(refused.status(), 503, "not known whether it was stored");
    assert!(refused.headers().contains_key("retry-after"));
    let request = tokio::time::timeout(std::time::Duration::from_secs(5), asked.next())
        .await
        .expect("the silent writer was asked")
        .unwrap();
    assert!(request.reply.is_some(), "asked with a subject to answer on");

    let stored = send().await.unwrap();
    assert_eq!(stored.status(), 201, "written on the node itself now");
    assert_eq!(next_bodies(&mut stream, 1).await, ["are you there?"]);
    let again = send().await.unwrap();
    assert_eq!(
        again.status(),
        200,
        "the same client_id is not stored twice"
    );
    a.stop();
    b.stop();
}

/// Whether a visitor's widget is open decides whether an operator's answer
/// is also emailed to them, and any node's notifier may decide: a node asks
/// the others about a visitor whose widget is not connected to it. Before,
/// each node knew only its own widgets, so a visitor watching the chat
/// through one node got every answer emailed too whenever the other node's
/// notifier took the message.
#[tokio::test]
async fn a_widget_open_on_one_node_counts_as_present_on_every_node() {
    let Some(TwoNodes { a, b, _dir }) = two_nodes(None, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    // Each node has heard of the other (presence goes out at start).
    nodes_met(&a, &b).await;
    let session = widget_session(&http, &b.url()).await;
    let visitor = session["visitor_id"].as_i64().unwrap();
    let token = session["visitor_token"].as_str().unwrap();
    assert!(!a.state.hub.visitor_present_in_cluster(visitor).await);

    let widget = widget_stream(&b, token).await;
    assert!(b.state.hub.visitor_present(visitor));
    assert!(
        !a.state.hub.visitor_present(visitor),
        "node A holds no stream of theirs"
    );
    assert!(
        a.state.hub.visitor_present_in_cluster(visitor).await,
        "node B says the visitor is on the site"
    );

    drop(widget);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while a.state.hub.visitor_present_in_cluster(visitor).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gone from every node once the widget closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    a.stop();
    b.stop();
}

/// The same end to end, over SMTP: an operator answers through node B a
/// visitor who left their address and watches the chat through node A. No
/// answer is emailed to them, whichever node's notifier takes it; once
/// their widget closes, the next answer is. (Here node B's notifier took
/// the answers in every run: with each node asking only itself, the
/// visitor got each of them by email.)
#[tokio::test]
async fn an_answer_is_not_emailed_to_a_visitor_watching_the_chat_through_another_node() {
    const VISITOR_EMAIL: &str = "anna@example.org";
    let mut sink = SmtpSink::start();
    let Some(TwoNodes { a, b, _dir }) = two_nodes(Some(sink.url()), |_| {}).await else {
        return;
    };
    nodes_met(&a, &b).await;
    let http = reqwest::Client::new();
    let token = admin_login(&http, &b).await;
    let session = widget_session(&http, &a.url()).await;
    let visitor_id = session["visitor_id"].as_i64().unwrap();
    let visitor = session["visitor_token"].as_str().unwrap().to_string();
    let contact = http
        .put(format!("{}/api/v1/widget/contact", a.url()))
        .header("x-visitor-token", &visitor)
        .json(&json!({ "email": VISITOR_EMAIL, "name": "Anna" }))
        .send()
        .await
        .unwrap();
    assert_eq!(contact.status(), 204);
    let widget = widget_stream(&a, &visitor).await;
    let first: Value = http
        .post(format!("{}/api/v1/widget/messages", a.url()))
        .header("x-visitor-token", &visitor)
        .json(&json!({ "body": "Do you ship to Kazan?", "client_id": "v1" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    let answer = |body: String| {
        http.post(format!(
            "{}/api/v1/conversations/{conversation}/messages",
            b.url()
        ))
        .bearer_auth(&token)
        .json(&json!({ "body": body, "client_id": body }))
        .send()
    };

    // Apart, so that each is taken by whichever notifier passes first (with
    // each node asking only itself, 8 or 9 of the 10 were emailed to her).
    let mut answers = Vec::new();
    for i in 0..10 {
        let posted = answer(format!("answer {i}")).await.unwrap();
        assert_eq!(posted.status(), 201);
        answers.push(
            posted.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap(),
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A notifier queues an email in the transaction that claims the message:
    // once every answer is claimed, the outbox says whether any went to her.
    let mut db = a.state.db.pool.acquire().await.unwrap();
    let claimed = format!(
        "SELECT count(*) FROM notified_messages WHERE message_id IN ({})",
        answers
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n: i64 = sqlx::query_scalar(&claimed)
            .fetch_one(&mut *db)
            .await
            .unwrap();
        if n == answers.len() as i64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notifiers took the answers"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let to_her: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE rcpt_to = $1")
        .bind(VISITOR_EMAIL)
        .fetch_one(&mut *db)
        .await
        .unwrap();
    assert_eq!(to_her, 0, "no answer emailed to a visitor on the site");

    drop(widget);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while b.state.hub.visitor_present_in_cluster(visitor_id).await
        || a.state.hub.visitor_present(visitor_id)
    {
        assert!(tokio::time::Instant::now() < deadline, "the widget closed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(answer("after you left".into()).await.unwrap().status(), 201);
    let emailed = sink.next_to(VISITOR_EMAIL).await;
    assert!(
        emailed.text().starts_with("after you left"),
        "{}",
        emailed.text()
    );
    a.stop();
    b.stop();
}
