//! Password hashing (argon2id) and the generated passwords of invitations.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use rand::Rng;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 256;

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

pub fn verify(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash nobody can log in with, for accounts that have no password yet and to
/// spend the same time on unknown emails as on known ones.
pub fn unusable_hash() -> String {
    hash(&generate()).expect("hashing a generated password")
}

/// Checks a password a person chose.
pub fn check_new(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(format!(
            "the password needs at least {MIN_LENGTH} characters"
        ));
    }
    if chars > MAX_LENGTH {
        return Err(format!(
            "the password may have at most {MAX_LENGTH} characters"
        ));
    }
    Ok(())
}

/// Letters and digits that cannot be mistaken for each other when read off an
/// email and typed (no 0/O, 1/l/I).
const READABLE: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A strong, readable password: four groups of four, about 91 bits of entropy,
/// e.g. `k7Mp-9xQ2-aR4e-Wn8h`.
pub fn generate() -> String {
    let mut rng = OsRng;
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| READABLE[rng.gen_range(0..READABLE.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let h1 = hash("correct horse").unwrap();
        let h2 = hash("correct horse").unwrap();
        assert_ne!(h1, h2, "salted");
        assert!(h1.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h1));
        assert!(!verify("wrong horse", &h1));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn generated_passwords_are_readable_and_distinct() {
        let a = generate();
        assert_eq!(a.len(), 19);
        assert!(a.chars().all(|c| c == '-' || READABLE.contains(&(c as u8))));
        assert_ne!(a, generate());
        assert!(check_new(&a).is_ok());
    }
}
