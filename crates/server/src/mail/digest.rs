//! The digest a member gets instead of one email per conversation when new
//! conversations arrive faster than a person reads mail (a flood): one email
//! listing each conversation, its new messages and its own reply address.

use lettre::message::Mailbox;
use switchboard_protocol::Message;

use super::compose::{html_escape, Outgoing};

pub struct DigestItem<'a> {
    pub conversation_id: i64,
    pub visitor_name: &'a str,
    pub reply_address: &'a str,
    /// The unread visitor messages, oldest first.
    pub messages: &'a [Message],
}

fn subject(locale: &str, n: usize) -> String {
    if locale.starts_with("ru") {
        format!("{n} новых диалогов ждут ответа")
    } else {
        format!("{n} new conversations are waiting")
    }
}

fn intro(locale: &str) -> &'static str {
    if locale.starts_with("ru") {
        "Посетители пишут быстрее, чем приходят письма, поэтому мы собрали новые диалоги в одно письмо. Ответьте в приложении или на адрес диалога."
    } else {
        "Visitors are writing faster than one email each would be readable, so the new conversations are gathered here. Answer in the app or at a conversation's reply address."
    }
}

pub fn to_member(
    from: &Mailbox,
    to: Mailbox,
    locale: &str,
    items: &[DigestItem],
) -> anyhow::Result<Vec<u8>> {
    let ru = locale.starts_with("ru");
    let (conversation, reply) = if ru {
        ("Диалог", "Адрес для ответа")
    } else {
        ("Conversation", "Reply address")
    };
    let mut text = format!("{}\n\n", intro(locale));
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\"><p>{}</p>",
        html_escape(intro(locale))
    );
    for item in items {
        let header = format!(
            "{conversation} #{} — {}",
            item.conversation_id, item.visitor_name
        );
        text.push_str(&format!("{header}\n"));
        html.push_str(&format!(
            "<h3 style=\"margin:16px 0 4px\">{}</h3>",
            html_escape(&header)
        ));
        for m in item.messages {
            text.push_str(&format!("  {}\n", m.body));
            html.push_str(&format!(
                "<p style=\"white-space:pre-wrap;margin:2px 0\">{}</p>",
                html_escape(&m.body)
            ));
        }
        text.push_str(&format!("  {reply}: {}\n\n", item.reply_address));
        html.push_str(&format!(
            "<p style=\"color:#999;font-size:12px\">{reply}: {}</p>",
            html_escape(item.reply_address)
        ));
    }
    html.push_str("</body></html>");
    let mut out = Outgoing::new(from.clone(), to, subject(locale, items.len()), text, html);
    out.automatic = true;
    out.render()
}
