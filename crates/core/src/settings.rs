//! App settings in the OS config dir: known accounts and local preferences.
//! Tokens are not here (see `secrets`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::{read_json, write_json};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Account {
    pub server: String,
    pub email: String,
    pub user_id: i64,
    pub name: String,
    /// The user chose to allow plain `http://` to this (non-loopback) server.
    #[serde(default)]
    pub allow_http: bool,
}

impl Account {
    pub fn key(&self) -> String {
        crate::secrets::account_key(&self.server, &self.email)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SoundChoice {
    Chime,
    Knock,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct LocalPrefs {
    pub sound: SoundChoice,
    /// 0.0 ..= 1.0
    pub volume: f32,
    /// `None`: follow the OS language.
    pub locale: Option<String>,
    /// Minutes without input before the status becomes "away"; 0 disables.
    pub away_after_minutes: u32,
    pub start_at_login: bool,
    pub close_to_tray: bool,
    pub native_notifications: bool,
}

impl Default for LocalPrefs {
    fn default() -> Self {
        LocalPrefs {
            sound: SoundChoice::Chime,
            volume: 0.8,
            locale: None,
            away_after_minutes: 10,
            start_at_login: false,
            close_to_tray: true,
            native_notifications: true,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub accounts: Vec<Account>,
    /// Key of the account the app opens with.
    pub current: Option<String>,
    pub prefs: LocalPrefs,
}

impl Settings {
    pub fn path(config_dir: &Path) -> PathBuf {
        config_dir.join("settings.json")
    }

    pub fn load(config_dir: &Path) -> Settings {
        read_json(&Self::path(config_dir)).unwrap_or_default()
    }

    pub fn save(&self, config_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(config_dir)?;
        write_json(&Self::path(config_dir), self)
    }

    pub fn upsert_account(&mut self, a: Account) {
        let key = a.key();
        self.accounts.retain(|x| x.key() != key);
        self.accounts.insert(0, a);
        self.current = Some(key);
    }

    pub fn current_account(&self) -> Option<&Account> {
        let key = self.current.as_ref()?;
        self.accounts.iter().find(|a| &a.key() == key)
    }
}
