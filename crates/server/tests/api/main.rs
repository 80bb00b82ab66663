//! Black-box tests of the server: the real binary's code on a real port, real
//! SMTP, real HTTP.

mod helpers;

mod accounts;
mod architecture;
mod attachments;
mod conversations;
mod crash;
mod dkim;
mod durability;
mod email;
mod event_log_plans;
mod faults;
mod nodes;
mod numbering_crash;
mod outbox;
mod postgres_sends;
mod profile;
mod reports;
mod roles;
mod search;
mod security;
mod smtp;
mod stream;
mod team;
mod upgrade;
mod visitors;
mod widget_settings;
