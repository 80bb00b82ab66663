//! Fan-out of the event log to the websocket streams of this node.
//!
//! Writers append events to the database and then `wake` the hub. One task per
//! node reads what is new from the database, in `seq` order, into a ring of recent
//! events and announces the newest seq; each stream follows that ring at its own
//! pace (falling back to the database when it is behind the ring), so a slow
//! client never slows the others and nothing is skipped or sent twice.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{watch, Notify};

use crate::db::Db;
use crate::store::events::{self, StoredEvent};

const RING_CAPACITY: usize = 4096;
const NATS_SUBJECT: &str = "switchboard.events";

pub struct Hub {
    db: Db,
    ring: RwLock<VecDeque<Arc<StoredEvent>>>,
    latest: watch::Sender<i64>,
    wake: Notify,
    /// Other nodes, when running several (`--nats-url`). NATS only wakes them
    /// up: the events themselves are read from the shared database, so a lost
    /// NATS message delays an event by at most the poll interval, never loses it.
    nats: std::sync::OnceLock<async_nats::Client>,
    /// Live streams per user or visitor on this node (presence).
    connections: Mutex<HashMap<Party, usize>>,
}

impl Hub {
    pub async fn start(db: Db) -> anyhow::Result<Arc<Hub>> {
        let latest = events::latest(&db).await?;
        let hub = Arc::new(Hub {
            db,
            ring: RwLock::new(VecDeque::with_capacity(RING_CAPACITY)),
            latest: watch::channel(latest).0,
            wake: Notify::new(),
            nats: std::sync::OnceLock::new(),
            connections: Mutex::new(HashMap::new()),
        });
        tokio::spawn(hub.clone().follow_log());
        Ok(hub)
    }

    /// Tells the hubs of every node that events were committed.
    pub fn wake(&self) {
        self.wake.notify_one();
        if let Some(nats) = self.nats.get() {
            let nats = nats.clone();
            tokio::spawn(async move {
                if let Err(e) = nats.publish(NATS_SUBJECT, bytes::Bytes::new()).await {
                    tracing::warn!(error = %e, "nats: publishing a wake-up failed (other nodes poll)");
                }
            });
        }
    }

    /// Joins the other nodes: their wake-ups wake this hub.
    pub async fn connect_nats(self: &Arc<Self>, url: &str) -> anyhow::Result<()> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to NATS at {url}: {e}"))?;
        let mut wakeups = client
            .subscribe(NATS_SUBJECT)
            .await
            .map_err(|e| anyhow::anyhow!("subscribing on NATS: {e}"))?;
        let _ = self.nats.set(client);
        let hub = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while wakeups.next().await.is_some() {
                hub.wake.notify_one();
            }
            tracing::warn!("nats: subscription ended; falling back to polling");
        });
        Ok(())
    }

    pub fn latest_seq(&self) -> i64 {
        *self.latest.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.latest.subscribe()
    }

    async fn follow_log(self: Arc<Self>) {
        loop {
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(1), self.wake.notified()).await;
            loop {
                let after = self.latest_seq();
                match events::after(&self.db, after, 1000).await {
                    Ok(batch) if batch.is_empty() => break,
                    Ok(batch) => {
                        let newest = batch.last().map(|e| e.seq).unwrap_or(after);
                        {
                            let mut ring = self.ring.write().expect("hub ring poisoned");
                            for event in batch {
                                if ring.len() == RING_CAPACITY {
                                    ring.pop_front();
                                }
                                ring.push_back(Arc::new(event));
                            }
                        }
                        self.latest.send_replace(newest);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "hub: reading the event log failed");
                        break;
                    }
                }
            }
        }
    }

    /// Events after `seq` up to `limit`: from the ring when it still holds them,
    /// else from the database.
    pub async fn events_after(
        &self,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<Arc<StoredEvent>>, sqlx::Error> {
        {
            let ring = self.ring.read().expect("hub ring poisoned");
            if let Some(first) = ring.front() {
                if first.seq <= seq + 1 {
                    let start = ring.partition_point(|e| e.seq <= seq);
                    return Ok(ring.iter().skip(start).take(limit).cloned().collect());
                }
            }
        }
        let rows = events::after(&self.db, seq, limit as i64).await?;
        Ok(rows.into_iter().map(Arc::new).collect())
    }

    pub fn connected(&self, party: Party) -> ConnectionGuard<'_> {
        *self
            .connections
            .lock()
            .expect("presence poisoned")
            .entry(party)
            .or_default() += 1;
        ConnectionGuard { hub: self, party }
    }

    /// Whether a team member has a live stream here.
    pub fn is_connected(&self, user_id: i64) -> bool {
        self.has(Party::User(user_id))
    }

    /// Whether a visitor is on the site (their widget holds a stream).
    pub fn visitor_present(&self, visitor_id: i64) -> bool {
        self.has(Party::Visitor(visitor_id))
    }

    fn has(&self, party: Party) -> bool {
        self.connections
            .lock()
            .expect("presence poisoned")
            .get(&party)
            .is_some_and(|n| *n > 0)
    }
}

/// Who holds a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    User(i64),
    Visitor(i64),
}

/// Counts one live stream of a user until dropped.
pub struct ConnectionGuard<'a> {
    hub: &'a Hub,
    party: Party,
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.hub.connections.lock().expect("presence poisoned");
        if let Some(n) = map.get_mut(&self.party) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.party);
            }
        }
    }
}
