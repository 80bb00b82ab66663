//! What visitors' widgets are told right now, kept ready on each node (built
//! by `services::widget_settings`): the session answer hands it out, and each
//! visitor's stream sends it again when it changes.

use std::sync::{Arc, PoisonError, RwLock};

use switchboard_protocol::PublicWidget;
use tokio::sync::watch;

pub struct WidgetView {
    current: watch::Sender<Arc<PublicWidget>>,
    /// The members who answer visitors and are not away: the widget shows
    /// "online" when one of them holds a live stream. Kept here with the view
    /// (both change with the team) so that a visitor's session reads no team.
    answering: RwLock<Arc<[i64]>>,
}

impl WidgetView {
    pub fn new(view: PublicWidget, answering: Vec<i64>) -> WidgetView {
        WidgetView {
            current: watch::channel(Arc::new(view)).0,
            answering: RwLock::new(answering.into()),
        }
    }

    pub fn answering(&self) -> Arc<[i64]> {
        self.answering
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn get(&self) -> Arc<PublicWidget> {
        self.current.borrow().clone()
    }

    /// Wakes when the view changes (the current one counts as seen).
    pub fn subscribe(&self) -> watch::Receiver<Arc<PublicWidget>> {
        let mut rx = self.current.subscribe();
        rx.mark_unchanged();
        rx
    }

    /// Puts `view` in place; streams hear of it only if it differs.
    pub fn replace(&self, view: PublicWidget, answering: Vec<i64>) {
        *self
            .answering
            .write()
            .unwrap_or_else(PoisonError::into_inner) = answering.into();
        self.current.send_if_modified(|old| {
            let changed = **old != view;
            if changed {
                *old = Arc::new(view);
            }
            changed
        });
    }
}
