//! The session's small public value types the UI sees: the connection state and the
//! dialog-list filter (re-exported as `crate::session::{ConnState, Filter}` and from the
//! crate root).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    Connecting,
    Online,
    Offline { retry_in_ms: u64 },
    Stopped,
}

/// The dialog list filters of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    Mine,
    Unassigned,
    All,
    Closed,
}
