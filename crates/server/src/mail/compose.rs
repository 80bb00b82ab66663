//! Building emails: plain text + HTML alternatives, with the headers we need.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

pub struct Outgoing {
    pub from: Mailbox,
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub reply_to: Option<Mailbox>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    /// `Auto-Submitted: auto-generated` and `X-Auto-Response-Suppress: All` on
    /// notifications, so auto-responders leave them alone.
    pub automatic: bool,
    /// Files attached to the email (after the text and HTML alternatives).
    pub files: Vec<OutFile>,
}

pub struct OutFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Outgoing {
    pub fn new(from: Mailbox, to: Mailbox, subject: String, text: String, html: String) -> Self {
        Outgoing {
            from,
            to,
            subject,
            text,
            html,
            reply_to: None,
            message_id: None,
            in_reply_to: None,
            references: None,
            automatic: false,
            files: Vec::new(),
        }
    }

    /// The RFC 5322 bytes, ready for the outbox.
    pub fn render(self) -> anyhow::Result<Vec<u8>> {
        let mut builder = Message::builder()
            .from(self.from)
            .to(self.to)
            .subject(self.subject)
            .message_id(self.message_id);
        if let Some(reply_to) = self.reply_to {
            builder = builder.reply_to(reply_to);
        }
        if let Some(id) = self.in_reply_to {
            builder = builder.in_reply_to(id);
        }
        if let Some(refs) = self.references {
            builder = builder.references(refs);
        }
        // Out-of-office responders should not answer any email of ours.
        builder = builder.raw_header(raw("X-Auto-Response-Suppress", "All"));
        if self.automatic {
            builder = builder.raw_header(raw("Auto-Submitted", "auto-generated"));
        }
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(self.text),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(self.html),
            );
        if self.files.is_empty() {
            return Ok(builder.multipart(body)?.formatted());
        }
        let mut mixed = MultiPart::mixed().multipart(body);
        for file in self.files {
            let content_type = ContentType::parse(&file.content_type).unwrap_or_else(|_| {
                ContentType::parse("application/octet-stream").expect("a valid type")
            });
            mixed = mixed.singlepart(Attachment::new(file.name).body(file.bytes, content_type));
        }
        Ok(builder.multipart(mixed)?.formatted())
    }
}

fn raw(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

/// Escapes text for an HTML email body.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
