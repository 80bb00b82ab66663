//! Use cases: the rules of the product, apart from HTTP and SQL details.

pub mod accounts;
pub mod attachments;
pub mod bounces;
pub mod conversations;
pub mod inbound_mail;
pub mod notify;
pub mod reply_keys;
pub mod reports;
pub mod search;
pub mod team;
pub mod visitors;
pub mod widget_settings;
