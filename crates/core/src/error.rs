//! One error type for everything the core does, shaped so the UI can show it.

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error body (API.md: `{"error": {code, message}}`).
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The server could not be reached (offline, DNS, refused, timeout).
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("{0}")]
    Invalid(String),
    /// A plain `http://` address to another computer that the user did not allow.
    #[error("{0}")]
    Insecure(String),
    #[error("not signed in")]
    NotSignedIn,
    #[error("the system keyring is not available: {0}")]
    Keyring(String),
    #[error("local storage failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// A received file that could run a program when opened: only saving it is offered.
    #[error("{0}")]
    Risky(String),
}

impl Error {
    pub fn code(&self) -> &str {
        match self {
            Error::Api { code, .. } => code,
            Error::Network(_) => "network",
            Error::Invalid(_) => "invalid",
            Error::Insecure(_) => "insecure_http",
            Error::NotSignedIn => "not_signed_in",
            Error::Keyring(_) => "keyring",
            Error::Io(_) => "io",
            Error::Protocol(_) => "protocol",
            Error::Risky(_) => "risky_file",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the request never reached the server (so retrying later makes sense).
    pub fn is_network(&self) -> bool {
        matches!(self, Error::Network(_))
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        if e.is_decode() {
            Error::Protocol(e.to_string())
        } else {
            Error::Network(e.to_string())
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Protocol(e.to_string())
    }
}

/// What the UI receives for a failed command.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UiError {
    pub code: String,
    pub status: Option<u16>,
    pub message: String,
}

impl From<&Error> for UiError {
    fn from(e: &Error) -> Self {
        UiError {
            code: e.code().to_string(),
            status: e.status(),
            message: e.to_string(),
        }
    }
}

impl From<Error> for UiError {
    fn from(e: Error) -> Self {
        UiError::from(&e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
