// Generated from crates/protocol (Rust) by scripts/gen-types.sh: do not edit.
// The visitor side of API.md: what the widget sends and receives.

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

/**
 * Frames a client may send on a stream.
 */
export type ClientFrame = { "type": "typing", conversation_id: number | null, };

export type ErrorBody = { error: ErrorDetail, };

export type ErrorDetail = { code: string, message: string, };

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

export type NewMessage = {
/**
 * Plain text; stored trimmed and without NUL characters, 1 to 10,000
 * characters. (The patterns spell out Unicode's White_Space, which Rust
 * trims, rather than `\s`, which differs between regex engines.)
 */
body: string,
/**
 * The sender's id for this message (a UUID, say): a retry with the same
 * id returns the first message instead of a copy. 1 to 100 printable characters.
 */
client_id: string,
/**
 * Up to 10 files uploaded by the same sender and not sent yet; with
 * them the body may be empty.
 */
attachments?: Array<number>,
/**
 * Widget only: the greeting shown to this visitor that the message
 * answers. When the message opens a conversation, the greeting becomes
 * its first message (from the greeting's colleague); otherwise ignored.
 */
greeting_id?: number, };

/**
 * `POST /api/v1/widget/pageview`: the page a visitor is on, sent by the
 * widget on each navigation (browser and OS come from `User-Agent`).
 */
export type PageView = {
/**
 * An http(s) address, at most 2,000 characters.
 */
url: string, title?: string,
/**
 * Where the visitor came from (`document.referrer`), if anywhere.
 */
referrer?: string,
/**
 * The browser's language (`navigator.language`).
 */
language?: string,
/**
 * The visitor's IANA time zone; an unknown one is ignored.
 */
time_zone?: string, };

export type PublicGreeting = { id: number, url_pattern: string, delay_seconds: number, on_exit_intent: boolean, message: string, from: PublicOperator, per_visitor_cap: number, };

export type PublicOperator = { name: string, avatar_url: string | null, };

/**
 * The widget's settings as visitors' widgets receive them.
 */
export type PublicWidget = { color: string, title: string, welcome: string, away_text: string, position: WidgetPosition, language: WidgetLanguage, email_prompt: boolean,
/**
 * The faces to show (as `WidgetSession.operators`).
 */
operators: Array<PublicOperator>,
/**
 * The enabled greetings.
 */
greetings: Array<PublicGreeting>, };

/**
 * Frames of the websocket streams.
 */
export type StreamFrame = { "type": "ready", seq: number, } | { "type": "event", seq: number, event: string, data: unknown, } | { "type": "reset" } | { "type": "widget", widget: PublicWidget, };

export type WidgetContact = {
/**
 * Where replies go by email; empty clears it.
 */
email: string | null, name: string | null, };

/**
 * `GET /api/v1/widget/messages`: the visitor's conversation, oldest first.
 */
export type WidgetHistory = { items: Array<Message>, };

/**
 * The widget's language: `auto` follows the visitor's browser.
 */
export type WidgetLanguage = "auto" | "ru" | "en";

/**
 * Which side of the page the widget's button sits on.
 */
export type WidgetPosition = "right" | "left";

export type WidgetSession = { visitor_token: string, visitor_id: number,
/**
 * The colleagues whose faces the widget shows.
 */
operators: Array<PublicOperator>, online: boolean,
/**
 * How the widget looks and what it says (absent from older servers).
 */
widget?: PublicWidget, };

export type WidgetSessionRequest = { visitor_token: string | null, locale: string | null, };
