// The shapes the core sends (crates/protocol and crates/core).

export type Role = 'admin' | 'operator' | 'marketer' | 'analyst';
export const ROLES: Role[] = ['admin', 'operator', 'marketer', 'analyst'];
export type Presence = 'online' | 'away' | 'offline';

export interface User {
  id: number;
  email: string;
  name: string;
  role: Role;
  status: 'invited' | 'active';
  presence: Presence;
  avatar_url: string | null;
  locale: string;
  must_change_password: boolean;
  notifications: { sound: boolean; email: boolean };
}

/** Settings → Mail: the DNS records `switchboard-server mail dns` prints. */
export interface DnsRecord {
  name: string;
  type: 'TXT' | 'MX';
  value: string;
  purpose: string;
  /** False: part of the value is a guess or a placeholder to adapt first. */
  complete: boolean;
}

export interface DnsRecordCheck {
  record: DnsRecord;
  status: 'ok' | 'missing' | 'different' | 'error';
  found: string[];
}

export interface DnsCheck {
  records: DnsRecordCheck[];
}

export interface MailDns {
  signing_domain: string;
  reply_domain: string;
  selectors: string[];
  records: DnsRecord[];
}

export interface Author {
  kind: 'visitor' | 'operator' | 'system';
  id: number | null;
  name: string | null;
  avatar_url: string | null;
}

export interface Message {
  id: number;
  conversation_id: number;
  client_id: string | null;
  author: Author;
  body: string;
  channel: 'chat' | 'email';
  created_at: number;
}

export interface Conversation {
  id: number;
  status: 'open' | 'closed';
  /** `email_bouncing`: mail to that address bounced; nothing is emailed to it. */
  visitor: { id: number; name: string | null; email: string | null; email_bouncing?: boolean };
  assignee_id: number | null;
  last_message: Message | null;
  unread: number;
  created_at: number;
  updated_at: number;
}

export interface OutboxItem {
  client_id: string;
  conversation_id: number;
  body: string;
  created_at: number;
  failed: string | null;
}

export interface MessageLog {
  items: Message[];
  next: string | null;
  paged: boolean;
}

export type Filter = 'mine' | 'unassigned' | 'all' | 'closed';
export const FILTERS: Filter[] = ['mine', 'unassigned', 'all', 'closed'];

export type ConnState =
  | { state: 'connecting' }
  | { state: 'online' }
  | { state: 'offline'; retry_in_ms: number }
  | { state: 'stopped' };

export interface ConversationList {
  items: Conversation[];
  counts: Record<Filter, number>;
  unread_total: number;
  connection: ConnState;
}

export type SoundChoice = 'chime' | 'knock';

export interface LocalPrefs {
  sound: SoundChoice;
  volume: number;
  locale: string | null;
  away_after_minutes: number;
  start_at_login: boolean;
  close_to_tray: boolean;
  native_notifications: boolean;
}

export interface Account {
  server: string;
  email: string;
  user_id: number;
  name: string;
  /** The user allowed plain http:// to this server (not this computer). */
  allow_http: boolean;
}

export interface AppInfo {
  version: string;
  accounts: Account[];
  current: string | null;
  prefs: LocalPrefs;
}

export interface SessionInfo {
  server: string;
  account: string;
  user: User;
  token_saved: boolean;
}

export interface UiError {
  code: string;
  status: number | null;
  message: string;
}

export type CoreEvent =
  | { type: 'connection'; state: ConnState }
  | { type: 'reloaded' }
  | { type: 'conversation'; conversation: Conversation }
  | { type: 'message'; message: Message }
  | { type: 'outbox'; items: OutboxItem[] }
  | { type: 'typing'; conversation_id: number | null; data: Record<string, unknown> }
  | { type: 'me'; user: User }
  | { type: 'team'; members: User[] }
  | { type: 'unread'; total: number }
  | { type: 'open_conversation'; conversation_id: number }
  | { type: 'warning'; code: string; message: string }
  /** The server ended the session (close code 4401 or an HTTP 401); the token is gone.
   *  `code`: session_ended, unauthorized, session_expired, password_expired, … */
  | { type: 'signed_out'; code: string; reason: string };

export function isUiError(e: unknown): e is UiError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}
