// localStorage that never throws: with storage blocked (privacy modes, sandboxed
// iframes) the widget keeps the values in memory for this page view.

import { isAttachment, type Attachment } from './types';

const memory = new Map<string, string>();

export const KEY_TOKEN = 'switchboard.visitor_token';
export const KEY_OUTBOX = 'switchboard.outbox';
export const KEY_EMAIL = 'switchboard.contact_email';
export const KEY_LAST_READ = 'switchboard.last_read';
export const KEY_OPEN = 'switchboard.open';
/** The widget's settings last received, so the next page starts with them. */
export const KEY_WIDGET = 'switchboard.widget';

export function load(key: string): string | null {
  try {
    const v = window.localStorage.getItem(key);
    if (v !== null) return v;
  } catch {
    /* fall through to memory */
  }
  return memory.has(key) ? (memory.get(key) as string) : null;
}

export function save(key: string, value: string | null): void {
  if (value === null) memory.delete(key);
  else memory.set(key, value);
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    /* memory only */
  }
}

export interface OutboxItem {
  client_id: string;
  /** May be empty when there are files. */
  body: string;
  at: number;
  /** The uploaded files the message carries (their ids are sent). */
  files?: Attachment[];
  /** The greeting this message answers (the visitor's first message after one showed). */
  greeting_id?: number;
}

/** Messages typed but not yet acknowledged by the server (survive a reload). */
export function loadOutbox(): OutboxItem[] {
  const raw = load(KEY_OUTBOX);
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    if (!Array.isArray(v)) return [];
    return v
      .filter(
        (x): x is OutboxItem =>
          typeof x === 'object' &&
          x !== null &&
          typeof (x as OutboxItem).client_id === 'string' &&
          typeof (x as OutboxItem).body === 'string',
      )
      .map((x) => ({
        ...x,
        files: Array.isArray(x.files) ? x.files.filter(isAttachment) : [],
        greeting_id: typeof x.greeting_id === 'number' ? x.greeting_id : undefined,
      }));
  } catch {
    return [];
  }
}

export function saveOutbox(items: OutboxItem[]): void {
  save(KEY_OUTBOX, items.length ? JSON.stringify(items) : null);
}
