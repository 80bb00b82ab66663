//! Cutting a reply email down to what its author just wrote: the quoted history,
//! attribution lines ("On … wrote:") and signatures of common mail clients go.

/// Our own separator in every email we send (both languages).
pub const SEPARATOR_EN: &str = "-- Reply above this line to answer in the chat --";
pub const SEPARATOR_RU: &str = "-- Ответьте выше этой строки, чтобы ответить в чат --";

/// Lines that end the new text, wherever they start.
fn starts_quote(line: &str, next: Option<&str>) -> bool {
    let l = line.trim();
    let lower = l.to_lowercase();
    if lower.contains("reply above this line") || lower.contains("ответьте выше этой строки")
    {
        return true;
    }
    // Outlook and friends.
    if lower.starts_with("-----original message-----")
        || lower.starts_with("-----исходное сообщение-----")
        || lower.starts_with("-------- original message")
        || lower.starts_with("-------- исходное сообщение")
        || lower.starts_with("-------- пересылаемое сообщение")
        || (l.len() >= 20 && l.chars().all(|c| c == '_'))
    {
        return true;
    }
    // "From: …" directly followed by "Sent:/Date:" (Outlook headers block).
    let header_block = |a: &str, b: &str| {
        let a = a.trim().to_lowercase();
        let b = b.trim().to_lowercase();
        (a.starts_with("from:") || a.starts_with("от:"))
            && (b.starts_with("sent:")
                || b.starts_with("date:")
                || b.starts_with("отправлено:")
                || b.starts_with("дата:"))
    };
    if next.is_some_and(|n| header_block(l, n)) {
        return true;
    }
    // Attribution lines: Gmail, Apple Mail, Thunderbird (en/ru), Yandex, Mail.ru.
    let attribution_end = lower.ends_with("wrote:")
        || lower.ends_with("написал(а):")
        || lower.ends_with("написал:")
        || lower.ends_with("написала:")
        || lower.ends_with("пишет:")
        || lower.ends_with("writes:");
    if attribution_end
        && (lower.starts_with("on ")
            || has_digit(&lower)
            || lower.contains('@')
            || lower.len() < 120)
    {
        return true;
    }
    // "<date>, Name <addr>:" (Gmail ru, Yandex, Mail.ru "… от Name <addr>:").
    if lower.ends_with(">:") && lower.contains('@') && has_digit(&lower) {
        return true;
    }
    false
}

/// "On … wrote:", "… пишет:", "<date>, Name <addr>:" and the like.
fn is_attribution(lower: &str) -> bool {
    let ends = [
        "wrote:",
        "написал(а):",
        "написал:",
        "написала:",
        "пишет:",
        "writes:",
    ];
    ends.iter().any(|e| lower.ends_with(e)) || (lower.ends_with(">:") && lower.contains('@'))
}

fn has_digit(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
}

/// Gmail wraps long attribution lines: "On Wed, … at 3:04 PM Name <" / "addr> wrote:".
fn wrapped_attribution(line: &str, next: Option<&str>) -> bool {
    let l = line.trim().to_lowercase();
    match next {
        Some(n) => {
            let joined = format!("{l} {}", n.trim().to_lowercase());
            // Only an attribution split in two, never a line of text that
            // merely precedes a quote start.
            (l.starts_with("on ") || has_digit(&l))
                && is_attribution(&joined)
                && !starts_quote(&l, None)
        }
        None => false,
    }
}

fn is_signature_start(line: &str) -> bool {
    let lower = line.trim_end_matches(['\r']).to_lowercase();
    lower == "-- "
        || lower == "--"
        || lower.trim() == "—"
        || lower.starts_with("sent from my ")
        || lower.starts_with("sent from mail for windows")
        || lower.starts_with("get outlook for ")
        || lower.starts_with("отправлено с ")
        || lower.starts_with("отправлено из ")
}

/// The new text of a reply; empty when nothing new was written. Top-posted
/// replies are the usual case; a reply written below the quote is found too.
pub fn extract(body: &str) -> String {
    let normalized = body.replace("\r\n", "\n").replace('\u{a0}', " ");
    let lines: Vec<&str> = normalized.lines().collect();
    let above = text_above_quote(&lines);
    if !above.is_empty() {
        return above;
    }
    // Bottom-posting: the new text follows the last quoted line.
    match lines.iter().rposition(|l| l.trim_start().starts_with('>')) {
        Some(last_quoted) => text_above_quote(&lines[last_quoted + 1..]),
        None => String::new(),
    }
}

fn text_above_quote(lines: &[&str]) -> String {
    let mut end = lines.len();
    for i in 0..lines.len() {
        let next = lines.get(i + 1).copied();
        if starts_quote(lines[i], next)
            || wrapped_attribution(lines[i], next)
            || is_signature_start(lines[i])
        {
            end = i;
            break;
        }
        // A block of ">" lines after some text ends it (bottom quoting).
        if lines[i].trim_start().starts_with('>') {
            end = i;
            break;
        }
    }
    let kept: Vec<&str> = lines[..end].iter().map(|l| l.trim_end()).collect();
    kept.join("\n").trim().to_string()
}

/// Undoes `format=flowed` (RFC 3676): a line ending in a space continues on
/// the next one. The signature separator `-- ` is a hard line.
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.replace("\r\n", "\n").split('\n') {
        // Space-stuffing: a leading space was added by the sender.
        let line = line.strip_prefix(' ').unwrap_or(line);
        if line.ends_with(' ') && line != "-- " {
            out.push_str(if delsp { &line[..line.len() - 1] } else { line });
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Text of an HTML-only reply: quoted `<blockquote>`s are dropped and block
/// elements become lines before mail-parser's HTML-to-text conversion.
pub fn html_to_text(html: &str) -> String {
    let mut kept = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let (mut i, mut depth) = (0, 0usize);
    while i < html.len() {
        if lower[i..].starts_with("<blockquote") {
            depth += 1;
        } else if lower[i..].starts_with("</blockquote") && depth > 0 {
            depth -= 1;
            i += lower[i..].find('>').map_or(html.len() - i, |p| p + 1);
            continue;
        }
        let c = html[i..].chars().next().expect("in bounds");
        if depth == 0 {
            kept.push(c);
        }
        i += c.len_utf8();
    }
    let blocks = kept
        .replace("</div>", "</div><br>")
        .replace("</DIV>", "</DIV><br>");
    mail_parser::decoders::html::html_to_text(&blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_common_styles() {
        let cases = [
            (
                "Thanks!\n\nOn Wed, Nov 25, 2026 at 3:04 PM Switchboard <reply+x@y.z> wrote:\n> hi",
                "Thanks!",
            ),
            (
                "Спасибо\n\nср, 25 нояб. 2026 г. в 15:04, Switchboard <reply+x@y.z>:\n> привет",
                "Спасибо",
            ),
            ("Ok\n\n-----Original Message-----\nFrom: a", "Ok"),
            (
                "Ok\n________________________________\nFrom: Switchboard\nSent: today",
                "Ok",
            ),
            ("Да\n\nОт: Switchboard <a@b.c>\nОтправлено: 25 ноября", "Да"),
            ("Sure\n\nSent from my iPhone\n\n> On 25 Nov 2026", "Sure"),
            ("Yes\n-- \nJohn Smith\nACME", "Yes"),
            (
                "Хорошо\n\n25.11.2026 15:04, Switchboard пишет:\n> текст",
                "Хорошо",
            ),
            (
                "Line one\n\nLine two\n> quoted\n> more",
                "Line one\n\nLine two",
            ),
            (
                "Answer\n\n-- Reply above this line to answer in the chat --\nConversation #4",
                "Answer",
            ),
            (
                "Call me at 5\n-- Reply above this line to answer in the chat --\nold",
                "Call me at 5",
            ),
            (
                "Gmail\n\nOn Wed, Nov 25, 2026 at 3:04 PM Switchboard <\nreply+x@y.z> wrote:\n> a",
                "Gmail",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(extract(input), expected, "for {input:?}");
        }
    }

    #[test]
    fn finds_bottom_posted_replies() {
        let text =
            "On Wed, Switchboard wrote:\n> question\n>\n> more\n\nMy answer\nhere\n\n-- \nJohn";
        assert_eq!(extract(text), "My answer\nhere");
    }

    #[test]
    fn unflows_and_reads_html() {
        assert_eq!(unflow("one \ntwo\n-- \nsig", false), "one two\n-- \nsig\n");
        let html =
            "<div>Hello</div><div>there</div><blockquote><div>old <b>text</b></div></blockquote>";
        assert_eq!(extract(&html_to_text(html)), "Hello\nthere");
    }

    #[test]
    fn keeps_ordinary_text() {
        let text = "Hello,\nthe order 1234 arrived: thanks.\nI wrote to you yesterday about it.";
        assert_eq!(extract(text), text);
    }
}
