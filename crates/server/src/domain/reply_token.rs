//! Signed reply addresses: `reply+<token>@<reply-domain>`.
//!
//! The token names a conversation and the one recipient the email was sent to,
//! and carries an HMAC-SHA256 (truncated to 96 bits) over both, so it can be
//! neither guessed nor moved to another conversation or person.

use hmac::{Hmac, Mac};
use sha2::Sha256;

const MAC_BYTES: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// A team member (answers go in as theirs).
    User(i64),
    /// The visitor of the conversation.
    Visitor(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyToken {
    pub conversation_id: i64,
    pub recipient: Recipient,
}

fn payload(t: &ReplyToken) -> String {
    match t.recipient {
        Recipient::User(id) => format!("c{}-u{}", t.conversation_id, id),
        Recipient::Visitor(id) => format!("c{}-v{}", t.conversation_id, id),
    }
}

fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac
}

/// `c42-u3-<24 hex>`: lower case, since mail systems may change the case of
/// local parts.
pub fn sign(key: &[u8], token: &ReplyToken) -> String {
    let payload = payload(token);
    let tag = mac(key, &payload).finalize().into_bytes();
    let hex: String = tag[..MAC_BYTES]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{payload}-{hex}")
}

pub fn verify(key: &[u8], signed: &str) -> Option<ReplyToken> {
    let signed = signed.to_ascii_lowercase();
    let (payload, hex) = signed.rsplit_once('-')?;
    let (conv, who) = payload.split_once('-')?;
    let conversation_id = conv.strip_prefix('c')?.parse().ok()?;
    let recipient = if let Some(id) = who.strip_prefix('u') {
        Recipient::User(id.parse().ok()?)
    } else {
        Recipient::Visitor(who.strip_prefix('v')?.parse().ok()?)
    };
    // ASCII hex only: slicing multi-byte text at byte offsets would panic
    // (found by `properties::any_string_is_a_token_only_with_the_right_mac`).
    if hex.len() != MAC_BYTES * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tag: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect::<Option<_>>()?;
    let token = ReplyToken {
        conversation_id,
        recipient,
    };
    // Constant-time comparison of the truncated tag.
    mac(key, payload).verify_truncated_left(&tag).ok()?;
    (payload == self::payload(&token)).then_some(token)
}

pub fn address(signed: &str, domain: &str) -> String {
    format!("reply+{signed}@{domain}")
}

/// The signed token of a reply address for `domain` inside `text`, if any.
pub fn find(text: &str, domain: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let suffix = format!("@{}", domain.to_ascii_lowercase());
    let mut from = 0;
    while let Some(at) = lower[from..].find("reply+") {
        let start = from + at + "reply+".len();
        let token: String = lower[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if lower[start + token.len()..].starts_with(&suffix) && !token.is_empty() {
            return Some(token);
        }
        from = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trips_and_refuses_tampering() {
        let token = ReplyToken {
            conversation_id: 42,
            recipient: Recipient::User(3),
        };
        let signed = sign(KEY, &token);
        assert!(signed.starts_with("c42-u3-"));
        assert_eq!(verify(KEY, &signed), Some(token));
        assert_eq!(verify(KEY, &signed.to_uppercase()), Some(token));
        // Moved to another conversation or person: refused.
        assert_eq!(verify(KEY, &signed.replacen("c42", "c43", 1)), None);
        assert_eq!(verify(KEY, &signed.replacen("-u3-", "-v3-", 1)), None);
        assert_eq!(verify(b"another key another key another!", &signed), None);
        assert_eq!(verify(KEY, "c42-u3"), None);
        assert_eq!(verify(KEY, "c42-u3-zz"), None);
    }

    #[test]
    fn finds_the_token_in_text() {
        let text = "Reply address: Reply+c7-v9-00aa@Switchboard.Localhost, thanks";
        assert_eq!(
            find(text, "switchboard.localhost").as_deref(),
            Some("c7-v9-00aa")
        );
        assert_eq!(
            find("reply+c7-v9-00aa@evil.example", "switchboard.localhost"),
            None
        );
    }
}
