//! switchboard-loadgen: drives N visitors (each holding its widget websocket) and
//! M operators (each holding the operator stream) against one or several running
//! server nodes, sends visitor messages over HTTP, and prints delivery latency to
//! the operators (p50/p99/max), the time to the 201, accepted messages per
//! second, and the server processes' CPU (and CPU per message) and memory (and
//! memory per socket) — next to two baselines driven the same way in the same
//! run, each in a child process of its own (`--serve-relay`, see `relay.rs`) so
//! that all three are measured alike and none shares a process with the load:
//!
//! - a bare websocket relay (no HTTP, no storage): the floor of routing;
//! - a durable relay: the same routing, messages POSTed and answered once
//!   appended to a file and `fdatasync`ed with group commit — the floor of
//!   persisted delivery, which the server (one fsync per group-commit batch,
//!   SQLite `synchronous = FULL`) cannot beat.
//!
//! Open loop (default): `--rate` messages per second for `--seconds`. Closed
//! loop (`--closed-loop N`): N senders, each sending its next message as soon
//! as the previous one is acknowledged, for `--seconds`.
//!
//! Usage: switchboard-loadgen --url http://127.0.0.1:8080 [--url …] --email E --password P
//!        [--visitors 1000] [--operators 10] [--rate 500 | --closed-loop 64] [--seconds 10]
//!        [--pid PID …] [--durable-dir DIR] [--timeline] [--db-process postgres]
//!        [--visitor-node I]
//!        switchboard-loadgen --fsync-probe [--durable-dir DIR]

mod probe;
mod relay;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::oneshot;
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
    closed_loop: Option<usize>,
    durable_dir: PathBuf,
    fsync_probe: bool,
    /// Also print each row's p99 per tenth of the run (where the tail is).
    timeline: bool,
    /// Process names of what the server uses (`postgres`, `nats-server`;
    /// the flag may repeat): the CPU of each over the send phase is
    /// measured too, all processes of a name together.
    db_process: Vec<String>,
    /// All visitors on this node (an index into the `--url`s) instead of
    /// spread over them: one node takes every write, the operators stay
    /// spread (what a cluster with one writer would do).
    visitor_node: Option<usize>,
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
        closed_loop: None,
        durable_dir: std::env::temp_dir(),
        fsync_probe: false,
        timeline: false,
        db_process: vec![],
        visitor_node: None,
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
            "--closed-loop" => a.closed_loop = Some(value().parse().expect("--closed-loop N")),
            "--durable-dir" => a.durable_dir = value().into(),
            "--fsync-probe" => a.fsync_probe = true,
            "--timeline" => a.timeline = true,
            "--db-process" => {
                let name = value();
                if !a.db_process.contains(&name) {
                    a.db_process.push(name);
                }
            }
            "--visitor-node" => a.visitor_node = Some(value().parse().expect("--visitor-node I")),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        a.fsync_probe || !a.urls.is_empty(),
        "give at least one --url"
    );
    assert!(a.visitors > 0, "--visitors must be at least 1");
    assert!(
        a.visitor_node.is_none_or(|i| i < a.urls.len()),
        "--visitor-node is an index into the --url list"
    );
    assert!(a.closed_loop != Some(0), "--closed-loop must be at least 1");
    a
}

type Sent = Arc<Mutex<HashMap<String, Instant>>>;
type Samples = Arc<Mutex<Vec<f64>>>;
/// Delivery latencies by route: (the visitor's node, the operator's node).
type Routes = Arc<Mutex<HashMap<(usize, usize), Vec<f64>>>>;
/// Answers other than the acknowledgement, by status ("429") or error.
type Refusals = Arc<Mutex<HashMap<String, usize>>>;

/// CPU and memory of the measured processes during one phase.
#[derive(Default)]
struct Resources {
    /// PSS before any connection, in KB.
    idle_kb: u64,
    /// PSS and RSS with every connection open, in KB.
    connected_kb: u64,
    connected_rss_kb: u64,
    /// CPU time (user + system) during the send phase, in seconds.
    cpu_seconds: f64,
    /// Context switches of all their threads during the send phase: each is
    /// a thread that blocked (waiting for another) or was preempted.
    switches: u64,
    /// The generator's own CPU time (this process) during the send phase,
    /// in seconds: on a machine it shares with the target, what it leaves.
    generator_cpu_seconds: f64,
    /// CPU time of each measured process (`--pid`, in order) during the
    /// send phase, in seconds.
    per_process_seconds: Vec<f64>,
    /// CPU time of the processes the server uses (`--db-process`), by name,
    /// during the send phase, in seconds.
    others_cpu_seconds: Vec<(String, f64)>,
}

struct Outcome {
    /// Delivery latency to one operator's stream, ms.
    latencies: Vec<f64>,
    /// With several nodes: delivery latency to one operator on each node,
    /// by (the visitor's node, the operator's node), ms.
    routes: Vec<((usize, usize), Vec<f64>)>,
    /// Time to the acknowledgement (the 201; the bare relay: the echo), ms.
    acks: Vec<f64>,
    attempted: usize,
    accepted: usize,
    refusals: HashMap<String, usize>,
    elapsed: f64,
    resources: Resources,
}

impl Outcome {
    fn throughput(&self) -> f64 {
        self.accepted as f64 / self.elapsed
    }

    fn cpu_percent(&self) -> f64 {
        self.resources.cpu_seconds / self.elapsed * 100.0
    }

    /// Milliseconds of the target's CPU per 1,000 accepted messages.
    fn cpu_per_1k(&self) -> f64 {
        self.per_1k(self.resources.cpu_seconds)
    }

    /// `cpu_seconds` of some process as milliseconds per 1,000 accepted
    /// messages.
    fn per_1k(&self, cpu_seconds: f64) -> f64 {
        cpu_seconds * 1_000_000.0 / self.accepted.max(1) as f64
    }

    /// Context switches per accepted message.
    fn switches_per_message(&self) -> f64 {
        self.resources.switches as f64 / self.accepted.max(1) as f64
    }

    fn per_socket_kb(&self, sockets: usize) -> f64 {
        self.resources
            .connected_kb
            .saturating_sub(self.resources.idle_kb) as f64
            / sockets as f64
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("--serve-relay") {
        return relay::serve(std::env::args().skip(2)).await;
    }
    let args = parse_args();
    if args.fsync_probe {
        return probe::run(&args.durable_dir);
    }
    match args.closed_loop {
        None => println!(
            "load: {} visitors, {} operators, {} msg/s for {} s, nodes: {}",
            args.visitors,
            args.operators,
            args.rate,
            args.seconds,
            args.urls.join(" ")
        ),
        Some(n) => println!(
            "closed loop: {n} messages in flight for {} s, {} visitors, {} operators, nodes: {}",
            args.seconds,
            args.visitors,
            args.operators,
            args.urls.join(" ")
        ),
    }
    let dir = TempDir::new(&args.durable_dir);
    println!(
        "durable relay's log in {} ({})",
        dir.path().display(),
        filesystem_of(dir.path())
    );
    println!("\nbare relay:");
    let bare = bare_relay(&args).await;
    println!("\ndurable relay:");
    let durable = durable_relay(&args, dir.path()).await;
    println!("\nswitchboard:");
    let full = full(&args).await;
    report(&args, &bare, &durable, &full);
}

fn report(args: &Args, bare: &Outcome, durable: &Outcome, full: &Outcome) {
    let sockets = args.visitors + args.operators;
    println!(
        "\n{:<14} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7} {:>6} {:>9} {:>8} {:>7} {:>7} {:>9}",
        "",
        "p50 ms",
        "p99 ms",
        "max ms",
        "ack p50",
        "ack p99",
        "msg/s",
        "CPU %",
        "CPU ms/1k",
        "csw/msg",
        "PSS MB",
        "RSS MB",
        "KB/socket"
    );
    for (name, o) in [
        ("bare relay", bare),
        ("durable relay", durable),
        ("switchboard", full),
    ] {
        println!(
            "{name:<14} {:>7.2} {:>7.2} {:>7.1} {:>8.2} {:>8.2} {:>7.0} {:>6.0} {:>9.0} {:>8.1} {:>7} {:>7} {:>9.1}",
            pct(&o.latencies, 50.0),
            pct(&o.latencies, 99.0),
            pct(&o.latencies, 100.0),
            pct(&o.acks, 50.0),
            pct(&o.acks, 99.0),
            o.throughput(),
            o.cpu_percent(),
            o.cpu_per_1k(),
            o.switches_per_message(),
            o.resources.connected_kb / 1024,
            o.resources.connected_rss_kb / 1024,
            o.per_socket_kb(sockets),
        );
    }
    println!(
        "\np50/p99/max: visitor → one operator's stream. ack: the 201 (bare relay: the visitor's \
         echo on its websocket, no HTTP).\nmsg/s: acknowledged per second{}. CPU: % of one core and \
         ms of CPU per 1,000 messages, send phase; csw/msg: context switches of all the target's \
         threads per message, send phase.\nKB/socket: PSS growth per open websocket \
         ({sockets} sockets).",
        if args.closed_loop.is_some() {
            " (bare relay: relayed, not persisted)"
        } else {
            ""
        }
    );
    for (name, o) in [
        ("bare relay", bare),
        ("durable relay", durable),
        ("switchboard", full),
    ] {
        if o.accepted < o.attempted {
            let mut why: Vec<_> = o.refusals.iter().collect();
            why.sort();
            let why: Vec<String> = why.iter().map(|(k, n)| format!("{k} × {n}")).collect();
            println!(
                "{name}: {} of {} messages not acknowledged ({}){}",
                o.attempted - o.accepted,
                o.attempted,
                why.join(", "),
                if o.refusals.contains_key("429") {
                    " — 429 is the per-visitor limit: give more --visitors"
                } else {
                    ""
                }
            );
        }
    }
    println!();
    for (name, base) in [("bare relay", bare), ("durable relay", durable)] {
        println!(
            "{:<28} throughput ×{:.2}, p50 ×{:.1}, p99 ×{:.1}, \
             CPU per message ×{:.1}, memory per socket ×{:.1}",
            format!("switchboard ÷ {name}:"),
            full.throughput() / base.throughput(),
            pct(&full.latencies, 50.0) / pct(&base.latencies, 50.0),
            pct(&full.latencies, 99.0) / pct(&base.latencies, 99.0),
            full.cpu_per_1k() / base.cpu_per_1k(),
            full.per_socket_kb(sockets) / base.per_socket_kb(sockets),
        );
    }
    if let Some(n) = args.closed_loop {
        println!(
            "\nclosed loop, {n} in flight: persisted messages per second: durable relay {:.0}, \
             switchboard {:.0} (×{:.2} of the durable relay); bare relay {:.0} (not persisted)",
            durable.throughput(),
            full.throughput(),
            full.throughput() / durable.throughput(),
            bare.throughput(),
        );
    }
    let generator = |o: &Outcome| o.per_1k(o.resources.generator_cpu_seconds);
    println!(
        "\nthe generator's own CPU (on the same cores), send phase, ms per 1,000 messages: \
         bare relay {:.0}, durable relay {:.0}, switchboard {:.0}",
        generator(bare),
        generator(durable),
        generator(full),
    );
    if full.resources.per_process_seconds.len() > 1 {
        let each: Vec<String> = full
            .resources
            .per_process_seconds
            .iter()
            .enumerate()
            .map(|(i, s)| format!("node {i} {:.0}", full.per_1k(*s)))
            .collect();
        println!(
            "the nodes' CPU, send phase, ms per 1,000 messages: {}",
            each.join(", ")
        );
    }
    if !full.routes.is_empty() {
        println!(
            "by route, the first operator on each node (visitor's node → operator's node): {}",
            full.routes
                .iter()
                .map(|((v, o), l)| format!(
                    "{v}→{o} p50 {:.2} / p99 {:.2} ms ({} msgs)",
                    pct(l, 50.0),
                    pct(l, 99.0),
                    l.len()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut all = full.resources.cpu_seconds;
    for (name, seconds) in &full.resources.others_cpu_seconds {
        all += seconds;
        println!(
            "{name} (all its processes), send phase: CPU {:.0} % of one core, {:.0} ms per 1,000 \
             messages; with the server's and those above: {:.0} ms per 1,000",
            seconds / full.elapsed * 100.0,
            full.per_1k(*seconds),
            full.per_1k(all),
        );
    }
    if args.timeline {
        timeline(&[
            ("bare relay", bare),
            ("durable relay", durable),
            ("switchboard", full),
        ]);
    }
    if args.pids.is_empty() {
        println!("(no --pid given: the server's CPU and memory were not measured)");
    }
}

/// Each row's p99 over each tenth of its deliveries, in the order they
/// arrived: whether the tail is spread over the run or comes at one moment
/// (the visitors' first messages, a checkpoint, a stall).
fn timeline(rows: &[(&str, &Outcome)]) {
    println!("\np99 ms by tenth of the deliveries, in arrival order:");
    for (name, o) in rows {
        let tenth = o.latencies.len().div_ceil(10).max(1);
        let slices: Vec<String> = o
            .latencies
            .chunks(tenth)
            .map(|slice| format!("{:.1}", pct(slice, 99.0)))
            .collect();
        println!("{name:<14} {}", slices.join("  "));
    }
    println!("the first tenth again, by hundredth (p99 / max):");
    for (name, o) in rows {
        let tenth = o.latencies.len().div_ceil(10).max(1);
        let first = &o.latencies[..tenth.min(o.latencies.len())];
        let slices: Vec<String> = first
            .chunks(first.len().div_ceil(10).max(1))
            .map(|slice| {
                let max = slice.iter().copied().fold(f64::NAN, f64::max);
                format!("{:.1}/{max:.0}", pct(slice, 99.0))
            })
            .collect();
        println!("{name:<14} {}", slices.join("  "));
    }
}

pub(crate) fn pct(s: &[f64], p: f64) -> f64 {
    let mut v = s.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[(((p / 100.0) * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
}

/// The sum of one field of `/proc/PID/smaps_rollup` (`"Pss:"`, `"Rss:"`) over
/// the given processes, in KB.
fn memory_kb(pids: &[u32], field: &str) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.starts_with(field))
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

/// Voluntary and involuntary context switches of every thread of the
/// processes (threads that ended meanwhile are not counted).
fn context_switches(pids: &[u32]) -> u64 {
    let mut total = 0;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            total += status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    total
}

/// The processes whose name (`/proc/PID/comm`) is `name`.
fn processes_named(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .collect()
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

/// The filesystem holding `path`, from /proc/self/mountinfo: "ext4 on
/// /dev/vda, mounted at /".
pub(crate) fn filesystem_of(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let right: Vec<&str> = right.split_whitespace().collect();
        let (Some(mount), [fstype, source, ..]) = (left.split_whitespace().nth(4), &right[..])
        else {
            continue;
        };
        // Later lines mount over earlier ones at the same point.
        if path.starts_with(mount) && best.as_ref().is_none_or(|(len, _)| mount.len() >= *len) {
            best = Some((
                mount.len(),
                format!("{fstype} on {source}, mounted at {mount}"),
            ));
        }
    }
    best.map(|(_, s)| s)
        .unwrap_or_else(|| "filesystem unknown".into())
}

/// A directory of our own under `parent`, removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(parent: &Path) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = parent.join(format!(
            "switchboard-durable.{}.{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads an operator-side stream, timing frames whose client_id we sent
/// (into `latencies` if `measure`, and into `route`'s samples: the node of
/// this operator, each message's visitor's node being the id's `@N`).
fn listen<S>(
    mut ws: S,
    sent: Sent,
    latencies: Samples,
    measure: bool,
    route: Option<(Routes, usize)>,
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
            if !measure && route.is_none() {
                continue;
            }
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let id = frame["data"]["client_id"]
                .as_str()
                .or(frame["client_id"].as_str());
            let Some((id, at)) = id.and_then(|id| Some((id, *sent.lock().unwrap().get(id)?)))
            else {
                continue;
            };
            let ms = at.elapsed().as_secs_f64() * 1000.0;
            if measure {
                latencies.lock().unwrap().push(ms);
            }
            if let Some((routes, operator_node)) = &route {
                if let Some(visitor_node) = id.rsplit_once('@').and_then(|(_, n)| n.parse().ok()) {
                    routes
                        .lock()
                        .unwrap()
                        .entry((visitor_node, *operator_node))
                        .or_default()
                        .push(ms);
                }
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

/// Sends with `send(n)` as `--rate`/`--seconds` or `--closed-loop` say, after
/// taking the memory of `pids` with every connection open; measures their CPU
/// meanwhile.
async fn measure<F, Fut>(args: &Args, pids: &[u32], idle_kb: u64, send: F) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connected_kb = memory_kb(pids, "Pss:");
    let connected_rss_kb = memory_kb(pids, "Rss:");
    let ticks_before: Vec<u64> = pids.iter().map(|p| cpu_ticks(&[*p])).collect();
    let switches_before = context_switches(pids);
    let generator_before = cpu_ticks(&[std::process::id()]);
    let others_before: Vec<u64> = args
        .db_process
        .iter()
        .map(|n| cpu_ticks(&processes_named(n)))
        .collect();
    let (attempted, accepted, elapsed) = match args.closed_loop {
        None => {
            let total = args.rate * args.seconds as usize;
            let (accepted, elapsed) = paced(args.rate, args.seconds, send).await;
            (total, accepted, elapsed)
        }
        Some(n) => closed(n, args.seconds, send).await,
    };
    let per_process_seconds: Vec<f64> = pids
        .iter()
        .zip(ticks_before)
        .map(|(p, before)| cpu_ticks(&[*p]).saturating_sub(before) as f64 / 100.0)
        .collect();
    let cpu_seconds = per_process_seconds.iter().sum();
    let generator_cpu_seconds =
        cpu_ticks(&[std::process::id()]).saturating_sub(generator_before) as f64 / 100.0;
    let switches = context_switches(pids).saturating_sub(switches_before);
    // Processes that ended during the phase take their ticks with them; a
    // database's connections stay open (the server pools them).
    let others_cpu_seconds = args
        .db_process
        .iter()
        .zip(others_before)
        .map(|(n, before)| {
            let seconds = cpu_ticks(&processes_named(n)).saturating_sub(before) as f64 / 100.0;
            (n.clone(), seconds)
        })
        .collect();
    Outcome {
        latencies: vec![],
        routes: vec![],
        acks: vec![],
        attempted,
        accepted,
        refusals: HashMap::new(),
        elapsed,
        resources: Resources {
            idle_kb,
            connected_kb,
            connected_rss_kb,
            cpu_seconds,
            switches,
            generator_cpu_seconds,
            per_process_seconds,
            others_cpu_seconds,
        },
    }
}

async fn paced<F, Fut>(rate: usize, seconds: u64, send: F) -> (usize, f64)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
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

/// `in_flight` senders, each sending its next message as soon as the previous
/// one is acknowledged, until `seconds` have passed. Message `n` is the n-th
/// sent by any of them. Returns (attempted, accepted, elapsed).
async fn closed<F, Fut>(in_flight: usize, seconds: u64, send: F) -> (usize, usize, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    println!("{in_flight} senders for {seconds} s…");
    let send = Arc::new(send);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let senders: Vec<_> = (0..in_flight)
        .map(|_| {
            let (send, next) = (send.clone(), next.clone());
            tokio::spawn(async move {
                let mut accepted = 0;
                while Instant::now() < deadline {
                    if send(next.fetch_add(1, Ordering::Relaxed)).await {
                        accepted += 1;
                    }
                }
                accepted
            })
        })
        .collect();
    let mut accepted = 0;
    for s in senders {
        accepted += s.await.unwrap_or(0);
    }
    (
        next.load(Ordering::Relaxed),
        accepted,
        start.elapsed().as_secs_f64(),
    )
}

/// A relay in a child process (see `relay.rs`), killed when dropped.
struct Relay {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    base: String,
}

impl Relay {
    fn start(durable: Option<&Path>) -> Relay {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.arg("--serve-relay");
        if let Some(file) = durable {
            cmd.arg("--durable").arg(file);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starting the relay");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        Relay {
            child,
            base: line.trim().to_string(),
        }
    }

    fn ws(&self) -> String {
        self.base.replacen("http://", "ws://", 1)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<()>>>>;

/// Reads a bare-relay visitor's socket: the echo of a message acknowledges it.
fn echoes<S>(mut ws: S, waiters: Waiters) -> tokio::task::JoinHandle<()>
where
    S: StreamExt<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>>
        + Unpin
        + Send
        + 'static,
{
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let WsMessage::Text(text) = msg else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let waiter = frame["client_id"]
                .as_str()
                .and_then(|id| waiters.lock().unwrap().remove(id));
            if let Some(w) = waiter {
                let _ = w.send(());
            }
        }
    })
}

async fn bare_relay(args: &Args) -> Outcome {
    let relay = Relay::start(None);
    let pids = [relay.child.id()];
    let idle_kb = memory_kb(&pids, "Pss:");
    let sent: Sent = Arc::default();
    let latencies: Samples = Arc::default();
    let waiters: Waiters = Arc::default();
    let mut readers = Vec::new();
    for o in 0..args.operators {
        let (ws, _) = connect(format!("{}/operator", relay.ws())).await.unwrap();
        readers.push(listen(ws, sent.clone(), latencies.clone(), o == 0, None));
    }
    let mut sinks = Vec::new();
    for v in 0..args.visitors {
        let (ws, _) = connect(format!("{}/visitor?id={v}", relay.ws()))
            .await
            .unwrap();
        let (sink, stream) = ws.split();
        readers.push(echoes(stream, waiters.clone()));
        sinks.push(Arc::new(tokio::sync::Mutex::new(sink)));
    }
    let sinks = Arc::new(sinks);
    let acks: Samples = Arc::default();
    let refusals: Refusals = Arc::default();
    let send = {
        let (sent, acks, refusals) = (sent.clone(), acks.clone(), refusals.clone());
        move |n: usize| {
            let sink = sinks[n % sinks.len()].clone();
            let (sent, waiters, acks, refusals) = (
                sent.clone(),
                waiters.clone(),
                acks.clone(),
                refusals.clone(),
            );
            async move {
                let id = format!("bare-{n}");
                let (echoed, echo) = oneshot::channel();
                waiters.lock().unwrap().insert(id.clone(), echoed);
                let start = Instant::now();
                sent.lock().unwrap().insert(id.clone(), start);
                let frame = json!({ "client_id": id }).to_string();
                if sink
                    .lock()
                    .await
                    .send(WsMessage::Text(frame.into()))
                    .await
                    .is_err()
                {
                    *refusals
                        .lock()
                        .unwrap()
                        .entry("send failed".into())
                        .or_default() += 1;
                    return false;
                }
                let echoed = matches!(
                    tokio::time::timeout(Duration::from_secs(30), echo).await,
                    Ok(Ok(()))
                );
                if echoed {
                    acks.lock()
                        .unwrap()
                        .push(start.elapsed().as_secs_f64() * 1000.0);
                } else {
                    *refusals
                        .lock()
                        .unwrap()
                        .entry("no echo".into())
                        .or_default() += 1;
                }
                echoed
            }
        }
    };
    let mut outcome = measure(args, &pids, idle_kb, send).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for reader in readers {
        reader.abort();
    }
    drop(relay);
    outcome.latencies = latencies.lock().unwrap().clone();
    outcome.acks = acks.lock().unwrap().clone();
    outcome.refusals = refusals.lock().unwrap().clone();
    outcome
}

/// POSTs message `id` as visitor `token`; true on 201, whose time goes to
/// `acks`; any other answer is counted in `refusals`.
async fn post(
    http: reqwest::Client,
    url: String,
    token: String,
    id: String,
    (sent, acks, refusals): (Sent, Samples, Refusals),
) -> bool {
    let start = Instant::now();
    sent.lock().unwrap().insert(id.clone(), start);
    let r = http
        .post(url)
        .header("x-visitor-token", token)
        .json(&json!({ "body": "load", "client_id": id }))
        .send()
        .await;
    let status = match r {
        Ok(r) if r.status().as_u16() == 201 => {
            acks.lock()
                .unwrap()
                .push(start.elapsed().as_secs_f64() * 1000.0);
            return true;
        }
        Ok(r) => r.status().as_u16().to_string(),
        Err(_) => "no answer".to_string(),
    };
    *refusals.lock().unwrap().entry(status).or_default() += 1;
    false
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

async fn durable_relay(args: &Args, dir: &Path) -> Outcome {
    let relay = Relay::start(Some(&dir.join("relay.log")));
    let pids = [relay.child.id()];
    let idle_kb = memory_kb(&pids, "Pss:");
    let http = http_client();
    let sent: Sent = Arc::default();
    let latencies: Samples = Arc::default();
    let mut readers = Vec::new();
    for o in 0..args.operators {
        let (ws, _) = connect(format!("{}/operator", relay.ws())).await.unwrap();
        readers.push(listen(ws, sent.clone(), latencies.clone(), o == 0, None));
    }
    for v in 0..args.visitors {
        let (ws, _) = connect(format!("{}/visitor?id={v}", relay.ws()))
            .await
            .unwrap();
        readers.push(tokio::spawn(ws.for_each(|_| async {})));
    }
    let acks: Samples = Arc::default();
    let refusals: Refusals = Arc::default();
    let send = {
        let (http, sent, acks, refusals) =
            (http.clone(), sent.clone(), acks.clone(), refusals.clone());
        let url = format!("{}/messages", relay.base);
        let visitors = args.visitors;
        move |n: usize| {
            post(
                http.clone(),
                url.clone(),
                (n % visitors).to_string(),
                format!("durable-{n}"),
                (sent.clone(), acks.clone(), refusals.clone()),
            )
        }
    };
    let mut outcome = measure(args, &pids, idle_kb, send).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    if let Ok(r) = http.get(format!("{}/stats", relay.base)).send().await {
        let s: Value = r.json().await.unwrap_or_default();
        let (batches, messages) = (
            s["batches"].as_u64().unwrap_or(0),
            s["messages"].as_u64().unwrap_or(0),
        );
        println!(
            "durable relay: {messages} messages in {batches} batches ({:.1} a batch, {:.0} bytes \
             a batch), one fdatasync each: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            messages as f64 / batches.max(1) as f64,
            s["bytes"].as_u64().unwrap_or(0) as f64 / batches.max(1) as f64,
            s["sync_p50_ms"].as_f64().unwrap_or(f64::NAN),
            s["sync_p99_ms"].as_f64().unwrap_or(f64::NAN),
            s["sync_max_ms"].as_f64().unwrap_or(f64::NAN),
        );
    }
    for reader in readers {
        reader.abort();
    }
    drop(relay);
    outcome.latencies = latencies.lock().unwrap().clone();
    outcome.acks = acks.lock().unwrap().clone();
    outcome.refusals = refusals.lock().unwrap().clone();
    outcome
}

async fn full(args: &Args) -> Outcome {
    let idle_kb = memory_kb(&args.pids, "Pss:");
    let http = http_client();
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
    let latencies: Samples = Arc::default();
    let routes: Routes = Arc::default();
    let mut readers = Vec::new();
    let nodes = args.urls.len();
    for o in 0..args.operators {
        let url = &args.urls[o % nodes];
        let (ws, _) = connect(format!("{}/api/v1/stream?token={token}", ws_of(url)))
            .await
            .unwrap();
        // The first operator on each node, with several.
        let route = (nodes > 1 && o < nodes).then(|| (routes.clone(), o));
        readers.push(listen(ws, sent.clone(), latencies.clone(), o == 0, route));
    }
    let mut visitors = Vec::with_capacity(args.visitors);
    for v in 0..args.visitors {
        let node = args.visitor_node.unwrap_or(v % args.urls.len());
        let url = args.urls[node].clone();
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
        visitors.push((format!("{url}/api/v1/widget/messages"), vt, node));
    }
    let acks: Samples = Arc::default();
    let refusals: Refusals = Arc::default();
    let send = {
        let (http, sent, acks, refusals) =
            (http.clone(), sent.clone(), acks.clone(), refusals.clone());
        move |n: usize| {
            let (url, vt, node) = visitors[n % visitors.len()].clone();
            post(
                http.clone(),
                url,
                vt,
                format!("load-{n}@{node}"),
                (sent.clone(), acks.clone(), refusals.clone()),
            )
        }
    };
    let mut outcome = measure(args, &args.pids, idle_kb, send).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for reader in readers {
        reader.abort();
    }
    outcome.latencies = latencies.lock().unwrap().clone();
    let mut routes: Vec<_> = routes.lock().unwrap().drain().collect();
    routes.sort_by_key(|(route, _)| *route);
    outcome.routes = routes;
    outcome.acks = acks.lock().unwrap().clone();
    outcome.refusals = refusals.lock().unwrap().clone();
    outcome
}
