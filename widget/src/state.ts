// The widget's data and what it remembers across page loads: the messages shown,
// the sends not yet acknowledged (the outbox), what the visitor has read (the
// unread count), whether the panel was open, and the contact email. No DOM, no network.

import * as store from './storage';
import type { Attachment, Message } from './types';

/** A message typed by the visitor that the server has not acknowledged yet. */
export interface PendingSend {
  item: store.OutboxItem;
  /** Failed tries so far (for the backoff). */
  attempt: number;
  inflight: boolean;
  /** The next try, when one is scheduled. */
  timer?: number;
}

export function uuid(): string {
  const c = window.crypto;
  // randomUUID exists only in secure contexts (https, localhost).
  if (typeof c.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class WidgetState {
  /** Messages shown, by id. */
  readonly messages = new Map<number, Message>();
  /** Sends waiting for the server, by client_id, in the order they were typed. */
  readonly pending = new Map<string, PendingSend>();
  isOpen = false;
  /** The newest message id the visitor has seen. */
  private lastRead: number;

  constructor() {
    this.lastRead = Number(store.load(store.KEY_LAST_READ)) || 0;
  }

  // ---- the panel -----------------------------------------------------------

  /** The history has come at least once (so `messages` says whether there is a conversation). */
  historyKnown = false;

  /** Whether the panel was left open on an earlier page. */
  wasOpen(): boolean {
    return !!store.load(store.KEY_OPEN);
  }

  setOpen(open: boolean): void {
    this.isOpen = open;
    store.save(store.KEY_OPEN, open ? '1' : null);
  }

  // ---- messages and unread -------------------------------------------------

  hasMessage(id: number): boolean {
    return this.messages.has(id);
  }

  addMessage(m: Message): void {
    this.messages.set(m.id, m);
  }

  /** Nothing to show: no message, nothing being sent. */
  isEmpty(): boolean {
    return this.messages.size === 0 && this.pending.size === 0;
  }

  /** The visitor has seen every message shown. */
  markAllRead(): void {
    let max = this.lastRead;
    for (const id of this.messages.keys()) if (id > max) max = id;
    if (max !== this.lastRead) {
      this.lastRead = max;
      store.save(store.KEY_LAST_READ, String(max));
    }
  }

  /** Messages from the team the visitor has not seen yet. */
  unread(): number {
    let n = 0;
    for (const m of this.messages.values()) {
      if (m.id > this.lastRead && m.author.kind !== 'visitor') n++;
    }
    return n;
  }

  /** A new visitor: the old one's messages and read position are gone. */
  forgetVisitor(): void {
    store.save(store.KEY_LAST_READ, null);
    this.lastRead = 0;
    this.messages.clear();
  }

  // ---- the outbox ----------------------------------------------------------

  /** Messages typed on an earlier page and never acknowledged. */
  storedOutbox(): store.OutboxItem[] {
    return store.loadOutbox();
  }

  /** A message just typed (with the files uploaded for it): kept in the outbox
   *  before anything is sent. */
  queue(body: string, files: Attachment[], greetingId?: number): store.OutboxItem {
    const item: store.OutboxItem = { client_id: uuid(), body, at: Date.now(), files };
    if (greetingId) item.greeting_id = greetingId;
    store.saveOutbox([...store.loadOutbox(), item]);
    return item;
  }

  /** Starts tracking a send; false when it is tracked already. */
  addPending(item: store.OutboxItem): boolean {
    if (this.pending.has(item.client_id)) return false;
    this.pending.set(item.client_id, { item, attempt: 0, inflight: false });
    return true;
  }

  /** The send is done with (acknowledged or refused): stop retrying, leave the outbox. */
  dropPending(clientId: string): void {
    const p = this.pending.get(clientId);
    if (p) {
      window.clearTimeout(p.timer);
      this.pending.delete(clientId);
    }
    const outbox = store.loadOutbox();
    const rest = outbox.filter((x) => x.client_id !== clientId);
    if (rest.length !== outbox.length) store.saveOutbox(rest);
  }

  // ---- contact ---------------------------------------------------------------

  contactEmail(): string | null {
    return store.load(store.KEY_EMAIL);
  }

  saveContactEmail(email: string): void {
    store.save(store.KEY_EMAIL, email);
  }
}
