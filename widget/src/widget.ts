// The widget: a launcher, a chat panel in a shadow root, and the plumbing that
// keeps it in step with the server (REST for history and sending, a websocket
// for live updates, an outbox so nothing typed is lost).

import { Api, ApiError, NetworkError } from './api';
import { avatar, el, icon, ICON_CHAT, ICON_CLOSE, ICON_DOWN, ICON_SEND } from './dom';
import type { Locale, Strings } from './i18n';
import { stringsFor } from './i18n';
import * as store from './storage';
import { backoffDelay, Stream } from './stream';
import { isMessage, isObject, type Message, type MessageList, type Session } from './types';
import css from './widget.css';

export interface WidgetOptions {
  /** Server base URL ending with '/', e.g. "https://chat.example.com/". */
  base: string;
  locale: Locale;
  /** CSS colour for the launcher, header and the visitor's bubbles. */
  accent?: string | null;
}

interface Pending {
  item: store.OutboxItem;
  row: HTMLElement;
  meta: HTMLElement;
  attempt: number;
  inflight: boolean;
  timer?: number;
}

const TYPING_SEND_INTERVAL_MS = 2000;
const TYPING_SHOW_MS = 5000;
const SESSION_REFRESH_MS = 60_000;
const OFFLINE_BANNER_DELAY_MS = 4000;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
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

function toMillis(v: unknown): number {
  if (typeof v === 'number') return v < 1e12 ? v * 1000 : v;
  if (typeof v === 'string') return Date.parse(v);
  return NaN;
}

export class Widget {
  private readonly api: Api;
  private readonly t: Strings;
  private readonly stream: Stream;

  private readonly wrap: HTMLElement;
  private readonly launcher: HTMLButtonElement;
  private readonly badge: HTMLElement;
  private readonly panel: HTMLElement;
  private readonly team: HTMLElement;
  private readonly names: HTMLElement;
  private readonly status: HTMLElement;
  private readonly connBanner: HTMLElement;
  private readonly errBanner: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly typing: HTMLElement;
  private readonly contact: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendBtn: HTMLButtonElement;

  private session: Session | null = null;
  private sessionPromise: Promise<Session> | null = null;
  private sessionAt = 0;
  private readonly messages = new Map<number, { m: Message; row: HTMLElement }>();
  private readonly pending = new Map<string, Pending>();
  private isOpen = false;
  private lastRead: number;
  private lastTypingSent = 0;
  private typingTimer: number | undefined;
  private errTimer: number | undefined;
  private offlineTimer: number | undefined;

  constructor(
    host: HTMLElement,
    private readonly opts: WidgetOptions,
  ) {
    this.api = new Api(opts.base);
    this.t = stringsFor(opts.locale);
    this.lastRead = Number(store.load(store.KEY_LAST_READ)) || 0;
    const t = this.t;

    const root = host.attachShadow({ mode: 'open' });
    // A constructed stylesheet is not an inline <style>, so a shop's strict
    // Content-Security-Policy (style-src without 'unsafe-inline') allows it.
    let adopted = false;
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
      adopted = true;
    } catch {
      /* older browsers */
    }
    if (!adopted) {
      const style = el('style');
      style.textContent = css;
      root.appendChild(style);
    }

    this.wrap = el('div', 'sb');
    this.wrap.lang = opts.locale;
    if (opts.accent) this.wrap.style.setProperty('--sb-accent', opts.accent);
    root.appendChild(this.wrap);

    // Panel
    this.panel = el('div', 'sb-panel');
    this.panel.hidden = true;
    this.panel.setAttribute('role', 'dialog');
    this.panel.setAttribute('aria-label', t.title);

    const header = el('div', 'sb-header');
    this.team = el('div', 'sb-team');
    const heading = el('div', 'sb-heading');
    heading.appendChild(el('div', 'sb-title', t.title));
    this.names = el('div', 'sb-names');
    this.names.hidden = true;
    this.status = el('div', 'sb-status', t.connecting);
    heading.append(this.names, this.status);
    const closeBtn = el('button', 'sb-icon-btn sb-close');
    closeBtn.type = 'button';
    closeBtn.setAttribute('aria-label', t.close);
    closeBtn.title = t.close;
    closeBtn.appendChild(icon(ICON_CLOSE));
    closeBtn.addEventListener('click', () => this.close());
    header.append(this.team, heading, closeBtn);

    this.connBanner = el('div', 'sb-banner sb-conn');
    this.connBanner.hidden = true;
    this.connBanner.setAttribute('role', 'status');
    this.errBanner = el('div', 'sb-banner sb-error');
    this.errBanner.dataset.kind = 'error';
    this.errBanner.hidden = true;
    this.errBanner.setAttribute('role', 'alert');

    this.list = el('div', 'sb-msgs');
    this.list.setAttribute('role', 'log');
    this.list.setAttribute('aria-live', 'polite');
    this.empty = el('div', 'sb-empty', t.empty);
    this.list.appendChild(this.empty);

    this.typing = el('div', 'sb-typing');
    this.typing.hidden = true;
    this.typing.setAttribute('aria-live', 'polite');

    this.contact = el('div', 'sb-contact');
    this.renderContact();

    const composer = el('form', 'sb-composer');
    this.input = el('textarea', 'sb-input');
    this.input.rows = 1;
    this.input.placeholder = t.placeholder;
    this.input.setAttribute('aria-label', t.placeholder);
    this.sendBtn = el('button', 'sb-send');
    this.sendBtn.type = 'submit';
    this.sendBtn.disabled = true;
    this.sendBtn.setAttribute('aria-label', t.send);
    this.sendBtn.title = t.send;
    this.sendBtn.appendChild(icon(ICON_SEND));
    composer.append(this.input, this.sendBtn);
    composer.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => this.onInput());

    this.panel.append(
      header,
      this.connBanner,
      this.errBanner,
      this.list,
      this.typing,
      this.contact,
      composer,
    );
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
    });

    // Launcher
    this.launcher = el('button', 'sb-launcher');
    this.launcher.type = 'button';
    this.launcher.setAttribute('aria-haspopup', 'dialog');
    this.launcher.setAttribute('aria-expanded', 'false');
    this.badge = el('span', 'sb-badge');
    this.badge.hidden = true;
    this.launcher.addEventListener('click', () => this.toggle());
    this.renderLauncher();

    this.wrap.append(this.panel, this.launcher);

    this.stream = new Stream((since) => this.streamUrl(since), {
      ready: (resumed) => {
        this.setOffline(false);
        if (!resumed) void this.loadHistory();
        this.retryPending();
      },
      event: (name, data) => this.onEvent(name, data),
      reset: () => void this.loadHistory(),
      state: (connected) => this.setOffline(!connected),
    });

    window.addEventListener('online', () => this.retryPending());
    document.addEventListener('visibilitychange', () => this.markRead());

    // Messages typed on an earlier page and never acknowledged: show them and send again.
    const outbox = store.loadOutbox();
    for (const item of outbox) this.addPending(item);

    // A returning visitor is connected at once (so an answer shows on the
    // launcher); a new one only when they open the chat.
    if (store.load(store.KEY_TOKEN) || outbox.length) void this.ensureSession();
    if (store.load(store.KEY_OPEN)) this.open(false);
  }

  // ---- open / close ----------------------------------------------------

  open(focus = true): void {
    if (!this.isOpen) {
      this.isOpen = true;
      this.panel.hidden = false;
      this.wrap.classList.add('sb-open');
      store.save(store.KEY_OPEN, '1');
      this.renderLauncher();
    }
    void this.ensureSession();
    if (this.session && Date.now() - this.sessionAt > SESSION_REFRESH_MS) void this.refreshSession();
    this.scrollToEnd();
    this.markRead();
    if (focus && window.matchMedia('(pointer: fine)').matches) this.input.focus();
  }

  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.panel.hidden = true;
    this.wrap.classList.remove('sb-open');
    store.save(store.KEY_OPEN, null);
    this.renderLauncher();
    this.launcher.focus();
  }

  toggle(): void {
    if (this.isOpen) this.close();
    else this.open();
  }

  private renderLauncher(): void {
    this.launcher.replaceChildren(icon(this.isOpen ? ICON_DOWN : ICON_CHAT), this.badge);
    this.launcher.setAttribute('aria-expanded', String(this.isOpen));
    this.launcher.title = this.isOpen ? this.t.close : this.t.open;
    this.updateBadge();
  }

  // ---- session -----------------------------------------------------------

  private ensureSession(): Promise<Session> {
    if (!this.sessionPromise) this.sessionPromise = this.startSession();
    return this.sessionPromise;
  }

  private async startSession(): Promise<Session> {
    let attempt = 0;
    let dropped = false;
    for (;;) {
      const stored = store.load(store.KEY_TOKEN);
      try {
        const s = await this.postSession(stored);
        this.applySession(s);
        this.stream.start();
        void this.loadHistory();
        this.retryPending();
        return s;
      } catch (e) {
        if (e instanceof ApiError && !e.transient && stored && !dropped) {
          // The server refuses our token: start over as a new visitor.
          dropped = true;
          store.save(store.KEY_TOKEN, null);
          continue;
        }
        if (e instanceof ApiError && !e.transient) this.showError(this.describe(e));
        this.showConn(attempt === 0 ? this.t.connecting : this.t.noConnection);
        await sleep(
          e instanceof ApiError && e.retryAfterMs ? e.retryAfterMs : backoffDelay(attempt++, 1000, 30_000),
        );
      }
    }
  }

  private async postSession(token: string | null): Promise<Session> {
    const body: Record<string, string> = { locale: this.opts.locale };
    if (token) body.visitor_token = token;
    const s = await this.api.call<Session>('POST', 'api/v1/widget/session', body);
    if (!isObject(s) || typeof s.visitor_token !== 'string' || !s.visitor_token) {
      throw new ApiError(502, 'bad_session', 'The server sent no visitor token');
    }
    return s;
  }

  private async refreshSession(): Promise<void> {
    const token = this.api.token;
    if (!token) return;
    try {
      const s = await this.postSession(token);
      if (s.visitor_token === token) this.applySession(s);
    } catch {
      /* keep what we show */
    }
  }

  private applySession(s: Session): void {
    this.session = s;
    this.sessionAt = Date.now();
    store.save(store.KEY_TOKEN, s.visitor_token);
    this.api.token = s.visitor_token;
    this.hideConn();

    const ops = Array.isArray(s.operators) ? s.operators.filter((o) => isObject(o)) : [];
    this.team.replaceChildren(
      ...ops.slice(0, 3).map((o) => avatar(o.name || null, o.avatar_url, this.opts.base)),
    );
    const named = ops.map((o) => (o.name || '').trim()).filter(Boolean);
    if (named.length) {
      const shown = named.slice(0, 3).join(', ');
      this.names.textContent = named.length > 3 ? `${shown} ${this.t.andMore(named.length - 3)}` : shown;
      this.names.hidden = false;
    } else {
      this.names.hidden = true;
    }
    const online = s.online === true;
    this.status.dataset.online = String(online);
    this.status.textContent = online ? this.t.online : this.t.offline;
  }

  /** Our token stopped working: forget this visitor and start a new one. */
  private renewSession(): void {
    if (!this.session) return;
    this.session = null;
    this.sessionPromise = null;
    this.api.token = null;
    store.save(store.KEY_TOKEN, null);
    store.save(store.KEY_LAST_READ, null);
    this.lastRead = 0;
    this.stream.stop();
    this.stream.forget();
    for (const { row } of this.messages.values()) row.remove();
    this.messages.clear();
    this.updateEmpty();
    void this.ensureSession();
  }

  private streamUrl(since: number | null): string {
    const u = new URL('api/v1/widget/stream', this.opts.base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('visitor_token', this.api.token || '');
    if (since !== null) u.searchParams.set('since', String(since));
    return u.href;
  }

  // ---- incoming ----------------------------------------------------------

  private async loadHistory(): Promise<void> {
    if (!this.api.token) return;
    try {
      const res = await this.api.call<MessageList>('GET', 'api/v1/widget/messages');
      const items = isObject(res) && Array.isArray(res.items) ? res.items : [];
      for (const m of items) if (isMessage(m)) this.addMessage(m);
      this.scrollToEnd();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.renewSession();
      // Otherwise the stream's next `ready` loads it again.
    }
  }

  private onEvent(name: string, data: unknown): void {
    switch (name) {
      case 'message.created':
        if (isMessage(data)) this.addMessage(data);
        break;
      case 'typing':
        this.showTyping(data);
        break;
      case 'team.updated':
        void this.refreshSession();
        break;
      default:
        break;
    }
  }

  private showTyping(data: unknown): void {
    const d = isObject(data) ? data : {};
    const who = isObject(d.author) ? d.author : isObject(d.user) ? d.user : d;
    const kind = typeof who.kind === 'string' ? who.kind : null;
    if (kind === 'visitor') return; // our own typing echoed back
    const name = typeof who.name === 'string' && who.name.trim() ? who.name.trim() : null;
    this.typing.textContent = name ? this.t.typingNamed(name) : this.t.typing;
    this.typing.hidden = false;
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(() => this.hideTyping(), TYPING_SHOW_MS);
  }

  private hideTyping(): void {
    window.clearTimeout(this.typingTimer);
    this.typing.hidden = true;
  }

  private addMessage(m: Message): void {
    if (m.client_id) this.dropPending(m.client_id);
    if (this.messages.has(m.id)) return;
    const stick = this.nearEnd() || m.author.kind === 'visitor';
    const row = this.renderMessage(m);
    // Keep the list ordered by id; pending messages stay last.
    let before: HTMLElement | null = null;
    let beforeId = Infinity;
    for (const other of this.messages.values()) {
      if (other.m.id > m.id && other.m.id < beforeId) {
        before = other.row;
        beforeId = other.m.id;
      }
    }
    if (!before) before = this.firstPendingRow();
    this.list.insertBefore(row, before);
    this.messages.set(m.id, { m, row });
    if (m.author.kind !== 'visitor') this.hideTyping();
    this.updateEmpty();
    if (stick) this.scrollToEnd();
    this.markRead();
  }

  private renderMessage(m: Message): HTMLElement {
    const kind = m.author.kind === 'visitor' || m.author.kind === 'system' ? m.author.kind : 'operator';
    const row = el('div', 'sb-msg');
    row.dataset.kind = kind;
    row.dataset.id = String(m.id);
    const col = el('div', 'sb-col');
    if (kind === 'operator') {
      const name = (m.author.name || '').trim() || this.t.operator;
      row.appendChild(avatar(name, m.author.avatar_url, this.opts.base));
      col.appendChild(el('div', 'sb-author', name));
    }
    col.appendChild(el('div', 'sb-bubble', m.body));
    const meta = [this.formatTime(m.created_at)];
    if (m.channel === 'email') meta.push(this.t.viaEmail);
    col.appendChild(el('div', 'sb-meta', meta.filter(Boolean).join(' · ')));
    row.appendChild(col);
    return row;
  }

  private formatTime(v: unknown): string {
    const ms = toMillis(v);
    if (!Number.isFinite(ms)) return '';
    const d = new Date(ms);
    const time = d.toLocaleTimeString(this.opts.locale, { hour: 'numeric', minute: '2-digit' });
    if (d.toDateString() === new Date().toDateString()) return time;
    return `${d.toLocaleDateString(this.opts.locale, { day: 'numeric', month: 'short' })}, ${time}`;
  }

  // ---- outgoing ----------------------------------------------------------

  private onInput(): void {
    this.autosize();
    const has = this.input.value.trim().length > 0;
    this.sendBtn.disabled = !has;
    const now = Date.now();
    if (has && now - this.lastTypingSent >= TYPING_SEND_INTERVAL_MS) {
      if (this.stream.send({ type: 'typing', conversation_id: null })) this.lastTypingSent = now;
    }
  }

  private autosize(): void {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 140)}px`;
  }

  private submit(): void {
    const body = this.input.value.trim();
    if (!body) return;
    const item: store.OutboxItem = { client_id: uuid(), body, at: Date.now() };
    store.saveOutbox([...store.loadOutbox(), item]);
    this.input.value = '';
    this.onInput();
    this.hideError();
    this.addPending(item);
    this.scrollToEnd();
    void this.deliver(item.client_id);
  }

  private addPending(item: store.OutboxItem): void {
    if (this.pending.has(item.client_id)) return;
    const row = el('div', 'sb-msg sb-pending');
    row.dataset.kind = 'visitor';
    row.dataset.clientId = item.client_id;
    const col = el('div', 'sb-col');
    col.appendChild(el('div', 'sb-bubble', item.body));
    const meta = el('div', 'sb-meta', this.t.sending);
    col.appendChild(meta);
    row.appendChild(col);
    this.list.appendChild(row);
    this.pending.set(item.client_id, { item, row, meta, attempt: 0, inflight: false });
    this.updateEmpty();
  }

  private dropPending(clientId: string): void {
    const p = this.pending.get(clientId);
    if (p) {
      window.clearTimeout(p.timer);
      p.row.remove();
      this.pending.delete(clientId);
    }
    const outbox = store.loadOutbox();
    const rest = outbox.filter((x) => x.client_id !== clientId);
    if (rest.length !== outbox.length) store.saveOutbox(rest);
    this.updateEmpty();
  }

  private firstPendingRow(): HTMLElement | null {
    for (const p of this.pending.values()) return p.row;
    return null;
  }

  private retryPending(): void {
    for (const [id, p] of this.pending) if (!p.inflight) void this.deliver(id);
  }

  /** POST one message; the same client_id on every try, so the server keeps one copy. */
  private async deliver(clientId: string): Promise<void> {
    const p = this.pending.get(clientId);
    if (!p || p.inflight) return;
    p.inflight = true;
    window.clearTimeout(p.timer);
    try {
      await this.ensureSession();
      const m = await this.api.call<Message>('POST', 'api/v1/widget/messages', {
        body: p.item.body,
        client_id: clientId,
      });
      p.inflight = false;
      if (isMessage(m)) this.addMessage(m);
      else this.dropPending(clientId);
    } catch (e) {
      p.inflight = false;
      if (!this.pending.has(clientId)) return; // arrived over the stream meanwhile
      if (e instanceof ApiError && e.status === 401) {
        this.renewSession();
        p.timer = window.setTimeout(() => void this.deliver(clientId), 500);
        return;
      }
      if (e instanceof ApiError && !e.transient) {
        // Refused for good (too long, …): give the text back so it is not lost.
        this.dropPending(clientId);
        const current = this.input.value.trim();
        this.input.value = current ? `${p.item.body}\n${current}` : p.item.body;
        this.onInput();
        this.showError(this.describe(e));
        return;
      }
      if (!(e instanceof NetworkError) && !(e instanceof ApiError)) {
        this.showError(`${this.t.failed}: ${String(e)}`);
      }
      p.attempt += 1;
      p.meta.textContent = this.t.waiting;
      const delay =
        e instanceof ApiError && e.retryAfterMs ? e.retryAfterMs : backoffDelay(p.attempt, 1000, 20_000);
      p.timer = window.setTimeout(() => void this.deliver(clientId), delay);
    }
  }

  // ---- contact -----------------------------------------------------------

  private renderContact(editing = false): void {
    const t = this.t;
    const saved = store.load(store.KEY_EMAIL);
    if (saved && !editing) {
      const line = el('div', 'sb-contact-saved');
      line.append(el('span', '', '✓'), el('b', '', saved), el('span', '', `— ${t.emailSaved}`));
      const change = el('button', 'sb-link', t.emailChange);
      change.type = 'button';
      change.addEventListener('click', () => {
        this.renderContact(true);
        (this.contact.querySelector('.sb-email') as HTMLInputElement | null)?.focus();
      });
      line.appendChild(change);
      this.contact.replaceChildren(line);
      return;
    }
    const form = el('form', 'sb-contact-form');
    form.noValidate = true;
    const id = 'sb-email';
    const label = el('label', '', t.emailLabel);
    label.htmlFor = id;
    const row = el('div', 'sb-contact-row');
    const input = el('input', 'sb-email');
    input.id = id;
    input.type = 'email';
    input.name = 'email';
    input.autocomplete = 'email';
    input.inputMode = 'email';
    input.placeholder = t.emailPlaceholder;
    input.maxLength = 254;
    if (saved) input.value = saved;
    const btn = el('button', 'sb-email-save', t.emailSave);
    btn.type = 'submit';
    const err = el('div', 'sb-contact-error');
    err.hidden = true;
    err.setAttribute('role', 'alert');
    row.append(input, btn);
    form.append(label, row, err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.saveContact(input, btn, err);
    });
    this.contact.replaceChildren(form);
  }

  private async saveContact(
    input: HTMLInputElement,
    btn: HTMLButtonElement,
    err: HTMLElement,
  ): Promise<void> {
    const email = input.value.trim();
    err.hidden = true;
    if (!EMAIL_RE.test(email)) {
      err.textContent = this.t.emailInvalid;
      err.hidden = false;
      input.focus();
      return;
    }
    btn.disabled = true;
    try {
      await this.ensureSession();
      await this.api.call<void>('PUT', 'api/v1/widget/contact', { email });
      store.save(store.KEY_EMAIL, email);
      this.renderContact();
    } catch (e) {
      btn.disabled = false;
      err.textContent =
        e instanceof ApiError
          ? e.status === 400 || e.status === 422
            ? this.t.emailInvalid
            : this.describe(e)
          : this.t.noConnection;
      err.hidden = false;
    }
  }

  // ---- state shown -------------------------------------------------------

  private describe(e: ApiError): string {
    if (e.status === 413 || /too_(long|large|big)|length/.test(e.code)) return this.t.tooLong;
    if (e.status === 429) return this.t.tooMany;
    return `${this.t.failed}: ${e.message}`;
  }

  private showError(text: string): void {
    this.errBanner.textContent = text;
    this.errBanner.hidden = false;
    window.clearTimeout(this.errTimer);
    this.errTimer = window.setTimeout(() => this.hideError(), 10_000);
  }

  private hideError(): void {
    window.clearTimeout(this.errTimer);
    this.errBanner.hidden = true;
  }

  private showConn(text: string): void {
    this.connBanner.textContent = text;
    this.connBanner.hidden = false;
  }

  private hideConn(): void {
    this.connBanner.hidden = true;
  }

  private setOffline(offline: boolean): void {
    window.clearTimeout(this.offlineTimer);
    if (!offline) {
      if (this.session) this.hideConn();
      return;
    }
    // Brief reconnects are not worth a banner.
    this.offlineTimer = window.setTimeout(() => {
      if (!this.stream.connected) this.showConn(this.t.noConnection);
    }, OFFLINE_BANNER_DELAY_MS);
  }

  private updateEmpty(): void {
    this.empty.hidden = this.messages.size > 0 || this.pending.size > 0;
  }

  private nearEnd(): boolean {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  private scrollToEnd(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }

  private markRead(): void {
    if (this.isOpen && document.visibilityState === 'visible') {
      let max = this.lastRead;
      for (const id of this.messages.keys()) if (id > max) max = id;
      if (max !== this.lastRead) {
        this.lastRead = max;
        store.save(store.KEY_LAST_READ, String(max));
      }
    }
    this.updateBadge();
  }

  private updateBadge(): void {
    let n = 0;
    for (const { m } of this.messages.values()) {
      if (m.id > this.lastRead && m.author.kind !== 'visitor') n++;
    }
    const show = n > 0 && !this.isOpen;
    this.badge.textContent = n > 99 ? '99+' : String(n);
    this.badge.hidden = !show;
    const label = this.isOpen ? this.t.close : this.t.open;
    this.launcher.setAttribute('aria-label', show ? `${label} (${this.t.unread(n)})` : label);
  }
}
