// The JSON shapes of API.md that the widget reads.

export type AuthorKind = 'visitor' | 'operator' | 'system';

export interface Author {
  kind: AuthorKind;
  id: number | null;
  name: string | null;
  avatar_url: string | null;
}

export interface Message {
  id: number;
  conversation_id: number;
  client_id: string | null;
  author: Author;
  /** Plain text: rendered with textContent only, never as HTML. */
  body: string;
  channel: 'chat' | 'email';
  /** Milliseconds since the Unix epoch. */
  created_at: number;
}

export interface PublicOperator {
  name: string;
  avatar_url: string | null;
}

export interface Session {
  visitor_token: string;
  visitor_id: number;
  operators: PublicOperator[];
  online: boolean;
}

export interface MessageList {
  items: Message[];
}

export type ServerFrame =
  | { type: 'ready'; seq: number }
  | { type: 'event'; seq?: number; event: string; data: unknown }
  | { type: 'reset' };

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when `v` looks like a message; the widget ignores anything else. */
export function isMessage(v: unknown): v is Message {
  return (
    isObject(v) &&
    typeof v.id === 'number' &&
    typeof v.body === 'string' &&
    isObject(v.author) &&
    typeof v.author.kind === 'string'
  );
}
