//! The two baselines, each served by a child process of the load generator
//! (`--serve-relay [--durable FILE]`), so that they are measured from /proc as
//! the server is and neither shares a process with the load.
//!
//! - The bare relay: operators get every frame; a visitor gets its own back (as
//!   the server echoes a visitor's message to their widget) — the server's
//!   routing, with no storage and no HTTP.
//! - The durable relay: the same routing, but a message comes in as an HTTP
//!   POST, as it does to the server, and is answered 201 only once it is on
//!   disk. One writer thread does group commit: it takes everything queued,
//!   appends it to one file with one write, makes it durable with one
//!   `fdatasync`, then fans the batch out to the websockets and answers its
//!   POSTs. Nothing is parsed or stored beyond that line: the physical limit of
//!   persisted delivery on this machine.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::ws::{Message as AxMsg, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Runs the relay named by the arguments after `--serve-relay`; prints its
/// address (`http://127.0.0.1:PORT`) on the first line of stdout.
pub async fn serve(mut args: impl Iterator<Item = String>) {
    let durable = match args.next().as_deref() {
        None => None,
        Some("--durable") => Some(PathBuf::from(args.next().expect("--durable FILE"))),
        Some(other) => panic!("unknown relay flag {other}"),
    };
    let (tx, _) = broadcast::channel::<String>(1 << 16);
    let app = match durable {
        None => axum::Router::new()
            .route("/operator", axum::routing::get(operator))
            .route("/visitor", axum::routing::get(bare_visitor))
            .with_state(tx),
        Some(path) => durable_app(tx, path),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}", listener.local_addr().unwrap());
    // TCP_NODELAY, as the server sets it.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, app).await.unwrap();
}

/// An operator's socket: every frame of the broadcast.
async fn operator(
    ws: WebSocketUpgrade,
    State(tx): State<broadcast::Sender<String>>,
) -> impl IntoResponse {
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
}

/// A visitor of the bare relay sends over its websocket and gets its echo.
async fn bare_visitor(
    ws: WebSocketUpgrade,
    State(tx): State<broadcast::Sender<String>>,
) -> impl IntoResponse {
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
}

/// A message waiting for the writer.
struct Job {
    visitor: u64,
    line: String,
    done: oneshot::Sender<()>,
}

#[derive(Clone)]
struct Durable {
    operators: broadcast::Sender<String>,
    visitors: Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<String>>>>,
    jobs: mpsc::UnboundedSender<Job>,
    stats: Arc<Mutex<Stats>>,
}

/// What the writer did, for `GET /stats`.
#[derive(Default)]
struct Stats {
    batches: u64,
    messages: u64,
    bytes: u64,
    /// Duration of each batch's `fdatasync`, in ms.
    syncs: Vec<f64>,
}

fn durable_app(operators: broadcast::Sender<String>, path: PathBuf) -> axum::Router {
    let (jobs, queue) = mpsc::unbounded_channel();
    let state = Durable {
        operators,
        visitors: Arc::default(),
        jobs,
        stats: Arc::default(),
    };
    let writer_state = state.clone();
    std::thread::Builder::new()
        .name("durable-writer".into())
        .spawn(move || writer(writer_state, path, queue))
        .unwrap();
    axum::Router::new()
        .route(
            "/operator",
            axum::routing::get(
                |ws: WebSocketUpgrade, State(s): State<Durable>| async move {
                    operator(ws, State(s.operators)).await
                },
            ),
        )
        .route("/visitor", axum::routing::get(durable_visitor))
        .route("/messages", axum::routing::post(post_message))
        .route("/stats", axum::routing::get(stats))
        .with_state(state)
}

/// A visitor of the durable relay (`/visitor?id=N`) only listens: its messages
/// come as POSTs, and their echo comes from the writer once they are durable.
async fn durable_visitor(
    ws: WebSocketUpgrade,
    Query(q): Query<HashMap<String, String>>,
    State(s): State<Durable>,
) -> impl IntoResponse {
    let id: u64 = q.get("id").and_then(|v| v.parse().ok()).unwrap_or(0);
    ws.read_buffer_size(4096)
        .on_upgrade(move |mut socket| async move {
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            s.visitors.lock().unwrap().insert(id, tx);
            loop {
                tokio::select! {
                    m = socket.recv() => if !matches!(m, Some(Ok(_))) { break },
                    t = rx.recv() => match t {
                        Some(t) => if socket.send(AxMsg::Text(t.into())).await.is_err() { break },
                        None => break,
                    },
                }
            }
            s.visitors.lock().unwrap().remove(&id);
        })
}

/// `POST /messages` with `x-visitor-token: N` and `{"body", "client_id"}`:
/// 201 once the message is on disk (and on its way to the websockets).
async fn post_message(
    State(s): State<Durable>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let visitor = headers
        .get("x-visitor-token")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (Some(visitor), Ok(msg)) = (visitor, serde_json::from_slice::<Value>(&body)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let line = json!({
        "visitor": visitor,
        "client_id": msg["client_id"],
        "body": msg["body"],
    })
    .to_string();
    let (done, stored) = oneshot::channel();
    let job = Job {
        visitor,
        line: line.clone(),
        done,
    };
    if s.jobs.send(job).is_err() || stored.await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        line,
    )
        .into_response()
}

/// The group-commit writer: a thread of its own, as `fdatasync` blocks.
fn writer(s: Durable, path: PathBuf, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut buf = Vec::new();
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while let Ok(job) = queue.try_recv() {
            batch.push(job);
        }
        buf.clear();
        for job in &batch {
            buf.extend_from_slice(job.line.as_bytes());
            buf.push(b'\n');
        }
        // A failed write or sync answers nobody: their POSTs get 500.
        if file.write_all(&buf).is_err() {
            continue;
        }
        let t = Instant::now();
        if file.sync_data().is_err() {
            continue;
        }
        let sync_ms = t.elapsed().as_secs_f64() * 1000.0;
        {
            let mut st = s.stats.lock().unwrap();
            st.batches += 1;
            st.messages += batch.len() as u64;
            st.bytes += buf.len() as u64;
            st.syncs.push(sync_ms);
        }
        let visitors = s.visitors.lock().unwrap();
        for job in &batch {
            let _ = s.operators.send(job.line.clone());
            if let Some(v) = visitors.get(&job.visitor) {
                let _ = v.send(job.line.clone());
            }
        }
        drop(visitors);
        for job in batch {
            let _ = job.done.send(());
        }
    }
}

async fn stats(State(s): State<Durable>) -> axum::Json<Value> {
    let st = s.stats.lock().unwrap();
    axum::Json(json!({
        "batches": st.batches,
        "messages": st.messages,
        "bytes": st.bytes,
        "sync_p50_ms": crate::pct(&st.syncs, 50.0),
        "sync_p99_ms": crate::pct(&st.syncs, 99.0),
        "sync_max_ms": crate::pct(&st.syncs, 100.0),
    }))
}
