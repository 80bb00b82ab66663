//! One writer for the cluster's visitor sends (PostgreSQL with NATS).
//!
//! Each node writing its own visitors' sends made every node commit its own
//! batches, and on the database's one WAL their fsyncs queued behind each
//! other: two nodes spent 1.3× the CPU of one and doubled the time to the
//! 201, where two nodes whose visitors all wrote through one of them spent
//! what one node spends (BENCHMARKS.md, "Where the second node's cost
//! lands"). So a node hands its visitors' common sends (`postgres_sends`) to
//! the node that numbers the log (`hub::numbering`) over NATS, which writes
//! them in its own batches and answers once they are durable; its hub then
//! numbers them and their events reach every node as usual.
//!
//! Nothing depends on it. A node nobody answers for (it stopped, or runs a
//! version that does not write for others) gets the send written here; a
//! send the writer may have taken but did not answer in time is refused with
//! 503 — whether it was stored is not known, and the visitor's retry with the
//! same `client_id` is stored once either way — and this node writes its own
//! sends for [`SUSPECT_FOR`].

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use switchboard_protocol::Message;

use crate::error::{ApiError, ApiResult};
use crate::hub::{Hub, NotAnswered, Suspect};
use crate::postgres_sends::PostgresSends;
use crate::sends::VisitorSend;

/// The subject kind a node is asked to write on: `switchboard.<cluster>.write.<node>`.
const WRITE: &str = "write";
/// How long a send waits for the writer's answer. A batch is durable in
/// milliseconds; this is for a writer that hangs.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// How long a writer that did not answer is left alone.
const SUSPECT_FOR: Duration = Duration::from_secs(5);

/// The writer's answer, as it crosses NATS.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
enum Answer {
    /// Stored, durable: the message as the API shows it.
    Written { message: Message },
    /// Not the common case after all: the asking node writes it through the
    /// general path (nothing was stored).
    GeneralPath,
    /// The database refused the batch (a full disk, no connection).
    Refused {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<u64>,
    },
}

impl Answer {
    fn of(result: ApiResult<Option<Message>>) -> Answer {
        match result {
            Ok(Some(message)) => Answer::Written { message },
            Ok(None) => Answer::GeneralPath,
            Err(e) => Answer::Refused {
                status: e.status.as_u16(),
                code: e.code.to_string(),
                message: e.message,
                retry_after: e.retry_after,
            },
        }
    }

    fn into_result(self) -> ApiResult<Option<Message>> {
        match self {
            Answer::Written { message } => Ok(Some(message)),
            Answer::GeneralPath => Ok(None),
            Answer::Refused {
                status,
                code,
                message,
                retry_after,
            } => Err(refusal(status, &code, message, retry_after)),
        }
    }
}

/// The writer's refusal as this node's own: the codes a batch can fail with.
fn refusal(status: u16, code: &str, message: String, retry_after: Option<u64>) -> ApiError {
    const CODES: [&str; 4] = [
        "storage_full",
        "database_unavailable",
        "overloaded",
        "internal",
    ];
    let code = CODES.into_iter().find(|c| *c == code).unwrap_or("internal");
    ApiError {
        retry_after,
        ..ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message,
        )
    }
}

/// This node's side: where its visitors' common sends are written.
#[derive(Default)]
pub struct ClusterSends {
    suspect: Suspect,
    forwarded: AtomicU64,
}

impl ClusterSends {
    /// Writes `send` as `PostgresSends::write` does, on the cluster's writer
    /// when there is another one.
    pub async fn write(
        &self,
        hub: &Hub,
        here: &PostgresSends,
        send: VisitorSend,
    ) -> ApiResult<Option<Message>> {
        if let Some(node) = self.writer(hub) {
            match ask(hub, &node, &send).await {
                Ok(answer) => {
                    self.forwarded.fetch_add(1, Ordering::Relaxed);
                    return answer.into_result();
                }
                Err(NotAnswered::NobodyListens) => {}
                Err(NotAnswered::Failed(why)) => {
                    tracing::warn!(node, %why, "the cluster's writer did not answer; writing here for a while");
                    self.suspect.mark(&node);
                    return Err(ApiError::unavailable(
                        1,
                        "the message may not have been stored; send it again (with the same client_id)",
                    ));
                }
            }
        }
        here.write(send).await
    }

    /// How many sends this node had written elsewhere.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    /// The node that writes for this one: the numbering node, unless it
    /// did not answer lately.
    fn writer(&self, hub: &Hub) -> Option<String> {
        let node = hub.lowest_node()?;
        (!self.suspect.holds(&node, SUSPECT_FOR)).then_some(node)
    }
}

async fn ask(hub: &Hub, node: &str, send: &VisitorSend) -> Result<Answer, NotAnswered> {
    // Cut off from NATS, a request would wait out its time and leave the
    // send in doubt; it never reaches the writer, so this node writes it.
    let connected = hub
        .nats()
        .is_some_and(|n| n.connection_state() == async_nats::connection::State::Connected);
    if !connected {
        return Err(NotAnswered::NobodyListens);
    }
    let payload: Bytes = serde_json::to_vec(send).expect("sends serialise").into();
    let answer = hub.ask_node(WRITE, node, payload, ANSWER_WITHIN).await?;
    serde_json::from_slice(&answer)
        .map_err(|e| NotAnswered::Failed(format!("the answer did not parse: {e}")))
}

/// The writer's side: writes the sends other nodes hand this one with
/// `write` (its `PostgresSends`), for the life of the server (with NATS).
pub async fn serve<W, F>(hub: Arc<Hub>, write: W)
where
    W: Fn(VisitorSend) -> F + Send + Sync + 'static,
    F: Future<Output = ApiResult<Option<Message>>> + Send + 'static,
{
    let (Some(nats), Some(node)) = (hub.nats().cloned(), hub.node_name()) else {
        return;
    };
    let Some(subject) = hub.node_subject(WRITE, node) else {
        return;
    };
    let mut asked = match nats.subscribe(subject).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "nats: not writing for the other nodes (they write themselves)");
            return;
        }
    };
    while let Some(request) = asked.next().await {
        let Some(reply) = request.reply else {
            continue;
        };
        let nats = nats.clone();
        // Another version's send: the asking node writes it itself.
        let written = serde_json::from_slice::<VisitorSend>(&request.payload)
            .ok()
            .map(&write);
        tokio::spawn(async move {
            let answer = match written {
                Some(written) => Answer::of(written.await),
                None => Answer::GeneralPath,
            };
            let payload = serde_json::to_vec(&answer).expect("answers serialise");
            if let Err(e) = nats.publish(reply, payload.into()).await {
                tracing::warn!(error = %e, "nats: answering a node's send failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_crosses_with_its_status_code_and_retry() {
        let answer = Answer::of(Err(ApiError::storage_full()));
        let back: Answer = serde_json::from_slice(&serde_json::to_vec(&answer).unwrap()).unwrap();
        let e = back.into_result().unwrap_err();
        assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(e.code, "storage_full");
        assert_eq!(e.retry_after, Some(10));
        // a code this version does not know stays a server error
        let e = refusal(500, "something_new", "no".into(), None);
        assert_eq!(
            (e.status, e.code),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        );
    }

    #[test]
    fn the_general_path_crosses_as_such() {
        let back: Answer =
            serde_json::from_slice(&serde_json::to_vec(&Answer::of(Ok(None))).unwrap()).unwrap();
        assert!(matches!(back.into_result(), Ok(None)));
    }
}
