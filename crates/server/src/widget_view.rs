//! What visitors' widgets are told right now, kept ready on each node (built
//! by `services::widget_settings`): the session answer hands it out, and each
//! visitor's stream sends it again when it changes.

use std::sync::Arc;

use switchboard_protocol::PublicWidget;
use tokio::sync::watch;

pub struct WidgetView {
    current: watch::Sender<Arc<PublicWidget>>,
}

impl WidgetView {
    pub fn new(view: PublicWidget) -> WidgetView {
        WidgetView {
            current: watch::channel(Arc::new(view)).0,
        }
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
    pub fn replace(&self, view: PublicWidget) {
        self.current.send_if_modified(|old| {
            let changed = **old != view;
            if changed {
                *old = Arc::new(view);
            }
            changed
        });
    }
}
