//! Login throttling: too many failed sign-ins for one email or from one address
//! within a window answer 429 until the window has passed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Throttle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    pub fn new(max_failures: u32, window: Duration) -> Throttle {
        Throttle {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait if any of `keys` is locked out, else None.
    pub fn locked(&self, keys: &[&str]) -> Option<u64> {
        let now = Instant::now();
        let map = self.failures.lock().expect("throttle poisoned");
        keys.iter()
            .filter_map(|k| map.get(*k))
            .filter(|(n, since)| {
                *n >= self.max_failures && now.duration_since(*since) < self.window
            })
            .map(|(_, since)| (self.window - now.duration_since(*since)).as_secs().max(1))
            .max()
    }

    pub fn record_failure(&self, keys: &[&str]) {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("throttle poisoned");
        if map.len() > 100_000 {
            // Bounded memory under a spray of made-up emails.
            map.retain(|_, (_, since)| now.duration_since(*since) < self.window);
        }
        for key in keys {
            let entry = map.entry(key.to_string()).or_insert((0, now));
            if now.duration_since(entry.1) >= self.window {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    pub fn record_success(&self, keys: &[&str]) {
        let mut map = self.failures.lock().expect("throttle poisoned");
        for key in keys {
            map.remove(*key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_per_key() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            t.record_failure(&["email:a", "ip:1"]);
        }
        assert!(t.locked(&["email:a"]).is_none());
        t.record_failure(&["email:a", "ip:1"]);
        assert!(t.locked(&["email:a"]).is_some());
        assert!(
            t.locked(&["email:b", "ip:1"]).is_some(),
            "the address is locked too"
        );
        assert!(t.locked(&["email:b", "ip:2"]).is_none());
        t.record_success(&["email:a", "ip:1"]);
        assert!(t.locked(&["email:a", "ip:1"]).is_none());
    }
}
