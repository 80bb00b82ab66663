//! switchboard-loadgen: drives N visitors (each holding its widget websocket) and
//! M operators (each holding the operator stream) against one or several running
//! server nodes, sends visitor messages at a fixed rate over HTTP, and prints
//! delivery latency to the operators (p50/p99/max), accepted messages per second,
//! and the server processes' CPU and memory (and memory per connection) — next
//! to a bare websocket relay driven the same way in the same run. The relay runs
//! in a child process of its own (`--serve-relay`), as the server does, so both
//! are measured alike and neither shares a process with the load.
//!
//! Usage: switchboard-loadgen --url http://127.0.0.1:8080 [--url …] --email E --password P
//!        [--visitors 1000] [--operators 10] [--rate 500] [--seconds 10] [--pid PID …]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as AxMsg, WebSocketUpgrade};
use axum::extract::State;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message as WsMessage;

struct Args {
    urls: Vec<String>,
    email: String,
    password: String,
    visitors: usize,
    operators: usize,
    rate: usize,
    seconds: u64,
    pids: Vec<u32>,
}

fn parse_args() -> Args {
    let mut a = Args {
        urls: vec![],
        email: String::new(),
        password: String::new(),
        visitors: 1000,
        operators: 10,
        rate: 500,
        seconds: 10,
        pids: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.urls.push(value().trim_end_matches('/').to_string()),
            "--email" => a.email = value(),
            "--password" => a.password = value(),
            "--visitors" => a.visitors = value().parse().expect("--visitors N"),
            "--operators" => a.operators = value().parse().expect("--operators N"),
            "--rate" => a.rate = value().parse().expect("--rate N"),
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--pid" => a.pids.push(value().parse().expect("--pid PID")),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!a.urls.is_empty(), "give at least one --url");
    a
}

type Sent = Arc<Mutex<HashMap<String, Instant>>>;

/// CPU and memory of the measured processes during one phase.
#[derive(Default)]
struct Resources {
    idle_kb: u64,
    connected_kb: u64,
    cpu_percent: f64,
}

struct Outcome {
    latencies: Vec<f64>,
    accepted: usize,
    elapsed: f64,
    resources: Resources,
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("--serve-relay") {
        return serve_relay().await;
    }
    let args = parse_args();
    println!(
        "load: {} visitors, {} operators, {} msg/s for {} s, nodes: {}",
        args.visitors,
        args.operators,
        args.rate,
        args.seconds,
        args.urls.join(" ")
    );
    let bare = bare_relay(&args).await;
    let full = full(&args).await;
    println!(
        "\n{:<28} {:>8} {:>8} {:>8} {:>11} {:>8} {:>9} {:>9}",
        "", "p50 ms", "p99 ms", "max ms", "accepted/s", "CPU %", "PSS MB", "KB/conn"
    );
    let connections = args.visitors + args.operators;
    row("bare websocket relay", &bare, connections);
    row("switchboard", &full, connections);
    println!(
        "\nswitchboard/bare: throughput ×{:.2}, p99 ×{:.1}, CPU ×{:.1}, memory per connection ×{:.1}",
        (full.accepted as f64 / full.elapsed) / (bare.accepted as f64 / bare.elapsed),
        pct(&full.latencies, 99.0) / pct(&bare.latencies, 99.0),
        full.resources.cpu_percent / bare.resources.cpu_percent,
        per_connection_kb(&full, connections) / per_connection_kb(&bare, connections),
    );
    if args.pids.is_empty() {
        println!("(no --pid given: the server's CPU and memory were not measured)");
    }
}

fn per_connection_kb(o: &Outcome, connections: usize) -> f64 {
    o.resources.connected_kb.saturating_sub(o.resources.idle_kb) as f64 / connections as f64
}

fn pct(s: &[f64], p: f64) -> f64 {
    let mut v = s.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[(((p / 100.0) * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
}

fn row(name: &str, o: &Outcome, connections: usize) {
    println!(
        "{name:<28} {:>8.2} {:>8.2} {:>8.2} {:>11.0} {:>8.0} {:>9} {:>9.1}",
        pct(&o.latencies, 50.0),
        pct(&o.latencies, 99.0),
        pct(&o.latencies, 100.0),
        o.accepted as f64 / o.elapsed,
        o.resources.cpu_percent,
        o.resources.connected_kb / 1024,
        per_connection_kb(o, connections),
    );
}

/// PSS of the given processes, in KB.
fn memory_kb(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.starts_with("Pss:"))
                .map(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .unwrap_or("0")
                        .parse::<u64>()
                        .unwrap_or(0)
                })
                .collect::<Vec<_>>()
        })
        .sum()
}

/// utime + stime of the processes, in clock ticks.
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .map(|s| {
            let after = &s[s.rfind(')').unwrap_or(0) + 2..];
            let f: Vec<&str> = after.split_whitespace().collect();
            f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        })
        .sum()
}

/// Reads an operator-side stream, timing frames whose client_id we sent.
fn listen<S>(
    mut ws: S,
    sent: Sent,
    latencies: Arc<Mutex<Vec<f64>>>,
    measure: bool,
) -> tokio::task::JoinHandle<()>
where
    S: StreamExt<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>>
        + Unpin
        + Send
        + 'static,
{
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let WsMessage::Text(text) = msg else { continue };
            if !measure {
                continue;
            }
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let id = frame["data"]["client_id"]
                .as_str()
                .or(frame["client_id"].as_str());
            if let Some(at) = id.and_then(|id| sent.lock().unwrap().get(id).copied()) {
                latencies
                    .lock()
                    .unwrap()
                    .push(at.elapsed().as_secs_f64() * 1000.0);
            }
        }
    })
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A websocket client with small buffers, so that ten thousand of them fit.
async fn connect(
    url: String,
) -> Result<
    (
        Ws,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096);
    tokio_tungstenite::connect_async_with_config(url, Some(config), false).await
}

async fn paced<F, Fut>(rate: usize, seconds: u64, mut send: F) -> (usize, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let total = rate * seconds as usize;
    println!("sending {total} messages…");
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        tasks.push(tokio::spawn(send(n)));
    }
    let mut accepted = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            accepted += 1;
        }
    }
    (accepted, start.elapsed().as_secs_f64())
}

/// The bare relay, in a child process: operators get every frame; a visitor
/// gets its own back (as the server echoes a visitor's message to their widget)
/// — the server's routing, with no storage and no HTTP.
async fn serve_relay() {
    let (tx, _) = broadcast::channel::<String>(1 << 16);
    let operator = |ws: WebSocketUpgrade, State(tx): State<broadcast::Sender<String>>| async move {
        ws.read_buffer_size(4096)
            .on_upgrade(move |mut socket| async move {
                let mut rx = tx.subscribe();
                loop {
                    tokio::select! {
                        m = socket.recv() => if !matches!(m, Some(Ok(_))) { break },
                        r = rx.recv() => match r {
                            Ok(t) => if socket.send(AxMsg::Text(t.into())).await.is_err() { break },
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(_) => break,
                        },
                    }
                }
            })
    };
    let visitor = |ws: WebSocketUpgrade, State(tx): State<broadcast::Sender<String>>| async move {
        ws.read_buffer_size(4096)
            .on_upgrade(move |mut socket| async move {
                while let Some(Ok(m)) = socket.recv().await {
                    if let AxMsg::Text(t) = m {
                        let _ = tx.send(t.to_string());
                        if socket.send(AxMsg::Text(t)).await.is_err() {
                            break;
                        }
                    }
                }
            })
    };
    let app = axum::Router::new()
        .route("/operator", axum::routing::get(operator))
        .route("/visitor", axum::routing::get(visitor))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("ws://{}", listener.local_addr().unwrap());
    // TCP_NODELAY, as the server sets it.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, app).await.unwrap();
}

/// Kills the relay child when the bare phase ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn bare_relay(args: &Args) -> Outcome {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--serve-relay")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting the relay");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let relay = Child(child);
    let pids = [relay.0.id()];
    let base = line.trim().to_string();
    let idle_kb = memory_kb(&pids);
    let sent: Sent = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut readers = Vec::new();
    for o in 0..args.operators {
        let (ws, _) = connect(format!("{base}/operator")).await.unwrap();
        readers.push(listen(ws, sent.clone(), latencies.clone(), o == 0));
    }
    let mut sinks = Vec::new();
    for _ in 0..args.visitors {
        let (ws, _) = connect(format!("{base}/visitor")).await.unwrap();
        let (sink, stream) = ws.split();
        readers.push(tokio::spawn(stream.for_each(|_| async {})));
        sinks.push(Arc::new(tokio::sync::Mutex::new(sink)));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connected_kb = memory_kb(&pids);
    let ticks_before = cpu_ticks(&pids);
    let (accepted, elapsed) = paced(args.rate, args.seconds, |n| {
        let sink = sinks[n % sinks.len()].clone();
        let sent = sent.clone();
        async move {
            let id = format!("bare-{n}");
            sent.lock().unwrap().insert(id.clone(), Instant::now());
            sink.lock()
                .await
                .send(WsMessage::Text(
                    json!({ "client_id": id }).to_string().into(),
                ))
                .await
                .is_ok()
        }
    })
    .await;
    let cpu_percent = (cpu_ticks(&pids) - ticks_before) as f64 / 100.0 / elapsed * 100.0;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for reader in readers {
        reader.abort();
    }
    drop(sinks);
    drop(relay);
    let latencies = latencies.lock().unwrap().clone();
    Outcome {
        latencies,
        accepted,
        elapsed,
        resources: Resources {
            idle_kb,
            connected_kb,
            cpu_percent,
        },
    }
}

async fn full(args: &Args) -> Outcome {
    let idle_kb = memory_kb(&args.pids);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let first = &args.urls[0];
    let login: Value = http
        .post(format!("{first}/api/v1/auth/login"))
        .json(&json!({ "email": args.email, "password": args.password }))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .unwrap();
    let token = login["token"]
        .as_str()
        .expect("valid --email/--password")
        .to_string();
    let ws_of = |url: &str| url.replacen("http://", "ws://", 1);
    let sent: Sent = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut readers = Vec::new();
    for o in 0..args.operators {
        let url = &args.urls[o % args.urls.len()];
        let (ws, _) = connect(format!("{}/api/v1/stream?token={token}", ws_of(url)))
            .await
            .unwrap();
        readers.push(listen(ws, sent.clone(), latencies.clone(), o == 0));
    }
    let mut visitors = Vec::with_capacity(args.visitors);
    for v in 0..args.visitors {
        let url = args.urls[v % args.urls.len()].clone();
        let s: Value = http
            .post(format!("{url}/api/v1/widget/session"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let vt = s["visitor_token"].as_str().unwrap().to_string();
        let (ws, _) = connect(format!(
            "{}/api/v1/widget/stream?visitor_token={vt}",
            ws_of(&url)
        ))
        .await
        .unwrap();
        readers.push(tokio::spawn(ws.for_each(|_| async {})));
        visitors.push((url, vt));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connected_kb = memory_kb(&args.pids);
    let ticks_before = cpu_ticks(&args.pids);
    let acks: Arc<Mutex<Vec<f64>>> = Arc::default();
    let (accepted, elapsed) = paced(args.rate, args.seconds, |n| {
        let (url, vt) = visitors[n % visitors.len()].clone();
        let (http, sent, acks) = (http.clone(), sent.clone(), acks.clone());
        async move {
            let id = format!("load-{n}");
            let start = Instant::now();
            sent.lock().unwrap().insert(id.clone(), start);
            let r = http
                .post(format!("{url}/api/v1/widget/messages"))
                .header("x-visitor-token", vt)
                .json(&json!({ "body": "load", "client_id": id }))
                .send()
                .await;
            let created = matches!(r, Ok(r) if r.status().as_u16() == 201);
            if created {
                acks.lock()
                    .unwrap()
                    .push(start.elapsed().as_secs_f64() * 1000.0);
            }
            created
        }
    })
    .await;
    let acks = acks.lock().unwrap().clone();
    println!(
        "switchboard: 201 Created after p50 {:.2} ms, p99 {:.2} ms (the message is stored by then)",
        pct(&acks, 50.0),
        pct(&acks, 99.0)
    );
    let cpu_percent = (cpu_ticks(&args.pids) - ticks_before) as f64 / 100.0 / elapsed * 100.0;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for reader in readers {
        reader.abort();
    }
    let latencies = latencies.lock().unwrap().clone();
    Outcome {
        latencies,
        accepted,
        elapsed,
        resources: Resources {
            idle_kb,
            connected_kb,
            cpu_percent,
        },
    }
}
