//! Delivery benchmark (prints figures, asserts nothing):
//! visitor → operator latency and throughput through the full server (HTTP send,
//! SQLite write, event log, hub, websocket), next to a bare websocket relay
//! measured in the same run on the same machine, and the latency of an emailed
//! reply from the SMTP listener to the operator's stream.
//!
//! Run: cargo bench -p switchboard-server --bench delivery [-- VISITORS MESSAGES_EACH]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as AxMsg, WebSocketUpgrade};
use axum::extract::State;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Sent = Arc<Mutex<HashMap<String, Instant>>>;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let visitors = args.first().copied().unwrap_or(300);
    let each = args.get(1).copied().unwrap_or(10);
    println!(
        "delivery benchmark: {visitors} concurrent visitors × {each} messages, 1 operator stream\n"
    );

    let bare = bare_relay(visitors, each).await;
    let full = full_server(visitors, each).await;
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>10}",
        "", "p50 ms", "p99 ms", "max ms", "msg/s"
    );
    print_row("bare websocket relay (baseline)", &bare);
    print_row("switchboard (HTTP → SQLite → ws)", &full);
    println!(
        "\nratio full/bare: p50 ×{:.1}, p99 ×{:.1}, throughput ×{:.2}",
        pct(&full.0, 50.0) / pct(&bare.0, 50.0).max(0.001),
        pct(&full.0, 99.0) / pct(&bare.0, 99.0).max(0.001),
        full.1 / bare.1
    );
    let (lettre, nodelay) = email_replies(100).await;
    println!(
        "\nemailed reply, SMTP transaction started → operator stream, {} replies each:",
        lettre.len()
    );
    for (label, samples) in [
        ("lettre client (Nagle on)", &lettre),
        ("client with TCP_NODELAY", &nodelay),
    ] {
        println!(
            "  {label:<26} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            pct(samples, 50.0),
            pct(samples, 99.0),
            pct(samples, 100.0)
        );
    }
}

fn pct(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if s.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (s.len() - 1) as f64).round() as usize;
    s[idx.min(s.len() - 1)]
}

fn print_row(name: &str, (lat, rate): &(Vec<f64>, f64)) {
    println!(
        "{name:<34} {:>9.2} {:>9.2} {:>9.2} {:>10.0}",
        pct(lat, 50.0),
        pct(lat, 99.0),
        pct(lat, 100.0),
        rate
    );
}

/// Collects `expected` messages from an operator-side socket, matching client ids.
async fn collect<S>(mut ws: S, sent: Sent, expected: usize) -> Vec<f64>
where
    S: StreamExt<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut latencies = Vec::with_capacity(expected);
    while latencies.len() < expected {
        let text = match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue, // pings
            _ => {
                eprintln!("timed out with {} of {expected}", latencies.len());
                break;
            }
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        let client_id = frame["data"]["client_id"]
            .as_str()
            .or(frame["client_id"].as_str())
            .map(str::to_string);
        if let Some(id) = client_id {
            if let Some(at) = sent.lock().unwrap().remove(&id) {
                latencies.push(at.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    latencies
}

/// A relay with no storage: visitors' websocket frames are broadcast to operators.
async fn bare_relay(visitors: usize, each: usize) -> (Vec<f64>, f64) {
    let (tx, _) = broadcast::channel::<String>(65_536);
    let app = axum::Router::new()
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade, State(tx): State<broadcast::Sender<String>>| async move {
                ws.on_upgrade(move |mut socket| async move {
                    let mut rx = tx.subscribe();
                    loop {
                        tokio::select! {
                            Some(Ok(AxMsg::Text(t))) = socket.recv() => { let _ = tx.send(t.to_string()); }
                            Ok(t) = rx.recv() => { if socket.send(AxMsg::Text(t.into())).await.is_err() { break } }
                            else => break,
                        }
                    }
                })
            }),
        )
        .with_state(tx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (operator, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let sent: Sent = Arc::default();
    let collector = tokio::spawn(collect(operator, sent.clone(), visitors * each));
    let mut sockets = Vec::new();
    for _ in 0..visitors {
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let (sink, mut stream) = ws.split();
        tokio::spawn(async move { while stream.next().await.is_some() {} });
        sockets.push(sink);
    }
    let start = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(v, mut sink)| {
            let sent = sent.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    let id = format!("b{v}-{i}");
                    sent.lock().unwrap().insert(id.clone(), Instant::now());
                    sink.send(WsMessage::Text(
                        json!({ "client_id": id, "body": "hello" })
                            .to_string()
                            .into(),
                    ))
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let latencies = collector.await.unwrap();
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    (latencies, rate)
}

/// The bench admin's operator stream on this server.
async fn operator_stream(
    http: &reqwest::Client,
    api: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let login: Value = http
        .post(format!("{api}/auth/login"))
        .json(&json!({ "email": "bench@example.com", "password": "bench-password" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws_url = format!(
        "{}/stream?token={}",
        api.replacen("http://", "ws://", 1),
        login["token"].as_str().unwrap()
    );
    tokio_tungstenite::connect_async(&ws_url).await.unwrap().0
}

async fn full_server(visitors: usize, each: usize) -> (Vec<f64>, f64) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = switchboard_server::Config::for_data_dir(dir.path());
    // One address plays every visitor: its per-address limits are raised
    // (per-visitor ones stay; ten messages each stay under them).
    config.limits = config.limits.clone().with_address_factor(1000);
    let server = switchboard_server::start(config).await.unwrap();
    switchboard_server::services::accounts::create_admin(
        &server.state,
        "bench@example.com",
        "bench-password",
        Some("Bench"),
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(visitors)
        .build()
        .unwrap();
    let api = format!("{}/api/v1", server.url());
    let operator = operator_stream(&http, &api).await;
    let sent: Sent = Arc::default();
    let collector = tokio::spawn(collect(operator, sent.clone(), visitors * each));

    let mut tokens = Vec::new();
    for _ in 0..visitors {
        let s: Value = http
            .post(format!("{api}/widget/session"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(s["visitor_token"].as_str().unwrap().to_string());
    }
    let start = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(v, token)| {
            let (http, api, sent) = (http.clone(), api.clone(), sent.clone());
            tokio::spawn(async move {
                for i in 0..each {
                    let id = format!("f{v}-{i}");
                    sent.lock().unwrap().insert(id.clone(), Instant::now());
                    let r = http
                        .post(format!("{api}/widget/messages"))
                        .header("x-visitor-token", &token)
                        .json(&json!({ "body": "hello", "client_id": id }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let latencies = collector.await.unwrap();
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    (latencies, rate)
}

/// Replies sent over SMTP to the listener, timed until they reach the stream.
async fn email_replies(count: usize) -> (Vec<f64>, Vec<f64>) {
    use lettre::address::Envelope;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let dir = tempfile::tempdir().unwrap();
    let mut config = switchboard_server::Config::for_data_dir(dir.path());
    config.smtp_in = Some("127.0.0.1:0".parse().unwrap());
    let server = switchboard_server::start(config).await.unwrap();
    let state = server.state.clone();
    switchboard_server::services::accounts::create_admin(
        &state,
        "bench@example.com",
        "bench-password",
        Some("Bench"),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1", server.url());
    let s: Value = http
        .post(format!("{api}/widget/session"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m: Value = http
        .post(format!("{api}/widget/messages"))
        .header("x-visitor-token", s["visitor_token"].as_str().unwrap())
        .json(&json!({ "body": "hello", "client_id": "x" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conversation = m["conversation_id"].as_i64().unwrap();
    let admin = switchboard_server::store::users::by_email(
        &state.db,
        &switchboard_server::domain::email::EmailAddress::parse("bench@example.com").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let signed = state.sign_reply(&switchboard_server::domain::reply_token::ReplyToken {
        conversation_id: conversation,
        recipient: switchboard_server::domain::reply_token::Recipient::User(admin.id),
    });
    let reply_to =
        switchboard_server::domain::reply_token::address(&signed, &state.config.reply_domain);
    let mut operator = operator_stream(&http, &api).await;
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.smtp_in.unwrap().port())
        .build();
    let envelope = Envelope::new(
        Some("bench@example.com".parse().unwrap()),
        vec![reply_to.parse().unwrap()],
    )
    .unwrap();
    let port = server.smtp_in.unwrap().port();
    let mut latencies = Vec::new();
    let mut nodelay = Vec::new();
    for i in 0..2 * count {
        let raw = format!(
            "From: <bench@example.com>\r\nTo: <{reply_to}>\r\nSubject: Re: hi\r\nMessage-ID: <bench-{i}@example.com>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nReply number {i}\r\n\r\nOn Wed, Switchboard wrote:\r\n> hello\r\n"
        );
        let at = Instant::now();
        if i < count {
            smtp.send_raw(&envelope, raw.as_bytes()).await.unwrap();
        } else {
            send_without_nagle(port, &reply_to, &raw).await;
        }
        loop {
            let text = match operator.next().await {
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(_)) => continue, // pings
                _ => panic!("stream closed"),
            };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["event"] == "message.created"
                && frame["data"]["body"] == format!("Reply number {i}")
            {
                let ms = at.elapsed().as_secs_f64() * 1000.0;
                if i < count {
                    latencies.push(ms);
                } else {
                    nodelay.push(ms);
                }
                break;
            }
        }
    }
    (latencies, nodelay)
}

/// One SMTP transaction from a client with TCP_NODELAY (as a mail server
/// that sets it would send): the message, its final dot and QUIT in one write.
async fn send_without_nagle(port: u16, to: &str, raw: &str) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    // The last line of a reply ("250 …", not "250-…").
    let mut reply = async || loop {
        let line = lines.next_line().await.unwrap().unwrap();
        if line.as_bytes().get(3) != Some(&b'-') {
            return line;
        }
    };
    assert!(reply().await.starts_with("220"));
    for (command, code) in [
        ("EHLO bench.test".to_string(), "250"),
        ("MAIL FROM:<bench@example.com>".to_string(), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        write
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        let answer = reply().await;
        assert!(answer.starts_with(code), "{command}: {answer}");
    }
    write
        .write_all(format!("{raw}\r\n.\r\nQUIT\r\n").as_bytes())
        .await
        .unwrap();
    let answer = reply().await;
    assert!(answer.starts_with("250"), "{answer}");
}
