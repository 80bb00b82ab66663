//! Native notifications (notify-rust: D-Bus on Linux, Notification Center on macOS,
//! toasts on Windows). With no notification server the app keeps working and says so once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub const APP_NAME: &str = "Switchboard";

/// Longest preview shown in a notification body.
pub const PREVIEW_CHARS: usize = 140;

pub fn preview(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > PREVIEW_CHARS {
        let mut s: String = one_line.chars().take(PREVIEW_CHARS - 1).collect();
        s.push('…');
        s
    } else {
        one_line
    }
}

#[derive(Default, Clone)]
pub struct Notifier {
    warned: Arc<AtomicBool>,
}

impl Notifier {
    pub fn new() -> Notifier {
        Notifier::default()
    }

    /// Shows a notification (blocking: call from a blocking thread). `on_click` runs on a
    /// background thread when the user activates the notification, where the platform
    /// supports it. Returns the error text when there is no notification service;
    /// `first_failure` tells whether it is the first such failure in this process.
    pub fn show(
        &self,
        summary: &str,
        body: &str,
        on_click: impl FnOnce() + Send + 'static,
    ) -> Result<(), (String, bool)> {
        let mut n = notify_rust::Notification::new();
        n.appname(APP_NAME)
            .summary(summary)
            .body(&preview(body))
            .icon("mail-message-new")
            .action("default", "Open");
        match n.show() {
            Ok(handle) => {
                #[cfg(all(unix, not(target_os = "macos")))]
                std::thread::spawn(move || {
                    handle.wait_for_action(|action| {
                        if action == "default" {
                            on_click();
                        }
                    })
                });
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                {
                    let _ = handle;
                    let _ = on_click;
                }
                Ok(())
            }
            Err(e) => {
                let first = !self.warned.swap(true, Ordering::SeqCst);
                Err((e.to_string(), first))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_is_one_short_line() {
        assert_eq!(preview("hello\n\n  world"), "hello world");
        let long = "я".repeat(500);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS);
        assert!(p.ends_with('…'));
    }
}
