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
        self.may(Permission::ManageTeam)
    }

    pub fn answers_visitors(self) -> bool {
        self.may(Permission::Answer)
    }

    /// The one table of who may do what (README and API.md show it; the
    /// server's `roles` test calls every endpoint as every role against it).
    /// Every colleague reads dialogs and searches them.
    pub fn may(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Operator => matches!(permission, Answer),
            Role::Marketer => matches!(permission, EditWidget),
            Role::Analyst => matches!(permission, SeeReports | Export),
        }
    }

    /// What this role may do, for clients that show only that.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.may(*p))
            .collect()
    }
}

/// Rights beyond reading dialogs (see [`Role::may`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Write to visitors, assign and close dialogs, send files.
    Answer,
    /// Invite, re-invite, change roles, remove; mail settings; disk use.
    ManageTeam,
    /// The widget's look, texts and greetings.
    EditWidget,
    /// The Reports screen.
    SeeReports,
    /// Download reports as CSV.
    Export,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::Answer,
        Permission::ManageTeam,
        Permission::EditWidget,
        Permission::SeeReports,
        Permission::Export,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Answer => "answer",
            Permission::ManageTeam => "manage_team",
            Permission::EditWidget => "edit_widget",
            Permission::SeeReports => "see_reports",
            Permission::Export => "export",
        }
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
#[cfg_attr(feature = "openapi", schema(example = json!({"sound": true, "email": false})))]
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
    /// What the role may do beyond reading dialogs (`Role::may`), so a client
    /// shows only that; empty from servers before it was sent.
    #[serde(default)]
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"email": "anna@example.com", "password": "k7Mp-9xQ2-aR4e-Wn8h"})))]
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
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "Anna Petrova", "locale": "en"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct UpdateMe {
    /// Shown to visitors; at most 100 printable characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")
    )]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(pattern = "^(en|ru)$"))]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"current_password": "k7Mp-9xQ2-aR4e-Wn8h", "new_password": "correct horse battery staple"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ChangePassword {
    pub current_password: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
    pub new_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"presence": "away"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SetPresence {
    /// `online` or `away`; `offline` is what a member with no live stream is.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^(online|away)$"))]
    pub presence: Presence,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"email": "boris@example.com", "role": "operator"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Invitation {
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = "^[A-Za-z0-9]{1,20}([._+-][A-Za-z0-9]{1,20}){0,2}@[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,20})?(\\.[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,20})?){0,3}\\.[A-Za-z]{2,24}$"
        )
    )]
    pub email: String,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(admin|operator|marketer|analyst)$")
    )]
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"role": "marketer"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ChangeRole {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(admin|operator|marketer|analyst)$")
    )]
    pub role: String,
}

/// The notification switches new colleagues start with (set by an admin).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"notifications": {"sound": true, "email": true}})))]
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
    /// The greeting ([`GreetingRule`]) the visitor answered to open this
    /// conversation; its text is the conversation's first message.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub greeting_id: Option<i64>,
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
    /// Files sent with the message, in the order they were attached; an
    /// empty list when none (also when an older server omits the field).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A file uploaded to be sent with a message (`POST …/attachments`), or one
/// a message carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 12, "name": "invoice-4512.pdf", "content_type": "application/pdf", "size": 48213, "url": "/files/12/invoice-4512.pdf?expires=1767225600&sig=3q2-7w", "thumbnail_url": null})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Attachment {
    pub id: i64,
    /// The file's name as the sender gave it (shown, and offered when saving).
    pub name: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// A signed URL that expires (a week after it is handed out; every answer
    /// hands out fresh ones): usable in `<img src>` and to download, without
    /// a token. Absolute, on the server's public URL.
    pub url: String,
    /// For images: a small JPEG preview (at most 480×480, metadata dropped),
    /// signed like `url`.
    #[serde(default)]
    pub thumbnail_url: Option<String>,
}

/// `POST /api/v1/widget/pageview`: the page a visitor is on, sent by the
/// widget on each navigation (browser and OS come from `User-Agent`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"url": "https://shop.example.com/teas/da-hong-pao", "title": "Da Hong Pao — Tea shop", "referrer": "https://www.google.com/", "language": "ru-RU", "time_zone": "Europe/Moscow"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PageView {
    /// An http(s) address, at most 2,000 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2000,
            pattern = "^https?://[^\\x00-\\x20\\x7f-\\x9f\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+$"
        )
    )]
    pub url: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 300))]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<String>"))]
    pub title: String,
    /// Where the visitor came from (`document.referrer`), if anywhere.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2000,
            pattern = "^$|^https?://[^\\x00-\\x20\\x7f-\\x9f\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+$"
        )
    )]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub referrer: Option<String>,
    /// The browser's language (`navigator.language`).
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 35, pattern = "^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
    )]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub language: Option<String>,
    /// The visitor's IANA time zone; an unknown one is ignored.
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub time_zone: Option<String>,
}

/// A page a visitor saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PageSeen {
    pub url: String,
    pub title: String,
    /// Milliseconds since the Unix epoch.
    pub seen_at: i64,
}

/// `GET /api/v1/visitors/{id}`: who the visitor is, as far as the widget
/// tells — shown beside the dialog.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct VisitorProfile {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
    /// E.g. "Chrome 131", parsed from the User-Agent by the server.
    pub browser: Option<String>,
    /// E.g. "Windows 10".
    pub os: Option<String>,
    pub referrer: Option<String>,
    /// Only when the server keeps addresses (`--store-visitor-ip`).
    pub ip_address: Option<String>,
    /// The latest pages, newest first (at most 50 are kept).
    pub pages: Vec<PageSeen>,
    /// This visitor's conversation and those of earlier visits with the
    /// same email, newest first.
    pub conversations: Vec<Conversation>,
}

/// `GET /api/v1/reports`: a team's figures over a range of days, in a time
/// zone. Durations are seconds; medians and 90th percentiles are nearest-rank
/// (the smallest value at or above that share of the sorted values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Report {
    /// The first day, `YYYY-MM-DD`.
    pub from: String,
    /// The last day, included.
    pub to: String,
    /// The IANA time zone the days and hours are counted in.
    pub time_zone: String,
    /// A conversation is missed when its visitor waited longer than this for
    /// a first answer (or still waits).
    pub missed_after_minutes: i64,
    /// Conversations opened each day of the range (every day listed).
    pub new_conversations: Vec<DayCount>,
    /// Conversations opened per hour of the week: 7 rows, Monday first, of 24
    /// hours each, local time.
    pub by_hour_of_week: Vec<Vec<i64>>,
    /// From a visitor's first message to the first answer.
    pub first_response: Durations,
    /// From opening to closing, for conversations closed by now.
    pub resolution: Durations,
    /// Conversations whose first answer went by chat and by email.
    pub answered_in_chat: i64,
    pub answered_by_email: i64,
    pub missed: i64,
    /// Every colleague who answers visitors, side by side.
    pub operators: Vec<OperatorFigures>,
    /// Each greeting shown in the range: how often, and how many of those
    /// showings a visitor answered (opening a conversation).
    #[serde(default)]
    pub greetings: Vec<GreetingFigures>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct GreetingFigures {
    pub id: i64,
    /// The greeting's text today; empty when it was deleted since.
    pub message: String,
    pub shown: i64,
    pub answered: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DayCount {
    pub day: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Durations {
    /// How many durations the figures are of.
    pub count: i64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct OperatorFigures {
    pub id: i64,
    pub name: String,
    /// Conversations this colleague answered first.
    pub answered: i64,
    /// Their first answers' waiting times.
    pub first_response: Durations,
    /// Conversations assigned to them and closed.
    pub resolved: i64,
}

/// `GET /api/v1/search`: one found message, or a visitor whose name or email
/// matched (then `message` is null and `snippet` is the name or address).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SearchHit {
    pub conversation: Conversation,
    pub message: Option<Message>,
    /// A piece of the message around the first match (at most ~160
    /// characters, `…` where it was cut), plain text.
    pub snippet: String,
    /// The words of `snippet` that matched the query, as they are written
    /// there, for highlighting.
    pub matched: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"body": "Hello! How can we help?", "client_id": "5f0c7a3e-2b1d-4c55-9a8e-0d3f6b1e7c42"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct NewMessage {
    /// Plain text; stored trimmed and without NUL characters, 1 to 10,000
    /// characters. (The patterns spell out Unicode's White_Space, which Rust
    /// trims, rather than `\s`, which differs between regex engines.)
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 10000,
            pattern = "[^\\u0000\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
        )
    )]
    pub body: String,
    /// The sender's id for this message (a UUID, say): a retry with the same
    /// id returns the first message instead of a copy. 1 to 100 printable characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*$"
        )
    )]
    pub client_id: String,
    /// Up to 10 files uploaded by the same sender and not sent yet; with
    /// them the body may be empty.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "whole_number::deserialize_vec"
    )]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<i64>>"))]
    pub attachments: Vec<i64>,
    /// Widget only: the greeting shown to this visitor that the message
    /// answers. When the message opens a conversation, the greeting becomes
    /// its first message (from the greeting's colleague); otherwise ignored.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number::deserialize_option"
    )]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub greeting_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"status": "closed", "assignee_id": 1})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct UpdateConversation {
    pub status: Option<ConversationStatus>,
    /// `null` unassigns; absent leaves the assignee as it is.
    #[serde(
        default,
        // Absent stays absent on the wire: closing a conversation must not
        // unassign it.
        skip_serializing_if = "Option::is_none",
        serialize_with = "double_option::serialize",
        deserialize_with = "whole_number::deserialize_double_option"
    )]
    #[cfg_attr(feature = "ts", ts(as = "Option<i64>", optional = nullable))]
    pub assignee_id: Option<Option<i64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"message_id": 1})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct MarkRead {
    #[serde(deserialize_with = "whole_number::deserialize")]
    pub message_id: i64,
}

/// One page of a list, `next` is the cursor of the following page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"visitor_token": null, "locale": "en"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WidgetSessionRequest {
    pub visitor_token: Option<String>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The colleagues whose faces the widget shows.
    pub operators: Vec<PublicOperator>,
    pub online: bool,
    /// How the widget looks and what it says (absent from older servers).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub widget: Option<PublicWidget>,
}

/// Which side of the page the widget's button sits on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum WidgetPosition {
    #[default]
    Right,
    Left,
}

/// The widget's language: `auto` follows the visitor's browser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum WidgetLanguage {
    #[default]
    Auto,
    Ru,
    En,
}

/// `GET`/`PUT /api/v1/widget-settings`: the widget as admins and marketers
/// shape it. Open widgets pick a change up at once (`widget` frame on their
/// stream). Empty texts mean the widget's own wording in the visitor's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"color": "#2563eb", "title": "Tea shop support", "welcome": "Hi! Ask us anything about teas.", "away_text": "We are away; leave your email and we will answer there.", "position": "right", "faces": null, "language": "auto", "email_prompt": true, "greetings": [{"id": 1, "enabled": true, "url_pattern": "/pricing*", "delay_seconds": 20, "on_exit_intent": false, "message": "Questions about plans? I can help.", "from_user_id": 1, "per_visitor_cap": 1}]})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WidgetSettings {
    /// The accent colour, `#rrggbb`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^#[0-9A-Fa-f]{6}$"))]
    pub color: String,
    /// The chat window's title, at most 60 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 60, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")
    )]
    pub title: String,
    /// The greeting line under the title, at most 500 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 500, pattern = "^[^\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f]*$")
    )]
    pub welcome: String,
    /// Shown instead of `welcome` while nobody is online, at most 500 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 500, pattern = "^[^\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f]*$")
    )]
    pub away_text: String,
    pub position: WidgetPosition,
    /// Ids of the colleagues whose faces the widget shows, in this order;
    /// `null` shows everyone who answers visitors.
    #[cfg_attr(feature = "openapi", schema(max_items = 20))]
    pub faces: Option<Vec<i64>>,
    pub language: WidgetLanguage,
    /// Ask the visitor for an email to answer to when nobody is online.
    pub email_prompt: bool,
    /// At most 20 rules.
    #[cfg_attr(feature = "openapi", schema(max_items = 20))]
    pub greetings: Vec<GreetingRule>,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        WidgetSettings {
            color: "#2563eb".into(),
            title: String::new(),
            welcome: String::new(),
            away_text: String::new(),
            position: WidgetPosition::Right,
            faces: None,
            language: WidgetLanguage::Auto,
            email_prompt: true,
            greetings: Vec::new(),
        }
    }
}

/// "On pages matching `url_pattern`, after `delay_seconds` (or when the
/// visitor is about to leave), show `message` from `from_user_id`", at most
/// `per_visitor_cap` times per visitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct GreetingRule {
    /// Given by the server; `null` for a new rule.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<i64>,
    pub enabled: bool,
    /// Matched against the page's path and query (`/pricing?plan=pro`);
    /// `*` stands for any characters. Starts with `/`, or is `*` for every
    /// page; at most 200 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = "^(\\*|/[^\\x00-\\x20\\x7f-\\x9f\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)$"
        )
    )]
    pub url_pattern: String,
    /// Seconds on the page before it shows, 0 to 3,600.
    #[cfg_attr(feature = "openapi", schema(maximum = 3600))]
    pub delay_seconds: u32,
    /// Show it when the pointer leaves the page towards the tabs or the
    /// address bar instead of after the delay.
    pub on_exit_intent: bool,
    /// Plain text, 1 to 1,000 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 1000,
            pattern = "[^\\u0000\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
        )
    )]
    pub message: String,
    /// The colleague it comes from: an active member who answers visitors.
    pub from_user_id: i64,
    /// How many times one visitor may see it, 1 to 100.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    pub per_visitor_cap: u32,
}

/// The widget's settings as visitors' widgets receive them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PublicWidget {
    pub color: String,
    pub title: String,
    pub welcome: String,
    pub away_text: String,
    pub position: WidgetPosition,
    pub language: WidgetLanguage,
    pub email_prompt: bool,
    /// The faces to show (as `WidgetSession.operators`).
    pub operators: Vec<PublicOperator>,
    /// The enabled greetings.
    pub greetings: Vec<PublicGreeting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PublicGreeting {
    pub id: i64,
    pub url_pattern: String,
    pub delay_seconds: u32,
    pub on_exit_intent: bool,
    pub message: String,
    pub from: PublicOperator,
    pub per_visitor_cap: u32,
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
#[cfg_attr(feature = "openapi", schema(example = json!({"email": "visitor@example.org", "name": "Clara"})))]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WidgetContact {
    /// Where replies go by email; empty clears it.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = "^$|^[A-Za-z0-9]{1,20}([._+-][A-Za-z0-9]{1,20}){0,2}@[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,20})?(\\.[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,20})?){0,3}\\.[A-Za-z]{2,24}$"
        )
    )]
    pub email: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")
    )]
    pub name: Option<String>,
}

/// Frames of the websocket streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
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
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        data: serde_json::Value,
    },
    Reset,
    /// Visitor streams only: the widget's settings changed; apply them
    /// (sent outside the event sequence, so it moves no cursor).
    Widget {
        widget: PublicWidget,
    },
}

/// Frames a client may send on a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
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
    /// The widget's settings changed (data: [`crate::WidgetSettings`]).
    pub const WIDGET_UPDATED: &str = "widget.updated";
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
    use serde::{Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(inner) => inner.serialize(s),
        }
    }
}

/// JSON has one number type: `7.0` is the integer 7 to JSON Schema (and to a
/// JavaScript client), so ids sent by clients are read as whole numbers, not
/// only as integer literals.
mod whole_number {
    use serde::de::{self, Deserializer, Visitor};
    use serde::Deserialize;

    struct WholeNumber;

    impl Visitor<'_> for WholeNumber {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom("the number is too large"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            // Past 2^53 a float no longer tells which whole number was
            // written (-9223372036854775809 reads as i64::MIN): such a
            // number is refused rather than guessed.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if v.fract() == 0.0 && (-EXACT..=EXACT).contains(&v) {
                Ok(v as i64)
            } else {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(WholeNumber)
    }

    /// For lists of ids.
    pub fn deserialize_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
        #[derive(Deserialize)]
        struct Whole(#[serde(deserialize_with = "deserialize")] i64);
        Vec::<Whole>::deserialize(d).map(|v| v.into_iter().map(|w| w.0).collect())
    }

    /// For optional ids.
    pub fn deserialize_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        struct Whole(#[serde(deserialize_with = "deserialize")] i64);
        Option::<Whole>::deserialize(d).map(|v| v.map(|w| w.0))
    }

    /// For `Option<Option<i64>>` fields where absent and `null` differ.
    pub fn deserialize_double_option<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<i64>>, D::Error> {
        #[derive(Deserialize)]
        struct Whole(#[serde(deserialize_with = "deserialize")] i64);
        Option::<Whole>::deserialize(d).map(|v| Some(v.map(|w| w.0)))
    }

    #[cfg(test)]
    mod tests {
        use crate::{MarkRead, UpdateConversation};

        #[test]
        fn ids_are_whole_numbers_in_any_json_spelling() {
            for body in [
                r#"{"message_id": 7}"#,
                r#"{"message_id": 7.0}"#,
                r#"{"message_id": 7e0}"#,
            ] {
                let m: MarkRead = serde_json::from_str(body).unwrap();
                assert_eq!(m.message_id, 7, "{body}");
            }
            // Found by schemathesis: a large whole number spelled as a float
            // must not come back off by a fraction (serde_json's float_roundtrip).
            let m: MarkRead =
                serde_json::from_str(r#"{"message_id": 1824552785189351.0}"#).unwrap();
            assert_eq!(m.message_id, 1_824_552_785_189_351);
            for body in [
                r#"{"message_id": 7.5}"#,
                r#"{"message_id": "7"}"#,
                r#"{"message_id": 1e300}"#,
            ] {
                assert!(serde_json::from_str::<MarkRead>(body).is_err(), "{body}");
            }
            let u: UpdateConversation = serde_json::from_str(r#"{"assignee_id": 3.0}"#).unwrap();
            assert_eq!(u.assignee_id, Some(Some(3)));
            let u: UpdateConversation = serde_json::from_str(r#"{"assignee_id": null}"#).unwrap();
            assert_eq!(u.assignee_id, Some(None));
            let u: UpdateConversation = serde_json::from_str("{}").unwrap();
            assert_eq!(u.assignee_id, None);
            // And back: "leave the assignee" is no field at all, "unassign" is null.
            let close = UpdateConversation {
                status: Some(crate::ConversationStatus::Closed),
                assignee_id: None,
            };
            assert_eq!(
                serde_json::to_string(&close).unwrap(),
                r#"{"status":"closed"}"#
            );
            let unassign = UpdateConversation {
                status: None,
                assignee_id: Some(None),
            };
            assert_eq!(
                serde_json::to_string(&unassign).unwrap(),
                r#"{"status":null,"assignee_id":null}"#
            );
        }
    }
}
