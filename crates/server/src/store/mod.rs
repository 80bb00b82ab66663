//! SQL storage, one module per table family. Every query is written once in the
//! dialect SQLite and PostgreSQL share (`$n` placeholders, BIGINT columns).

pub mod attachments;
pub mod conversations;
pub mod events;
pub mod greetings;
pub mod messages;
pub mod notifications;
pub mod outbox;
pub mod search;
pub mod sessions;
pub mod settings;
pub mod users;
pub mod visitor_batch;
pub mod visitors;
