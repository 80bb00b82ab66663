//! Replies by email: whatever way they arrive (the SMTP listener or the HTTP
//! ingress), they are checked here and posted to their conversation.
//!
//! A reply is posted only when it is a parseable message, not automatic, new
//! (by Message-ID), addressed with a reply token that verifies, and sent by the
//! very recipient the token was made for. Everything else is refused, logged
//! with the reason and kept for audit; nothing is posted.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};
use switchboard_protocol::Channel;

use crate::domain::reply_text;
use crate::domain::reply_token::{self, Recipient};
use crate::mail::auth_in::AuthResults;
use crate::services::conversations as service;
use crate::services::reply_keys;
use crate::state::SharedState;
use crate::store::users::AccountStatus;
use crate::store::{conversations, messages, notifications, users, visitors};

/// The largest email we take, attachments included: a 25 MiB file grows by a
/// third in base64, and a mail client adds its headers.
pub const MAX_BYTES: usize = 40 * 1024 * 1024;
/// An emailed reply is kept whole (for audit) up to this size; past it, its
/// headers and the start of its body, as its files are kept as attachments.
const RAW_KEPT_WHOLE: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Posted {
        message_id: i64,
        conversation_id: i64,
    },
    /// The same Message-ID was posted before.
    Duplicate,
    Refused(String),
}

/// A reply from the HTTP ingress (the relay in front checked the sender).
pub async fn receive(
    state: &SharedState,
    raw: &[u8],
    envelope_recipients: &[String],
) -> anyhow::Result<Outcome> {
    receive_checked(state, raw, envelope_recipients, None).await
}

/// A reply with what SPF, DKIM and DMARC said of it (the SMTP listener).
pub async fn receive_checked(
    state: &SharedState,
    raw: &[u8],
    envelope_recipients: &[String],
    auth: Option<&AuthResults>,
) -> anyhow::Result<Outcome> {
    let outcome = check_and_post(state, raw, envelope_recipients, auth).await?;
    if let (Outcome::Posted { message_id, .. }, Some(auth)) = (&outcome, auth) {
        messages::set_email_auth(&state.db, *message_id, &auth.summary()).await?;
    }
    if let Outcome::Refused(reason) = &outcome {
        let parsed = MessageParser::default().parse(raw);
        let sender = parsed.as_ref().and_then(sender_address);
        let message_id = parsed
            .as_ref()
            .and_then(|m| m.message_id().map(str::to_string));
        tracing::warn!(
            reason,
            sender = sender.as_deref().unwrap_or("?"),
            "refused an inbound email"
        );
        notifications::log_refused(
            &state.db,
            reason,
            sender.as_deref(),
            message_id.as_deref(),
            &for_audit(raw),
        )
        .await?;
    }
    Ok(outcome)
}

/// The headers of a refused email are kept whole (up to 64 KiB) for audit,
/// its body only up to 16 KiB: refused mail must not fill the disk.
const AUDIT_HEADERS: usize = 64 * 1024;
const AUDIT_BODY: usize = 16 * 1024;

pub fn for_audit(raw: &[u8]) -> Vec<u8> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .unwrap_or(raw.len());
    let (headers, body) = raw.split_at(split);
    let mut kept = headers[..headers.len().min(AUDIT_HEADERS)].to_vec();
    kept.extend_from_slice(&body[..body.len().min(AUDIT_BODY)]);
    let dropped = raw.len() - kept.len();
    if dropped > 0 {
        kept.extend_from_slice(format!("\r\n[{dropped} more bytes not kept]\r\n").as_bytes());
    }
    kept
}

fn refuse(reason: impl Into<String>) -> anyhow::Result<Outcome> {
    Ok(Outcome::Refused(reason.into()))
}

fn sender_address(m: &mail_parser::Message) -> Option<String> {
    m.from()?
        .first()?
        .address()
        .map(|a| a.trim().to_lowercase())
}

/// Auto-replies, bounces, lists and out-of-office answers are never posted.
fn automatic(m: &mail_parser::Message) -> Option<&'static str> {
    let header = |name: &str| {
        m.header(name).and_then(|h| match h {
            HeaderValue::Text(t) => Some(t.to_lowercase()),
            _ => m.header_raw(name).map(|r| r.trim().to_lowercase()),
        })
    };
    if header("Auto-Submitted").is_some_and(|v| !v.starts_with("no")) {
        return Some("automatic (Auto-Submitted)");
    }
    if header("Precedence").is_some_and(|v| {
        ["bulk", "junk", "list", "auto_reply"]
            .iter()
            .any(|p| v.contains(p))
    }) {
        return Some("automatic (Precedence)");
    }
    if [
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress-Reply",
    ]
    .iter()
    .any(|h| m.header(*h).is_some())
    {
        return Some("automatic (auto-reply header)");
    }
    if header("X-Autoreply").is_some() || m.header("List-Id").is_some() {
        return Some("automatic (list or auto-reply)");
    }
    let subject = m.subject().unwrap_or_default().to_lowercase();
    let ooo = [
        "out of office",
        "automatic reply",
        "auto:",
        "autoreply",
        "автоответ",
        "автоматический ответ",
        "нет на месте",
        "в отпуске",
    ];
    if ooo
        .iter()
        .any(|p| subject.starts_with(p) || subject.contains(p))
    {
        return Some("automatic (out of office)");
    }
    let from = sender_address(m).unwrap_or_default();
    if from.starts_with("mailer-daemon@") || from.starts_with("postmaster@") || from.is_empty() {
        return Some("a bounce or a message without a sender");
    }
    None
}

/// The reply as plain text: the text/plain part (format=flowed undone), else
/// the HTML part converted without its quoted blocks.
fn reply_body(m: &mail_parser::Message) -> String {
    let plain = m
        .text_body
        .iter()
        .filter_map(|i| m.part(*i))
        .find(|p| matches!(p.body, PartType::Text(_)));
    if let Some(part) = plain {
        let text = part.text_contents().unwrap_or_default();
        let ct = part.content_type();
        let attr = |name: &str| {
            ct.and_then(|c| c.attribute(name))
                .map(|v| v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("flowed"))
        };
        return if attr("format") == Some(true) {
            reply_text::unflow(text, attr("delsp") == Some(true))
        } else {
            text.to_string()
        };
    }
    match m.body_html(0) {
        Some(html) => reply_text::html_to_text(&html),
        None => String::new(),
    }
}

fn find_token(
    state: &SharedState,
    m: &mail_parser::Message,
    envelope: &[String],
    body: &str,
) -> Option<String> {
    let domain = &state.config.reply_domain;
    let mut candidates: Vec<String> = envelope.to_vec();
    for list in [m.to(), m.cc(), m.bcc()].into_iter().flatten() {
        candidates.extend(list.iter().filter_map(|a| a.address().map(str::to_string)));
    }
    for name in ["Delivered-To", "X-Original-To"] {
        if let Some(raw) = m.header_raw(name) {
            candidates.push(raw.to_string());
        }
    }
    candidates
        .iter()
        .find_map(|c| reply_token::find(c, domain))
        // Providers that rewrite headers: the address is also in our body text.
        .or_else(|| reply_token::find(body, domain))
}

async fn check_and_post(
    state: &SharedState,
    raw: &[u8],
    envelope: &[String],
    auth: Option<&AuthResults>,
) -> anyhow::Result<Outcome> {
    if raw.len() > MAX_BYTES {
        return refuse(format!("larger than {MAX_BYTES} bytes"));
    }
    let Some(m) = MessageParser::default().parse(raw) else {
        return refuse("not a MIME message");
    };
    if m.from().is_none()
        && m.subject().is_none()
        && m.text_body.is_empty()
        && m.html_body.is_empty()
    {
        return refuse("not a MIME message");
    }
    if let Some(why) = automatic(&m) {
        return refuse(why);
    }
    if let Some(auth) = auth.filter(|a| a.refuse) {
        return refuse(format!(
            "DMARC: {} asks to refuse mail that fails it ({})",
            auth.from_domain,
            auth.summary()
        ));
    }
    let message_id = match m.message_id() {
        Some(id) => format!("<{}>", id.trim_matches(['<', '>'])),
        // Without a Message-ID, the content itself identifies a resend.
        None => format!(
            "<sha256.{}>",
            Sha256::digest(raw)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    };
    {
        let mut conn = state.db.pool.acquire().await?;
        if messages::by_email_message_id(&mut conn, &message_id)
            .await?
            .is_some()
        {
            return Ok(Outcome::Duplicate);
        }
    }
    let body = reply_body(&m);
    let Some(signed) = find_token(state, &m, envelope, &body) else {
        return refuse("no reply address of ours");
    };
    let Some(verified) = state.verify_reply(&signed).await else {
        return refuse("the reply token does not verify");
    };
    if !reply_keys::is_open(&verified) {
        return refuse("the reply address has expired");
    }
    let token = verified.token;
    let Some(sender) = sender_address(&m) else {
        return refuse("no sender");
    };
    // NUL is never meant in text, and PostgreSQL cannot store it.
    let text = reply_text::extract(&body.replace('\0', ""));
    let files = files_of(&m);
    if text.is_empty() && files.is_empty() {
        return refuse("no new text above the quoted history");
    }
    let conversation = {
        let mut conn = state.db.pool.acquire().await?;
        conversations::get(&mut conn, token.conversation_id, 0).await?
    };
    let Some(conversation) = conversation else {
        return refuse("the conversation no longer exists");
    };
    let kept_raw = if raw.len() > RAW_KEPT_WHOLE {
        std::borrow::Cow::Owned(for_audit(raw))
    } else {
        std::borrow::Cow::Borrowed(raw)
    };
    let email = Some((message_id.as_str(), kept_raw.as_ref()));
    let posted = match token.recipient {
        Recipient::User(user_id) => {
            let Some(user) = users::by_id(&state.db, user_id).await? else {
                return refuse("unknown team member");
            };
            if user.email != sender {
                return refuse(format!(
                    "sender {sender} is not the recipient the token was made for"
                ));
            }
            if user.status == AccountStatus::Removed || !user.role.answers_visitors() {
                return refuse("the team member may not answer visitors");
            }
            let attachments = store_files(state, &files).await?;
            service::post_as_operator(
                state,
                &user,
                conversation.id,
                by_email(&text, email, attachments),
            )
            .await
        }
        Recipient::Visitor(visitor_id) => {
            let Some(visitor) = visitors::by_id(&state.db, visitor_id).await? else {
                return refuse("unknown visitor");
            };
            if visitor.email.as_deref() != Some(sender.as_str())
                || conversation.visitor_id != visitor.id
            {
                return refuse(format!(
                    "sender {sender} is not the recipient the token was made for"
                ));
            }
            let attachments = store_files(state, &files).await?;
            service::post_as_visitor(state, visitor.id, by_email(&text, email, attachments)).await
        }
    };
    match posted {
        Ok(p) => Ok(Outcome::Posted {
            message_id: p.message.id,
            conversation_id: p.message.conversation_id,
        }),
        // The server's trouble (a full disk, a lost database, a full queue):
        // the sending server is told to try again later, nothing is dropped.
        Err(e) if e.is_temporary() => {
            Err(anyhow::Error::new(e).context("posting the reply failed"))
        }
        // Two copies racing past the duplicate check: the unique index decides.
        Err(e) => refuse(e.message),
    }
}

fn by_email<'a>(
    text: &'a str,
    email: Option<(&'a str, &'a [u8])>,
    attachments: Vec<crate::store::attachments::AttachmentRecord>,
) -> service::Post<'a> {
    service::Post {
        body: text,
        client_id: None,
        channel: Channel::Email,
        email,
        attachments,
        greeting: None,
    }
}

/// A file of an emailed reply: attachments and inline (`cid:`) images alike.
pub struct EmailFile<'a> {
    pub name: String,
    pub content_type: String,
    pub bytes: &'a [u8],
}

/// The files of a reply, byte for byte. Names come decoded (RFC 2231 and
/// encoded-words, by mail-parser); a part without one is named after its type.
/// Outlook's `winmail.dat` (TNEF) holds nothing a reader could open and is left out.
pub fn files_of<'a>(m: &'a mail_parser::Message<'a>) -> Vec<EmailFile<'a>> {
    let mut files = Vec::new();
    for (i, part) in m.attachments().enumerate() {
        let named = part.attachment_name().filter(|n| !n.trim().is_empty());
        let content_type = part
            .content_type()
            .map(|ct| match &ct.c_subtype {
                Some(sub) => format!("{}/{}", ct.c_type, sub),
                None => ct.c_type.to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        let is_text = matches!(part.body, PartType::Text(_) | PartType::Html(_));
        let attached = part
            .content_disposition()
            .is_some_and(|cd| cd.c_type.eq_ignore_ascii_case("attachment"));
        // A stray text part (a client's second body) is not a file unless it
        // says it is one.
        if is_text && named.is_none() && !attached {
            continue;
        }
        if content_type == "application/ms-tnef" {
            continue;
        }
        let name = match named {
            Some(n) => n.to_string(),
            None if part.is_message() => format!("message-{}.eml", i + 1),
            None => {
                let ext = mime_guess::get_mime_extensions_str(&content_type)
                    .and_then(|e| e.first())
                    .unwrap_or(&"bin");
                format!("attachment-{}.{ext}", i + 1)
            }
        };
        let bytes = part.contents();
        if bytes.is_empty() {
            continue;
        }
        files.push(EmailFile {
            name,
            content_type,
            bytes,
        });
    }
    files
}

/// Keeps a reply's files; over the size limit a file is left out (the text
/// still goes through) and the log says so.
async fn store_files(
    state: &SharedState,
    files: &[EmailFile<'_>],
) -> anyhow::Result<Vec<crate::store::attachments::AttachmentRecord>> {
    let max = state.config.max_attachment_bytes;
    let mut stored = Vec::with_capacity(files.len());
    for file in files {
        if file.bytes.len() as u64 > max {
            tracing::warn!(
                name = file.name,
                size = file.bytes.len(),
                "an emailed file over the size limit was left out"
            );
            continue;
        }
        let name = crate::domain::attachment::clean_name(&file.name)
            .unwrap_or_else(|| "attachment".to_string());
        let record = crate::services::attachments::store_bytes(
            state,
            crate::store::attachments::Uploader::Email,
            &name,
            &file.content_type,
            file.bytes,
        )
        .await
        .map_err(anyhow::Error::new)?;
        stored.push(record);
    }
    Ok(stored)
}

#[cfg(test)]
mod audit_tests {
    use super::for_audit;

    #[test]
    fn refused_mail_keeps_its_headers_and_a_bounded_body() {
        let mut raw = b"From: a@example.com\r\nSubject: hi\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 1_000_000));
        let kept = for_audit(&raw);
        assert!(kept.starts_with(b"From: a@example.com\r\nSubject: hi\r\n\r\nxxx"));
        assert!(kept.len() < 20 * 1024, "{}", kept.len());
        assert!(String::from_utf8_lossy(&kept).contains("more bytes not kept"));
        let small = b"From: a@example.com\r\n\r\nshort".to_vec();
        assert_eq!(for_audit(&small), small);
    }
}
