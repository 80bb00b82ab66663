//! The other nodes of a cluster (`--nats-url`), as the hub sees them.
//!
//! A node's hub numbers and reads the shared PostgreSQL log when this node's
//! writers wake it, then sends the events it added over NATS; the other
//! nodes add them to their rings as they are, without a round trip to the
//! database. Before, every commit woke every node's hub with an empty NATS
//! message, and each one numbered and read the log itself: with two nodes,
//! twice the hubs' statements on PostgreSQL, taking turns on the log's lock.
//!
//! Nothing depends on NATS delivering: a batch that does not follow on from
//! what a node holds (one was lost, or came late) wakes its hub to read the
//! log, and every hub reads the log at least once a second anyway.
//!
//! One node numbers the log for all (see `numbering`): the others ask it to
//! over NATS (`switchboard.<cluster>.number.<node>`, a request that it
//! answers after a pass), instead of each numbering after its own commits.
//!
//! Each node also tells the others who holds an operator stream on it, when
//! that changes and every [`PRESENCE_EVERY`]; what a node told counts for
//! [`PRESENCE_FOR`] (a node that stops stops counting). Presence decides
//! whether the widget shows the team online, how colleagues see each other,
//! and whether a notification email waits for the app to show the message:
//! an operator connected to another node is connected.
//!
//! Subjects are `switchboard.<cluster>.log.<node>` and
//! `switchboard.<cluster>.presence.<node>`: the cluster is a random name kept
//! in the database, so that clusters on different databases may share a NATS
//! server without taking each other's events; the node is random per start,
//! so that a node does not read back its own messages.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::LiveEvent;
use crate::db::Db;
use crate::store::events::StoredEvent;
use crate::store::settings;

/// Where nodes before this one sent their empty wake-ups. Still heard (one
/// wakes the hub to read the log), so that during a rolling upgrade the
/// events of nodes not upgraded yet arrive at once; no longer sent: a node
/// not upgraded yet gets the events of upgraded ones by its polling.
pub(super) const LEGACY_WAKE_SUBJECT: &str = "switchboard.events";
const CLUSTER_KEY: &str = "cluster_name";
/// Events are sent in batches of at most this many bytes, well under NATS's
/// default limit of 1 MB a message.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches waiting for NATS. While NATS is away its client stops taking
/// messages; past this many the hub drops batches (other nodes read the log)
/// rather than wait: a hub that waits on NATS stops its own node's streams.
const WAITING_BATCHES: usize = 1024;
/// How often a node tells who holds a stream on it (besides each change).
pub(super) const PRESENCE_EVERY: Duration = Duration::from_secs(2);
/// How long what a node told about presence counts without news from it.
pub(super) const PRESENCE_FOR: Duration = Duration::from_secs(7);
/// How long a node waits for the numbering node's answer before it numbers
/// the log itself (a node that stopped answers at once: NATS says nobody
/// listens; this is for one that hangs).
const ASK_TIMEOUT: Duration = Duration::from_millis(50);

/// A node's answer to "which of these visitors have a widget connected to
/// you?".
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct VisitorsHeld {
    node: String,
    held: Vec<i64>,
}

/// Why a node asked to do something (number the log, write sends) did not
/// answer.
#[derive(Debug)]
pub enum NotAnswered {
    /// Nobody listens where it is asked: it stopped (or runs a version that
    /// does not do that for others). Nothing was done there.
    NobodyListens,
    /// It listens but did not answer in time, or NATS failed: whether it did
    /// it is not known.
    Failed(String),
}

/// A node that did not answer lately, left alone for a while.
#[derive(Default)]
pub struct Suspect(std::sync::Mutex<Option<(String, std::time::Instant)>>);

impl Suspect {
    pub fn mark(&self, node: &str) {
        *self.lock() = Some((node.to_string(), std::time::Instant::now()));
    }

    /// Whether `node` failed to answer within the last `lately`.
    pub fn holds(&self, node: &str, lately: Duration) -> bool {
        matches!(&*self.lock(), Some((s, since)) if s == node && since.elapsed() < lately)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, std::time::Instant)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The numbering node's answer: it has numbered everything committed before
/// it was asked, up to `latest`, except what `held_back` says waits behind a
/// transaction still open (it numbers that later itself and sends it).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Numbered {
    pub latest: i64,
    pub held_back: bool,
}

pub(super) struct Peers {
    pub client: async_nats::Client,
    /// Batches of events, and answers to requests to number, on their way to
    /// NATS in the order they were made (see `WAITING_BATCHES`).
    outbox: tokio::sync::mpsc::Sender<(async_nats::Subject, Bytes)>,
    /// `switchboard.<cluster>`.
    prefix: String,
    /// This node's name in its subjects (random per start).
    pub node: String,
    /// Where this node is asked to number the log.
    pub number_in: String,
    /// This node's subject for events.
    pub outgoing: String,
    /// Every node's subject for events: `switchboard.<cluster>.log.*`.
    pub incoming: String,
    /// This node's subject for presence.
    pub presence_out: String,
    /// Every node's: `switchboard.<cluster>.presence.*`.
    pub presence_in: String,
    /// Where every node is asked which visitors' widgets hold a stream on
    /// it: `switchboard.<cluster>.visitors`.
    pub visitors_in: String,
    /// This node's subject for saying it stops, and every node's:
    /// `switchboard.<cluster>.left.*`.
    pub left_out: String,
    pub left_in: String,
}

impl Peers {
    pub async fn connect(url: &str, db: &Db) -> anyhow::Result<Peers> {
        // Each node subscribes to every node's subjects, its own among them:
        // without `no_echo` NATS sends every batch and presence back to the
        // node that sent it, to be read and dropped here.
        let client = async_nats::ConnectOptions::new()
            .no_echo()
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to NATS at {url}: {e}"))?;
        let cluster: String =
            settings::get_or_init(db, CLUSTER_KEY, &format!("{:016x}", rand::random::<u64>()))
                .await?;
        let prefix = format!("switchboard.{cluster}");
        let node = format!("{:016x}", rand::random::<u64>());
        let outgoing = format!("{prefix}.log.{node}");
        let (outbox, waiting) = tokio::sync::mpsc::channel(WAITING_BATCHES);
        tokio::spawn(publish_in_order(client.clone(), waiting));
        Ok(Peers {
            client,
            outbox,
            number_in: format!("{prefix}.number.{node}"),
            outgoing,
            incoming: format!("{prefix}.log.*"),
            presence_out: format!("{prefix}.presence.{node}"),
            presence_in: format!("{prefix}.presence.*"),
            visitors_in: format!("{prefix}.visitors"),
            left_out: format!("{prefix}.left.{node}"),
            left_in: format!("{prefix}.left.*"),
            node,
            prefix,
        })
    }

    /// Tells the other nodes which members hold a stream here.
    pub async fn send_presence(&self, members: &[i64]) {
        let payload = serde_json::to_vec(members).expect("ids serialise");
        if let Err(e) = self
            .client
            .publish(self.presence_out.clone(), payload.into())
            .await
        {
            tracing::warn!(error = %e, "nats: sending presence failed");
        }
    }

    /// Queues events this node added to its ring for the other nodes, in
    /// order, without waiting for NATS.
    pub fn send(&self, events: &[Arc<LiveEvent>]) {
        for payload in encode(events, BATCH_BYTES) {
            if self
                .outbox
                .try_send((self.outgoing.clone().into(), payload))
                .is_err()
            {
                tracing::warn!("nats: too many batches waiting; other nodes read the log instead");
                return;
            }
        }
    }

    /// Tells the other nodes this one stops: they stop counting it at once.
    pub async fn send_left(&self) {
        if let Err(e) = self
            .client
            .publish(self.left_out.clone(), Bytes::new())
            .await
        {
            tracing::warn!(error = %e, "nats: telling the other nodes this one stops failed");
        }
    }

    /// The node a subject of `kind` (`presence`, `left`) is of, if it is
    /// this cluster's: the inverse of [`Peers::subject`].
    pub fn node_of<'s>(&self, kind: &str, subject: &'s str) -> Option<&'s str> {
        subject
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('.')?
            .strip_prefix(kind)?
            .strip_prefix('.')
    }

    /// `switchboard.<cluster>.<kind>.<node>`: where `node` is asked to do
    /// `kind` of work.
    pub fn subject(&self, kind: &str, node: &str) -> String {
        format!("{}.{kind}.{node}", self.prefix)
    }

    /// Asks `node` to do `kind` of work and waits up to `within` for its
    /// answer.
    pub async fn ask(
        &self,
        kind: &str,
        node: &str,
        payload: Bytes,
        within: Duration,
    ) -> Result<Bytes, NotAnswered> {
        let request = self.client.request(self.subject(kind, node), payload);
        let answer = tokio::time::timeout(within, request)
            .await
            .map_err(|_| NotAnswered::Failed(format!("no answer in {within:?}")))?
            .map_err(|e| match e.kind() {
                async_nats::client::RequestErrorKind::NoResponders => NotAnswered::NobodyListens,
                _ => NotAnswered::Failed(e.to_string()),
            })?;
        Ok(answer.payload)
    }

    /// Asks the other nodes which of `visitors` have a widget holding a
    /// stream on them, and waits up to `within` in all for an answer from
    /// each node in `others`: the visitors any node says it holds, those of
    /// the answers that came in time (a node of the previous version does
    /// not answer, and a node that does not answer holds nobody here).
    pub async fn visitors_elsewhere(
        &self,
        visitors: &[i64],
        mut others: HashSet<String>,
        within: Duration,
    ) -> HashSet<i64> {
        let mut held = HashSet::new();
        // The whole exchange is bounded: a client that reconnects stops
        // taking commands, and the caller must not wait for NATS to return.
        let _ = tokio::time::timeout(within, async {
            use futures_util::StreamExt;
            let inbox = self.client.new_inbox();
            // Subscribed before asking, on the same connection: no answer is
            // missed.
            let Ok(mut answers) = self.client.subscribe(inbox.clone()).await else {
                return;
            };
            let question = serde_json::to_vec(visitors).expect("ids serialise");
            let asked = self
                .client
                .publish_with_reply(self.visitors_in.clone(), inbox, question.into())
                .await;
            if asked.is_err() {
                return;
            }
            while !others.is_empty() {
                let Some(answer) = answers.next().await else {
                    return;
                };
                let Ok(answer) = serde_json::from_slice::<VisitorsHeld>(&answer.payload) else {
                    continue;
                };
                if answer.node == self.node {
                    continue;
                }
                // Any node's "held here" counts, even one not heard of yet.
                others.remove(&answer.node);
                held.extend(answer.held.into_iter().filter(|id| visitors.contains(id)));
            }
        })
        .await;
        held
    }

    /// Answers a node that asked which visitors are on the site through
    /// this one.
    pub async fn answer_visitors(&self, reply: async_nats::Subject, held: Vec<i64>) {
        let answer = VisitorsHeld {
            node: self.node.clone(),
            held,
        };
        let payload = serde_json::to_vec(&answer).expect("answers serialise");
        if let Err(e) = self.client.publish(reply, payload.into()).await {
            tracing::debug!(error = %e, "nats: answering which visitors are here failed");
        }
    }

    /// Asks `node` to number the log. Its events come as usual, on its log
    /// subject; the answer says up to where.
    pub async fn ask_to_number(&self, node: &str) -> Result<Numbered, NotAnswered> {
        let answer = self.ask("number", node, Bytes::new(), ASK_TIMEOUT).await?;
        serde_json::from_slice(&answer)
            .map_err(|e| NotAnswered::Failed(format!("the answer did not parse: {e}")))
    }

    /// Answers the nodes that asked for a pass, after the events it added
    /// (they go out in order, so an answer seldom comes before its events).
    pub fn answer(&self, askers: Vec<async_nats::Subject>, numbered: &Numbered) {
        let payload: Bytes = serde_json::to_vec(numbered)
            .expect("answers serialise")
            .into();
        for reply in askers {
            if self.outbox.try_send((reply, payload.clone())).is_err() {
                tracing::warn!(
                    "nats: too many messages waiting; a node asking to number will do it itself"
                );
            }
        }
    }
}

async fn publish_in_order(
    client: async_nats::Client,
    mut waiting: tokio::sync::mpsc::Receiver<(async_nats::Subject, Bytes)>,
) {
    while let Some((subject, payload)) = waiting.recv().await {
        if let Err(e) = client.publish(subject, payload).await {
            tracing::warn!(error = %e, "nats: sending events failed (other nodes read the log)");
        }
    }
}

/// The events as JSON arrays of at most `max_bytes` each (a single larger
/// event goes alone).
fn encode(events: &[Arc<LiveEvent>], max_bytes: usize) -> Vec<Bytes> {
    let mut payloads = Vec::new();
    let mut batch = b"[".to_vec();
    for event in events {
        let this = serde_json::to_vec(&event.stored).expect("stored events serialise");
        if batch.len() > 1 && batch.len() + this.len() + 1 > max_bytes {
            batch.push(b']');
            payloads.push(std::mem::replace(&mut batch, b"[".to_vec()).into());
        }
        if batch.len() > 1 {
            batch.push(b',');
        }
        batch.extend_from_slice(&this);
    }
    if batch.len() > 1 {
        batch.push(b']');
        payloads.push(batch.into());
    }
    payloads
}

pub(super) fn decode(payload: &[u8]) -> Result<Vec<StoredEvent>, serde_json::Error> {
    serde_json::from_slice(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, data: &str) -> Arc<LiveEvent> {
        LiveEvent::new(StoredEvent {
            seq,
            name: "message.created".into(),
            conversation_id: Some(3),
            visitor_id: None,
            data: data.into(),
        })
    }

    #[test]
    fn events_cross_as_they_were_stored_in_batches_of_bounded_size() {
        let events: Vec<_> = (1..=10)
            .map(|seq| {
                event(
                    seq,
                    &format!(r#"{{"body":"{}\"quoted\""}}"#, "x".repeat(100)),
                )
            })
            .collect();
        let payloads = encode(&events, 500);
        assert!(payloads.len() > 1, "split into several messages");
        assert!(payloads.iter().all(|p| p.len() <= 500));
        let back: Vec<StoredEvent> = payloads.iter().flat_map(|p| decode(p).unwrap()).collect();
        assert_eq!(back.len(), 10);
        for (sent, got) in events.iter().zip(&back) {
            assert_eq!(
                (
                    got.seq,
                    &got.name,
                    got.conversation_id,
                    got.visitor_id,
                    &got.data
                ),
                (
                    sent.seq,
                    &sent.name,
                    sent.conversation_id,
                    sent.visitor_id,
                    &sent.data
                )
            );
        }
    }

    #[test]
    fn an_event_larger_than_a_batch_goes_alone() {
        let events = [
            event(1, "{}"),
            event(2, &format!("\"{}\"", "y".repeat(2000))),
            event(3, "{}"),
        ];
        let payloads = encode(&events, 500);
        let sizes: Vec<usize> = payloads.iter().map(|p| decode(p).unwrap().len()).collect();
        assert_eq!(sizes, [1, 1, 1]);
    }
}
