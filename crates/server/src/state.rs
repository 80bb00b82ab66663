//! What every request handler shares.

use std::sync::Arc;

use lettre::message::Mailbox;
use switchboard_protocol::{Presence, User, UserStatus};
use tokio::sync::Notify;

use crate::config::Config;
use crate::db::Db;
use crate::group_commit::GroupCommit;
use crate::hub::Hub;
use crate::limits::Limits;
use crate::store::users::{AccountStatus, UserRecord};
use crate::throttle::Throttle;

pub type SharedState = Arc<AppState>;

pub struct AppState {
    pub db: Db,
    pub config: Config,
    /// Base of links in emails and the widget, without a trailing slash.
    pub public_url: String,
    pub mail_from: Mailbox,
    pub outbox_wake: Arc<Notify>,
    pub hub: Arc<Hub>,
    /// Writes visitors' chat messages with group commit (the hot path).
    pub messages_writer: GroupCommit,
    /// SQLite: visitors' common sends, on a writer thread of their own.
    pub sqlite_sends: Option<crate::sqlite_sends::SqliteSends>,
    /// PostgreSQL: visitors' common sends, a batch in two round trips.
    pub postgres_sends: Option<crate::postgres_sends::PostgresSends>,
    /// With several PostgreSQL nodes: those sends go to one node's writer.
    pub cluster_sends: crate::cluster_sends::ClusterSends,
    /// Which visitor each widget token names (see `visitor_tokens`).
    pub visitor_tokens: crate::visitor_tokens::VisitorTokens,
    pub login_throttle: Throttle,
    /// Rate limits and quotas on what visitors and strangers may do.
    pub limits: Limits,
    /// Whether `/dev/mailbox` is served (no SMTP relay configured).
    pub dev_mailbox: Option<std::path::PathBuf>,
    /// Avatars (and attachments): the data dir on one node, a shared
    /// object store across several (see `files`).
    pub files: crate::files::FileStore,
    /// Signs and verifies reply addresses; kept in the database so every node
    /// agrees (see `services::reply_keys`).
    pub reply_keys: std::sync::RwLock<crate::domain::reply_token::KeyRing>,
    /// SPF, DKIM and DMARC checks of replies that come in over SMTP.
    pub mail_auth: crate::mail::auth_in::MailAuth,
    /// Bearer secret of `POST /api/v1/inbound/email`.
    pub ingress_secret: String,
    /// Signs attachment links (kept in the database: every node agrees).
    pub file_link_key: Vec<u8>,
    /// What visitors' widgets are told (see `services::widget_settings`).
    pub widget: crate::widget_view::WidgetView,
}

impl AppState {
    /// The API's view of a team member.
    pub fn user_view(&self, user: &UserRecord) -> User {
        let presence = if !self.hub.is_connected(user.id) {
            Presence::Offline
        } else if user.away {
            Presence::Away
        } else {
            Presence::Online
        };
        User {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
            status: match user.status {
                AccountStatus::Active => UserStatus::Active,
                AccountStatus::Invited | AccountStatus::Removed => UserStatus::Invited,
            },
            presence,
            avatar_url: self.avatar_url(user.avatar_file.as_deref()),
            locale: user.locale.clone(),
            must_change_password: user.must_change_password,
            notifications: user.notifications,
            permissions: user.role.permissions(),
        }
    }

    pub fn avatar_url(&self, file: Option<&str>) -> Option<String> {
        avatar_url(&self.public_url, file)
    }

    pub fn cabinet_url(&self) -> String {
        format!("{}/cabinet", self.public_url)
    }
}

/// Where an avatar file is served, under the server's public address.
pub fn avatar_url(public_url: &str, file: Option<&str>) -> Option<String> {
    file.map(|f| format!("{public_url}/avatars/{f}"))
}
