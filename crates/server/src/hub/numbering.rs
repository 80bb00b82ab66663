//! One node numbers the shared PostgreSQL log for the whole cluster.
//!
//! Numbering (`events::numbered_after`) gives positions to what every node
//! committed, so any node may do it at any time and the result is the same;
//! but when each node numbered after its own commits, two nodes ran 1.6× the
//! passes of one, took turns on the log's lock, and each read an event 1.7
//! times (BENCHMARKS.md, "Two round trips a batch"). Now the node with the
//! lowest name among those that told their presence lately numbers for all:
//! the others, woken by their writers, ask it over NATS and wait for its
//! answer, which comes after a pass that started once it was asked — so
//! that pass numbered their commit, or found it held back behind a
//! transaction still open, which it then numbers itself when it can.
//!
//! Nothing depends on it: a node that gets no answer in time (the numbering
//! node stopped, hangs, or runs a version that does not answer) numbers the
//! log itself, as every node used to, and does not ask that node again for
//! [`SUSPECT_FOR`]. Nodes that disagree on who numbers (one has not heard of
//! the other yet) each number, which is only slower.

use std::sync::PoisonError;
use std::time::Duration;

use super::{peers, Hub, READ_AT_ONCE};
use crate::db::Backend;
use crate::store::events;

/// How long a numbering node that did not answer is left alone.
const SUSPECT_FOR: Duration = Duration::from_secs(1);
/// How long a node waits, after the answer, for the numbering node's events
/// to arrive on NATS before it reads them from the database.
const CATCH_UP_WAIT: Duration = Duration::from_millis(20);

impl Hub {
    /// The node this one asks to number the log, if not itself.
    pub fn numbering_node(&self) -> Option<String> {
        let lowest = self.lowest_node()?;
        (!self.suspect.holds(&lowest, SUSPECT_FOR)).then_some(lowest)
    }

    /// The node with the lowest name that told its presence lately, if lower
    /// than this one's: the cluster's numbering node, unless it does not
    /// answer (PostgreSQL with NATS only).
    pub fn lowest_node(&self) -> Option<String> {
        if self.db.backend != Backend::Postgres {
            return None;
        }
        let peers = self.peers.get()?;
        let told = self
            .remote_presence
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        told.iter()
            .filter(|(_, (at, _))| at.elapsed() < peers::PRESENCE_FOR)
            .filter_map(|(subject, _)| peers.node_of("presence", subject))
            .min()
            .filter(|lowest| *lowest < peers.node.as_str())
            .map(str::to_string)
    }

    /// `switchboard.<cluster>.<kind>.<node>`: where `node` is asked to do
    /// `kind` of work (with NATS).
    pub fn node_subject(&self, kind: &str, node: &str) -> Option<String> {
        self.peers.get().map(|p| p.subject(kind, node))
    }

    /// Asks `node` to do `kind` of work over NATS, waiting up to `within`.
    pub async fn ask_node(
        &self,
        kind: &str,
        node: &str,
        payload: bytes::Bytes,
        within: std::time::Duration,
    ) -> Result<bytes::Bytes, peers::NotAnswered> {
        match self.peers.get() {
            Some(peers) => peers.ask(kind, node, payload, within).await,
            None => Err(peers::NotAnswered::NobodyListens),
        }
    }

    /// This node's name among its cluster's (with NATS).
    pub fn node_name(&self) -> Option<&str> {
        self.peers.get().map(|p| p.node.as_str())
    }

    /// How many times this node numbered the log itself.
    pub fn own_numbering_passes(&self) -> u64 {
        self.own_passes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A node asked this one to number the log: the next pass answers it.
    pub(super) fn asked_to_number(&self, reply: async_nats::Subject) {
        self.askers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(reply);
        self.wake.notify_one();
    }

    /// The nodes that asked since the last pass began.
    pub(super) fn take_askers(&self) -> Vec<async_nats::Subject> {
        std::mem::take(&mut *self.askers.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Tells the nodes that asked where the pass that followed got to.
    pub(super) fn answer_askers(&self, askers: Vec<async_nats::Subject>, held_back: bool) {
        if askers.is_empty() {
            return;
        }
        if let Some(peers) = self.peers.get() {
            let numbered = peers::Numbered {
                latest: self.latest_seq(),
                held_back,
            };
            peers.answer(askers, &numbered);
        }
    }

    /// Has `node` number the log, then makes sure this hub holds everything
    /// it numbered. False when it did not answer: the caller numbers itself.
    pub(super) async fn ask_to_number(&self, node: &str) -> bool {
        let Some(peers) = self.peers.get() else {
            return false;
        };
        match peers.ask_to_number(node).await {
            Ok(numbered) => {
                self.catch_up_to(numbered.latest).await;
                true
            }
            Err(why) => {
                match why {
                    // Expected while it stops, or during a rolling upgrade.
                    peers::NotAnswered::NobodyListens => {
                        tracing::debug!(
                            node,
                            "hub: the numbering node is gone; numbering here for a while"
                        )
                    }
                    peers::NotAnswered::Failed(why) => {
                        tracing::warn!(node, %why, "hub: the numbering node did not answer; numbering here for a while")
                    }
                }
                self.suspect.mark(node);
                false
            }
        }
    }

    /// Waits for the events up to `latest` to arrive from the numbering node;
    /// reads them from the database if they do not come (a batch lost on
    /// NATS, or late).
    async fn catch_up_to(&self, latest: i64) {
        let mut held = self.latest.subscribe();
        let arrived = tokio::time::timeout(CATCH_UP_WAIT, held.wait_for(|&seq| seq >= latest))
            .await
            .is_ok_and(|r| r.is_ok());
        if arrived {
            return;
        }
        loop {
            let after = self.latest_seq();
            if after >= latest {
                return;
            }
            match events::after(&self.db, after, READ_AT_ONCE).await {
                Ok(batch) => {
                    let at_end = batch.len() < READ_AT_ONCE as usize;
                    self.append(batch);
                    if at_end {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "hub: reading the event log failed");
                    return;
                }
            }
        }
    }
}
