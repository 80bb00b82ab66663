//! What the writers of visitors' common sends share: `sqlite_sends` (SQLite's
//! own thread) and `postgres_sends` (a batch to a statement).

use switchboard_protocol::{Conversation, Message, VisitorRef};

use crate::store::messages::MessageRecord;

/// How the API shows what the writers store, for the log's events (given by
/// the caller, who knows the views).
pub struct Views {
    /// A new message without files.
    pub message: Box<dyn Fn(&MessageRecord) -> Message + Send + Sync>,
    /// The conversation (id, opened at) a visitor's first message opened.
    pub opened: fn(VisitorRef, i64, i64, Message) -> Conversation,
}

/// Serialised when a node hands it to the cluster's writer (`cluster_sends`).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct VisitorSend {
    pub visitor_id: i64,
    pub client_id: Option<String>,
    pub body: String,
    /// Its search terms (see `domain::search_terms`).
    pub terms: String,
    /// Whether it may open the visitor's first conversation here (not when
    /// it answers a greeting, which the general path writes first).
    pub may_open: bool,
}
