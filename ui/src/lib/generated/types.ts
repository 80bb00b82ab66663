// Generated from crates/protocol, crates/core and src-tauri (Rust) by
// scripts/gen-types.sh: do not edit.

export type Account = { server: string, email: string, user_id: number, name: string,
/**
 * The user chose to allow plain `http://` to this (non-loopback) server.
 */
allow_http: boolean, };

export type AppInfo = { version: string, accounts: Array<Account>, current: string | null, prefs: LocalPrefs, };

/**
 * A file uploaded to be sent with a message (`POST …/attachments`), or one
 * a message carries.
 */
export type Attachment = { id: number,
/**
 * The file's name as the sender gave it (shown, and offered when saving).
 */
name: string, content_type: string,
/**
 * Bytes.
 */
size: number,
/**
 * A signed URL that expires (a week after it is handed out; every answer
 * hands out fresh ones): usable in `<img src>` and to download, without
 * a token. Absolute, on the server's public URL.
 */
url: string,
/**
 * For images: a small JPEG preview (at most 480×480, metadata dropped),
 * signed like `url`.
 */
thumbnail_url: string | null, };

export type Author = { kind: AuthorKind, id: number | null, name: string | null, avatar_url: string | null, };

export type AuthorKind = "visitor" | "operator" | "system";

export type Channel = "chat" | "email";

export type ConnState = { "state": "connecting" } | { "state": "online" } | { "state": "offline", retry_in_ms: number, } | { "state": "stopped" };

export type Conversation = { id: number, status: ConversationStatus, visitor: VisitorRef, assignee_id: number | null, last_message: Message | null,
/**
 * Visitor messages the asking operator has not read yet.
 */
unread: number,
/**
 * Milliseconds since the Unix epoch.
 */
created_at: number, updated_at: number,
/**
 * The greeting ([`GreetingRule`]) the visitor answered to open this
 * conversation; its text is the conversation's first message.
 */
greeting_id?: number | null, };

export type ConversationList = {
/**
 * The dialogs at positions `start..start + items.length` of the list.
 */
items: Array<Conversation>, start: number,
/**
 * Dialogs in the whole list.
 */
total: number, counts: { [key in string]: number }, unread_total: number, connection: ConnState, };

export type ConversationStatus = "open" | "closed";

/**
 * Everything the UI hears about.
 */
export type CoreEvent = { "type": "connection", state: ConnState, } | { "type": "reloaded" } | { "type": "conversation", conversation: Conversation, } | { "type": "message", message: Message, } | { "type": "outbox", items: Array<OutboxItem>, } | { "type": "upload", upload: Upload, } | { "type": "download", conversation_id: number, attachment_id: number, received: number, total: number | null, } | { "type": "typing", conversation_id: number | null, data: unknown, } | { "type": "me", user: User, } | { "type": "team", members: Array<User>, } | { "type": "unread", total: number, } | { "type": "widget", settings: WidgetSettings, } | { "type": "open_conversation", conversation_id: number, } | { "type": "warning", code: string, message: string, } | { "type": "signed_out", code: string, reason: string, };

export type DayCount = { day: string, count: number, };

/**
 * What DNS answers today for each record to publish (Settings → Mail, "Check").
 */
export type DnsCheck = { records: Array<DnsRecordCheck>, };

/**
 * One DNS record to publish.
 */
export type DnsRecord = {
/**
 * Fully qualified, without the trailing dot.
 */
name: string,
/**
 * `TXT` or `MX`.
 */
type: string,
/**
 * The value as one string, as a DNS provider's web form takes it.
 */
value: string,
/**
 * What it is for, and what to adapt.
 */
purpose: string,
/**
 * False when part of the value could not be known (e.g. the MX host, or
 * the relay for SPF) and must be adapted before publishing.
 */
complete: boolean, };

export type DnsRecordCheck = { record: DnsRecord,
/**
 * `ok` (published as it should be), `missing` (nothing there),
 * `different` (something else is published) or `error` (DNS did not answer).
 */
status: string,
/**
 * What DNS answered at the record's name (TXT values or MX hosts).
 */
found: Array<string>, };

export type Durations = {
/**
 * How many durations the figures are of.
 */
count: number, median_seconds: number | null, p90_seconds: number | null, };

/**
 * The dialog list filters of the UI.
 */
export type Filter = "mine" | "unassigned" | "all" | "closed";

export type GreetingFigures = { id: number,
/**
 * The greeting's text today; empty when it was deleted since.
 */
message: string, shown: number, answered: number, };

/**
 * "On pages matching `url_pattern`, after `delay_seconds` (or when the
 * visitor is about to leave), show `message` from `from_user_id`", at most
 * `per_visitor_cap` times per visitor.
 */
export type GreetingRule = {
/**
 * Given by the server; `null` for a new rule.
 */
id?: number | null, enabled: boolean,
/**
 * Matched against the page's path and query (`/pricing?plan=pro`);
 * `*` stands for any characters. Starts with `/`, or is `*` for every
 * page; at most 200 characters.
 */
url_pattern: string,
/**
 * Seconds on the page before it shows, 0 to 3,600.
 */
delay_seconds: number,
/**
 * Show it when the pointer leaves the page towards the tabs or the
 * address bar instead of after the delay.
 */
on_exit_intent: boolean,
/**
 * Plain text, 1 to 1,000 characters.
 */
message: string,
/**
 * The colleague it comes from: an active member who answers visitors.
 */
from_user_id: number,
/**
 * How many times one visitor may see it, 1 to 100.
 */
per_visitor_cap: number, };

export type LocalPrefs = { sound: SoundChoice,
/**
 * 0.0 ..= 1.0
 */
volume: number,
/**
 * `None`: follow the OS language.
 */
locale: string | null,
/**
 * Minutes without input before the status becomes "away"; 0 disables.
 */
away_after_minutes: number, start_at_login: boolean, close_to_tray: boolean, native_notifications: boolean, };

/**
 * Settings → Mail (admins): the DNS records that let receivers trust our
 * email, as `switchboard-server mail dns` prints them.
 */
export type MailDns = {
/**
 * The domain of the From address: DKIM's `d=`.
 */
signing_domain: string,
/**
 * The domain of reply addresses (its MX points here).
 */
reply_domain: string,
/**
 * DKIM selectors in use (empty when signing is off).
 */
selectors: Array<string>, records: Array<DnsRecord>, };

export type Message = { id: number, conversation_id: number, client_id: string | null, author: Author,
/**
 * Plain text; every client renders it as text, never as HTML.
 */
body: string, channel: Channel,
/**
 * Milliseconds since the Unix epoch.
 */
created_at: number,
/**
 * Files sent with the message, in the order they were attached; an
 * empty list when none (also when an older server omits the field).
 */
attachments: Array<Attachment>, };

export type MessageLog = {
/**
 * Oldest first, unique by id.
 */
items: Array<Message>,
/**
 * Cursor of the page before `items[0]`, `None` when the beginning is known.
 */
next: string | null,
/**
 * True once `next` reflects a real server answer.
 */
paged: boolean, };

export type NotificationSettings = { sound: boolean, email: boolean, };

export type OperatorFigures = { id: number, name: string,
/**
 * Conversations this colleague answered first.
 */
answered: number,
/**
 * Their first answers' waiting times.
 */
first_response: Durations,
/**
 * Conversations assigned to them and closed.
 */
resolved: number, };

/**
 * A file queued with a message.
 */
export type OutboxFile = {
/**
 * The copy's name in the account's `files/` folder (a UUID), also the id of
 * its upload events.
 */
local_id: string,
/**
 * The name the file is sent under.
 */
name: string, content_type: string,
/**
 * Bytes.
 */
size: number,
/**
 * The server's copy, once uploaded: its id goes with the message.
 */
uploaded: Attachment | null,
/**
 * When it was uploaded (ms since the Unix epoch). The server deletes uploads not
 * sent within a day, so an older one is uploaded again before sending.
 */
uploaded_at: number | null, };

/**
 * A message typed by the operator that the server has not confirmed yet.
 */
export type OutboxItem = { client_id: string, conversation_id: number, body: string,
/**
 * Milliseconds since the Unix epoch.
 */
created_at: number,
/**
 * Set when the server refused it for good (e.g. the dialog is gone); kept so the
 * text is never lost.
 */
failed: string | null,
/**
 * Set while it waits to be sent again: the server answered "try later" (its
 * code: `storage_full`, `database_unavailable`, `overloaded`, …) or could not
 * be reached (`offline`). Cleared once the server takes a message again.
 */
retrying?: string,
/**
 * Files sent with it, in order. Their copies wait in the account's data dir
 * (`files/<local_id>`) until the message is sent, so the originals may move.
 */
files?: Array<OutboxFile>, };

/**
 * A page a visitor saw.
 */
export type PageSeen = { url: string, title: string,
/**
 * Milliseconds since the Unix epoch.
 */
seen_at: number, };

/**
 * Rights beyond reading dialogs (see [`Role::may`]).
 */
export type Permission = "answer" | "manage_team" | "edit_widget" | "see_reports" | "export";

export type Presence = "online" | "away" | "offline";

/**
 * `GET /api/v1/reports`: a team's figures over a range of days, in a time
 * zone. Durations are seconds; medians and 90th percentiles are nearest-rank
 * (the smallest value at or above that share of the sorted values).
 */
export type Report = {
/**
 * The first day, `YYYY-MM-DD`.
 */
from: string,
/**
 * The last day, included.
 */
to: string,
/**
 * The IANA time zone the days and hours are counted in.
 */
time_zone: string,
/**
 * A conversation is missed when its visitor waited longer than this for
 * a first answer (or still waits).
 */
missed_after_minutes: number,
/**
 * Conversations opened each day of the range (every day listed).
 */
new_conversations: Array<DayCount>,
/**
 * Conversations opened per hour of the week: 7 rows, Monday first, of 24
 * hours each, local time.
 */
by_hour_of_week: Array<Array<number>>,
/**
 * From a visitor's first message to the first answer.
 */
first_response: Durations,
/**
 * From opening to closing, for conversations closed by now.
 */
resolution: Durations,
/**
 * Conversations whose first answer went by chat and by email.
 */
answered_in_chat: number, answered_by_email: number, missed: number,
/**
 * Every colleague who answers visitors, side by side.
 */
operators: Array<OperatorFigures>,
/**
 * Each greeting shown in the range: how often, and how many of those
 * showings a visitor answered (opening a conversation).
 */
greetings: Array<GreetingFigures>, };

/**
 * What a team member may do. Only `Admin` manages the team; `Admin` and
 * `Operator` answer visitors; `Marketer` and `Analyst` read.
 */
export type Role = "admin" | "operator" | "marketer" | "analyst";

/**
 * `GET /api/v1/search`: one found message, or a visitor whose name or email
 * matched (then `message` is null and `snippet` is the name or address).
 */
export type SearchHit = { conversation: Conversation, message: Message | null,
/**
 * A piece of the message around the first match (at most ~160
 * characters, `…` where it was cut), plain text.
 */
snippet: string,
/**
 * The words of `snippet` that matched the query, as they are written
 * there, for highlighting.
 */
matched: Array<string>, };

/**
 * One page of search results, newest first; `next` continues further back.
 */
export type SearchResults = { items: Array<SearchHit>, next: string | null, };

/**
 * Information about the signed-in account for the UI.
 */
export type SessionInfo = { server: string, account: string, user: User,
/**
 * Whether the token is kept in the OS keyring (false: only in memory).
 */
token_saved: boolean, };

export type SoundChoice = "chime" | "knock";

/**
 * What the page needs for its first screen, in one call (`startup`): the app's
 * settings, the session restored from the keyring, and the first rows of the
 * dialog list, so the main screen is built once, with its rows.
 */
export type Startup = { info: AppInfo,
/**
 * The saved session, when there is one (none: the sign-in screen).
 */
session: SessionInfo | null,
/**
 * Why the saved session could not be opened.
 */
restore_error: UiError | null,
/**
 * Positions `start..start + count` of the `all` list, when signed in.
 */
list: ConversationList | null, };

/**
 * What the UI receives for a failed command.
 */
export type UiError = { code: string, status: number | null, message: string, };

/**
 * A file on its way to the server, as the UI shows it (a composer chip, or a file
 * of a message still in the outbox).
 */
export type Upload = { local_id: string, name: string, content_type: string,
/**
 * Bytes.
 */
size: number, state: UploadState, };

export type UploadState = { "state": "waiting", reason: string | null, } | { "state": "uploading", sent: number, } | { "state": "done", attachment: Attachment, } | { "state": "failed", code: string, message: string, };

export type User = { id: number, email: string, name: string, role: Role, status: UserStatus, presence: Presence, avatar_url: string | null, locale: string, must_change_password: boolean, notifications: NotificationSettings,
/**
 * What the role may do beyond reading dialogs (`Role::may`), so a client
 * shows only that; empty from servers before it was sent.
 */
permissions: Array<Permission>, };

export type UserStatus = "invited" | "active";

/**
 * `GET /api/v1/visitors/{id}`: who the visitor is, as far as the widget
 * tells — shown beside the dialog.
 */
export type VisitorProfile = { id: number, name: string | null, email: string | null, language: string | null, time_zone: string | null,
/**
 * E.g. "Chrome 131", parsed from the User-Agent by the server.
 */
browser: string | null,
/**
 * E.g. "Windows 10".
 */
os: string | null, referrer: string | null,
/**
 * Only when the server keeps addresses (`--store-visitor-ip`).
 */
ip_address: string | null,
/**
 * The latest pages, newest first (at most 50 are kept).
 */
pages: Array<PageSeen>,
/**
 * This visitor's conversation and those of earlier visits with the
 * same email, newest first.
 */
conversations: Array<Conversation>, };

export type VisitorRef = { id: number, name: string | null, email: string | null,
/**
 * Email to this address bounced: nothing is emailed to it until the
 * visitor gives another.
 */
email_bouncing: boolean, };

/**
 * The widget's language: `auto` follows the visitor's browser.
 */
export type WidgetLanguage = "auto" | "ru" | "en";

/**
 * Which side of the page the widget's button sits on.
 */
export type WidgetPosition = "right" | "left";

/**
 * `GET`/`PUT /api/v1/widget-settings`: the widget as admins and marketers
 * shape it. Open widgets pick a change up at once (`widget` frame on their
 * stream). Empty texts mean the widget's own wording in the visitor's language.
 */
export type WidgetSettings = {
/**
 * The accent colour, `#rrggbb`.
 */
color: string,
/**
 * The chat window's title, at most 60 characters.
 */
title: string,
/**
 * The greeting line under the title, at most 500 characters.
 */
welcome: string,
/**
 * Shown instead of `welcome` while nobody is online, at most 500 characters.
 */
away_text: string, position: WidgetPosition,
/**
 * Ids of the colleagues whose faces the widget shows, in this order;
 * `null` shows everyone who answers visitors.
 */
faces: Array<number> | null, language: WidgetLanguage,
/**
 * Ask the visitor for an email to answer to when nobody is online.
 */
email_prompt: boolean,
/**
 * At most 20 rules.
 */
greetings: Array<GreetingRule>, };
