//! What a session does when the server ends its stream or refuses its token.
//!
//! The operator stream is closed by the server with
//! - **4401** when the session's token stops working (signed out, removed from the team,
//!   password changed on another device, expired): sign out, forget the token, no retry;
//! - **4403** when the member's role changed: reconnect at once and refresh `/me`;
//! - **1008** (policy violation) or **1013** (try again later), or anything else:
//!   reconnect with the usual backoff.
//!
//! An HTTP 401 (on the upgrade or on any REST call) means the same as 4401, and a 403
//! `password_change_required` sends the user to the change-password screen.

use crate::api::PASSWORD_CHANGE_REQUIRED;
use crate::error::Error;

/// 4401: the session's token no longer works; 4403: the member's role changed.
pub use switchboard_protocol::close_code::{ROLE_CHANGED, SESSION_ENDED};
/// RFC 6455 policy violation (a frame too large, too many streams).
pub const POLICY_VIOLATION: u16 = 1008;
/// RFC 6455 "try again later" (the server is overloaded).
pub const TRY_AGAIN_LATER: u16 = 1013;

/// The `code` of a sign-out caused by close code 4401 (HTTP 401s keep the server's code).
pub const SESSION_ENDED_CODE: &str = "session_ended";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    /// Forget the token, stop syncing, show the sign-in screen. `code` tells the UI why:
    /// `session_ended` (close 4401), or the 401's code (`unauthorized`,
    /// `session_expired`, `password_expired`).
    SignOut { code: String, reason: String },
    /// Only the password may be changed: show that screen, retry with backoff.
    ChangePassword,
    /// Reconnect without waiting, refreshing who we are.
    ReconnectNow,
    /// Reconnect after the usual backoff.
    Backoff,
}

/// The reaction to a close frame (`code` is `None` when the server sent none).
pub fn on_close(code: Option<u16>, reason: &str) -> Reaction {
    match code {
        Some(SESSION_ENDED) => Reaction::SignOut {
            code: SESSION_ENDED_CODE.into(),
            reason: if reason.trim().is_empty() {
                "the session ended on the server".into()
            } else {
                reason.to_string()
            },
        },
        Some(ROLE_CHANGED) => Reaction::ReconnectNow,
        // 1008, 1013, 1000/1001 (restart), 1006 (dropped) and the rest
        _ => Reaction::Backoff,
    }
}

/// The reaction to a failed connection attempt or REST call.
pub fn on_error(e: &Error) -> Reaction {
    match e {
        Error::Api {
            status: 401,
            code,
            message,
        } => Reaction::SignOut {
            code: code.clone(),
            reason: message.clone(),
        },
        Error::Api {
            status: 403, code, ..
        } if code == PASSWORD_CHANGE_REQUIRED => Reaction::ChangePassword,
        _ => Reaction::Backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> Error {
        Error::Api {
            status,
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn close_codes() {
        assert_eq!(
            on_close(Some(4401), "the account no longer exists"),
            Reaction::SignOut {
                code: "session_ended".into(),
                reason: "the account no longer exists".into()
            }
        );
        assert!(
            matches!(on_close(Some(4401), ""), Reaction::SignOut { reason, .. } if !reason.is_empty())
        );
        assert_eq!(on_close(Some(4403), "role"), Reaction::ReconnectNow);
        for c in [
            Some(1008),
            Some(1013),
            Some(1000),
            Some(1001),
            Some(1006),
            None,
        ] {
            assert_eq!(on_close(c, ""), Reaction::Backoff, "{c:?}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            on_error(&api(401, "session_expired")),
            Reaction::SignOut {
                code: "session_expired".into(),
                reason: "m".into()
            }
        );
        assert_eq!(
            on_error(&api(403, "password_change_required")),
            Reaction::ChangePassword
        );
        assert_eq!(on_error(&api(403, "forbidden")), Reaction::Backoff);
        assert_eq!(on_error(&api(503, "server_error")), Reaction::Backoff);
        assert_eq!(on_error(&Error::Network("down".into())), Reaction::Backoff);
    }
}
