//! When to play the sound and show a native notification, and what it says.
//!
//! Called from `cache_sync` for a new conversation and for a visitor message that is new
//! to this device (not counted before, not from a send). Nothing is raised for the dialog
//! the operator is looking at (focused window, that dialog open); the sound also needs
//! the user's "sound" switch (server side), the notification the local preference.

use switchboard_protocol::{Conversation, Message};

use super::Session;
use crate::CoreEvent;

impl Session {
    /// A conversation just created: its visitor, its first message.
    pub(super) fn alert_new_conversation(&self, c: &Conversation) {
        let who = visitor_name(c);
        let body = c
            .last_message
            .as_ref()
            .map(describe)
            .unwrap_or_else(|| "New conversation".into());
        self.alert(c.id, &who, &body);
    }

    /// A fresh visitor message in dialog `c`: its author, its text.
    pub(super) fn alert_message(&self, c: &Conversation, m: &Message) {
        let who = m
            .author
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| visitor_name(c));
        self.alert(c.id, &who, &describe(m));
    }
}

/// A message as a notification says it: its text, or its files when it has none.
fn describe(m: &Message) -> String {
    if !m.body.trim().is_empty() || m.attachments.is_empty() {
        return m.body.clone();
    }
    match m.attachments.as_slice() {
        [one] => format!("📎 {}", one.name),
        many => format!("📎 {} files", many.len()),
    }
}

impl Session {
    /// Sound and native notification, unless the operator is looking at this dialog.
    fn alert(&self, conversation_id: i64, summary: &str, body: &str) {
        let view = *self.shared.view.lock().unwrap();
        if view.focused && view.conversation == Some(conversation_id) {
            return;
        }
        let prefs = self.shared.prefs();
        let sound_on = self.user().notifications.sound;
        if sound_on {
            let shared = self.shared.clone();
            self.shared
                .alerter
                .alert(prefs.sound, prefs.volume, move |e| {
                    shared.emit(CoreEvent::Warning {
                        code: "sound_unavailable".into(),
                        message: format!("Sound alerts are unavailable: {e}"),
                    });
                });
        }
        if prefs.native_notifications {
            let shared = self.shared.clone();
            let summary = summary.to_string();
            let body = body.to_string();
            tokio::task::spawn_blocking(move || {
                let s2 = shared.clone();
                let r = shared.notifier.show(&summary, &body, move || {
                    s2.emit(CoreEvent::OpenConversation { conversation_id });
                });
                if let Err((e, first)) = r {
                    tracing::warn!(error = %e, "cannot show a notification");
                    if first {
                        shared.emit(CoreEvent::Warning {
                            code: "notifications_unavailable".into(),
                            message: format!("Desktop notifications are unavailable: {e}"),
                        });
                    }
                }
            });
        }
    }
}

fn visitor_name(c: &Conversation) -> String {
    c.visitor
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| c.visitor.email.clone())
        .unwrap_or_else(|| format!("Visitor #{}", c.visitor.id))
}
