//! Login throttling: too many sign-in attempts for one email or from one
//! address within a window (a right password starts them afresh) answer 429
//! until the window has passed.

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

    /// Counts a sign-in attempt for every key before the password is checked,
    /// in one step under the lock, so parallel guesses cannot slip past the
    /// limit while their hashes are computed. Err(seconds to wait) when any key
    /// has used up its attempts; then nothing is counted.
    pub fn try_begin(&self, keys: &[&str]) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("throttle poisoned");
        let locked = keys
            .iter()
            .filter_map(|k| map.get(*k))
            .filter(|(n, since)| {
                *n >= self.max_failures && now.duration_since(*since) < self.window
            })
            .map(|(_, since)| (self.window - now.duration_since(*since)).as_secs().max(1))
            .max();
        if let Some(wait) = locked {
            return Err(wait);
        }
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
        Ok(())
    }

    /// A right password: the email starts afresh, and the attempt is given
    /// back to the other keys (an address keeps its failures: signing in to
    /// one's own account must not reset guesses at others').
    pub fn record_success(&self, email_key: &str, other_keys: &[&str]) {
        let mut map = self.failures.lock().expect("throttle poisoned");
        map.remove(email_key);
        for key in other_keys {
            if let Some(entry) = map.get_mut(*key) {
                entry.0 = entry.0.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_per_key() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            t.try_begin(&["email:a", "ip:1"]).unwrap();
        }
        assert!(t.try_begin(&["email:a"]).is_err());
        assert!(
            t.try_begin(&["email:b", "ip:1"]).is_err(),
            "the address is locked too"
        );
        t.try_begin(&["email:b", "ip:2"]).unwrap();
        // A success gives the address its attempt back and clears the email.
        t.record_success("email:a", &["ip:1"]);
        t.try_begin(&["email:a", "ip:1"]).unwrap();
        assert!(t.try_begin(&["email:c", "ip:1"]).is_err(), "failures stay");
    }
}
