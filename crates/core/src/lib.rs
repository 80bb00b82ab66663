//! The desktop app's core: no Tauri dependency, tested headless against the real server.
//!
//! [`Core`] is the one object the shell talks to. It signs in (token in the OS keyring),
//! keeps a [`session::Session`] per signed-in account that mirrors the server's dialogs
//! into an on-disk cache over the websocket stream (resume with `since`, reload on
//! `reset`, reconnect with backoff), queues outgoing messages in an on-disk outbox, and
//! raises sound and native-notification alerts. Everything the UI must know arrives as a
//! [`CoreEvent`] on [`Core::subscribe`].

pub mod api;
pub mod cache;
pub mod close;
pub mod error;
pub mod files;
pub mod notify;
pub mod secrets;
pub mod session;
pub mod settings;
pub mod sound;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use switchboard_protocol::{Conversation, Message, User, WidgetSettings};
use tokio::sync::broadcast;

pub use api::{normalize_server_url, Api, MAX_AVATAR_BYTES};
pub use cache::{OutboxFile, OutboxItem};
pub use error::{Error, Result, UiError};
pub use secrets::TokenStore;
pub use session::{ConnState, Filter, SearchResults, Session, Upload, UploadState, MAX_FILES};
pub use settings::{Account, LocalPrefs, Settings, SoundChoice};

/// Where the core keeps its files.
#[derive(Debug, Clone)]
pub struct Paths {
    /// settings.json (accounts, local preferences)
    pub config_dir: PathBuf,
    /// per-account caches and outboxes
    pub data_dir: PathBuf,
}

impl Paths {
    /// The OS's standard places (`~/.config/switchboard`, `~/.local/share/switchboard`, …).
    pub fn from_os() -> Option<Paths> {
        let d = directories::ProjectDirs::from("app", "Switchboard", "Switchboard")?;
        Some(Paths {
            config_dir: d.config_dir().to_path_buf(),
            data_dir: d.data_dir().to_path_buf(),
        })
    }

    pub fn under(root: impl Into<PathBuf>) -> Paths {
        let root = root.into();
        Paths {
            config_dir: root.join("config"),
            data_dir: root.join("data"),
        }
    }
}

/// Everything the UI hears about.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoreEvent {
    Connection {
        state: ConnState,
    },
    /// The whole list changed (first load, reset): fetch it again.
    Reloaded,
    Conversation {
        conversation: Conversation,
    },
    Message {
        message: Message,
    },
    /// The outbox changed: messages still waiting for the server.
    Outbox {
        items: Vec<OutboxItem>,
    },
    /// A file attached in the composer or queued with a message: upload progress,
    /// done (with the server's attachment), waiting or failed.
    Upload {
        upload: Upload,
    },
    /// Bytes of a file being saved or fetched to open (`total` when the server said).
    Download {
        conversation_id: i64,
        attachment_id: i64,
        received: i64,
        total: Option<i64>,
    },
    Typing {
        conversation_id: Option<i64>,
        #[cfg_attr(feature = "ts", ts(type = "unknown"))]
        data: serde_json::Value,
    },
    Me {
        user: User,
    },
    Team {
        members: Vec<User>,
    },
    Unread {
        total: i64,
    },
    /// The widget's settings changed (saved here or by a colleague elsewhere).
    Widget {
        settings: WidgetSettings,
    },
    /// The user clicked a notification.
    OpenConversation {
        conversation_id: i64,
    },
    /// Something is unavailable (sound device, notification server, keyring); said once.
    Warning {
        code: String,
        message: String,
    },
    /// The server no longer accepts the token (close code 4401 or an HTTP 401): the token
    /// is already deleted from the keyring and syncing has stopped. `code`: see
    /// [`close::Reaction::SignOut`].
    SignedOut {
        code: String,
        reason: String,
    },
}

/// What the UI shows when the conversation on screen is focused: no alert for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ViewState {
    pub conversation: Option<i64>,
    pub focused: bool,
}

pub(crate) struct Shared {
    pub paths: Paths,
    pub events: broadcast::Sender<CoreEvent>,
    pub settings: Mutex<Settings>,
    pub view: Mutex<ViewState>,
    pub alerter: sound::Alerter,
    pub notifier: notify::Notifier,
    pub warned_keyring: AtomicBool,
    pub tokens: TokenStore,
}

impl Shared {
    pub fn emit(&self, e: CoreEvent) {
        let _ = self.events.send(e);
    }

    pub fn warn_once(&self, flag: &AtomicBool, code: &str, message: String) {
        if !flag.swap(true, Ordering::SeqCst) {
            self.emit(CoreEvent::Warning {
                code: code.into(),
                message,
            });
        }
    }

    pub fn prefs(&self) -> LocalPrefs {
        self.settings.lock().unwrap().prefs.clone()
    }
}

/// Information about the signed-in account for the UI.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionInfo {
    pub server: String,
    pub account: String,
    pub user: User,
    /// Whether the token is kept in the OS keyring (false: only in memory).
    pub token_saved: bool,
}

pub struct Core {
    shared: Arc<Shared>,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

impl Core {
    pub fn new(paths: Paths) -> Core {
        Core::with_token_store(paths, TokenStore::default())
    }

    pub fn with_token_store(paths: Paths, tokens: TokenStore) -> Core {
        let settings = Settings::load(&paths.config_dir);
        let (events, _) = broadcast::channel(4096);
        Core {
            shared: Arc::new(Shared {
                paths,
                events,
                settings: Mutex::new(settings),
                view: Mutex::new(ViewState::default()),
                alerter: sound::Alerter::new(),
                notifier: notify::Notifier::new(),
                warned_keyring: AtomicBool::new(false),
                tokens,
            }),
            session: tokio::sync::Mutex::new(None),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.shared.events.subscribe()
    }

    pub fn paths(&self) -> &Paths {
        &self.shared.paths
    }

    pub fn settings(&self) -> Settings {
        self.shared.settings.lock().unwrap().clone()
    }

    pub fn set_prefs(&self, prefs: LocalPrefs) -> Result<LocalPrefs> {
        let mut prefs = prefs;
        prefs.volume = prefs.volume.clamp(0.0, 1.0);
        let mut s = self.shared.settings.lock().unwrap();
        s.prefs = prefs.clone();
        s.save(&self.shared.paths.config_dir)?;
        Ok(prefs)
    }

    pub fn set_view(&self, view: ViewState) {
        *self.shared.view.lock().unwrap() = view;
    }

    /// The current session, or `NotSignedIn`.
    pub async fn session(&self) -> Result<Arc<Session>> {
        self.session.lock().await.clone().ok_or(Error::NotSignedIn)
    }

    pub async fn session_info(&self) -> Option<SessionInfo> {
        let s = self.session.lock().await.clone()?;
        Some(s.info())
    }

    async fn keyring<T: Send + 'static>(
        &self,
        f: impl FnOnce(TokenStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let t = self.shared.tokens.clone();
        tokio::task::spawn_blocking(move || f(t))
            .await
            .map_err(|e| Error::Keyring(e.to_string()))?
    }

    /// Signs in with a password, keeps the token in the OS keyring and starts syncing.
    /// `allow_http`: the user explicitly allowed plain `http://` to a server that is not
    /// this computer (remembered with the account); without it such an address is refused
    /// before anything is sent.
    pub async fn sign_in(
        &self,
        server: &str,
        email: &str,
        password: &str,
        allow_http: bool,
    ) -> Result<SessionInfo> {
        let api = Api::new(server, allow_http)?;
        if email.trim().is_empty() || password.is_empty() {
            return Err(Error::Invalid("enter your email and password".into()));
        }
        let login = api.login(email, password).await?;
        let account = Account {
            server: api.base().to_string(),
            email: login.user.email.clone(),
            user_id: login.user.id,
            name: login.user.name.clone(),
            allow_http: allow_http && api.base().starts_with("http://"),
        };
        let key = account.key();
        let token = login.token.clone();
        let saved = match self.keyring(move |t| t.save(&key, &token)).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "token not saved in the keyring");
                self.shared.warn_once(
                    &self.shared.warned_keyring,
                    "keyring_unavailable",
                    format!("{e}. You will be asked for the password next time."),
                );
                false
            }
        };
        {
            let mut s = self.shared.settings.lock().unwrap();
            s.upsert_account(account.clone());
            s.save(&self.shared.paths.config_dir)?;
        }
        self.start(account, login.token, Some(login.user), saved)
            .await
    }

    /// Opens the last used account with the token from the keyring. `Ok(None)` when there
    /// is no account or no stored token (the UI then asks for the password).
    pub async fn restore(&self) -> Result<Option<SessionInfo>> {
        let account = match self.shared.settings.lock().unwrap().current_account() {
            Some(a) => a.clone(),
            None => return Ok(None),
        };
        self.open_account(account).await
    }

    /// Switches to another known account (several servers or users in one app).
    pub async fn switch_account(&self, key: &str) -> Result<Option<SessionInfo>> {
        let account = self
            .shared
            .settings
            .lock()
            .unwrap()
            .accounts
            .iter()
            .find(|a| a.key() == key)
            .cloned()
            .ok_or_else(|| Error::Invalid("unknown account".into()))?;
        self.stop().await;
        {
            let mut s = self.shared.settings.lock().unwrap();
            s.current = Some(key.to_string());
            s.save(&self.shared.paths.config_dir)?;
        }
        self.open_account(account).await
    }

    async fn open_account(&self, account: Account) -> Result<Option<SessionInfo>> {
        let key = account.key();
        let token = match self.keyring(move |t| t.load(&key)).await {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.shared.warn_once(
                    &self.shared.warned_keyring,
                    "keyring_unavailable",
                    e.to_string(),
                );
                return Ok(None);
            }
        };
        self.start(account, token, None, true).await.map(Some)
    }

    async fn start(
        &self,
        account: Account,
        token: String,
        user: Option<User>,
        token_saved: bool,
    ) -> Result<SessionInfo> {
        self.stop().await;
        let session = Session::start(self.shared.clone(), account, token, user, token_saved)?;
        // the cached count at once (tray badge), before the stream is even up
        self.shared.emit(CoreEvent::Unread {
            total: session.unread_total(),
        });
        let info = session.info();
        *self.session.lock().await = Some(session);
        Ok(info)
    }

    /// Stops syncing (keeps the token and the cache).
    pub async fn stop(&self) {
        if let Some(s) = self.session.lock().await.take() {
            s.shutdown().await;
        }
    }

    /// Signs out: the server forgets the token, the keyring entry is deleted.
    pub async fn sign_out(&self) -> Result<()> {
        let s = self.session.lock().await.take();
        if let Some(s) = s {
            if !s.is_signed_out() {
                let _ = s.api().logout().await;
            }
            s.shutdown().await;
            let key = s.account().key();
            let _ = self.keyring(move |t| t.delete(&key)).await;
            let mut st = self.shared.settings.lock().unwrap();
            st.current = None;
            st.save(&self.shared.paths.config_dir)?;
        }
        Ok(())
    }

    /// Plays the chosen sound now (the "test" button); errors when there is no device.
    pub async fn play_test_sound(&self, choice: SoundChoice, volume: f32) -> Result<()> {
        tokio::task::spawn_blocking(move || sound::play_blocking(choice, volume))
            .await
            .map_err(|e| Error::Invalid(e.to_string()))?
            .map_err(|e| Error::Invalid(format!("no sound output: {e}")))
    }
}
