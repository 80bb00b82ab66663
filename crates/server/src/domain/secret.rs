//! Random bearer tokens, stored only as their SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 256 random bits, URL-safe base64, with a prefix telling what it is for.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a token: a leaked table gives no usable token.
pub fn token_hash(token: &str) -> String {
    use std::fmt::Write;
    let mut hex = String::with_capacity(64);
    for byte in token_digest(token) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The SHA-256 of a token, as bytes (a compact key for lookups in memory).
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_hashed() {
        let a = new_token("sb");
        assert!(a.starts_with("sb_") && a.len() >= 40);
        assert_ne!(a, new_token("sb"));
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_eq!(token_hash(&a).len(), 64);
    }
}
