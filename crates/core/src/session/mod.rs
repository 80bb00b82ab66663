//! One signed-in account: its cache, its stream and its outbox.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use switchboard_protocol::{
    event, AuthorKind, ClientFrame, Conversation, ConversationStatus, Message,
    NotificationSettings, Presence, StreamFrame, UpdateConversation, UpdateMe, User,
};
use tokio::sync::{mpsc, watch, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use crate::api::{Api, AuthSignal, ConversationStatusFilter, MAX_AVATAR_BYTES};
use crate::cache::{AccountState, Cache, MessageLog, OutboxItem};
use crate::close::{self, Reaction};
use crate::error::{Error, Result};
use crate::settings::Account;
use crate::{CoreEvent, SessionInfo, Shared};

mod state;

pub use state::{ConnState, Filter};

/// How often we ping the server, and how long silence means the connection is dead.
pub const PING_EVERY: Duration = Duration::from_secs(15);
pub const DEAD_AFTER: Duration = Duration::from_secs(40);
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A role change reconnects at once, but not twice within this (a server that keeps
/// closing with 4403 gets the usual backoff).
const ROLE_CHANGE_CALM: Duration = Duration::from_secs(5);
const PAGE: u32 = 100;

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

impl State {
    fn upsert(&mut self, c: Conversation, take_unread: bool) {
        if take_unread {
            if let Some(m) = &c.last_message {
                let e = self.counted.entry(c.id).or_insert(m.id);
                *e = (*e).max(m.id);
            }
        }
        upsert(&mut self.convs, c, take_unread);
    }
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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
        });
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
        let tasks: Vec<_> = self.tasks.lock().unwrap().drain(..).collect();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
        let _ = self.persist();
        self.set_conn(ConnState::Stopped);
    }

    /// Writes the dialog list and the stream position to disk now.
    pub fn persist(&self) -> Result<()> {
        let mut st = self.state.lock().unwrap();
        // dialogs first, then the position: a crash in between replays events (idempotent)
        self.cache.save_conversations(&st.convs)?;
        self.cache.save_state(&st.acct)?;
        st.dirty = false;
        Ok(())
    }

    /// Asks the sync loop to reconnect now instead of waiting out the backoff.
    pub fn reconnect_now(&self) {
        self.reconnect_wake.notify_one();
    }

    // ----- when the server ends the session (see `close`) ----------------------------

    /// Reacts to what REST calls learn about the token.
    async fn auth_loop(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<AuthSignal>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let signal = tokio::select! {
                s = rx.recv() => s,
                _ = stop.changed() => None,
            };
            match signal {
                Some(AuthSignal::Unauthorized { code, message }) => {
                    self.end_signed_out(code, message).await;
                    break;
                }
                Some(AuthSignal::PasswordChangeRequired) => self.password_change_required().await,
                None => break,
            }
        }
    }

    /// The server no longer accepts the token: stop every loop, forget the token, tell
    /// the UI. Nothing is sent with the token afterwards.
    async fn end_signed_out(&self, code: String, reason: String) {
        if self.signed_out.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::info!(code, reason, "signed out by the server");
        let _ = self.stop_tx.send(true);
        let key = self.account.key();
        let tokens = self.shared.tokens.clone();
        match tokio::task::spawn_blocking(move || tokens.delete(&key)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot delete the token from the keyring"),
            Err(e) => tracing::warn!(error = %e, "cannot delete the token from the keyring"),
        }
        let _ = self.persist();
        self.set_conn(ConnState::Stopped);
        self.emit(CoreEvent::SignedOut { code, reason });
    }

    /// The server answered 403 `password_change_required`: the user's record says so
    /// (`must_change_password`), which sends the UI to the change-password screen.
    async fn password_change_required(&self) {
        match self.refresh_me().await {
            Ok(u) if u.must_change_password => {}
            _ => {
                let mut u = self.user();
                u.must_change_password = true;
                self.set_user(u);
            }
        }
    }

    /// Whether a role change may reconnect at once (not twice in `ROLE_CHANGE_CALM`).
    fn calm_role_change(&self) -> bool {
        let now = tokio::time::Instant::now();
        let mut last = self.last_role_change.lock().unwrap();
        let calm = last.is_none_or(|t| now.duration_since(t) >= ROLE_CHANGE_CALM);
        *last = Some(now);
        calm
    }

    // ----- reading -----------------------------------------------------------------

    pub fn conversations(&self, filter: Filter) -> Vec<Conversation> {
        let me = self.account.user_id;
        let st = self.state.lock().unwrap();
        let mut v: Vec<Conversation> = st
            .convs
            .values()
            .filter(|c| match filter {
                Filter::Mine => c.status == ConversationStatus::Open && c.assignee_id == Some(me),
                Filter::Unassigned => {
                    c.status == ConversationStatus::Open && c.assignee_id.is_none()
                }
                Filter::All => c.status == ConversationStatus::Open,
                Filter::Closed => c.status == ConversationStatus::Closed,
            })
            .cloned()
            .collect();
        v.sort_by_key(|c| (std::cmp::Reverse(c.updated_at), std::cmp::Reverse(c.id)));
        v
    }

    pub fn conversation(&self, id: i64) -> Option<Conversation> {
        self.state.lock().unwrap().convs.get(&id).cloned()
    }

    /// Unread visitor messages per filter, for the badges.
    pub fn unread_counts(&self) -> HashMap<&'static str, i64> {
        let me = self.account.user_id;
        let st = self.state.lock().unwrap();
        let mut m = HashMap::from([("mine", 0), ("unassigned", 0), ("all", 0), ("closed", 0)]);
        for c in st.convs.values() {
            if c.status == ConversationStatus::Open {
                *m.get_mut("all").unwrap() += c.unread;
                if c.assignee_id == Some(me) {
                    *m.get_mut("mine").unwrap() += c.unread;
                }
                if c.assignee_id.is_none() {
                    *m.get_mut("unassigned").unwrap() += c.unread;
                }
            } else {
                *m.get_mut("closed").unwrap() += c.unread;
            }
        }
        m
    }

    pub fn unread_total(&self) -> i64 {
        let st = self.state.lock().unwrap();
        st.convs
            .values()
            .filter(|c| c.status == ConversationStatus::Open)
            .map(|c| c.unread)
            .sum()
    }

    fn emit_unread(&self) {
        let total = self.unread_total();
        self.emit(CoreEvent::Unread { total });
    }

    pub fn team_cached(&self) -> Vec<User> {
        self.state.lock().unwrap().acct.team.clone()
    }

    pub fn outbox(&self) -> Vec<OutboxItem> {
        self.state.lock().unwrap().outbox.clone()
    }

    /// Cached messages of a dialog (instant, works offline).
    pub fn cached_messages(&self, id: i64) -> MessageLog {
        self.cache.load_messages(id)
    }

    /// The latest page from the server merged into the cache; the cache when offline.
    pub async fn messages(&self, id: i64) -> Result<MessageLog> {
        match self.api.messages(id, None, Some(50)).await {
            Ok(page) => {
                let mut log = self.cache.load_messages(id);
                let had_before = log.items.first().map(|m| m.id);
                log.merge(page.items.clone());
                // the page is the newest one; its cursor continues further back
                let page_oldest = page.items.first().map(|m| m.id);
                if !log.paged || had_before.is_none() || page_oldest <= had_before {
                    log.next = page.next;
                    log.paged = true;
                }
                self.cache.save_messages(id, &log)?;
                Ok(log)
            }
            Err(e) if e.is_network() => Ok(self.cache.load_messages(id)),
            Err(e) => Err(e),
        }
    }

    /// The page before the oldest cached message. Returns the whole log.
    pub async fn older_messages(&self, id: i64) -> Result<MessageLog> {
        let mut log = self.cache.load_messages(id);
        let Some(cursor) = log.next.clone() else {
            return Ok(log);
        };
        let page = self.api.messages(id, Some(&cursor), Some(50)).await?;
        log.merge(page.items);
        log.next = page.next;
        self.cache.save_messages(id, &log)?;
        Ok(log)
    }

    /// Loads (more) closed dialogs from the server into the cache; returns whether more exist.
    pub async fn load_closed(&self, more: bool) -> Result<bool> {
        let cursor = if more {
            self.state.lock().unwrap().closed_next.clone()
        } else {
            None
        };
        if more && cursor.is_none() {
            return Ok(false);
        }
        let page = self
            .api
            .conversations(
                Some(ConversationStatusFilter::Closed),
                None,
                cursor.as_deref(),
                Some(PAGE),
            )
            .await?;
        let mut st = self.state.lock().unwrap();
        for c in page.items {
            st.upsert(c, true);
        }
        st.closed_next = page.next.clone();
        st.dirty = true;
        Ok(page.next.is_some())
    }

    // ----- writing -----------------------------------------------------------------

    /// Queues a message: on disk first, then sent (now if online, else on reconnect).
    pub fn send_message(&self, conversation_id: i64, body: &str) -> Result<OutboxItem> {
        if body.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        let item = OutboxItem {
            client_id: uuid::Uuid::new_v4().to_string(),
            conversation_id,
            body: body.to_string(),
            created_at: now_ms(),
            failed: None,
        };
        let items = {
            let mut st = self.state.lock().unwrap();
            st.outbox.push(item.clone());
            self.cache.save_outbox(&st.outbox)?;
            st.outbox.clone()
        };
        self.emit(CoreEvent::Outbox { items });
        self.outbox_wake.notify_one();
        Ok(item)
    }

    /// Retries a message the server refused, or drops it (`discard`).
    pub fn retry_outbox(&self, client_id: &str, discard: bool) -> Result<()> {
        let items = {
            let mut st = self.state.lock().unwrap();
            if discard {
                st.outbox.retain(|i| i.client_id != client_id);
            } else {
                for i in st.outbox.iter_mut().filter(|i| i.client_id == client_id) {
                    i.failed = None;
                }
            }
            self.cache.save_outbox(&st.outbox)?;
            st.outbox.clone()
        };
        self.emit(CoreEvent::Outbox { items });
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Sends every queued message, in order, until the server cannot be reached.
    pub async fn flush_outbox(&self) -> Result<usize> {
        let _g = self.flush_lock.lock().await;
        let mut sent = 0;
        loop {
            let next = {
                let st = self.state.lock().unwrap();
                st.outbox.iter().find(|i| i.failed.is_none()).cloned()
            };
            let Some(item) = next else { break };
            match self
                .api
                .post_message(item.conversation_id, &item.body, &item.client_id)
                .await
            {
                Ok(msg) => {
                    // the message is stored before the outbox entry goes: a crash in
                    // between resends the same client_id, which the server dedupes
                    self.add_message(msg.clone(), false);
                    let items = {
                        let mut st = self.state.lock().unwrap();
                        st.outbox.retain(|i| i.client_id != item.client_id);
                        self.cache.save_outbox(&st.outbox)?;
                        st.outbox.clone()
                    };
                    self.emit(CoreEvent::Outbox { items });
                    sent += 1;
                }
                Err(e)
                    if e.is_network()
                        || matches!(e.status(), Some(401) | Some(408) | Some(429))
                        || e.status().is_some_and(|s| s >= 500)
                        || close::on_error(&e) == Reaction::ChangePassword =>
                {
                    return Err(e);
                }
                Err(e) => {
                    let items = {
                        let mut st = self.state.lock().unwrap();
                        for i in st
                            .outbox
                            .iter_mut()
                            .filter(|i| i.client_id == item.client_id)
                        {
                            i.failed = Some(e.to_string());
                        }
                        self.cache.save_outbox(&st.outbox)?;
                        st.outbox.clone()
                    };
                    self.emit(CoreEvent::Outbox { items });
                }
            }
        }
        Ok(sent)
    }

    pub async fn update_conversation(
        &self,
        id: i64,
        update: UpdateConversation,
    ) -> Result<Conversation> {
        let c = self.api.update_conversation(id, &update).await?;
        {
            let mut st = self.state.lock().unwrap();
            st.upsert(c.clone(), false);
            st.dirty = true;
        }
        let c = self.conversation(id).unwrap_or(c);
        self.emit(CoreEvent::Conversation {
            conversation: c.clone(),
        });
        self.emit_unread();
        Ok(c)
    }

    /// Marks a dialog read up to its newest message.
    pub async fn mark_read(&self, id: i64) -> Result<()> {
        let last = {
            let log = self.cache.load_messages(id);
            let from_log = log.items.last().map(|m| m.id);
            let from_conv = self
                .conversation(id)
                .and_then(|c| c.last_message.map(|m| m.id));
            from_log.max(from_conv)
        };
        let changed = {
            let mut guard = self.state.lock().unwrap();
            let st = &mut *guard;
            match st.convs.get_mut(&id) {
                Some(c) if c.unread != 0 => {
                    c.unread = 0;
                    st.dirty = true;
                    Some(c.clone())
                }
                _ => None,
            }
        };
        if let Some(c) = changed {
            self.emit(CoreEvent::Conversation { conversation: c });
            self.emit_unread();
        }
        if let Some(m) = last {
            self.api.mark_read(id, m).await?;
        }
        Ok(())
    }

    pub fn send_typing(&self, conversation_id: i64) {
        let _ = self.typing_tx.send(Some(conversation_id));
    }

    fn set_user(&self, u: User) {
        {
            let mut st = self.state.lock().unwrap();
            st.acct.user = Some(u.clone());
            st.dirty = true;
        }
        self.emit(CoreEvent::Me { user: u });
    }

    pub async fn refresh_me(&self) -> Result<User> {
        let u = self.api.me().await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn update_me(&self, name: Option<String>, locale: Option<String>) -> Result<User> {
        if let Some(n) = &name {
            if n.trim().is_empty() {
                return Err(Error::Invalid("the name cannot be empty".into()));
            }
        }
        let u = self
            .api
            .update_me(&UpdateMe {
                name: name.map(|n| n.trim().to_string()),
                locale,
            })
            .await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn change_password(&self, current: &str, new: &str) -> Result<User> {
        if new.chars().count() < 8 {
            return Err(Error::Invalid(
                "the new password must be at least 8 characters".into(),
            ));
        }
        self.api.change_password(current, new).await?;
        // the stream is refused while the emailed password is in use: connect now
        self.reconnect_now();
        self.refresh_me().await
    }

    /// Checks the image (kind and the 1 MiB limit) before uploading it.
    pub async fn upload_avatar(&self, bytes: Vec<u8>) -> Result<User> {
        let ct = check_avatar(&bytes)?;
        let u = self.api.upload_avatar(bytes, ct).await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn delete_avatar(&self) -> Result<User> {
        let u = self.api.delete_avatar().await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn set_notifications(&self, n: NotificationSettings) -> Result<User> {
        let u = self.api.set_notifications(n).await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn set_presence(&self, p: Presence) -> Result<User> {
        let u = self.api.set_presence(p).await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn team(&self) -> Result<Vec<User>> {
        match self.api.team().await {
            Ok(t) => {
                self.state.lock().unwrap().acct.team = t.clone();
                self.emit(CoreEvent::Team { members: t.clone() });
                Ok(t)
            }
            Err(e) if e.is_network() => Ok(self.team_cached()),
            Err(e) => Err(e),
        }
    }

    pub async fn invite(&self, email: &str, role: &str) -> Result<User> {
        let email = email.trim();
        if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
            return Err(Error::Invalid("enter a valid email address".into()));
        }
        let u = self.api.invite(email, role).await?;
        let _ = self.team().await;
        Ok(u)
    }

    /// Settings → Mail (admins): the DNS records to publish.
    pub async fn mail_dns(&self) -> Result<switchboard_protocol::MailDns> {
        self.api.mail_dns().await
    }

    /// Settings → Mail → Check: what DNS answers for each record.
    pub async fn mail_dns_check(&self) -> Result<switchboard_protocol::DnsCheck> {
        self.api.mail_dns_check().await
    }

    pub async fn resend_invitation(&self, user_id: i64) -> Result<()> {
        self.api.resend_invitation(user_id).await
    }

    pub async fn change_role(&self, user_id: i64, role: &str) -> Result<User> {
        let u = self.api.change_role(user_id, role).await?;
        let _ = self.team().await;
        Ok(u)
    }

    pub async fn remove_member(&self, user_id: i64) -> Result<()> {
        self.api.remove_member(user_id).await?;
        let _ = self.team().await;
        Ok(())
    }

    // ----- the stream --------------------------------------------------------------

    fn backoff(&self) -> Duration {
        let n = self.attempt.fetch_add(1, Ordering::SeqCst).min(16);
        let base = BACKOFF_MIN.as_millis() as u64 * (1u64 << n);
        let cap = base.min(BACKOFF_MAX.as_millis() as u64);
        // "equal jitter": half fixed, half random
        let ms = cap / 2 + rand::thread_rng().gen_range(0..=cap / 2);
        Duration::from_millis(ms)
    }

    async fn sync_loop(
        self: Arc<Self>,
        mut typing_rx: mpsc::UnboundedReceiver<Option<i64>>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                break;
            }
            self.set_conn(ConnState::Connecting);
            let r = self.run_stream(&mut typing_rx, &mut stop).await;
            if *stop.borrow() {
                break;
            }
            let reaction = match r {
                Ok(End::Reset) => {
                    tracing::info!("stream reset: reloading over REST");
                    {
                        let mut st = self.state.lock().unwrap();
                        st.acct.seq = None;
                    }
                    continue;
                }
                Ok(End::Stopped) => break,
                Ok(End::Closed { code, reason }) => {
                    tracing::info!(?code, reason, "the server closed the stream");
                    close::on_close(code, &reason)
                }
                Err(e) => {
                    tracing::info!(error = %e, "stream disconnected");
                    close::on_error(&e)
                }
            };
            match reaction {
                Reaction::SignOut { code, reason } => {
                    self.end_signed_out(code, reason).await;
                    break;
                }
                Reaction::ChangePassword => self.password_change_required().await,
                Reaction::ReconnectNow if self.calm_role_change() => {
                    // the new role may see less: who we are now, then the stream again
                    let _ = self.refresh_me().await;
                    continue;
                }
                Reaction::ReconnectNow | Reaction::Backoff => {}
            }
            let delay = self.backoff();
            self.set_conn(ConnState::Offline {
                retry_in_ms: delay.as_millis() as u64,
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.reconnect_wake.notified() => {}
                _ = stop.changed() => break,
            }
        }
    }

    async fn run_stream(
        &self,
        typing_rx: &mut mpsc::UnboundedReceiver<Option<i64>>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<End> {
        let since = self.seq();
        let mut req = self
            .api
            .stream_url(since)
            .into_client_request()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {}", self.api.token().unwrap_or_default())
                .parse()
                .map_err(|_| Error::Protocol("bad token".into()))?,
        );
        let (mut ws, _) = match tokio::time::timeout(
            Duration::from_secs(15),
            tokio_tungstenite::connect_async(req),
        )
        .await
        {
            Err(_) => return Err(Error::Network("connection timed out".into())),
            Ok(Err(tungstenite::Error::Http(resp))) => {
                return Err(refused_upgrade(
                    resp.status().as_u16(),
                    resp.body().as_deref(),
                ));
            }
            Ok(Err(e)) => return Err(Error::Network(e.to_string())),
            Ok(Ok(x)) => x,
        };
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut last_heard = tokio::time::Instant::now();
        let mut ready = false;
        loop {
            let dead_at = last_heard + DEAD_AFTER;
            tokio::select! {
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return Ok(End::Stopped);
                }
                _ = tokio::time::sleep_until(dead_at) => {
                    return Err(Error::Network("the server stopped answering".into()));
                }
                _ = ping.tick() => {
                    ws.send(WsMessage::Ping(Vec::new().into())).await
                        .map_err(|e| Error::Network(e.to_string()))?;
                }
                Some(t) = typing_rx.recv(), if ready => {
                    let f = ClientFrame::Typing { conversation_id: t };
                    ws.send(WsMessage::text(serde_json::to_string(&f)?)).await
                        .map_err(|e| Error::Network(e.to_string()))?;
                }
                frame = ws.next() => {
                    last_heard = tokio::time::Instant::now();
                    let frame = match frame {
                        None => return Ok(End::Closed { code: None, reason: String::new() }),
                        Some(Err(e)) => return Err(Error::Network(e.to_string())),
                        Some(Ok(f)) => f,
                    };
                    let text = match frame {
                        WsMessage::Text(t) => t.to_string(),
                        WsMessage::Close(f) => {
                            return Ok(End::Closed {
                                code: f.as_ref().map(|f| u16::from(f.code)),
                                reason: f.map(|f| f.reason.to_string()).unwrap_or_default(),
                            });
                        }
                        _ => continue,
                    };
                    let f: StreamFrame = match serde_json::from_str(&text) {
                        Ok(f) => f,
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring an unknown stream frame");
                            continue;
                        }
                    };
                    match f {
                        StreamFrame::Ready { seq } => {
                            ready = true;
                            if since.is_none() {
                                self.reload().await?;
                                let mut st = self.state.lock().unwrap();
                                st.acct.seq = Some(seq);
                                st.dirty = true;
                            } else {
                                // a quick refresh of who we are (role, notification switches)
                                let _ = self.refresh_me().await;
                            }
                            let _ = self.persist();
                            self.attempt.store(0, Ordering::SeqCst);
                            self.set_conn(ConnState::Online);
                            self.emit_unread();
                            self.outbox_wake.notify_one();
                        }
                        StreamFrame::Reset => {
                            let _ = ws.close(None).await;
                            return Ok(End::Reset);
                        }
                        StreamFrame::Event { seq, event, data } => {
                            let cur = self.seq();
                            if cur.is_some_and(|c| seq <= c) {
                                continue; // already applied
                            }
                            self.apply(&event, data).await;
                            let mut st = self.state.lock().unwrap();
                            st.acct.seq = Some(seq);
                            st.dirty = true;
                        }
                    }
                }
            }
        }
    }

    /// Loads everything over REST (first start or after `reset`).
    async fn reload(&self) -> Result<()> {
        let me = self.api.me().await?;
        self.set_user(me);
        let team = self.api.team().await.unwrap_or_else(|_| self.team_cached());
        let mut convs = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .api
                .conversations(
                    Some(ConversationStatusFilter::Open),
                    None,
                    cursor.as_deref(),
                    Some(PAGE),
                )
                .await?;
            for c in page.items {
                convs.insert(c.id, c);
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let closed = self
            .api
            .conversations(
                Some(ConversationStatusFilter::Closed),
                None,
                None,
                Some(PAGE),
            )
            .await?;
        for c in closed.items {
            convs.insert(c.id, c);
        }
        {
            let mut st = self.state.lock().unwrap();
            st.counted = convs
                .values()
                .filter_map(|c| c.last_message.as_ref().map(|m| (c.id, m.id)))
                .collect();
            st.convs = convs;
            st.closed_next = closed.next;
            st.acct.team = team.clone();
            st.dirty = true;
        }
        // cached message pages may have gaps after a reset: they reload on open
        self.cache.clear_messages()?;
        self.emit(CoreEvent::Team { members: team });
        self.emit(CoreEvent::Reloaded);
        Ok(())
    }

    /// Applies one stream event to the cache and raises alerts.
    async fn apply(&self, name: &str, data: serde_json::Value) {
        match name {
            event::CONVERSATION_CREATED | event::CONVERSATION_UPDATED => {
                let Ok(c) = serde_json::from_value::<Conversation>(data) else {
                    tracing::warn!(event = name, "bad conversation payload");
                    return;
                };
                let created = name == event::CONVERSATION_CREATED;
                let merged = {
                    let mut st = self.state.lock().unwrap();
                    let known = st.convs.contains_key(&c.id);
                    st.upsert(c.clone(), !known);
                    st.dirty = true;
                    st.convs.get(&c.id).cloned()
                };
                if let Some(m) = merged {
                    self.emit(CoreEvent::Conversation { conversation: m });
                }
                self.emit_unread();
                if created {
                    let who = visitor_name(&c);
                    let body = c
                        .last_message
                        .as_ref()
                        .map(|m| m.body.clone())
                        .unwrap_or_else(|| "New conversation".into());
                    self.alert(c.id, &who, &body);
                }
            }
            event::MESSAGE_CREATED => {
                let Ok(m) = serde_json::from_value::<Message>(data) else {
                    tracing::warn!("bad message payload");
                    return;
                };
                if !self
                    .state
                    .lock()
                    .unwrap()
                    .convs
                    .contains_key(&m.conversation_id)
                {
                    if let Ok(c) = self.api.conversation(m.conversation_id).await {
                        let mut st = self.state.lock().unwrap();
                        st.upsert(c, true);
                    }
                }
                self.add_message(m, true);
            }
            event::READ => {
                // {conversation_id, message_id, reader: {kind, id}}: this operator read the
                // dialog elsewhere (another device), so the count clears here too
                let cid = data.get("conversation_id").and_then(|v| v.as_i64());
                let reader = data.get("reader");
                let kind = reader.and_then(|r| r.get("kind")).and_then(|v| v.as_str());
                let uid = reader
                    .and_then(|r| r.get("id"))
                    .and_then(|v| v.as_i64())
                    .or_else(|| data.get("user_id").and_then(|v| v.as_i64()));
                if let (Some(cid), Some(uid)) = (cid, uid) {
                    if kind != Some("visitor") && uid == self.account.user_id {
                        let c = {
                            let mut st = self.state.lock().unwrap();
                            st.convs.get_mut(&cid).map(|c| {
                                c.unread = 0;
                                c.clone()
                            })
                        };
                        if let Some(c) = c {
                            self.emit(CoreEvent::Conversation { conversation: c });
                            self.emit_unread();
                        }
                    }
                }
            }
            event::TYPING => {
                let cid = data.get("conversation_id").and_then(|v| v.as_i64());
                self.emit(CoreEvent::Typing {
                    conversation_id: cid,
                    data,
                });
            }
            event::TEAM_UPDATED => {
                if let Ok(t) = self.api.team().await {
                    self.state.lock().unwrap().acct.team = t.clone();
                    self.emit(CoreEvent::Team { members: t });
                }
                let _ = self.refresh_me().await;
            }
            other => tracing::debug!(event = other, "ignoring stream event"),
        }
    }

    /// Stores a message (from the stream or a send) and updates its dialog.
    fn add_message(&self, m: Message, live: bool) {
        let mut log = self.cache.load_messages(m.conversation_id);
        let new = !log.merge([m.clone()]).is_empty();
        if let Err(e) = self.cache.save_messages(m.conversation_id, &log) {
            tracing::warn!(error = %e, "cannot cache a message");
        }
        if !new {
            return;
        }
        let view = *self.shared.view.lock().unwrap();
        let looking = view.focused && view.conversation == Some(m.conversation_id);
        let from_visitor = m.author.kind == AuthorKind::Visitor;
        let mut fresh = false;
        let conv = {
            let mut guard = self.state.lock().unwrap();
            let st = &mut *guard;
            let c = st.convs.get_mut(&m.conversation_id).map(|c| {
                let upto = st
                    .counted
                    .get(&c.id)
                    .copied()
                    .unwrap_or_else(|| c.last_message.as_ref().map(|l| l.id).unwrap_or(0));
                if from_visitor && live && m.id > upto {
                    fresh = true;
                    if !looking {
                        c.unread += 1;
                    }
                    st.counted.insert(c.id, m.id);
                }
                if c.last_message.as_ref().is_none_or(|l| l.id <= m.id) {
                    c.last_message = Some(m.clone());
                }
                c.updated_at = c.updated_at.max(m.created_at);
                c.clone()
            });
            st.dirty = true;
            c
        };
        self.emit(CoreEvent::Message { message: m.clone() });
        if let Some(c) = conv {
            self.emit(CoreEvent::Conversation {
                conversation: c.clone(),
            });
            self.emit_unread();
            // a message already announced with its new conversation alerts once
            if fresh {
                let who = m
                    .author
                    .name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| visitor_name(&c));
                self.alert(c.id, &who, &m.body);
            }
        }
    }

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

    async fn outbox_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.outbox_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                _ = stop.changed() => break,
            }
            let pending = self
                .state
                .lock()
                .unwrap()
                .outbox
                .iter()
                .any(|i| i.failed.is_none());
            if !pending {
                continue;
            }
            if let Err(e) = self.flush_outbox().await {
                tracing::info!(error = %e, "outbox waits for the server");
            }
        }
    }

    async fn persist_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => break,
            }
            let dirty = self.state.lock().unwrap().dirty;
            if dirty {
                if let Err(e) = self.persist() {
                    tracing::warn!(error = %e, "cannot write the cache");
                }
            }
        }
    }
}

enum End {
    Reset,
    Closed { code: Option<u16>, reason: String },
    Stopped,
}

/// The error of a refused websocket upgrade, with the server's error code when its body
/// has one (`unauthorized`, `session_expired`, `password_change_required`, …).
fn refused_upgrade(status: u16, body: Option<&[u8]>) -> Error {
    match body.and_then(|b| serde_json::from_slice::<switchboard_protocol::ErrorBody>(b).ok()) {
        Some(b) => Error::Api {
            status,
            code: b.error.code,
            message: b.error.message,
        },
        None => Error::Api {
            status,
            code: if status == 401 {
                "unauthorized".into()
            } else {
                "stream_refused".into()
            },
            message: format!("the server refused the stream ({status})"),
        },
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

/// Puts a server copy of a dialog into the map. A copy older than what we have is
/// ignored; the local unread count is kept unless `take_unread` (a REST answer for us).
fn upsert(map: &mut HashMap<i64, Conversation>, mut c: Conversation, take_unread: bool) {
    if let Some(old) = map.get(&c.id) {
        if old.updated_at > c.updated_at {
            return;
        }
        if !take_unread {
            c.unread = old.unread;
        }
        if let (Some(a), Some(b)) = (&old.last_message, &c.last_message) {
            if a.id > b.id {
                c.last_message = old.last_message.clone();
            }
        } else if c.last_message.is_none() {
            c.last_message = old.last_message.clone();
        }
    }
    map.insert(c.id, c);
}

/// The content type of an avatar, checked by its first bytes, within the size limit.
pub fn check_avatar(bytes: &[u8]) -> Result<&'static str> {
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(Error::Invalid(format!(
            "the image is {:.1} MB; the limit is 1 MB",
            bytes.len() as f64 / 1_048_576.0
        )));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Ok("image/gif")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok("image/webp")
    } else {
        Err(Error::Invalid(
            "choose a PNG, JPEG, WebP or GIF image".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatars_are_checked_before_upload() {
        assert_eq!(check_avatar(b"\x89PNG\r\n\x1a\nrest").unwrap(), "image/png");
        assert_eq!(
            check_avatar(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(),
            "image/jpeg"
        );
        assert!(check_avatar(b"hello").is_err());
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_AVATAR_BYTES + 1, 0);
        assert!(check_avatar(&big).unwrap_err().to_string().contains("1 MB"));
        big.truncate(MAX_AVATAR_BYTES);
        assert!(check_avatar(&big).is_ok());
    }
}
