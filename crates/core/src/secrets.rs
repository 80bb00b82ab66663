//! Session tokens in the OS credential store (Secret Service on Linux, Keychain on
//! macOS, Credential Manager on Windows). Never in a plain file: when no store is
//! available the token lives only in memory and the user signs in again next start.

use crate::error::{Error, Result};

pub const SERVICE: &str = "app.switchboard.desktop";

#[derive(Debug, Clone)]
pub struct TokenStore {
    service: String,
}

impl Default for TokenStore {
    fn default() -> Self {
        TokenStore {
            service: SERVICE.to_string(),
        }
    }
}

/// The keyring "user" of one account: server URL and email.
pub fn account_key(server: &str, email: &str) -> String {
    format!("{} {}", server, email.trim().to_lowercase())
}

impl TokenStore {
    pub fn with_service(service: impl Into<String>) -> TokenStore {
        TokenStore {
            service: service.into(),
        }
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, account).map_err(|e| Error::Keyring(e.to_string()))
    }

    /// Blocking: talks to the OS store. Call from a blocking thread.
    pub fn save(&self, account: &str, token: &str) -> Result<()> {
        self.entry(account)?
            .set_password(token)
            .map_err(|e| Error::Keyring(e.to_string()))
    }

    /// `Ok(None)` when the store has no token for the account.
    pub fn load(&self, account: &str) -> Result<Option<String>> {
        match self.entry(account)?.get_password() {
            Ok(t) => Ok(Some(t)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(Error::Keyring(e.to_string())),
        }
    }

    pub fn delete(&self, account: &str) -> Result<()> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(Error::Keyring(e.to_string())),
        }
    }
}
