//! SQL storage, one module per table family. Every query is written once in the
//! dialect SQLite and PostgreSQL share (`$n` placeholders, BIGINT columns).

pub mod events;
pub mod outbox;
pub mod sessions;
pub mod settings;
pub mod users;
