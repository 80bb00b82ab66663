//! Bounces: email to a visitor goes out with the envelope sender
//! `bounce+<signed token>@<reply-domain>`, so a delivery status notification
//! (RFC 3464) that comes back names the visitor. A permanent failure for the
//! visitor's current address marks it bouncing: the dialog shows it, and no
//! email goes to it until the visitor gives another address. A bounce is not
//! a reply: it is never posted nor kept as refused mail.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::domain::reply_token::Recipient;
use crate::services::conversations as service;
use crate::services::reply_keys;
use crate::state::SharedState;
use crate::store::visitors;

/// The address a bounce names, if the token of `local_part` verifies.
pub async fn visitor_of(state: &SharedState, token: &str) -> Option<i64> {
    let verified = state.verify_reply(token).await?;
    if !reply_keys::is_open(&verified) {
        return None;
    }
    match verified.token.recipient {
        Recipient::Visitor(id) => Some(id),
        Recipient::User(_) => None,
    }
}

/// The permanently failed recipients of a delivery status notification.
pub fn failed_recipients(raw: &[u8]) -> Vec<String> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut failed = Vec::new();
    for part in &message.parts {
        let is_status = part.content_type().is_some_and(|ct| {
            ct.c_type.eq_ignore_ascii_case("message")
                && ct
                    .c_subtype
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
        });
        if !is_status {
            continue;
        }
        let text = match &part.body {
            PartType::Text(t) => t.to_string(),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            _ => continue,
        };
        failed.extend(permanent_failures(&text));
    }
    failed
}

/// Per-recipient blocks of a `message/delivery-status` body: those with
/// `Action: failed` and a 5.x.x status.
fn permanent_failures(status: &str) -> Vec<String> {
    let text = status.replace("\r\n", "\n");
    text.split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
            };
            let failed = field("Action").is_some_and(|a| a.eq_ignore_ascii_case("failed"));
            let permanent = field("Status").is_some_and(|s| s.starts_with('5'));
            let recipient = field("Final-Recipient").or_else(|| field("Original-Recipient"))?;
            let address = recipient
                .split_once(';')
                .map_or(recipient.as_str(), |(_, a)| a)
                .trim()
                .trim_matches(['<', '>'])
                .to_ascii_lowercase();
            (failed && permanent && address.contains('@')).then_some(address)
        })
        .collect()
}

/// Handles a message sent to a bounce address of `visitor_id`.
pub async fn receive(state: &SharedState, visitor_id: i64, raw: &[u8]) -> anyhow::Result<()> {
    let failed = failed_recipients(raw);
    if failed.is_empty() {
        tracing::info!(
            visitor_id,
            "a message to a bounce address that is no failure report; dropped"
        );
        return Ok(());
    }
    let mut marked = false;
    for address in &failed {
        marked |= visitors::mark_bouncing(&state.db, visitor_id, address).await?;
    }
    if !marked {
        return Ok(()); // an address the visitor no longer has
    }
    tracing::info!(
        visitor_id,
        "a visitor's email address bounces; no more email to it"
    );
    // Operators see it on the dialog at once.
    service::announce_visitor_conversation(state, visitor_id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_permanent_failures_from_a_delivery_status_notification() {
        let dsn = "From: MAILER-DAEMON@mx.example\r\nTo: bounce+x@reply.example\r\n\
Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; mx.example\r\n\r\n\
Final-Recipient: rfc822; Gone@Example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
Final-Recipient: rfc822; later@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n\
--b--\r\n";
        assert_eq!(failed_recipients(dsn.as_bytes()), vec!["gone@example.org"]);
        assert!(failed_recipients(b"From: a@b\r\n\r\nI am out of office").is_empty());
    }
}
