//! A batch of visitors' chat messages on PostgreSQL in two round trips (the
//! writer of `postgres_sends`): `plan` reads, outside any transaction, what
//! the messages' events need — new ids, each visitor's latest conversation
//! and name, whether a send is a retry; `store` then takes the visitors'
//! locks, checks that, and writes everything as one statement that commits
//! as it returns (migration 0015, `store_visitor_sends`).

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use switchboard_protocol::event::{CONVERSATION_CREATED, MESSAGE_CREATED};
use switchboard_protocol::VisitorRef;

/// A send as `plan` takes it.
#[derive(Serialize)]
pub struct Wanted<'a> {
    pub k: usize,
    pub visitor_id: i64,
    pub client_id: Option<&'a str>,
    /// Whether it may open the visitor's first conversation.
    pub may_open: bool,
}

/// What `plan` read for a send whose visitor exists.
pub struct Planned {
    pub k: usize,
    pub visitor: VisitorRef,
    /// Where the message goes, when it can be written here: its id and its
    /// conversation's (a new one when `opens`).
    pub into: Option<Target>,
}

pub struct Target {
    pub message_id: i64,
    pub conversation_id: i64,
    pub opens: bool,
}

/// A send as `store` takes it (see migration 0015 for each field).
#[derive(Serialize)]
pub struct Write<'a> {
    pub k: usize,
    pub lock_class: i32,
    pub lock_id: i32,
    pub visitor_id: i64,
    pub conversation_id: i64,
    pub opens: bool,
    pub id: i64,
    pub client_id: Option<&'a str>,
    pub body: &'a str,
    pub terms: &'a str,
    /// The `message.created` event's data.
    pub data: String,
    /// The `conversation.created` event's data, when it `opens`.
    pub opened: Option<String>,
}

/// Reads, without a transaction of its own or a lock, where each send would
/// go: into its visitor's latest conversation if it is open, or into a new
/// one if the visitor has none and `may_open`; not at all for a retry (its
/// `client_id` already sent). Ids come from the tables' sequences, so the
/// caller can build the events before writing. Sends of unknown visitors
/// are left out.
pub async fn plan(
    conn: &mut AnyConnection,
    wanted: &[Wanted<'_>],
) -> Result<Vec<Planned>, sqlx::Error> {
    // Each lookup goes through its index row by row (LATERAL … LIMIT 1):
    // PostgreSQL guesses a hundred rows for json_to_recordset and would
    // otherwise hash whole tables for them.
    const SQL: &str = "SELECT s.k, s.visitor_id, v.name, v.email, v.email_bounced_at, \
           CASE WHEN sent.one IS NULL AND (latest.status = 'open' OR (latest.id IS NULL AND s.may_open)) \
                THEN nextval('messages_id_seq') END AS message_id, \
           CASE WHEN sent.one IS NULL AND latest.id IS NULL AND s.may_open \
                THEN nextval('conversations_id_seq') ELSE latest.id END AS conversation_id, \
           latest.id IS NULL AS opens \
         FROM json_to_recordset($1::json) AS s(k int, visitor_id bigint, client_id text, may_open boolean) \
         CROSS JOIN LATERAL (SELECT id, name, email, email_bounced_at FROM visitors \
             WHERE id = s.visitor_id LIMIT 1) v \
         LEFT JOIN LATERAL (SELECT id, status FROM conversations \
             WHERE visitor_id = s.visitor_id ORDER BY id DESC LIMIT 1) latest ON true \
         LEFT JOIN LATERAL (SELECT 1 AS one FROM messages m \
             WHERE m.author_kind = 'visitor' AND m.author_id = s.visitor_id \
               AND m.client_id = s.client_id LIMIT 1) sent ON true \
         ORDER BY s.k";
    let json = serde_json::to_string(wanted).expect("sends serialise");
    let rows = sqlx::query(SQL).bind(json).fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            let k: i32 = row.try_get("k")?;
            let message_id: Option<i64> = row.try_get("message_id")?;
            let conversation_id: Option<i64> = row.try_get("conversation_id")?;
            let opens: bool = row.try_get("opens")?;
            let into = message_id
                .zip(conversation_id)
                .map(|(message_id, conversation_id)| Target {
                    message_id,
                    conversation_id,
                    opens,
                });
            Ok(Planned {
                k: k as usize,
                visitor: VisitorRef {
                    id: row.try_get("visitor_id")?,
                    name: row.try_get("name")?,
                    email: row.try_get("email")?,
                    email_bouncing: row.try_get::<Option<i64>, _>("email_bounced_at")?.is_some(),
                },
                into,
            })
        })
        .collect()
}

/// Writes the sends (their messages, conversations opened, summaries,
/// search terms and events) in one statement, its own transaction: when this
/// returns Ok, it is committed. Returns the `k` of each send written; the
/// others were not (see migration 0015 for why one is left out).
pub async fn store(
    conn: &mut AnyConnection,
    writes: &[Write<'_>],
    now: i64,
) -> Result<Vec<usize>, sqlx::Error> {
    let json = serde_json::to_string(writes).expect("writes serialise");
    // fetch_all reads on to the end of the exchange, past the commit: an
    // error committing comes back here.
    let rows = sqlx::query("SELECT k FROM store_visitor_sends($1::json, $2, $3, $4) AS k")
        .bind(json)
        .bind(now)
        .bind(CONVERSATION_CREATED)
        .bind(MESSAGE_CREATED)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| row.try_get::<i32, _>("k").map(|k| k as usize))
        .collect()
}
