//! Core events on their way to the page: held until the page listens.
//!
//! The session is restored as soon as the app starts, before WebKit has loaded
//! the page (`startup` in commands.rs); what the core says meanwhile (a keyring
//! warning, the first connection states) must reach the page once it listens,
//! not be emitted to nobody.

use switchboard_core::CoreEvent;

/// Held beyond this, the events are dropped and the page told to reload
/// (read everything afresh) instead.
const MAX_HELD: usize = 1000;

#[derive(Default)]
pub struct PageQueue {
    listening: bool,
    held: Vec<CoreEvent>,
}

impl PageQueue {
    pub fn listening(&self) -> bool {
        self.listening
    }

    /// An event for the page: returned to be sent now when the page listens,
    /// held otherwise.
    pub fn offer(&mut self, ev: CoreEvent) -> Option<CoreEvent> {
        if self.listening {
            return Some(ev);
        }
        if self.held.len() < MAX_HELD {
            self.held.push(ev);
        } else {
            self.held = vec![CoreEvent::Reloaded];
        }
        None
    }

    /// The page listens: the events held for it, in the order they came.
    pub fn open(&mut self) -> Vec<CoreEvent> {
        self.listening = true;
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unread(total: i64) -> CoreEvent {
        CoreEvent::Unread { total }
    }

    fn totals(events: &[CoreEvent]) -> Vec<Option<i64>> {
        events
            .iter()
            .map(|e| match e {
                CoreEvent::Unread { total } => Some(*total),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn events_before_the_page_listens_reach_it_in_order_once_it_does() {
        let mut q = PageQueue::default();
        assert!(q.offer(unread(1)).is_none());
        assert!(q.offer(unread(2)).is_none());
        assert!(!q.listening());
        assert_eq!(totals(&q.open()), [Some(1), Some(2)]);
        assert!(q.listening());
        // from now on each goes at once, and nothing is held twice
        assert_eq!(totals(&[q.offer(unread(3)).unwrap()]), [Some(3)]);
        assert!(q.open().is_empty());
    }

    #[test]
    fn too_many_held_become_a_reload_followed_by_the_later_ones() {
        let mut q = PageQueue::default();
        for i in 0..MAX_HELD as i64 + 3 {
            assert!(q.offer(unread(i)).is_none());
        }
        let held = q.open();
        assert!(matches!(held[0], CoreEvent::Reloaded));
        let n = MAX_HELD as i64;
        assert_eq!(totals(&held[1..]), [Some(n + 1), Some(n + 2)]);
    }
}
