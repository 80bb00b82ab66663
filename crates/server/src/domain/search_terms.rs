//! Words reduced to their stems, so that a search finds other forms of a word:
//! "заказ" finds "заказом", "order" finds "ordered".
//!
//! The stems are computed here, in Rust (Snowball's Russian and English
//! stemmers), and the stores only index and match them as plain tokens: SQLite's
//! FTS5 and PostgreSQL's full-text search then behave exactly alike, and a word
//! is stemmed the same way when it is indexed and when it is searched for.

use std::collections::HashSet;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));
static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Longer words are indexed as they are cut here: nobody searches for them
/// whole, and they would only bloat the index.
const MAX_WORD_CHARS: usize = 40;
/// A query's first words count; the rest are ignored.
const MAX_QUERY_WORDS: usize = 8;

/// The words of a text with their byte offsets: runs of letters and digits.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

/// One word's stem: lower case, ё as е, then the Russian stemmer for words
/// with Cyrillic letters and the English one for the rest.
pub fn stem(word: &str) -> String {
    let lower: String = word
        .chars()
        .take(MAX_WORD_CHARS)
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect();
    let cyrillic = lower
        .chars()
        .any(|c| ('\u{0400}'..='\u{04ff}').contains(&c));
    let stemmer = if cyrillic { &*RUSSIAN } else { &*ENGLISH };
    let stemmed = stemmer.stem(&lower);
    // A stem is a token to both stores: letters and digits only.
    if stemmed.chars().all(char::is_alphanumeric) && !stemmed.is_empty() {
        stemmed.into_owned()
    } else {
        lower
    }
}

/// What a text is indexed as: its distinct stems, space-separated.
pub fn index_terms(text: &str) -> String {
    let mut seen = HashSet::new();
    let mut terms = String::new();
    for (_, word) in words(text) {
        let s = stem(word);
        if seen.insert(s.clone()) {
            if !terms.is_empty() {
                terms.push(' ');
            }
            terms.push_str(&s);
        }
    }
    terms
}

/// A parsed search: every stem must match; the last one also as a prefix
/// when the query does not end with a space (the user is still typing it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub stems: Vec<String>,
    pub last_is_prefix: bool,
}

impl Query {
    pub fn parse(q: &str) -> Option<Query> {
        let mut stems: Vec<String> = Vec::new();
        for (_, word) in words(q).take(MAX_QUERY_WORDS) {
            let s = stem(word);
            if !stems.contains(&s) {
                stems.push(s);
            }
        }
        if stems.is_empty() {
            return None;
        }
        let last_is_prefix = q.chars().last().is_some_and(char::is_alphanumeric);
        Some(Query {
            stems,
            last_is_prefix,
        })
    }

    /// FTS5's query syntax: `"stem1" AND "stem2"*`. Stems hold letters and
    /// digits only, so quoting cannot be broken out of.
    pub fn fts5(&self) -> String {
        self.terms(
            |s, prefix| format!("\"{s}\"{}", if prefix { "*" } else { "" }),
            " AND ",
        )
    }

    /// PostgreSQL's `to_tsquery('simple', …)`: `stem1 & stem2:*`.
    pub fn tsquery(&self) -> String {
        self.terms(
            |s, prefix| format!("{s}{}", if prefix { ":*" } else { "" }),
            " & ",
        )
    }

    fn terms(&self, term: impl Fn(&str, bool) -> String, and: &str) -> String {
        let last = self.stems.len() - 1;
        self.stems
            .iter()
            .enumerate()
            .map(|(i, s)| term(s, i == last && self.last_is_prefix))
            .collect::<Vec<_>>()
            .join(and)
    }

    /// Whether a word of a text matches one of the query's stems.
    pub fn matches(&self, word: &str) -> bool {
        let s = stem(word);
        let last = self.stems.len() - 1;
        self.stems.iter().enumerate().any(|(i, q)| {
            *q == s || (i == last && self.last_is_prefix && s.starts_with(q.as_str()))
        })
    }
}

/// A piece of `text` around the first match (about `width` characters, `…`
/// where it was cut) and the words in it that matched, as written.
pub fn snippet(text: &str, query: &Query, width: usize) -> (String, Vec<String>) {
    let all: Vec<(usize, &str)> = words(text).collect();
    let first = all.iter().position(|(_, w)| query.matches(w));
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let char_at = |byte: usize| chars.partition_point(|(b, _)| *b < byte);
    let (start, end) = match first {
        Some(i) => {
            let at = char_at(all[i].0);
            let start = at.saturating_sub(width / 3);
            (start, (start + width).min(chars.len()))
        }
        None => (0, width.min(chars.len())),
    };
    // Cut at word boundaries where possible.
    let start = if start == 0 {
        0
    } else {
        (start..chars.len().min(start + 15))
            .find(|&i| chars[i].1.is_whitespace())
            .map_or(start, |i| i + 1)
    };
    let end = if end == chars.len() {
        end
    } else {
        (end.saturating_sub(15).max(start)..end)
            .rev()
            .find(|&i| chars[i].1.is_whitespace())
            .unwrap_or(end)
    };
    let byte = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    let piece = &text[byte(start)..byte(end)];
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(piece.trim());
    if end < chars.len() {
        out.push('…');
    }
    let mut matched: Vec<String> = Vec::new();
    for (_, w) in words(piece) {
        if query.matches(w) && !matched.iter().any(|m| m == w) {
            matched.push(w.to_string());
        }
    }
    (out, matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_and_english_forms_share_a_stem() {
        assert_eq!(stem("заказ"), stem("заказом"));
        assert_eq!(stem("Заказа"), stem("заказы"));
        assert_eq!(stem("order"), stem("ordered"));
        assert_eq!(stem("Ordering"), stem("orders"));
        assert_eq!(stem("ёлка"), stem("елка"));
        assert_eq!(stem("4512"), "4512");
    }

    #[test]
    fn index_terms_are_distinct_stems() {
        assert_eq!(index_terms("Order 4512: ordered, ORDERS!"), "order 4512");
        assert_eq!(index_terms("  ...  "), "");
    }

    #[test]
    fn queries_are_safe_in_both_syntaxes() {
        let q = Query::parse(r#"заказом "4512" OR) x"#).unwrap();
        assert_eq!(q.fts5(), r#""заказ" AND "4512" AND "or" AND "x"*"#);
        assert_eq!(q.tsquery(), "заказ & 4512 & or & x:*");
        assert!(Query::parse(" !!! ").is_none());
        let done = Query::parse("order ").unwrap();
        assert!(!done.last_is_prefix);
        assert_eq!(done.fts5(), r#""order""#);
    }

    #[test]
    fn snippet_marks_the_words_that_matched() {
        let text = "Hello! Where is my parcel? I ordered a kettle last week, order 4512, and nothing came.";
        let q = Query::parse("order ").unwrap();
        let (piece, matched) = snippet(text, &q, 40);
        assert!(piece.contains("ordered"), "{piece}");
        assert!(piece.starts_with('…') && piece.ends_with('…'), "{piece}");
        assert_eq!(matched, vec!["ordered".to_string()]);
        let (whole, matched) = snippet("Мой заказом доволен", &Query::parse("заказ").unwrap(), 160);
        assert_eq!(whole, "Мой заказом доволен");
        assert_eq!(matched, vec!["заказом".to_string()]);
    }
}
