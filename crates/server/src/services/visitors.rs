//! Who the visitor is: what the widget tells on each page, and the profile
//! colleagues see beside the dialog.

use std::net::IpAddr;

use switchboard_protocol::{PageSeen, PageView, VisitorProfile};

use crate::error::{ApiError, ApiResult};
use crate::services::conversations::conversation_view;
use crate::state::SharedState;
use crate::store::conversations;
use crate::store::visitors::{self, Context, VisitorRecord};

const MAX_URL_CHARS: usize = 2000;
const MAX_TITLE_CHARS: usize = 300;

/// An http(s) address without spaces or control characters (what the
/// schema's pattern says, character for character).
fn web_address(value: &str) -> bool {
    (value.starts_with("http://") || value.starts_with("https://"))
        && value.len() > "http://".len()
        && value.chars().count() <= MAX_URL_CHARS
        && !value.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn language_tag(value: &str) -> bool {
    value.len() <= 35
        && value.split('-').enumerate().all(|(i, part)| {
            (1..=8).contains(&part.len())
                && if i == 0 {
                    part.chars().all(|c| c.is_ascii_alphabetic())
                } else {
                    part.chars().all(|c| c.is_ascii_alphanumeric())
                }
        })
}

/// Browser and OS as people name them ("Chrome 131", "Windows 10").
fn browser_and_os(user_agent: &str) -> (Option<String>, Option<String>) {
    let Some(ua) = woothee::parser::Parser::new().parse(user_agent) else {
        return (None, None);
    };
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    let major = ua.version.split('.').next().unwrap_or_default();
    let browser = known(ua.name).then(|| {
        if known(major) {
            format!("{} {major}", ua.name)
        } else {
            ua.name.to_string()
        }
    });
    let os = known(ua.os).then(|| {
        // "Windows 10" names its version already ("NT 10.0" adds nothing).
        if known(&ua.os_version) && !ua.os.chars().any(|c| c.is_ascii_digit()) {
            format!("{} {}", ua.os, ua.os_version)
        } else {
            ua.os.to_string()
        }
    });
    (browser, os)
}

pub async fn record_page(
    state: &SharedState,
    visitor: &VisitorRecord,
    page: &PageView,
    user_agent: Option<&str>,
    address: IpAddr,
) -> ApiResult<()> {
    if !web_address(&page.url) {
        return Err(ApiError::unprocessable(
            "invalid_url",
            "url must be an http(s) address of at most 2,000 characters",
        ));
    }
    let referrer = page.referrer.as_deref().filter(|r| !r.is_empty());
    if referrer.is_some_and(|r| !web_address(r)) {
        return Err(ApiError::unprocessable(
            "invalid_referrer",
            "referrer must be empty or an http(s) address of at most 2,000 characters",
        ));
    }
    if page.language.as_deref().is_some_and(|l| !language_tag(l)) {
        return Err(ApiError::unprocessable(
            "invalid_language",
            "language must be a language tag such as ru-RU",
        ));
    }
    if page.title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::unprocessable(
            "invalid_title",
            "title may have at most 300 characters",
        ));
    }
    if page
        .time_zone
        .as_deref()
        .is_some_and(|tz| tz.chars().count() > 64)
    {
        return Err(ApiError::unprocessable(
            "invalid_time_zone",
            "time_zone may have at most 64 characters",
        ));
    }
    let title: String = page.title.chars().filter(|c| !c.is_control()).collect();
    // An unknown zone is left out rather than refused: it is a hint.
    let time_zone = page
        .time_zone
        .as_deref()
        .filter(|tz| jiff::tz::TimeZone::get(tz).is_ok());
    let (browser, os) = user_agent.map(browser_and_os).unwrap_or_default();
    let ip = state.config.store_visitor_ip.then(|| address.to_string());
    let mut tx = state.db.begin_write().await?;
    visitors::record_page(
        &mut tx.tx,
        visitor.id,
        &page.url,
        title.trim(),
        &Context {
            language: page.language.as_deref(),
            time_zone,
            browser: browser.as_deref(),
            os: os.as_deref(),
            referrer,
            ip_address: ip.as_deref(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn profile(state: &SharedState, visitor_id: i64) -> ApiResult<VisitorProfile> {
    let visitor = visitors::by_id(&state.db, visitor_id)
        .await?
        .ok_or_else(|| ApiError::not_found("visitor"))?;
    let context = visitors::profile(&state.db, visitor_id)
        .await?
        .ok_or_else(|| ApiError::not_found("visitor"))?;
    let mut ids = vec![visitor.id];
    if let Some(email) = &visitor.email {
        ids.extend(visitors::same_email(&state.db, email, visitor.id).await?);
    }
    let mut conn = state.db.pool.acquire().await?;
    let mut found = Vec::new();
    for id in ids {
        if let Some(c) = conversations::of_visitor(&mut conn, id).await? {
            found.push(conversation_view(state, &mut conn, &c).await?);
        }
    }
    found.sort_by_key(|c| std::cmp::Reverse(c.updated_at));
    Ok(VisitorProfile {
        id: visitor.id,
        name: visitor.name,
        email: visitor.email,
        language: context.language,
        time_zone: context.time_zone,
        browser: context.browser,
        os: context.os,
        referrer: context.referrer,
        ip_address: context.ip_address,
        pages: context
            .pages
            .into_iter()
            .map(|(url, title, seen_at)| PageSeen {
                url,
                title,
                seen_at,
            })
            .collect(),
        conversations: found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_tags() {
        assert!(web_address("https://shop.example.com/teas?x=1"));
        assert!(!web_address("javascript:alert(1)"));
        assert!(!web_address("https://a b"));
        assert!(!web_address("http://"));
        assert!(language_tag("ru-RU") && language_tag("en") && language_tag("zh-Hant-TW"));
        assert!(!language_tag("ru_RU") && !language_tag("") && !language_tag("-en"));
    }

    #[test]
    fn user_agents_become_names() {
        let (browser, os) = browser_and_os(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        );
        assert_eq!(browser.as_deref(), Some("Chrome 131"));
        assert_eq!(os.as_deref(), Some("Windows 10"));
        assert_eq!(browser_and_os("curl/8.5.0").1, None);
    }
}
