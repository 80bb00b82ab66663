//! Fan-out of the event log to the websocket streams of this node.
//!
//! Writers append events to the database and then `wake` the hub. One task per
//! node reads what is new from the database, in `seq` order, into a ring of recent
//! events and announces the newest seq (SQLite's own writer of visitors' sends
//! hands over what it committed instead: see `publish_committed`; with several
//! nodes, each sends the others what it read: see `peers`, and one numbers
//! the shared log for all: see `numbering`). Each stream
//! follows that ring at its own pace (falling back to the database when it is
//! behind the ring), so a slow client never slows the others and nothing is
//! skipped or sent twice.
//!
//! Visitors see only their own conversation, and there may be tens of thousands
//! of them: the hub routes each visitor's events into a small feed of their own,
//! so a visitor's stream wakes only for what concerns it instead of scanning
//! every event of every conversation.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;

use tokio::sync::{watch, Notify};

use switchboard_protocol::event;

use crate::db::{Backend, Db};
use crate::store::events::{self, StoredEvent};

mod numbering;
mod peers;

pub use peers::{NotAnswered, Suspect};

const RING_CAPACITY: usize = 4096;
/// Recent events kept per visitor present on this node; a stream further
/// behind reads its own events from the database.
const FEED_CAPACITY: usize = 64;
/// Events read from the log in one query.
const READ_AT_ONCE: i64 = 1000;

/// How often the log is read when nothing wakes the hub (a batch from another
/// node lost on NATS, or a write by a process that is no node).
const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How soon events that could not be numbered yet are tried again, at first
/// and at most.
const HELD_BACK_RETRY: std::time::Duration = std::time::Duration::from_millis(5);
const HELD_BACK_RETRY_MAX: std::time::Duration = std::time::Duration::from_millis(200);
/// How long a node waits for the others to say which visitors' widgets are
/// connected to them (they answer in a round trip; this is for a node that
/// hangs, or one of the previous version, which does not answer: its
/// visitors then count as away, and get operators' answers by email too).
const ASK_FOR_VISITORS_WITHIN: std::time::Duration = std::time::Duration::from_millis(200);

/// The hub's locks guard collections that every critical section leaves
/// whole, so they are taken even when poisoned (`PoisonError::into_inner`):
/// a panic on one stream must not take every later stream down with it, nor
/// the SQLite writer, which hands over its commits here before it answers
/// the senders whose messages are already durable.
pub struct Hub {
    db: Db,
    ring: RwLock<VecDeque<Arc<LiveEvent>>>,
    latest: watch::Sender<i64>,
    wake: Notify,
    /// Held while events are added, so that the log's reader and writers
    /// handing over what they committed add each event once and in order.
    appending: Mutex<()>,
    /// Other nodes, when running several (`--nats-url`): they get the events
    /// this hub numbered and read, and send it theirs. The log stays the
    /// database: a batch lost on NATS delays events by at most the poll
    /// interval, never loses them.
    peers: OnceLock<peers::Peers>,
    /// Live operator streams per user on this node (presence).
    connections: Mutex<HashMap<i64, usize>>,
    /// Notified when a member's first stream here opens or their last closes.
    presence_changed: Notify,
    /// Held while presence goes out; `true` once the node is stopping and has
    /// told the others that nobody is here any more.
    presence_out: tokio::sync::Mutex<bool>,
    /// Members with a live stream on other nodes, as each node last told
    /// (keyed by its subject), and when it told.
    remote_presence: Mutex<HashMap<String, (Instant, HashSet<i64>)>>,
    /// Nodes that said they stop, and when: what they told before is gone,
    /// and a word of theirs still on its way is not taken (a node's name is
    /// new at each start, so none comes back).
    departed: Mutex<HashMap<String, Instant>>,
    /// Nodes that asked this one to number the log, waiting for the next
    /// pass (see `numbering`).
    askers: Mutex<Vec<async_nats::Subject>>,
    /// A numbering node that did not answer, and when.
    suspect: peers::Suspect,
    /// Passes that numbered the log here (PostgreSQL).
    own_passes: std::sync::atomic::AtomicU64,
    feeds: Mutex<Feeds>,
    /// Bumped when the log shows the widget's settings or the team changed
    /// (the widget shows colleagues' faces).
    widget_changes: watch::Sender<u64>,
}

/// An event as the hub hands it out: the stored event, and its frame rendered
/// once for all the streams that show it as stored (rendering it per stream
/// cost an allocation and a copy per operator per message).
pub struct LiveEvent {
    pub stored: StoredEvent,
    frame: OnceLock<Utf8Bytes>,
}

impl LiveEvent {
    fn new(stored: StoredEvent) -> Arc<LiveEvent> {
        Arc::new(LiveEvent {
            stored,
            frame: OnceLock::new(),
        })
    }

    /// `{"type":"event","seq":…,"event":…,"data":…}` with the stored data.
    pub fn frame(&self) -> Utf8Bytes {
        self.frame
            .get_or_init(|| self.frame_with(&self.stored.data).into())
            .clone()
    }

    /// The frame with other data, built without re-parsing the stored JSON.
    pub fn frame_with(&self, data: &str) -> String {
        format!(
            r#"{{"type":"event","seq":{},"event":{},"data":{}}}"#,
            self.stored.seq,
            serde_json::Value::from(self.stored.name.as_str()),
            data
        )
    }
}

impl std::ops::Deref for LiveEvent {
    type Target = StoredEvent;

    fn deref(&self) -> &StoredEvent {
        &self.stored
    }
}

/// The feeds of the visitors who hold a stream on this node.
#[derive(Default)]
struct Feeds {
    /// Every event up to this seq has been routed to the feeds.
    routed: i64,
    by_visitor: HashMap<i64, VisitorFeed>,
}

struct VisitorFeed {
    /// Every event of this visitor with a seq above this one is in `recent`.
    complete_after: i64,
    recent: VecDeque<Arc<LiveEvent>>,
    /// The newest seq routed here.
    latest: watch::Sender<i64>,
    streams: usize,
}

impl Hub {
    pub async fn start(db: Db) -> anyhow::Result<Arc<Hub>> {
        let latest = events::latest(&db).await?;
        let hub = Arc::new(Hub {
            db,
            ring: RwLock::new(VecDeque::with_capacity(RING_CAPACITY)),
            latest: watch::channel(latest).0,
            wake: Notify::new(),
            appending: Mutex::new(()),
            peers: OnceLock::new(),
            connections: Mutex::new(HashMap::new()),
            presence_changed: Notify::new(),
            presence_out: tokio::sync::Mutex::new(false),
            remote_presence: Mutex::new(HashMap::new()),
            departed: Mutex::new(HashMap::new()),
            askers: Mutex::new(Vec::new()),
            suspect: peers::Suspect::default(),
            own_passes: std::sync::atomic::AtomicU64::new(0),
            feeds: Mutex::new(Feeds {
                routed: latest,
                by_visitor: HashMap::new(),
            }),
            widget_changes: watch::channel(0).0,
        });
        tokio::spawn(hub.clone().follow_log());
        Ok(hub)
    }

    /// Tells this node's hub that events were committed. It numbers them,
    /// or has the cluster's numbering node do it (`numbering`), and the
    /// events go on to every node.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Joins the other nodes: this hub takes the events their hubs send.
    pub async fn connect_nats(self: &Arc<Self>, url: &str) -> anyhow::Result<()> {
        let peers = peers::Peers::connect(url, &self.db).await?;
        let subscribe = |subject: String| {
            let client = peers.client.clone();
            async move {
                client
                    .subscribe(subject)
                    .await
                    .map_err(|e| anyhow::anyhow!("subscribing on NATS: {e}"))
            }
        };
        let mut batches = subscribe(peers.incoming.clone()).await?;
        let mut legacy_wakeups = subscribe(peers::LEGACY_WAKE_SUBJECT.into()).await?;
        let mut presence = subscribe(peers.presence_in.clone()).await?;
        let mut asked_to_number = subscribe(peers.number_in.clone()).await?;
        let mut asked_for_visitors = subscribe(peers.visitors_in.clone()).await?;
        let mut left = subscribe(peers.left_in.clone()).await?;
        let own = peers.outgoing.clone();
        let own_presence = peers.presence_out.clone();
        let _ = self.peers.set(peers);
        let hub = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(message) = batches.next().await {
                if message.subject.as_str() == own {
                    continue;
                }
                match peers::decode(&message.payload) {
                    Ok(batch) => hub.add_following(batch),
                    Err(e) => {
                        tracing::warn!(error = %e, subject = %message.subject, "nats: a batch of events did not parse; reading the log");
                        hub.wake.notify_one();
                    }
                }
            }
            tracing::warn!("nats: subscription ended; falling back to polling");
        });
        let hub = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(message) = asked_to_number.next().await {
                if let Some(reply) = message.reply {
                    hub.asked_to_number(reply);
                }
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(message) = asked_for_visitors.next().await {
                let (Some(reply), Some(peers)) = (message.reply, hub.peers.get()) else {
                    continue;
                };
                // A question this version does not read: it holds none of them.
                let asked: Vec<i64> = serde_json::from_slice(&message.payload).unwrap_or_default();
                let held = asked
                    .into_iter()
                    .filter(|id| hub.visitor_present(*id))
                    .collect();
                peers.answer_visitors(reply, held).await;
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(message) = left.next().await {
                let Some(peers) = hub.peers.get() else {
                    continue;
                };
                match peers.node_of("left", &message.subject) {
                    Some(node) if node != peers.node => {
                        hub.departed(node, &peers.subject("presence", node))
                    }
                    _ => {}
                }
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while legacy_wakeups.next().await.is_some() {
                hub.wake.notify_one();
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(message) = presence.next().await {
                if message.subject.as_str() == own_presence {
                    continue;
                }
                match serde_json::from_slice::<Vec<i64>>(&message.payload) {
                    Ok(members) => {
                        let mut told = hub
                            .remote_presence
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner);
                        // Checked under the same lock as `departed` takes
                        // first: a word that crossed the node's "left" is
                        // not put back.
                        if hub.has_departed(&message.subject) {
                            continue;
                        }
                        // Nodes that stopped telling (a restart is a new node).
                        told.retain(|_, (at, _)| at.elapsed() < peers::PRESENCE_FOR);
                        let new_node = told
                            .insert(
                                message.subject.to_string(),
                                (Instant::now(), members.into_iter().collect()),
                            )
                            .is_none();
                        if new_node {
                            // It has not heard of this one yet, if it just
                            // started: tell it now rather than at the next
                            // round, so both soon agree who numbers the log.
                            hub.presence_changed.notify_one();
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, subject = %message.subject, "nats: presence did not parse")
                    }
                }
            }
        });
        tokio::spawn(self.clone().tell_presence());
        Ok(())
    }

    /// Tells the other nodes who holds a stream here, at each change and
    /// every `PRESENCE_EVERY`.
    async fn tell_presence(self: Arc<Self>) {
        let Some(peers) = self.peers.get() else {
            return;
        };
        loop {
            {
                let left = self.presence_out.lock().await;
                if *left {
                    return;
                }
                let members: Vec<i64> = self
                    .connections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .keys()
                    .copied()
                    .collect();
                peers.send_presence(&members).await;
            }
            let _ =
                tokio::time::timeout(peers::PRESENCE_EVERY, self.presence_changed.notified()).await;
        }
    }

    /// Tells the other nodes, as this one stops, that nobody holds a stream
    /// here any more and that it is gone: they stop counting its operators
    /// as online, and the node itself (asking it to number the log, to
    /// write sends, where a visitor is), at once rather than `PRESENCE_FOR`
    /// later (which still covers a node that dies).
    pub async fn leave(&self) {
        let Some(peers) = self.peers.get() else {
            return;
        };
        let mut left = self.presence_out.lock().await;
        *left = true;
        // The empty presence for nodes of the previous version, which do not
        // listen for "left".
        peers.send_presence(&[]).await;
        peers.send_left().await;
        if let Err(e) = peers.client.flush().await {
            tracing::warn!(error = %e, "nats: telling the other nodes this one stops failed");
        }
    }

    /// Forgets what a node that stops told (`presence`: its presence
    /// subject), and takes no more of it.
    fn departed(&self, node: &str, presence: &str) {
        // `remote_presence` first, as the presence task takes them.
        let mut told = self
            .remote_presence
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut departed = self.departed.lock().unwrap_or_else(PoisonError::into_inner);
        departed.retain(|_, at| at.elapsed() < peers::PRESENCE_FOR);
        departed.insert(presence.to_string(), Instant::now());
        told.remove(presence);
        tracing::debug!(node, "nats: a node stopped");
    }

    /// Whether the node of this presence subject said it stops.
    fn has_departed(&self, presence: &str) -> bool {
        self.departed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(presence)
    }

    /// The connection to the other nodes, when there are any.
    pub fn nats(&self) -> Option<&async_nats::Client> {
        self.peers.get().map(|p| &p.client)
    }

    /// The NATS subjects the nodes of this cluster send their events on
    /// (`switchboard.<cluster>.log.*`), when connected.
    pub fn peer_subjects(&self) -> Option<&str> {
        self.peers.get().map(|p| p.incoming.as_str())
    }

    pub fn latest_seq(&self) -> i64 {
        *self.latest.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.latest.subscribe()
    }

    /// Wakes when the widget's settings or the team changed.
    pub fn widget_changes(&self) -> watch::Receiver<u64> {
        self.widget_changes.subscribe()
    }

    async fn follow_log(self: Arc<Self>) {
        // While events are held back behind a transaction still open, they
        // are tried again soon — that transaction may be another database's,
        // whose end wakes nobody here — and less often the longer it stays.
        let mut retry: Option<std::time::Duration> = None;
        loop {
            // Commits that come while a pass runs leave one wake-up behind,
            // and the next pass takes them all: passes gather commits as
            // group commit gathers sends, without a wait of their own.
            let _ = tokio::time::timeout(retry.unwrap_or(POLL_EVERY), self.wake.notified()).await;
            // A pass that other nodes asked for numbers here; otherwise the
            // cluster's numbering node is asked, if another (`numbering`).
            let askers = self.take_askers();
            let numbering_node = if askers.is_empty() {
                self.numbering_node()
            } else {
                None
            };
            let held_back = match numbering_node {
                // It numbers what it found held back as soon as it can.
                Some(node) if self.ask_to_number(&node).await => false,
                _ => self.number_and_read().await,
            };
            self.answer_askers(askers, held_back);
            retry = held_back
                .then(|| retry.map_or(HELD_BACK_RETRY, |r| (r * 2).min(HELD_BACK_RETRY_MAX)));
        }
    }

    /// Numbers what writers on every node committed (PostgreSQL: see
    /// `events::numbered_after`) and reads what is new into the ring, sending
    /// it to the other nodes. True when some events wait behind a transaction
    /// still open.
    async fn number_and_read(&self) -> bool {
        let mut held_back = false;
        loop {
            let after = self.latest_seq();
            if self.db.backend == Backend::Postgres {
                self.own_passes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            match events::numbered_after(&self.db, after, READ_AT_ONCE).await {
                Ok(pass) => {
                    held_back |= pass.held_back;
                    // A short read reached the end of the log: asking
                    // again would cost a round trip to say so.
                    let at_end = pass.events.len() < READ_AT_ONCE as usize;
                    let added = self.append(pass.events);
                    if let Some(peers) = self.peers.get() {
                        if self.db.backend == Backend::Postgres && !added.is_empty() {
                            peers.send(&added);
                        }
                    }
                    if at_end {
                        return held_back;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "hub: reading the event log failed");
                    if self.db.backend == Backend::Postgres {
                        // Numbering is a write and may fail where reading
                        // does not (a full disk): what other nodes
                        // numbered still goes out, and the numbering is
                        // tried again soon.
                        if let Ok(batch) = events::after(&self.db, after, READ_AT_ONCE).await {
                            self.append(batch);
                        }
                        return true;
                    }
                    return held_back;
                }
            }
        }
    }

    /// Events a writer of this node has just committed, handed over so that
    /// the hub need not read them back from the database. Only for SQLite,
    /// where the write lock makes `seq` the commit order (SQLite nodes share
    /// no log, so nothing goes to other nodes).
    pub fn publish_committed(&self, batch: Vec<StoredEvent>) {
        self.add_following(batch);
    }

    /// Events in position order, straight out if they follow on from what
    /// the hub holds; if they do not (an earlier one is not here yet), the hub
    /// is woken to read the log instead.
    fn add_following(&self, batch: Vec<StoredEvent>) {
        if batch.is_empty() {
            return;
        }
        let gap = {
            let _appending = self
                .appending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let held = self.latest_seq();
            let first_new = batch.iter().map(|e| e.seq).find(|&seq| seq > held);
            match first_new {
                None => false,
                Some(seq) if seq == held + 1 => {
                    self.append_locked(batch);
                    false
                }
                Some(_) => true,
            }
        };
        if gap {
            self.wake.notify_one();
        }
    }

    /// Adds events read or committed in `seq` order to the ring and the
    /// visitors' feeds, skipping any the hub already holds, and announces
    /// them. Returns those it added.
    fn append(&self, batch: Vec<StoredEvent>) -> Vec<Arc<LiveEvent>> {
        let _appending = self
            .appending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.append_locked(batch)
    }

    fn append_locked(&self, batch: Vec<StoredEvent>) -> Vec<Arc<LiveEvent>> {
        let held = self.latest_seq();
        let batch: Vec<Arc<LiveEvent>> = batch
            .into_iter()
            .filter(|e| e.seq > held)
            .map(LiveEvent::new)
            .collect();
        let Some(newest) = batch.last().map(|e| e.seq) else {
            return batch;
        };
        {
            let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
            for event in &batch {
                if ring.len() == RING_CAPACITY {
                    ring.pop_front();
                }
                ring.push_back(event.clone());
            }
        }
        self.latest.send_replace(newest);
        self.route_to_visitors(&batch, newest);
        if batch
            .iter()
            .any(|e| e.name == event::WIDGET_UPDATED || e.name == event::TEAM_UPDATED)
        {
            self.widget_changes.send_modify(|n| *n += 1);
        }
        batch
    }

    fn route_to_visitors(&self, batch: &[Arc<LiveEvent>], newest: i64) {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        feeds.routed = newest;
        for event in batch {
            let Some(feed) = event.visitor_id.and_then(|v| feeds.by_visitor.get_mut(&v)) else {
                continue;
            };
            if feed.recent.len() == FEED_CAPACITY {
                if let Some(dropped) = feed.recent.pop_front() {
                    feed.complete_after = dropped.seq;
                }
            }
            feed.recent.push_back(event.clone());
            feed.latest.send_replace(event.seq);
        }
    }

    /// Follows one visitor's events (and marks them present) until dropped.
    pub fn follow_visitor(&self, visitor_id: i64) -> VisitorFollow<'_> {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        let routed = feeds.routed;
        let feed = feeds
            .by_visitor
            .entry(visitor_id)
            .or_insert_with(|| VisitorFeed {
                complete_after: routed,
                recent: VecDeque::new(),
                latest: watch::channel(routed).0,
                streams: 0,
            });
        feed.streams += 1;
        VisitorFollow {
            hub: self,
            visitor_id,
            latest: feed.latest.subscribe(),
        }
    }

    /// One visitor's events after `seq`, up to `limit`: from their feed when it
    /// holds every one of them, else from the database.
    async fn visitor_events_after(
        &self,
        visitor_id: i64,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<Arc<LiveEvent>>, sqlx::Error> {
        {
            let feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(feed) = feeds.by_visitor.get(&visitor_id) {
                if seq >= feed.complete_after {
                    return Ok(feed
                        .recent
                        .iter()
                        .filter(|e| e.seq > seq)
                        .take(limit)
                        .cloned()
                        .collect());
                }
            }
        }
        let rows = events::of_visitor_after(&self.db, visitor_id, seq, limit as i64).await?;
        Ok(rows.into_iter().map(LiveEvent::new).collect())
    }

    /// Events after `seq` up to `limit`: from the ring when it still holds them,
    /// else from the database.
    pub async fn events_after(
        &self,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<Arc<LiveEvent>>, sqlx::Error> {
        {
            let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(first) = ring.front() {
                if first.seq <= seq + 1 {
                    let start = ring.partition_point(|e| e.seq <= seq);
                    return Ok(ring.iter().skip(start).take(limit).cloned().collect());
                }
            }
        }
        let rows = events::after(&self.db, seq, limit as i64).await?;
        Ok(rows.into_iter().map(LiveEvent::new).collect())
    }

    /// Counts one live operator stream of a user until dropped.
    pub fn connected(&self, user_id: i64) -> ConnectionGuard<'_> {
        let first = {
            let mut connections = self
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let streams = connections.entry(user_id).or_default();
            *streams += 1;
            *streams == 1
        };
        if first {
            self.presence_changed.notify_one();
        }
        ConnectionGuard { hub: self, user_id }
    }

    /// Whether a team member has a live stream on this node or, as the other
    /// nodes told lately, on another.
    pub fn is_connected(&self, user_id: i64) -> bool {
        let here = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user_id)
            .is_some_and(|n| *n > 0);
        here || self
            .remote_presence
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .any(|(told, members)| {
                told.elapsed() < peers::PRESENCE_FOR && members.contains(&user_id)
            })
    }

    /// Which of `visitors` are on the site through another node: their
    /// widget holds a stream there, as the other nodes say within
    /// [`ASK_FOR_VISITORS_WITHIN`] (with NATS; none without).
    pub async fn visitors_present_elsewhere(&self, visitors: &[i64]) -> HashSet<i64> {
        let others = self.other_nodes();
        match self.peers.get() {
            Some(peers) if !others.is_empty() && !visitors.is_empty() => {
                peers
                    .visitors_elsewhere(visitors, others, ASK_FOR_VISITORS_WITHIN)
                    .await
            }
            _ => HashSet::new(),
        }
    }

    /// Whether a visitor is on the site through any node.
    pub async fn visitor_present_in_cluster(&self, visitor_id: i64) -> bool {
        self.visitor_present(visitor_id)
            || !self
                .visitors_present_elsewhere(&[visitor_id])
                .await
                .is_empty()
    }

    /// The other nodes of the cluster that told their presence lately.
    pub fn other_nodes(&self) -> HashSet<String> {
        let Some(peers) = self.peers.get() else {
            return HashSet::new();
        };
        self.remote_presence
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, (at, _))| at.elapsed() < peers::PRESENCE_FOR)
            .filter_map(|(subject, _)| peers.node_of("presence", subject))
            .map(str::to_string)
            .collect()
    }

    /// Whether a visitor is on the site through this node (their widget
    /// holds a stream here).
    pub fn visitor_present(&self, visitor_id: i64) -> bool {
        self.feeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_visitor
            .contains_key(&visitor_id)
    }
}

pub struct ConnectionGuard<'a> {
    hub: &'a Hub,
    user_id: i64,
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        let mut map = self
            .hub
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.user_id);
                self.hub.presence_changed.notify_one();
            }
        }
    }
}

/// One visitor stream's view of the hub: wakes when the visitor has new events.
pub struct VisitorFollow<'a> {
    hub: &'a Hub,
    visitor_id: i64,
    latest: watch::Receiver<i64>,
}

impl VisitorFollow<'_> {
    pub async fn events_after(
        &self,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<Arc<LiveEvent>>, sqlx::Error> {
        self.hub
            .visitor_events_after(self.visitor_id, seq, limit)
            .await
    }

    /// Waits for new events of this visitor; Err when the hub is gone.
    pub async fn changed(&mut self) -> Result<(), watch::error::RecvError> {
        self.latest.changed().await
    }
}

impl Drop for VisitorFollow<'_> {
    fn drop(&mut self) {
        let mut feeds = self
            .hub
            .feeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(feed) = feeds.by_visitor.get_mut(&self.visitor_id) {
            feed.streams -= 1;
            if feed.streams == 0 {
                feeds.by_visitor.remove(&self.visitor_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, visitor_id: i64) -> StoredEvent {
        StoredEvent {
            seq,
            name: event::MESSAGE_CREATED.into(),
            conversation_id: Some(1),
            visitor_id: Some(visitor_id),
            data: "{}".into(),
        }
    }

    /// A panic while the hub's locks were held (here: on purpose, in another
    /// thread) leaves them poisoned; committed events still go out to the
    /// ring and the visitors' feeds instead of panicking every later caller.
    #[tokio::test]
    async fn poisoned_locks_do_not_stop_the_fan_out() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let hub = Hub::start(Db::connect(&url).await.unwrap()).await.unwrap();
        let follow = hub.follow_visitor(7);
        std::thread::scope(|s| {
            let poison = s.spawn(|| {
                let _appending = hub.appending.lock().unwrap();
                let _ring = hub.ring.write().unwrap();
                let _feeds = hub.feeds.lock().unwrap();
                panic!("poisoning the hub's locks");
            });
            assert!(poison.join().is_err());
        });
        assert!(hub.appending.is_poisoned() && hub.ring.is_poisoned());

        hub.publish_committed(vec![event(1, 7), event(2, 8)]);

        assert_eq!(hub.latest_seq(), 2);
        let seen = hub.visitor_events_after(7, 0, 10).await.unwrap();
        assert_eq!(seen.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
        assert_eq!(hub.events_after(0, 10).await.unwrap().len(), 2);
        drop(follow);
    }
}
