//! The JSON shapes of API.md, shared by the server, the desktop core and the tests.
//!
//! Everything here is plain data: no I/O, no validation beyond what serde does.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ts")]
pub mod typescript;

#[cfg(feature = "ts")]
use ts_rs::TS;
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What a team member may do. Only `Admin` manages the team; `Admin` and
/// `Operator` answer visitors; `Marketer` and `Analyst` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Operator,
    Marketer,
    Analyst,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::Marketer, Role::Analyst];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Marketer => "marketer",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn manages_team(self) -> bool {
        self == Role::Admin
    }

    pub fn answers_visitors(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Invited,
    Active,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    Offline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct NotificationSettings {
    pub sound: bool,
    pub email: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub status: UserStatus,
    pub presence: Presence,
    pub avatar_url: Option<String>,
    pub locale: String,
    pub must_change_password: bool,
    pub notifications: NotificationSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct LoginResponse {
    pub token: String,
    pub user: User,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct UpdateMe {
    pub name: Option<String>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SetPresence {
    pub presence: Presence,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Invitation {
    pub email: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ChangeRole {
    pub role: String,
}

/// The notification switches new colleagues start with (set by an admin).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct TeamDefaults {
    pub notifications: NotificationSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct VisitorRef {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Email to this address bounced: nothing is emailed to it until the
    /// visitor gives another.
    #[serde(default)]
    pub email_bouncing: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Conversation {
    pub id: i64,
    pub status: ConversationStatus,
    pub visitor: VisitorRef,
    pub assignee_id: Option<i64>,
    pub last_message: Option<Message>,
    /// Visitor messages the asking operator has not read yet.
    pub unread: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Visitor,
    Operator,
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Author {
    pub kind: AuthorKind,
    pub id: Option<i64>,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Chat,
    Email,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub client_id: Option<String>,
    pub author: Author,
    /// Plain text; every client renders it as text, never as HTML.
    pub body: String,
    pub channel: Channel,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct NewMessage {
    pub body: String,
    pub client_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct UpdateConversation {
    pub status: Option<ConversationStatus>,
    /// `null` unassigns; absent leaves the assignee as it is.
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "ts", ts(as = "Option<i64>", optional = nullable))]
    pub assignee_id: Option<Option<i64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct MarkRead {
    pub message_id: i64,
}

/// One page of a list, `next` is the cursor of the following page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WidgetSessionRequest {
    pub visitor_token: Option<String>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PublicOperator {
    pub name: String,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WidgetSession {
    pub visitor_token: String,
    pub visitor_id: i64,
    pub operators: Vec<PublicOperator>,
    pub online: bool,
}

/// `GET /api/v1/widget/messages`: the visitor's conversation, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema), schema(as = History))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WidgetHistory {
    pub items: Vec<Message>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WidgetContact {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Frames of the websocket streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamFrame {
    Ready {
        seq: i64,
    },
    Event {
        seq: i64,
        event: String,
        #[cfg_attr(feature = "ts", ts(type = "unknown"))]
        data: serde_json::Value,
    },
    Reset,
}

/// Frames a client may send on a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Typing { conversation_id: Option<i64> },
}

/// Websocket close codes of the streams (besides the standard ones: 1008 when
/// a client breaks the frame limits, 1013 when the server is overloaded).
pub mod close_code {
    /// The session's token no longer works (signed out, removed, password
    /// changed on another device, expired): sign out, do not reconnect.
    pub const SESSION_ENDED: u16 = 4401;
    /// The member's role changed: reconnect (and reload what the role may see).
    pub const ROLE_CHANGED: u16 = 4403;
}

pub mod event {
    pub const CONVERSATION_CREATED: &str = "conversation.created";
    pub const CONVERSATION_UPDATED: &str = "conversation.updated";
    pub const MESSAGE_CREATED: &str = "message.created";
    pub const TYPING: &str = "typing";
    pub const READ: &str = "read";
    pub const TEAM_UPDATED: &str = "team.updated";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// Settings → Mail (admins): the DNS records that let receivers trust our
/// email, as `switchboard-server mail dns` prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct MailDns {
    /// The domain of the From address: DKIM's `d=`.
    pub signing_domain: String,
    /// The domain of reply addresses (its MX points here).
    pub reply_domain: String,
    /// DKIM selectors in use (empty when signing is off).
    pub selectors: Vec<String>,
    pub records: Vec<DnsRecord>,
}

/// What DNS answers today for each record to publish (Settings → Mail, "Check").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DnsCheck {
    pub records: Vec<DnsRecordCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DnsRecordCheck {
    pub record: DnsRecord,
    /// `ok` (published as it should be), `missing` (nothing there),
    /// `different` (something else is published) or `error` (DNS did not answer).
    pub status: String,
    /// What DNS answered at the record's name (TXT values or MX hosts).
    pub found: Vec<String>,
}

/// One DNS record to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DnsRecord {
    /// Fully qualified, without the trailing dot.
    pub name: String,
    /// `TXT` or `MX`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value as one string, as a DNS provider's web form takes it.
    pub value: String,
    /// What it is for, and what to adapt.
    pub purpose: String,
    /// False when part of the value could not be known (e.g. the MX host, or
    /// the relay for SPF) and must be adapted before publishing.
    pub complete: bool,
}

/// serde helper telling "absent" (`None`) from "null" (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(inner) => inner.serialize(s),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
