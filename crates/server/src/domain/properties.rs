//! Property tests over the parsers that take strangers' input: whatever the
//! bytes, they answer (a value or a refusal) and never panic; what they accept
//! obeys their rules.

use proptest::prelude::*;

use super::email::EmailAddress;
use super::reply_text;
use super::reply_token::{self, KeyRing, Recipient, ReplyKey, ReplyToken};

fn ring(secret: &str) -> KeyRing {
    KeyRing {
        keys: vec![ReplyKey {
            id: 0,
            secret: secret.into(),
            created_at: 0,
        }],
    }
}

const NOW: i64 = 1_764_800_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reply_text_never_panics_and_never_grows(body in "\\PC{0,400}") {
        let text = reply_text::extract(&body);
        prop_assert!(text.len() <= body.len() + 1);
    }

    #[test]
    fn html_to_text_never_panics(html in "(<[a-z/!]{0,6}[^>]{0,20}>|[^<]{0,30}|&[a-z#0-9]{0,6};?){0,30}") {
        let _ = reply_text::html_to_text(&html);
    }

    #[test]
    fn unflow_never_panics(text in "\\PC{0,300}", delsp: bool) {
        let _ = reply_text::unflow(&text, delsp);
    }

    #[test]
    fn any_string_is_a_token_only_with_the_right_mac(input in "(c[0-9]{1,3}-[uv][0-9]{1,3}-(d[0-9]{1,6}-k[0-9]-)?)?\\PC{0,30}") {
        prop_assert_eq!(reply_token::verify(&ring("property-test-key"), &input, NOW), None);
    }

    #[test]
    fn signed_tokens_round_trip_and_do_not_move(conversation in 1i64..i64::MAX, id in 1i64..i64::MAX, visitor: bool, other in 1i64..i64::MAX) {
        let recipient = if visitor { Recipient::Visitor(id) } else { Recipient::User(id) };
        let token = ReplyToken { conversation_id: conversation, recipient };
        let keys = ring("property-test-key");
        let signed = reply_token::sign(&keys, &token, NOW);
        let verified = reply_token::verify(&keys, &signed, 0).map(|v| v.token);
        prop_assert_eq!(verified, Some(token));
        let upper = reply_token::verify(&keys, &signed.to_uppercase(), 0).map(|v| v.token);
        prop_assert_eq!(upper, Some(token));
        prop_assert_eq!(reply_token::verify(&ring("another key"), &signed, 0), None);
        if other != conversation {
            let moved = signed.replacen(&format!("c{conversation}-"), &format!("c{other}-"), 1);
            prop_assert_eq!(reply_token::verify(&keys, &moved, 0), None);
        }
    }

    #[test]
    fn reply_addresses_are_found_only_in_our_domain(prefix in "\\PC{0,40}", token in "[a-z0-9\\-]{1,30}") {
        let text = format!("{prefix} reply+{token}@elsewhere.example");
        prop_assert_eq!(reply_token::find(&text, "switchboard.localhost"), None);
    }

    #[test]
    fn emails_parse_or_are_refused_without_panic(input in "\\PC{0,80}") {
        if let Ok(email) = EmailAddress::parse(&input) {
            prop_assert!(email.as_str().contains('@'));
            prop_assert!(!email.as_str().chars().any(char::is_whitespace));
        }
    }
}
