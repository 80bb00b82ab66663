//! Black-box tests of the server: the real binary's code on a real port, real
//! SMTP, real HTTP.

mod helpers;

mod accounts;
mod outbox;
mod profile;
mod team;
