//! Crash test: `kill -9` the server binary while visitors are sending, start it
//! again, and check that every message that got a 201 is stored exactly once
//! and reached the operator's stream exactly once (after resume).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

fn start_binary(data_dir: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--http",
            &format!("127.0.0.1:{port}"),
            "--smtp-in",
            "off",
            // Twelve visitors writing without pause from one address.
            "--visitor-limit-factor",
            "1000",
            "--address-limit-factor",
            "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on"), "{line}");
    child
}

#[tokio::test]
async fn kill_9_under_load_loses_and_duplicates_nothing() {
    const VISITORS: usize = 12;
    const EACH: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "admin",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--password",
            ADMIN_PASSWORD,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let mut server = start_binary(dir.path(), port);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();

    // The operator's stream: records every message id and the last seq, and
    // reconnects with `since` whenever the connection drops.
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let operator = {
        let (seen, stop) = (seen.clone(), stop.clone());
        let ws_base = format!("ws://127.0.0.1:{port}/api/v1/stream?token={token}");
        tokio::spawn(async move {
            let mut last_seq: Option<i64> = None;
            let mut reconnects = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let url = match last_seq {
                    Some(s) => format!("{ws_base}&since={s}"),
                    None => ws_base.clone(),
                };
                let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                reconnects += 1;
                loop {
                    let next = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
                    let frame: Value = match next {
                        Ok(Some(Ok(WsMessage::Text(text)))) => serde_json::from_str(&text).unwrap(),
                        Ok(Some(Ok(_))) => continue,
                        Ok(_) => break, // the server died
                        Err(_) if stop.load(std::sync::atomic::Ordering::SeqCst) => break,
                        Err(_) => continue,
                    };
                    match frame["type"].as_str() {
                        Some("ready") if last_seq.is_none() => last_seq = frame["seq"].as_i64(),
                        Some("reset") => panic!("the log must still hold everything"),
                        Some("event") => {
                            let seq = frame["seq"].as_i64().unwrap();
                            assert!(
                                last_seq.is_none_or(|l| seq > l),
                                "seq {seq} after {last_seq:?}"
                            );
                            last_seq = Some(seq);
                            if frame["event"] == "message.created" {
                                seen.lock()
                                    .unwrap()
                                    .push(frame["data"]["id"].as_i64().unwrap());
                            }
                        }
                        _ => {}
                    }
                }
            }
            reconnects
        })
    };

    let mut tokens = Vec::new();
    for _ in 0..VISITORS {
        let s: Value = http
            .post(format!("{base}/widget/session"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(s["visitor_token"].as_str().unwrap().to_string());
    }
    // Visitors send without pause; a send whose answer is lost is retried with
    // the same client_id until it gets one (as the widget does).
    let acknowledged: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let senders: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(v, visitor)| {
            let (http, base, acknowledged) = (http.clone(), base.clone(), acknowledged.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while i < EACH {
                    let client_id = format!("{v}-{i}");
                    let sent = http
                        .post(format!("{base}/widget/messages"))
                        .header("x-visitor-token", &visitor)
                        .json(&json!({ "body": format!("visitor {v} message {i}"), "client_id": client_id }))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
                            let mut acked = acknowledged.lock().unwrap();
                            if let Some(first) = acked.insert(client_id.clone(), id) {
                                assert_eq!(first, id, "a retry returns the first message");
                            }
                            i += 1;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(30)).await,
                    }
                }
            })
        })
        .collect();

    // Kill when about a third is acknowledged, however fast the server is:
    // messages are in flight in every state (received, in a transaction,
    // committed but not yet answered).
    while acknowledged.lock().unwrap().len() < VISITORS * EACH / 3 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let before_crash = acknowledged.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut server = start_binary(dir.path(), port);
    for s in senders {
        s.await.unwrap();
    }
    let acked: HashMap<String, i64> = acknowledged.lock().unwrap().clone();
    // Let the stream catch up, then stop it.
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= acked.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reconnects = operator.await.unwrap();

    // Everything stored, once.
    let mut stored: Vec<(String, i64)> = Vec::new();
    let conversations: Value = http
        .get(format!("{base}/conversations?limit=200"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for c in conversations["items"].as_array().unwrap() {
        let mut before = String::new();
        loop {
            let page: Value = http
                .get(format!(
                    "{base}/conversations/{}/messages?limit=200{before}",
                    c["id"]
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for m in page["items"].as_array().unwrap() {
                stored.push((
                    m["client_id"].as_str().unwrap().to_string(),
                    m["id"].as_i64().unwrap(),
                ));
            }
            match page["next"].as_str() {
                Some(n) => before = format!("&before={n}"),
                None => break,
            }
        }
    }
    let stored_ids: HashSet<i64> = stored.iter().map(|(_, id)| *id).collect();
    let stored_client_ids: HashSet<&String> = stored.iter().map(|(c, _)| c).collect();
    let acked_ids: HashSet<i64> = acked.values().copied().collect();
    let seen = seen.lock().unwrap().clone();
    let seen_set: HashSet<i64> = seen.iter().copied().collect();
    println!(
        "crash test: {} acknowledged ({} before the kill), {} stored, {} streamed, {} stream connections",
        acked.len(),
        before_crash,
        stored.len(),
        seen.len(),
        reconnects
    );
    assert!(before_crash > 0, "the kill came under load");
    assert_eq!(stored.len(), stored_ids.len());
    assert_eq!(
        stored_client_ids.len(),
        stored.len(),
        "no client_id stored twice"
    );
    assert_eq!(
        stored_ids, acked_ids,
        "every acknowledged message is stored, and nothing else"
    );
    assert_eq!(seen.len(), seen_set.len(), "no message streamed twice");
    assert_eq!(
        seen_set, acked_ids,
        "every acknowledged message reached the operator"
    );
    assert!(reconnects >= 2, "the stream resumed after the crash");
    server.kill().ok();
    server.wait().ok();
}
