//! Rules of attached files that need no I/O: names, types, signed links.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A message carries at most this many files.
pub const MAX_PER_MESSAGE: usize = 10;
const MAX_NAME_CHARS: usize = 200;

/// The file's name as shown and offered when saving: the last path component
/// that is not empty (a browser may send `C:\fakepath\x.png`), without
/// control characters, spaces around or dots in front, at most 200 characters
/// (the extension kept). None if nothing is left.
pub fn clean_name(name: &str) -> Option<String> {
    let cleaned = name
        .split(['/', '\\'])
        .map(|part| {
            part.chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .trim_start_matches('.')
                .trim()
                .to_string()
        })
        .rev()
        .find(|part| !part.is_empty())?;
    if cleaned.chars().count() <= MAX_NAME_CHARS {
        return Some(cleaned);
    }
    let ext: String = match cleaned.rsplit_once('.') {
        Some((_, ext)) if ext.chars().count() <= 10 => format!(".{ext}"),
        _ => String::new(),
    };
    let stem: String = cleaned
        .chars()
        .take(MAX_NAME_CHARS - ext.chars().count())
        .collect();
    Some(format!("{stem}{ext}"))
}

/// Images that are shown inline (`<img src>`); their type is taken from the
/// bytes, never from what the sender declared.
pub const INLINE_IMAGES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

pub fn is_inline_image(content_type: &str) -> bool {
    INLINE_IMAGES.contains(&content_type)
}

/// The type a file is stored with: the image type its bytes show, else the
/// declared type if it is a well-formed `type/subtype`, else a guess from the
/// name, else `application/octet-stream`.
pub fn content_type(sniffed_image: Option<&'static str>, declared: &str, name: &str) -> String {
    if let Some(image) = sniffed_image {
        return image.to_string();
    }
    let declared = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 60
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let well_formed = declared
        .split_once('/')
        .is_some_and(|(t, s)| token(t) && token(s));
    // A file that claims to be an image but is not one is served as bytes.
    if well_formed && declared != "application/octet-stream" && !is_inline_image(&declared) {
        return declared;
    }
    match mime_guess::from_path(name).first() {
        Some(guess) if !is_inline_image(guess.essence_str()) => guess.essence_str().to_string(),
        _ => "application/octet-stream".to_string(),
    }
}

/// Which of a file's forms a link gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    Thumbnail,
}

impl Variant {
    fn tag(self) -> &'static str {
        match self {
            Variant::Original => "file",
            Variant::Thumbnail => "thumb",
        }
    }
}

/// The signature of a link to attachment `id` valid until `expires` (Unix
/// seconds): HMAC-SHA256 over the three, cut to 128 bits, base64url.
pub fn sign(key: &[u8], id: i64, variant: Variant, expires: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}:{}:{expires}", variant.tag()).as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    BadSignature,
    Expired,
}

/// Checks a link's signature (in constant time) and then its expiry.
pub fn verify(
    key: &[u8],
    id: i64,
    variant: Variant,
    expires: i64,
    signature: &str,
    now_s: i64,
) -> Result<(), LinkError> {
    let given = match URL_SAFE_NO_PAD.decode(signature) {
        Ok(given) if given.len() == 16 => given,
        _ => return Err(LinkError::BadSignature),
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}:{}:{expires}", variant.tag()).as_bytes());
    mac.verify_truncated_left(&given)
        .map_err(|_| LinkError::BadSignature)?;
    if now_s > expires {
        return Err(LinkError::Expired);
    }
    Ok(())
}

/// `Content-Disposition` with the name in both forms (RFC 6266): an ASCII
/// fallback and the UTF-8 original.
pub fn content_disposition(inline: bool, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("C:\\fakepath\\счёт.pdf").unwrap(), "счёт.pdf");
        assert_eq!(clean_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(clean_name("a\u{0}b\r\n.txt").unwrap(), "ab.txt");
        assert_eq!(clean_name(".htaccess").unwrap(), "htaccess");
        assert!(clean_name(" / ").is_none());
        assert!(clean_name("../ ..").is_none());
        assert_eq!(clean_name("a/ ").unwrap(), "a");
        let long = format!("{}.jpeg", "x".repeat(300));
        let cut = clean_name(&long).unwrap();
        assert_eq!(cut.chars().count(), 200);
        assert!(cut.ends_with(".jpeg"));
    }

    #[test]
    fn only_real_images_are_inline() {
        assert_eq!(
            content_type(Some("image/png"), "text/html", "x.html"),
            "image/png"
        );
        assert_eq!(
            content_type(None, "image/png", "x.png"),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(None, "text/html; charset=utf-8", "x"),
            "text/html"
        );
        assert_eq!(content_type(None, "", "invoice.pdf"), "application/pdf");
        assert_eq!(content_type(None, "bogus", "x"), "application/octet-stream");
        assert_eq!(content_type(None, "", "drawing.svg"), "image/svg+xml");
        assert!(!is_inline_image("image/svg+xml"));
    }

    #[test]
    fn links_verify_until_they_expire() {
        let key = b"0123456789abcdef";
        let sig = sign(key, 7, Variant::Original, 1_000);
        assert_eq!(verify(key, 7, Variant::Original, 1_000, &sig, 999), Ok(()));
        assert_eq!(
            verify(key, 7, Variant::Original, 1_000, &sig, 1_001),
            Err(LinkError::Expired)
        );
        for (id, variant, expires) in [
            (8, Variant::Original, 1_000),
            (7, Variant::Thumbnail, 1_000),
            (7, Variant::Original, 2_000),
        ] {
            assert_eq!(
                verify(key, id, variant, expires, &sig, 0),
                Err(LinkError::BadSignature)
            );
        }
        assert_eq!(
            verify(key, 7, Variant::Original, 1_000, "", 0),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            verify(b"another key", 7, Variant::Original, 1_000, &sig, 0),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn dispositions_carry_unicode_names() {
        assert_eq!(
            content_disposition(false, "счёт 1.pdf"),
            "attachment; filename=\"____ 1.pdf\"; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82%201.pdf"
        );
        assert!(content_disposition(true, "a\"b.png").starts_with("inline; filename=\"a_b.png\""));
    }
}
