//! One signed-in account: its cache, its stream and its outbox.
//!
//! This file holds the [`Session`] itself: what it keeps, how it starts and stops, and
//! its plain accessors. The work is split by job:
//! - `connection`: the websocket (connect, resume, reconnect, close codes, signing out);
//! - `cache_sync`: applying the server's state and stream events to the cache;
//! - `dialogs`: the dialog lists, unread counts and message pages the UI reads;
//! - `outbox`: queued outgoing messages and their sending;
//! - `attachments`: files attached, uploaded, queued with messages, saved and opened;
//! - `search`: search across the whole history, and opening a dialog at a hit;
//! - `alerts`: when the sound plays and a notification shows;
//! - `account`: the user's profile and the team;
//! - `widget`: the widget's settings (admins and marketers);
//! - `state`: the public [`ConnState`] and [`Filter`] types.

mod account;
mod alerts;
mod attachments;
mod cache_sync;
mod connection;
mod dialogs;
mod outbox;
mod search;
mod state;
mod widget;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_protocol::{Conversation, NotificationSettings, Presence, User};
use tokio::sync::{mpsc, watch, Notify};

use crate::api::Api;
use crate::cache::{AccountState, Cache, OutboxItem};
use crate::error::Result;
use crate::settings::Account;
use crate::{CoreEvent, SessionInfo, Shared};

pub use account::check_avatar;
pub use attachments::{Upload, UploadState, MAX_FILES};
pub use connection::{BACKOFF_MAX, BACKOFF_MIN, DEAD_AFTER, PING_EVERY};
pub use dialogs::Window;
pub use search::SearchResults;
pub use state::{ConnState, Filter};

const PAGE: u32 = 100;

/// What the session mirrors of its account and keeps on disk (behind `Session::state`).
struct State {
    acct: AccountState,
    convs: HashMap<i64, Conversation>,
    outbox: Vec<OutboxItem>,
    closed_next: Option<String>,
    /// Per dialog, the newest visitor message already counted in `unread`, so a
    /// message announced both inside a conversation event and as `message.created`
    /// counts once.
    counted: HashMap<i64, i64>,
    dirty: bool,
}

pub struct Session {
    shared: Arc<Shared>,
    account: Account,
    api: Api,
    cache: Cache,
    token_saved: bool,
    state: Mutex<State>,
    conn: Mutex<ConnState>,
    online: AtomicBool,
    flush_lock: tokio::sync::Mutex<()>,
    outbox_wake: Notify,
    reconnect_wake: Notify,
    typing_tx: mpsc::UnboundedSender<Option<i64>>,
    stop_tx: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    attempt: AtomicU32,
    /// The server ended the session (4401 / 401): nothing more is sent with the token.
    signed_out: AtomicBool,
    last_role_change: Mutex<Option<tokio::time::Instant>>,
    /// Files attached or queued, by local id.
    uploads: attachments::Slots,
}

/// Directory name of an account's cache: stable, filesystem-safe.
fn cache_dir_name(a: &Account) -> String {
    let safe: String = a
        .server
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{}-{}", safe, a.user_id)
}

impl Session {
    pub(crate) fn start(
        shared: Arc<Shared>,
        account: Account,
        token: String,
        user: Option<User>,
        token_saved: bool,
    ) -> Result<Arc<Session>> {
        let (auth_tx, auth_rx) = mpsc::unbounded_channel();
        let api = Api::new(&account.server, account.allow_http)?
            .with_token(token)
            .with_auth_signals(auth_tx);
        let cache = Cache::open(
            shared
                .paths
                .data_dir
                .join("accounts")
                .join(cache_dir_name(&account)),
        )?;
        let mut acct = cache.load_state();
        if let Some(u) = user {
            acct.user = Some(u);
        }
        if acct.user.is_none() {
            // never opened on this machine and not just signed in: a placeholder until /me
            acct.user = Some(User {
                id: account.user_id,
                email: account.email.clone(),
                name: account.name.clone(),
                role: switchboard_protocol::Role::Operator,
                status: switchboard_protocol::UserStatus::Active,
                presence: Presence::Offline,
                avatar_url: None,
                locale: "en".into(),
                must_change_password: false,
                notifications: NotificationSettings {
                    sound: true,
                    email: true,
                },
                permissions: Vec::new(),
            });
        }
        let convs = cache.load_conversations();
        let outbox = cache.load_outbox();
        let (typing_tx, typing_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(false);
        let s = Arc::new(Session {
            shared,
            account,
            api,
            cache,
            token_saved,
            state: Mutex::new(State {
                acct,
                convs,
                outbox,
                closed_next: None,
                counted: HashMap::new(),
                dirty: false,
            }),
            conn: Mutex::new(ConnState::Connecting),
            online: AtomicBool::new(false),
            flush_lock: tokio::sync::Mutex::new(()),
            outbox_wake: Notify::new(),
            reconnect_wake: Notify::new(),
            typing_tx,
            stop_tx,
            tasks: Mutex::new(Vec::new()),
            attempt: AtomicU32::new(0),
            signed_out: AtomicBool::new(false),
            last_role_change: Mutex::new(None),
            uploads: Mutex::new(HashMap::new()),
        });
        s.restore_files();
        let t1 = tokio::spawn(s.clone().sync_loop(typing_rx, stop_rx.clone()));
        let t2 = tokio::spawn(s.clone().outbox_loop(stop_rx.clone()));
        let t3 = tokio::spawn(s.clone().persist_loop(stop_rx.clone()));
        let t4 = tokio::spawn(s.clone().auth_loop(auth_rx, stop_rx));
        s.tasks.lock().unwrap().extend([t1, t2, t3, t4]);
        Ok(s)
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub fn user(&self) -> User {
        self.state.lock().unwrap().acct.user.clone().expect("user")
    }

    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            server: self.api.base().to_string(),
            account: self.account.key(),
            user: self.user(),
            token_saved: self.token_saved,
        }
    }

    pub fn connection(&self) -> ConnState {
        *self.conn.lock().unwrap()
    }

    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::SeqCst)
    }

    /// True once the server ended this session (the token is forgotten).
    pub fn is_signed_out(&self) -> bool {
        self.signed_out.load(Ordering::SeqCst)
    }

    /// The stream position the cache reflects.
    pub fn seq(&self) -> Option<i64> {
        self.state.lock().unwrap().acct.seq
    }

    fn emit(&self, e: CoreEvent) {
        self.shared.emit(e);
    }

    fn set_conn(&self, c: ConnState) {
        *self.conn.lock().unwrap() = c;
        self.online
            .store(matches!(c, ConnState::Online), Ordering::SeqCst);
        self.emit(CoreEvent::Connection { state: c });
    }

    pub(crate) async fn shutdown(&self) {
        let _ = self.stop_tx.send(true);
        for slot in self.uploads.lock().unwrap().values() {
            slot.abort();
        }
        let tasks: Vec<_> = self.tasks.lock().unwrap().drain(..).collect();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
        let _ = self.persist();
        self.set_conn(ConnState::Stopped);
    }
}
