//! The emails of a conversation: to a team member about visitor messages, and to
//! a visitor with an operator's answer. Both carry the signed reply address,
//! thread headers, the recent history under a "reply above this line" separator,
//! and the reply address in the body for providers that rewrite headers.

use lettre::message::Mailbox;
use switchboard_protocol::{AuthorKind, Message};

use super::compose::{html_escape, OutFile, Outgoing};
use crate::domain::reply_text::{SEPARATOR_EN, SEPARATOR_RU};

pub struct Thread<'a> {
    pub conversation_id: i64,
    pub visitor_name: &'a str,
    pub reply_address: &'a str,
    pub reply_domain: &'a str,
    /// The latest messages, oldest first (the new ones included).
    pub history: &'a [Message],
    pub locale: &'a str,
}

/// The files of the new messages: attached to the email when they are small
/// enough together, else linked (`links`: attachment id → a long-lived link).
#[derive(Default)]
pub struct MailFiles {
    pub attached: Vec<OutFile>,
    pub links: std::collections::HashMap<i64, String>,
}

struct Words {
    new_from: &'static str,
    separator: &'static str,
    conversation: &'static str,
    reply_address: &'static str,
    visitor: &'static str,
    operator: &'static str,
    answer_subject: &'static str,
    email_channel: &'static str,
    attached: &'static str,
}

const EN: Words = Words {
    new_from: "New message from",
    separator: SEPARATOR_EN,
    conversation: "Conversation",
    reply_address: "Reply address",
    visitor: "Visitor",
    operator: "Operator",
    answer_subject: "Re: your conversation",
    email_channel: "by email",
    attached: "attached",
};

const RU: Words = Words {
    new_from: "Новое сообщение от",
    separator: SEPARATOR_RU,
    conversation: "Диалог",
    reply_address: "Адрес для ответа",
    visitor: "Посетитель",
    operator: "Оператор",
    answer_subject: "Re: ваш диалог",
    email_channel: "по email",
    attached: "во вложении",
};

fn words(locale: &str) -> &'static Words {
    if locale.starts_with("ru") {
        &RU
    } else {
        &EN
    }
}

fn author(w: &Words, m: &Message) -> String {
    let fallback = match m.author.kind {
        AuthorKind::Visitor => w.visitor,
        _ => w.operator,
    };
    m.author
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| fallback.to_string())
}

/// The thread id every email of a conversation refers to, so clients group them.
pub fn thread_root(conversation_id: i64, domain: &str) -> String {
    format!("<conversation.{conversation_id}@{domain}>")
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} B"),
    }
}

fn bodies(t: &Thread, w: &Words, new: &[Message], files: &MailFiles) -> (String, String) {
    let mut text = String::new();
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">",
    );
    for m in new {
        if !m.body.is_empty() {
            text.push_str(&m.body);
            text.push_str("\n\n");
            html.push_str(&format!(
                "<p style=\"white-space:pre-wrap\">{}</p>",
                html_escape(&m.body)
            ));
        }
        for a in &m.attachments {
            let label = format!("📎 {} ({})", a.name, human_size(a.size));
            match files.links.get(&a.id) {
                Some(url) => {
                    text.push_str(&format!("{label}: {url}\n"));
                    html.push_str(&format!(
                        "<p><a href=\"{}\">{}</a></p>",
                        html_escape(url),
                        html_escape(&label)
                    ));
                }
                None => {
                    text.push_str(&format!("{label}, {}\n", w.attached));
                    html.push_str(&format!("<p>{}, {}</p>", html_escape(&label), w.attached));
                }
            }
        }
        if !m.attachments.is_empty() {
            text.push('\n');
        }
    }
    text.push_str(&format!("{}\n", w.separator));
    html.push_str(&format!(
        "<p style=\"color:#999\">{}</p>",
        html_escape(w.separator)
    ));
    let header = format!(
        "{} #{} — {}",
        w.conversation, t.conversation_id, t.visitor_name
    );
    text.push_str(&format!("{header}\n\n"));
    html.push_str(&format!(
        "<p><b>{}</b></p><div style=\"color:#555\">",
        html_escape(&header)
    ));
    for m in t.history {
        let via = if m.channel == switchboard_protocol::Channel::Email {
            format!(" ({})", w.email_channel)
        } else {
            String::new()
        };
        let files: Vec<String> = m
            .attachments
            .iter()
            .map(|a| format!("📎 {}", a.name))
            .collect();
        let said = match (m.body.is_empty(), files.is_empty()) {
            (false, false) => format!("{} {}", m.body, files.join(" ")),
            (true, _) => files.join(" "),
            (false, true) => m.body.clone(),
        };
        let line = format!("{}{}: {}", author(w, m), via, said);
        text.push_str(&format!("{line}\n"));
        html.push_str(&format!(
            "<p style=\"white-space:pre-wrap;margin:4px 0\">{}</p>",
            html_escape(&line)
        ));
    }
    text.push_str(&format!("\n{}: {}\n", w.reply_address, t.reply_address));
    html.push_str(&format!(
        "</div><p style=\"color:#999;font-size:12px\">{}: {}</p></body></html>",
        w.reply_address,
        html_escape(t.reply_address)
    ));
    (text, html)
}

fn with_thread(
    mut out: Outgoing,
    t: &Thread,
    newest: &Message,
    recipient_tag: &str,
) -> anyhow::Result<Outgoing> {
    out.reply_to = Some(t.reply_address.parse()?);
    out.message_id = Some(format!(
        "<conversation.{}.message.{}.{recipient_tag}.{:08x}@{}>",
        t.conversation_id,
        newest.id,
        rand::random::<u32>(),
        t.reply_domain
    ));
    let root = thread_root(t.conversation_id, t.reply_domain);
    out.in_reply_to = Some(root.clone());
    out.references = Some(root);
    Ok(out)
}

/// To a team member: visitor messages they have not seen.
pub fn to_member(
    from: &Mailbox,
    to: Mailbox,
    t: &Thread,
    new: &[Message],
    member_id: i64,
    files: MailFiles,
) -> anyhow::Result<Vec<u8>> {
    let w = words(t.locale);
    let newest = new
        .last()
        .ok_or_else(|| anyhow::anyhow!("nothing to notify about"))?;
    let subject = format!("{} {} (#{})", w.new_from, t.visitor_name, t.conversation_id);
    let (text, html) = bodies(t, w, new, &files);
    // Shown as coming from the visitor, through our address.
    let from = Mailbox::new(
        Some(format!("{} via Switchboard", t.visitor_name)),
        from.email.clone(),
    );
    let mut out = with_thread(
        Outgoing::new(from, to, subject, text, html),
        t,
        newest,
        &format!("u{member_id}"),
    )?;
    out.automatic = true;
    out.files = files.attached;
    out.render()
}

/// To the visitor: an operator's answer.
pub fn to_visitor(
    from: &Mailbox,
    to: Mailbox,
    t: &Thread,
    answer: &Message,
    visitor_id: i64,
    files: MailFiles,
) -> anyhow::Result<Vec<u8>> {
    let w = words(t.locale);
    let subject = format!("{} #{}", w.answer_subject, t.conversation_id);
    let (text, html) = bodies(t, w, std::slice::from_ref(answer), &files);
    let from = Mailbox::new(Some(author(w, answer)), from.email.clone());
    let mut out = with_thread(
        Outgoing::new(from, to, subject, text, html),
        t,
        answer,
        &format!("v{visitor_id}"),
    )?;
    out.files = files.attached;
    out.render()
}
