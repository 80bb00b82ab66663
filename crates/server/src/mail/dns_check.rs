//! "Check" in Settings → Mail: looks up each record `mail dns` says to publish
//! and says whether it is there, missing, or different.

use std::time::Duration;

use switchboard_protocol::{DnsCheck, DnsRecord, DnsRecordCheck};

use crate::mail::auth_in::MailAuth;

/// A record DNS has not answered for within this time is reported as an error.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Looks every record up at once.
pub async fn check(auth: &MailAuth, records: Vec<DnsRecord>) -> DnsCheck {
    let lookups = records.into_iter().map(|record| async move {
        let lookup = async {
            if record.kind.eq_ignore_ascii_case("MX") {
                auth.mx(&record.name).await
            } else {
                auth.txt(&record.name).await
            }
        };
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
            .await
            .unwrap_or_else(|_| Err("no answer within 5 s".into()));
        let (status, found) = match found {
            Err(e) => ("error", vec![e]),
            Ok(found) if found.is_empty() => ("missing", found),
            Ok(found) => {
                let ok = found.iter().any(|f| matches(&record, f));
                (if ok { "ok" } else { "different" }, found)
            }
        };
        DnsRecordCheck {
            record,
            status: status.into(),
            found,
        }
    });
    DnsCheck {
        records: futures_util::future::join_all(lookups).await,
    }
}

/// Whether a published value does the record's job.
fn matches(record: &DnsRecord, found: &str) -> bool {
    let expected = record.value.trim();
    let tag = |value: &str, name: &str| {
        value
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_whitespace().collect::<String>())
    };
    if record.kind.eq_ignore_ascii_case("MX") {
        // "10 chat.shop.example." → the host.
        let host = expected
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .trim_end_matches('.');
        return found.eq_ignore_ascii_case(host);
    }
    if record.name.contains("._domainkey.") {
        return tag(found, "p").is_some() && tag(found, "p") == tag(expected, "p");
    }
    if record.name.starts_with("_dmarc.") {
        return found.trim_start().starts_with("v=DMARC1");
    }
    // SPF: the hint is to adapt (a relay's include:), so any SPF record counts;
    // an incomplete hint cannot be compared further.
    found.trim_start().starts_with("v=spf1")
}
