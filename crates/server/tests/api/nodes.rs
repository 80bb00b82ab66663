//! Two server nodes on one PostgreSQL database with NATS fan-out: a visitor on
//! node A, an operator streaming from node B. Runs in the PostgreSQL pass
//! (`SWITCHBOARD_TEST_DATABASE=postgres`); with SQLite there is one node.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_visitor_on_one_node_reaches_an_operator_on_another_and_resume_works_across_nodes() {
    if std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() != Ok("postgres") {
        eprintln!("skipped: needs SWITCHBOARD_TEST_DATABASE=postgres");
        return;
    }
    let nats =
        std::env::var("SWITCHBOARD_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let dir = tempfile::tempdir().unwrap();
    let mut config_a = test_config(dir.path(), None).await;
    config_a.nats_url = Some(nats.clone());
    let mut config_b = config_a.clone();
    config_b.data_dir = dir.path().join("node-b");
    let node_a = switchboard_server::start(config_a).await.unwrap();
    let node_b = switchboard_server::start(config_b).await.unwrap();
    switchboard_server::services::accounts::create_admin(
        &node_a.state,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        Some("Ada"),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}/api/v1/auth/login", node_b.url()))
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let ws = |node: &switchboard_server::RunningServer, since: Option<i64>| {
        let base = node.url().replacen("http://", "ws://", 1);
        match since {
            Some(s) => format!("{base}/api/v1/stream?token={token}&since={s}"),
            None => format!("{base}/api/v1/stream?token={token}"),
        }
    };
    let mut on_b = connect(&ws(&node_b, None)).await;
    next_frame(&mut on_b).await;

    let session: Value = http
        .post(format!("{}/api/v1/widget/session", node_a.url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
