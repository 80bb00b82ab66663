//! Rate limits and quotas on what strangers may do: a keyed GCRA limiter
//! (`governor`) per kind of request, keyed by visitor or by client address, each
//! refusal a 429 with `Retry-After`. README and API.md list the figures.
//!
//! The limiters live in this node's memory: behind a load balancer each node
//! allows the figures below, so N nodes allow N times as much at most.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{ApiError, ApiResult};

/// `burst` at once, then one more every `every`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

impl Rate {
    pub const fn new(burst: u32, every_ms: u64) -> Rate {
        Rate {
            burst,
            every: Duration::from_millis(every_ms),
        }
    }

    fn quota(self) -> Quota {
        Quota::with_period(self.every)
            .expect("a rate's period is not zero")
            .allow_burst(NonZeroU32::new(self.burst.max(1)).expect("burst is at least 1"))
    }

    fn scaled(self, factor: u32) -> Rate {
        Rate {
            burst: self.burst.saturating_mul(factor),
            every: self.every / factor.max(1),
        }
    }
}

/// The figures; README and API.md document the defaults.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// New widget sessions (new visitors) per client address.
    pub widget_sessions_per_address: Rate,
    /// Messages per visitor: a person types far slower; a legitimate load of
    /// 2,000 visitors at 2,000 msg/s (one a second each) stays under it.
    pub messages_per_visitor: Rate,
    /// Messages per client address, all its visitors together.
    pub messages_per_address: Rate,
    /// Name/email changes per visitor.
    pub contact_changes_per_visitor: Rate,
    /// Read receipts per visitor (each is an event every operator receives).
    pub reads_per_visitor: Rate,
    /// Typing notices per visitor (over the limit they are dropped silently).
    pub typing_per_visitor: Rate,
    /// Pages reported per visitor (each navigation of the site).
    pub pages_per_visitor: Rate,
    /// Files uploaded per visitor (each up to `--max-attachment`).
    pub uploads_per_visitor: Rate,
    /// Files uploaded per client address, all its visitors together.
    pub uploads_per_address: Rate,
    /// Widget streams one visitor may hold open at once (one per open tab).
    pub streams_per_visitor: usize,
    /// Visitor messages waiting for the writer before new ones get 503.
    pub write_queue: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            widget_sessions_per_address: Rate::new(20, 3_000),
            messages_per_visitor: Rate::new(30, 500),
            messages_per_address: Rate::new(300, 20),
            contact_changes_per_visitor: Rate::new(5, 10_000),
            reads_per_visitor: Rate::new(30, 1_000),
            typing_per_visitor: Rate::new(5, 1_000),
            pages_per_visitor: Rate::new(30, 2_000),
            uploads_per_visitor: Rate::new(20, 6_000),
            uploads_per_address: Rate::new(60, 1_000),
            streams_per_visitor: 8,
            write_queue: 10_000,
        }
    }
}

impl LimitSettings {
    /// The per-visitor message limit times `factor` (scripts, not people).
    pub fn with_visitor_factor(mut self, factor: u32) -> Self {
        self.messages_per_visitor = self.messages_per_visitor.scaled(factor);
        self
    }

    /// Every per-address limit times `factor` (a load generator on one address).
    pub fn with_address_factor(mut self, factor: u32) -> Self {
        self.widget_sessions_per_address = self.widget_sessions_per_address.scaled(factor);
        self.messages_per_address = self.messages_per_address.scaled(factor);
        self.uploads_per_address = self.uploads_per_address.scaled(factor);
        self
    }
}

/// A client address as limits see it: IPv6 clients get a /64 each (what one
/// subscriber usually holds), so a host cannot dodge its limit by rotating
/// addresses inside its own prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    AddressKey(IpAddr::V6(prefix.into()))
                }
            },
            v4 => AddressKey(v4),
        }
    }
}

pub struct Limits {
    settings: LimitSettings,
    clock: DefaultClock,
    widget_sessions: DefaultKeyedRateLimiter<AddressKey>,
    visitor_messages: DefaultKeyedRateLimiter<i64>,
    address_messages: DefaultKeyedRateLimiter<AddressKey>,
    contact_changes: DefaultKeyedRateLimiter<i64>,
    reads: DefaultKeyedRateLimiter<i64>,
    typing: DefaultKeyedRateLimiter<i64>,
    visitor_pages: DefaultKeyedRateLimiter<i64>,
    visitor_uploads: DefaultKeyedRateLimiter<i64>,
    address_uploads: DefaultKeyedRateLimiter<AddressKey>,
    visitor_streams: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Limits {
        Limits {
            clock: DefaultClock::default(),
            widget_sessions: RateLimiter::keyed(settings.widget_sessions_per_address.quota()),
            visitor_messages: RateLimiter::keyed(settings.messages_per_visitor.quota()),
            address_messages: RateLimiter::keyed(settings.messages_per_address.quota()),
            contact_changes: RateLimiter::keyed(settings.contact_changes_per_visitor.quota()),
            reads: RateLimiter::keyed(settings.reads_per_visitor.quota()),
            typing: RateLimiter::keyed(settings.typing_per_visitor.quota()),
            visitor_pages: RateLimiter::keyed(settings.pages_per_visitor.quota()),
            visitor_uploads: RateLimiter::keyed(settings.uploads_per_visitor.quota()),
            address_uploads: RateLimiter::keyed(settings.uploads_per_address.quota()),
            visitor_streams: Arc::new(Mutex::new(HashMap::new())),
            settings,
        }
    }

    pub fn settings(&self) -> &LimitSettings {
        &self.settings
    }

    fn check<K: Clone + std::hash::Hash + Eq>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        what: &str,
    ) -> ApiResult<()> {
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Round up: a client that waits what it is told gets through.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::too_many(
                secs.max(1),
                format!("too many {what}; try again in {} s", secs.max(1)),
            )
        })
    }

    pub fn widget_session(&self, address: IpAddr) -> ApiResult<()> {
        self.check(
            &self.widget_sessions,
            &address.into(),
            "new chat sessions from this address",
        )
    }

    pub fn visitor_message(&self, visitor_id: i64, address: IpAddr) -> ApiResult<()> {
        self.check(&self.visitor_messages, &visitor_id, "messages")?;
        self.check(
            &self.address_messages,
            &address.into(),
            "messages from this address",
        )
    }

    pub fn visitor_page(&self, visitor_id: i64) -> ApiResult<()> {
        self.check(&self.visitor_pages, &visitor_id, "page reports")
    }

    pub fn visitor_upload(&self, visitor_id: i64, address: IpAddr) -> ApiResult<()> {
        self.check(&self.visitor_uploads, &visitor_id, "files")?;
        self.check(
            &self.address_uploads,
            &address.into(),
            "files from this address",
        )
    }

    pub fn contact_change(&self, visitor_id: i64) -> ApiResult<()> {
        self.check(&self.contact_changes, &visitor_id, "contact changes")
    }

    pub fn visitor_read(&self, visitor_id: i64) -> ApiResult<()> {
        self.check(&self.reads, &visitor_id, "read receipts")
    }

    /// Whether a visitor's typing notice may be stored (else it is dropped).
    pub fn visitor_typing(&self, visitor_id: i64) -> bool {
        self.typing.check_key(&visitor_id).is_ok()
    }

    /// Holds one of a visitor's stream slots until the guard is dropped.
    pub fn open_visitor_stream(&self, visitor_id: i64) -> ApiResult<StreamSlot> {
        let mut open = self.visitor_streams.lock().expect("stream slots poisoned");
        let n = open.entry(visitor_id).or_default();
        if *n >= self.settings.streams_per_visitor {
            return Err(ApiError::too_many(
                5,
                format!(
                    "at most {} live streams per visitor; close another tab",
                    self.settings.streams_per_visitor
                ),
            ));
        }
        *n += 1;
        Ok(StreamSlot {
            visitor_id,
            open: self.visitor_streams.clone(),
        })
    }

    /// Forgets keys whose limit is back to full, so memory follows the active
    /// clients instead of every address ever seen.
    pub fn forget_idle(&self) {
        self.widget_sessions.retain_recent();
        self.visitor_messages.retain_recent();
        self.address_messages.retain_recent();
        self.contact_changes.retain_recent();
        self.reads.retain_recent();
        self.typing.retain_recent();
        self.visitor_pages.retain_recent();
        self.visitor_uploads.retain_recent();
        self.address_uploads.retain_recent();
        self.widget_sessions.shrink_to_fit();
        self.visitor_messages.shrink_to_fit();
        self.address_messages.shrink_to_fit();
        self.contact_changes.shrink_to_fit();
        self.reads.shrink_to_fit();
        self.typing.shrink_to_fit();
        self.visitor_pages.shrink_to_fit();
        self.visitor_uploads.shrink_to_fit();
        self.address_uploads.shrink_to_fit();
    }
}

pub struct StreamSlot {
    visitor_id: i64,
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("stream slots poisoned");
        if let Some(n) = open.get_mut(&self.visitor_id) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.visitor_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::from(a), AddressKey::from(b));
        assert_ne!(AddressKey::from(a), AddressKey::from(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            AddressKey::from(mapped),
            AddressKey::from("192.0.2.1".parse::<IpAddr>().unwrap())
        );
    }

    #[test]
    fn a_burst_then_429_with_retry_after() {
        let limits = Limits::new(LimitSettings {
            messages_per_visitor: Rate::new(3, 60_000),
            ..LimitSettings::default()
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limits.visitor_message(1, ip).unwrap();
        }
        let refused = limits.visitor_message(1, ip).unwrap_err();
        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        limits
            .visitor_message(2, ip)
            .expect("another visitor has their own");
    }

    #[test]
    fn stream_slots_come_back_when_dropped() {
        let limits = Limits::new(LimitSettings {
            streams_per_visitor: 2,
            ..LimitSettings::default()
        });
        let a = limits.open_visitor_stream(7).unwrap();
        let _b = limits.open_visitor_stream(7).unwrap();
        assert!(limits.open_visitor_stream(7).is_err());
        drop(a);
        limits.open_visitor_stream(7).expect("a slot is free again");
    }
}
