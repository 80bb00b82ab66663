//! Signed reply addresses: `reply+<token>@<reply-domain>`.
//!
//! The token names a conversation, the one recipient the email was sent to,
//! the day it was issued and the key that signed it, and carries an
//! HMAC-SHA256 (truncated to 96 bits) over all of that:
//! `c42-u3-d20426-k1-<24 hex>`. It can be neither guessed nor moved to another
//! conversation or person; it expires (90 days by default) and keys rotate,
//! the previous ones still verifying the tokens they signed until those
//! expire. Tokens of the first format (`c42-u3-<24 hex>`, no day, no key) were
//! signed by key 0 and count as issued when the key ring was made.

use hmac::{Hmac, Mac};
use sha2::Sha256;

const MAC_BYTES: usize = 12;
const DAY_MS: i64 = 24 * 3600 * 1000;

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

/// One signing key; `id` 0 is the key of the first token format.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplyKey {
    pub id: u32,
    pub secret: String,
    pub created_at: i64,
}

/// The keys that verify reply tokens; the newest signs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRing {
    pub keys: Vec<ReplyKey>,
}

/// What a token says once its signature checks out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub token: ReplyToken,
    /// Milliseconds since the epoch (the start of the day it was issued).
    pub issued_at: i64,
}

impl KeyRing {
    pub fn current(&self) -> &ReplyKey {
        self.keys
            .iter()
            .max_by_key(|k| (k.created_at, k.id))
            .expect("a key ring has a key")
    }

    fn key(&self, id: u32) -> Option<&ReplyKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// A new signing key; the others keep verifying until `drop_before`
    /// (keys whose successor is older than that can have signed no live token).
    pub fn rotate(&mut self, secret: String, now: i64, lifetime_ms: i64) {
        let id = self.keys.iter().map(|k| k.id).max().unwrap_or(0) + 1;
        self.keys.push(ReplyKey {
            id,
            secret,
            created_at: now,
        });
        let mut created: Vec<i64> = self.keys.iter().map(|k| k.created_at).collect();
        created.sort_unstable();
        // A key is needed while the key after it is younger than a lifetime.
        self.keys.retain(|k| {
            let successor = created.iter().find(|c| **c > k.created_at);
            successor.is_none_or(|s| now - s < lifetime_ms)
        });
    }
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `c42-u3-d20426-k1-<24 hex>`: lower case, since mail systems may change the
/// case of local parts; 50-odd characters, within a local part's 64.
pub fn sign(ring: &KeyRing, token: &ReplyToken, now: i64) -> String {
    let key = ring.current();
    let payload = format!("{}-d{}-k{}", payload(token), now / DAY_MS, key.id);
    let tag = mac(key.secret.as_bytes(), &payload).finalize().into_bytes();
    format!("{payload}-{}", hex(&tag[..MAC_BYTES]))
}

/// The token if its signature verifies with one of the ring's keys; whether
/// it is still fresh is the caller's question (`is_fresh`).
pub fn verify(ring: &KeyRing, signed: &str, legacy_issued_at: i64) -> Option<Verified> {
    let signed = signed.to_ascii_lowercase();
    let (payload, tag_hex) = signed.rsplit_once('-')?;
    // ASCII hex only: slicing multi-byte text at byte offsets would panic
    // (found by `properties::any_string_is_a_token_only_with_the_right_mac`).
    if tag_hex.len() != MAC_BYTES * 2 || !tag_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tag: Vec<u8> = (0..tag_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&tag_hex[i..i + 2], 16).ok())
        .collect::<Option<_>>()?;
    let parts: Vec<&str> = payload.split('-').collect();
    let (conv, who, issued_at, key_id) = match parts.as_slice() {
        [conv, who] => (*conv, *who, legacy_issued_at, 0),
        [conv, who, day, key] => {
            let day: i64 = day.strip_prefix('d')?.parse().ok()?;
            let key: u32 = key.strip_prefix('k')?.parse().ok()?;
            (*conv, *who, day.checked_mul(DAY_MS)?, key)
        }
        _ => return None,
    };
    let conversation_id = conv.strip_prefix('c')?.parse().ok()?;
    let recipient = if let Some(id) = who.strip_prefix('u') {
        Recipient::User(id.parse().ok()?)
    } else {
        Recipient::Visitor(who.strip_prefix('v')?.parse().ok()?)
    };
    let token = ReplyToken {
        conversation_id,
        recipient,
    };
    let key = ring.key(key_id)?;
    // Constant-time comparison of the truncated tag.
    mac(key.secret.as_bytes(), payload)
        .verify_truncated_left(&tag)
        .ok()?;
    // Only the canonical spelling verifies ("c042" is not "c42").
    let canonical = match parts.len() {
        2 => self::payload(&token),
        _ => format!(
            "{}-d{}-k{key_id}",
            self::payload(&token),
            issued_at / DAY_MS
        ),
    };
    (payload == canonical).then_some(Verified { token, issued_at })
}

/// Whether a token issued at `issued_at` still opens its conversation.
pub fn is_fresh(issued_at: i64, now: i64, lifetime_ms: i64) -> bool {
    // A day's grace: the token carries the day, not the hour, of its issue.
    now - issued_at < lifetime_ms + DAY_MS
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

    const NOW: i64 = 1_764_800_000_000; // 2025-12-03

    fn ring() -> KeyRing {
        KeyRing {
            keys: vec![ReplyKey {
                id: 0,
                secret: "0123456789abcdef0123456789abcdef".into(),
                created_at: 0,
            }],
        }
    }

    fn legacy_sign(secret: &str, token: &ReplyToken) -> String {
        let payload = payload(token);
        let tag = mac(secret.as_bytes(), &payload).finalize().into_bytes();
        format!("{payload}-{}", hex(&tag[..MAC_BYTES]))
    }

    #[test]
    fn round_trips_and_refuses_tampering() {
        let ring = ring();
        let token = ReplyToken {
            conversation_id: 42,
            recipient: Recipient::User(3),
        };
        let signed = sign(&ring, &token, NOW);
        assert!(signed.starts_with("c42-u3-d20425-k0-"), "{signed}");
        assert!(signed.len() + "reply+".len() <= 64);
        let verified = verify(&ring, &signed, 0).unwrap();
        assert_eq!(verified.token, token);
        assert!(NOW - verified.issued_at < DAY_MS);
        assert_eq!(verify(&ring, &signed.to_uppercase(), 0), Some(verified));
        // Moved to another conversation or person, or made younger: refused.
        assert_eq!(verify(&ring, &signed.replacen("c42", "c43", 1), 0), None);
        assert_eq!(verify(&ring, &signed.replacen("-u3-", "-v3-", 1), 0), None);
        assert_eq!(
            verify(&ring, &signed.replacen("-d20425-", "-d20500-", 1), 0),
            None
        );
        assert_eq!(verify(&ring, &signed.replacen("c42", "c042", 1), 0), None);
        let mut other = ring.clone();
        other.keys[0].secret = "another key another key another!".into();
        assert_eq!(verify(&other, &signed, 0), None);
        assert_eq!(verify(&ring, "c42-u3", 0), None);
        assert_eq!(verify(&ring, "c42-u3-zz", 0), None);
    }

    #[test]
    fn tokens_of_the_first_format_still_verify_with_key_zero() {
        let ring = ring();
        let token = ReplyToken {
            conversation_id: 7,
            recipient: Recipient::Visitor(9),
        };
        let old = legacy_sign(&ring.keys[0].secret, &token);
        let verified = verify(&ring, &old, NOW).unwrap();
        assert_eq!(verified.token, token);
        assert_eq!(
            verified.issued_at, NOW,
            "counted from when the ring was made"
        );
    }

    #[test]
    fn tokens_expire_and_rotated_keys_keep_verifying_theirs() {
        let lifetime = 90 * DAY_MS;
        let mut ring = ring();
        let token = ReplyToken {
            conversation_id: 1,
            recipient: Recipient::User(1),
        };
        let old = sign(&ring, &token, NOW);
        ring.rotate(
            "a fresh key a fresh key a fresh!".into(),
            NOW + DAY_MS,
            lifetime,
        );
        let new = sign(&ring, &token, NOW + DAY_MS);
        assert!(new.contains("-k1-"));
        let old_verified = verify(&ring, &old, 0).expect("the previous key still verifies");
        assert!(verify(&ring, &new, 0).is_some());
        assert!(is_fresh(
            old_verified.issued_at,
            NOW + 89 * DAY_MS,
            lifetime
        ));
        assert!(!is_fresh(
            old_verified.issued_at,
            NOW + 92 * DAY_MS,
            lifetime
        ));
        // A lifetime after the rotation the old key goes, and its tokens with it.
        ring.rotate(
            "third key third key third key 3!".into(),
            NOW + 100 * DAY_MS,
            lifetime,
        );
        assert!(ring.keys.iter().all(|k| k.id != 0));
        assert_eq!(verify(&ring, &old, 0), None);
        assert!(
            verify(&ring, &new, 0).is_some(),
            "key 1 is needed a while yet"
        );
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
