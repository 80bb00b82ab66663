//! The widget's settings as admins and marketers shape them: what is valid,
//! and how a saved document is normalised (ids for new greetings, trimmed
//! texts). Pure: the caller says who may be a face or a greeting's sender.

use std::collections::HashSet;

use switchboard_protocol::{GreetingRule, WidgetSettings};

pub const MAX_TITLE_CHARS: usize = 60;
pub const MAX_TEXT_CHARS: usize = 500;
pub const MAX_FACES: usize = 20;
pub const MAX_GREETINGS: usize = 20;
pub const MAX_PATTERN_CHARS: usize = 200;
pub const MAX_GREETING_CHARS: usize = 1000;
pub const MAX_DELAY_SECONDS: u32 = 3600;
pub const MAX_CAP: u32 = 100;

/// Why a document was refused: an error code and a sentence for the form.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        code,
        message: message.into(),
    }
}

/// Checks `new` and returns it normalised. `may_answer` tells whether a user
/// id is an active colleague who answers visitors; `next_id` hands out ids
/// to greetings that have none (and to ids that `current` does not know,
/// so a client cannot pick an id that counts for another greeting).
pub fn validate(
    mut new: WidgetSettings,
    current: &WidgetSettings,
    may_answer: impl Fn(i64) -> bool,
    mut next_id: impl FnMut() -> i64,
) -> Result<WidgetSettings, Invalid> {
    new.color = parse_color(&new.color)?;
    new.title = text(&new.title, MAX_TITLE_CHARS, false).ok_or_else(|| {
        invalid(
            "invalid_title",
            format!("the title is at most {MAX_TITLE_CHARS} characters on one line"),
        )
    })?;
    new.welcome = text(&new.welcome, MAX_TEXT_CHARS, true).ok_or_else(|| {
        invalid(
            "invalid_welcome",
            format!("the greeting line is at most {MAX_TEXT_CHARS} characters"),
        )
    })?;
    new.away_text = text(&new.away_text, MAX_TEXT_CHARS, true).ok_or_else(|| {
        invalid(
            "invalid_away_text",
            format!("the away text is at most {MAX_TEXT_CHARS} characters"),
        )
    })?;
    if let Some(faces) = &new.faces {
        if faces.len() > MAX_FACES {
            return Err(invalid(
                "invalid_faces",
                format!("at most {MAX_FACES} faces"),
            ));
        }
        let mut seen = HashSet::new();
        for id in faces {
            if !seen.insert(*id) {
                return Err(invalid(
                    "invalid_faces",
                    format!("colleague {id} is listed twice"),
                ));
            }
            if !may_answer(*id) {
                return Err(invalid(
                    "unknown_colleague",
                    format!("user {id} is not an active colleague who answers visitors"),
                ));
            }
        }
    }
    if new.greetings.len() > MAX_GREETINGS {
        return Err(invalid(
            "too_many_greetings",
            format!("at most {MAX_GREETINGS} greetings"),
        ));
    }
    let known: HashSet<i64> = current.greetings.iter().filter_map(|g| g.id).collect();
    let mut ids = HashSet::new();
    for rule in &mut new.greetings {
        check_greeting(rule, &may_answer)?;
        match rule.id {
            Some(id) if known.contains(&id) => {
                if !ids.insert(id) {
                    return Err(invalid(
                        "invalid_greeting",
                        format!("greeting {id} is listed twice"),
                    ));
                }
            }
            _ => {
                let id = next_id();
                ids.insert(id);
                rule.id = Some(id);
            }
        }
    }
    Ok(new)
}

fn check_greeting(
    rule: &mut GreetingRule,
    may_answer: &impl Fn(i64) -> bool,
) -> Result<(), Invalid> {
    if !valid_pattern(&rule.url_pattern) {
        return Err(invalid(
            "invalid_url_pattern",
            format!(
                "a page pattern is `*` or starts with `/` (`*` stands for any characters), \
                 without spaces, at most {MAX_PATTERN_CHARS} characters"
            ),
        ));
    }
    if rule.delay_seconds > MAX_DELAY_SECONDS {
        return Err(invalid(
            "invalid_delay",
            format!("the delay is 0 to {MAX_DELAY_SECONDS} seconds"),
        ));
    }
    if !(1..=MAX_CAP).contains(&rule.per_visitor_cap) {
        return Err(invalid(
            "invalid_cap",
            format!("a greeting is shown 1 to {MAX_CAP} times per visitor"),
        ));
    }
    let message = rule.message.replace('\0', "");
    let message = message.trim();
    if message.is_empty() || message.chars().count() > MAX_GREETING_CHARS {
        return Err(invalid(
            "invalid_greeting",
            format!("a greeting's message is 1 to {MAX_GREETING_CHARS} characters"),
        ));
    }
    rule.message = message.to_string();
    if !may_answer(rule.from_user_id) {
        return Err(invalid(
            "unknown_colleague",
            format!(
                "user {} is not an active colleague who answers visitors",
                rule.from_user_id
            ),
        ));
    }
    Ok(())
}

/// `#rrggbb`, stored in lower case.
fn parse_color(color: &str) -> Result<String, Invalid> {
    let hex = color.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(color.to_ascii_lowercase())
    } else {
        Err(invalid(
            "invalid_color",
            "the colour is written #rrggbb, e.g. #2563eb",
        ))
    }
}

/// A text trimmed, when it has no control characters (line breaks allowed
/// where `multiline`) and at most `max` characters.
fn text(s: &str, max: usize, multiline: bool) -> Option<String> {
    let bad = |c: char| c.is_control() && !(multiline && c == '\n');
    (s.chars().count() <= max && !s.chars().any(bad)).then(|| s.trim().to_string())
}

fn valid_pattern(p: &str) -> bool {
    p == "*"
        || (p.starts_with('/')
            && p.chars().count() <= MAX_PATTERN_CHARS
            && !p.chars().any(|c| c.is_control() || c.is_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: Option<i64>) -> GreetingRule {
        GreetingRule {
            id,
            enabled: true,
            url_pattern: "/pricing*".into(),
            delay_seconds: 10,
            on_exit_intent: false,
            message: "  Questions about plans?  ".into(),
            from_user_id: 1,
            per_visitor_cap: 1,
        }
    }

    fn check(new: WidgetSettings, current: &WidgetSettings) -> Result<WidgetSettings, Invalid> {
        let mut next = 100;
        validate(
            new,
            current,
            |id| id == 1 || id == 2,
            || {
                next += 1;
                next
            },
        )
    }

    #[test]
    fn new_greetings_get_ids_and_known_ones_keep_theirs() {
        let current = WidgetSettings {
            greetings: vec![rule(Some(7))],
            ..Default::default()
        };
        let new = WidgetSettings {
            color: "#AABBCC".into(),
            greetings: vec![rule(Some(7)), rule(None), rule(Some(55))],
            ..Default::default()
        };
        let saved = check(new, &current).unwrap();
        assert_eq!(saved.color, "#aabbcc");
        let ids: Vec<_> = saved.greetings.iter().map(|g| g.id).collect();
        assert_eq!(ids, vec![Some(7), Some(101), Some(102)]);
        assert_eq!(saved.greetings[0].message, "Questions about plans?");
    }

    #[test]
    fn every_bad_field_has_its_code() {
        let current = WidgetSettings::default();
        type Spoil = Box<dyn Fn(&mut WidgetSettings)>;
        let cases: Vec<(&str, Spoil)> = vec![
            ("invalid_color", Box::new(|s| s.color = "blue".into())),
            ("invalid_color", Box::new(|s| s.color = "#12345g".into())),
            ("invalid_title", Box::new(|s| s.title = "x".repeat(61))),
            ("invalid_title", Box::new(|s| s.title = "a\nb".into())),
            ("invalid_welcome", Box::new(|s| s.welcome = "é".repeat(501))),
            (
                "invalid_away_text",
                Box::new(|s| s.away_text = "a\u{7}".into()),
            ),
            ("unknown_colleague", Box::new(|s| s.faces = Some(vec![3]))),
            ("invalid_faces", Box::new(|s| s.faces = Some(vec![1, 1]))),
            (
                "too_many_greetings",
                Box::new(|s| s.greetings = vec![rule(None); 21]),
            ),
            (
                "invalid_url_pattern",
                Box::new(|s| {
                    s.greetings = vec![GreetingRule {
                        url_pattern: "pricing".into(),
                        ..rule(None)
                    }]
                }),
            ),
            (
                "invalid_url_pattern",
                Box::new(|s| {
                    s.greetings = vec![GreetingRule {
                        url_pattern: "/a b".into(),
                        ..rule(None)
                    }]
                }),
            ),
            (
                "invalid_delay",
                Box::new(|s| {
                    s.greetings = vec![GreetingRule {
                        delay_seconds: 3601,
                        ..rule(None)
                    }]
                }),
            ),
            (
                "invalid_cap",
                Box::new(|s| {
                    s.greetings = vec![GreetingRule {
                        per_visitor_cap: 0,
                        ..rule(None)
                    }]
                }),
            ),
            (
                "invalid_greeting",
                Box::new(|s| {
                    s.greetings = vec![GreetingRule {
                        message: " \0 ".into(),
                        ..rule(None)
                    }]
                }),
            ),
            (
                "unknown_colleague",
                Box::new(|s| {
                    s.greetings = vec![GreetingRule {
                        from_user_id: 9,
                        ..rule(None)
                    }]
                }),
            ),
        ];
        for (code, change) in cases {
            let mut new = WidgetSettings::default();
            change(&mut new);
            assert_eq!(check(new, &current).unwrap_err().code, code);
        }
    }

    #[test]
    fn texts_may_span_lines_and_patterns_may_be_star() {
        let new = WidgetSettings {
            welcome: "Hi!\nAsk us anything.".into(),
            faces: Some(vec![2, 1]),
            greetings: vec![GreetingRule {
                url_pattern: "*".into(),
                ..rule(None)
            }],
            ..Default::default()
        };
        let saved = check(new, &WidgetSettings::default()).unwrap();
        assert_eq!(saved.welcome, "Hi!\nAsk us anything.");
        assert_eq!(saved.faces, Some(vec![2, 1]));
    }
}
