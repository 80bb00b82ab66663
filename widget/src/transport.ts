// The widget's side of the wire: the visitor session (start, refresh, renew when the
// token stops working), the history over REST, the live stream, sending the outbox
// (each message retried with the same client_id until the server keeps it or refuses
// it), file uploads, the contact email and typing frames. Results go back through `TransportHandlers`.

import { Api, ApiError, NetworkError, type Upload } from './api';
import type { Locale } from './i18n';
import type { WidgetState } from './state';
import * as store from './storage';
import { backoffDelay, Stream } from './stream';
import {
  isAttachment,
  isMessage,
  isObject,
  type Attachment,
  type Message,
  type MessageList,
  type PageView,
  type PublicWidget,
  type Session,
} from './types';

/** What the transport tells the widget. */
export interface TransportHandlers {
  /** A session answer (new or refreshed): who answers, whether they are online. */
  session(s: Session): void;
  /** Starting a session failed and is tried again; `first`: it was the first try. */
  sessionFailed(e: unknown, first: boolean): void;
  /** The token stopped working: a new visitor starts, the old one's messages go. */
  forgotten(): void;
  /** The stream is up (`true`) or down. */
  connected(connected: boolean): void;
  /** A stream event (`message.created`, `typing`, …). */
  event(name: string, data: unknown): void;
  /** The history arrived (oldest first). */
  history(items: Message[]): void;
  /** The server kept a send: its message. */
  delivered(m: Message): void;
  /** A send is done with but the answer was not a message. */
  dropped(clientId: string): void;
  /** The server refused a send for good. */
  refused(item: store.OutboxItem, e: ApiError): void;
  /** A send failed for now and will be tried again: the server was not reached
   *  (`offline`) or it answered "try later" (`server`: 503, 507, 429, …). */
  waiting(clientId: string, why: WaitReason): void;
  /** Something other than the network or the server went wrong while sending. */
  failed(e: unknown): void;
  /** The widget's settings changed while it is open (a stream frame). */
  widget(w: PublicWidget): void;
}

/** Why a send waits for its next try. */
export type WaitReason = 'offline' | 'server';

const TYPING_SEND_INTERVAL_MS = 2000;
const SESSION_REFRESH_MS = 60_000;

/** The server takes names of up to 200 characters: a longer one is shortened
 *  before its extension (by code points, so no character is cut in two). */
export function uploadName(name: string, max = 200): string {
  const chars = Array.from(name);
  if (chars.length <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? Array.from(name.slice(dot)) : [];
  return [...chars.slice(0, max - ext.length - 1), '…', ...ext].join('');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
}

export class WidgetTransport {
  private readonly api: Api;
  private readonly stream: Stream;

  private session: Session | null = null;
  private sessionPromise: Promise<Session> | null = null;
  private sessionAt = 0;
  private lastTypingSent = 0;
  /** The address last reported to the server (each is told once). */
  private reportedPage = '';

  constructor(
    private readonly base: string,
    /** The language the session is asked in (the widget's, which settings may force). */
    public locale: Locale,
    private readonly state: WidgetState,
    private readonly on: TransportHandlers,
  ) {
    this.api = new Api(base);
    this.stream = new Stream((since) => this.streamUrl(since), {
      ready: (resumed) => {
        this.on.connected(true);
        if (!resumed) void this.loadHistory();
        this.retryPending();
      },
      event: (name, data) => this.on.event(name, data),
      reset: () => void this.loadHistory(),
      state: (connected) => this.on.connected(connected),
      widget: (w) => this.on.widget(w),
    });
  }

  /** Whether the stream is up now. */
  get connected(): boolean {
    return this.stream.connected;
  }

  get hasSession(): boolean {
    return this.session !== null;
  }

  /** Whether a visitor token is stored (a returning visitor). */
  hasStoredToken(): boolean {
    return !!store.load(store.KEY_TOKEN);
  }

  // ---- session -----------------------------------------------------------

  ensureSession(): Promise<Session> {
    if (!this.sessionPromise) this.sessionPromise = this.startSession();
    return this.sessionPromise;
  }

  /** Asks again who answers when what is shown is older than a minute. */
  refreshIfStale(): void {
    if (this.session && Date.now() - this.sessionAt > SESSION_REFRESH_MS) void this.refreshSession();
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
        this.on.sessionFailed(e, attempt === 0);
        await sleep(
          e instanceof ApiError && e.retryAfterMs ? e.retryAfterMs : backoffDelay(attempt++, 1000, 30_000),
        );
      }
    }
  }

  private async postSession(token: string | null): Promise<Session> {
    const body: Record<string, string> = { locale: this.locale };
    if (token) body.visitor_token = token;
    const s = await this.api.call<Session>('POST', 'api/v1/widget/session', body);
    if (!isObject(s) || typeof s.visitor_token !== 'string' || !s.visitor_token) {
      throw new ApiError(502, 'bad_session', 'The server sent no visitor token');
    }
    return s;
  }

  async refreshSession(): Promise<void> {
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
    this.on.session(s);
    this.reportPage();
  }

  /**
   * Tells the server which page the visitor is on, so operators see it beside
   * the dialog: once per address, and only for a visitor with a session (one
   * who never opened the chat is not tracked). Browser and OS the server reads
   * from User-Agent; nothing here identifies the visitor beyond that.
   */
  reportPage(): void {
    if (!this.session) return;
    const url = window.location.href;
    if (url === this.reportedPage || !/^https?:\/\//.test(url)) return;
    this.reportedPage = url;
    const referrer = /^https?:\/\/\S+$/.test(document.referrer) ? document.referrer : undefined;
    let timeZone: string | undefined;
    try {
      timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
    } catch {
      /* an old browser: no zone */
    }
    const language = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(navigator.language) ? navigator.language : undefined;
    const page: PageView = {
      url: url.slice(0, 2000),
      title: Array.from(document.title.trim()).slice(0, 300).join(''),
      referrer: referrer && referrer.length <= 2000 ? referrer : undefined,
      language,
      time_zone: timeZone,
    };
    this.api.call('POST', 'api/v1/widget/pageview', page).catch(() => {
      // Not worth a retry loop: the next page tells again.
      this.reportedPage = '';
    });
  }

  /** Our token stopped working: forget this visitor and start a new one. */
  private renewSession(): void {
    if (!this.session) return;
    this.session = null;
    this.sessionPromise = null;
    this.api.token = null;
    store.save(store.KEY_TOKEN, null);
    this.stream.stop();
    this.stream.forget();
    this.on.forgotten();
    void this.ensureSession();
  }

  private streamUrl(since: number | null): string {
    const u = new URL('api/v1/widget/stream', this.base);
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
      this.on.history(items.filter((m) => isMessage(m)));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.renewSession();
      // Otherwise the stream's next `ready` loads it again.
    }
  }

  // ---- outgoing ----------------------------------------------------------

  /** Sends a typing frame, at most one every two seconds. */
  typing(): void {
    const now = Date.now();
    if (now - this.lastTypingSent >= TYPING_SEND_INTERVAL_MS) {
      if (this.stream.send({ type: 'typing', conversation_id: null })) this.lastTypingSent = now;
    }
  }

  /** Tries again every send that is not on its way now. */
  retryPending(): void {
    for (const [id, p] of this.state.pending) if (!p.inflight) void this.deliver(id);
  }

  /** POST one message; the same client_id on every try, so the server keeps one copy. */
  async deliver(clientId: string): Promise<void> {
    const p = this.state.pending.get(clientId);
    if (!p || p.inflight) return;
    p.inflight = true;
    window.clearTimeout(p.timer);
    try {
      await this.ensureSession();
      const ids = (p.item.files || []).map((f) => f.id);
      const m = await this.api.call<Message>('POST', 'api/v1/widget/messages', {
        body: p.item.body,
        client_id: clientId,
        // Left out when there are none, as NewMessage serializes it.
        ...(ids.length ? { attachments: ids } : {}),
        ...(p.item.greeting_id ? { greeting_id: p.item.greeting_id } : {}),
      });
      p.inflight = false;
      if (isMessage(m)) this.on.delivered(m);
      else this.on.dropped(clientId);
    } catch (e) {
      p.inflight = false;
      if (!this.state.pending.has(clientId)) return; // arrived over the stream meanwhile
      if (e instanceof ApiError && e.status === 401) {
        this.renewSession();
        p.timer = window.setTimeout(() => void this.deliver(clientId), 500);
        return;
      }
      if (e instanceof ApiError && !e.transient) {
        // Refused for good (too long, …): the widget gives the text and files back.
        this.on.refused(p.item, e);
        return;
      }
      if (!(e instanceof NetworkError) && !(e instanceof ApiError)) this.on.failed(e);
      p.attempt += 1;
      this.on.waiting(clientId, e instanceof ApiError ? 'server' : 'offline');
      const delay =
        e instanceof ApiError && e.retryAfterMs ? e.retryAfterMs : backoffDelay(p.attempt, 1000, 20_000);
      p.timer = window.setTimeout(() => void this.deliver(clientId), delay);
    }
  }

  /** Uploads one file for the next message (once there is a session); a 401
   *  starts a new visitor, so trying again works. */
  upload(file: File, progress: (share: number) => void): Upload<Attachment> {
    let current: Upload<Attachment> | null = null;
    let aborted = false;
    const promise = (async () => {
      await this.ensureSession();
      if (aborted) throw new NetworkError('upload aborted');
      // A pasted image may come without a name: "image.png".
      const ext = /^image\/(\w+)/.exec(file.type);
      const name = uploadName(file.name || (ext ? `image.${ext[1]}` : 'file'));
      current = this.api.upload<Attachment>(
        `api/v1/widget/attachments?name=${encodeURIComponent(name)}`,
        file,
        progress,
      );
      try {
        const a = await current.promise;
        if (!isAttachment(a)) throw new ApiError(502, 'bad_attachment', 'The server sent no attachment');
        return a;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) this.renewSession();
        throw e;
      }
    })();
    return {
      promise,
      abort: () => {
        aborted = true;
        current?.abort();
      },
    };
  }

  /** Asks before showing a greeting (the server counts each showing against
   *  the rule's cap): true to show it; false when it is capped (409), gone
   *  (404) or the server could not be asked. */
  async greetingShown(id: number): Promise<boolean> {
    try {
      await this.api.call<void>('POST', `api/v1/widget/greetings/${id}/shown`);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.renewSession();
      return false;
    }
  }

  async saveContact(email: string): Promise<void> {
    await this.ensureSession();
    await this.api.call<void>('PUT', 'api/v1/widget/contact', { email });
  }
}
