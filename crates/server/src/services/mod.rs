//! Use cases: the rules of the product, apart from HTTP and SQL details.

pub mod accounts;
pub mod conversations;
pub mod notify;
pub mod reply_keys;
pub mod team;
