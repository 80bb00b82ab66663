// The UI's state, fed by commands and core events.
import { api, onCoreEvent } from './api';
import { signedOutKey } from './format';
import { pickLocale, translate, type Key, type Locale } from './i18n';
import type {
  AppInfo,
  ConnState,
  Conversation,
  CoreEvent,
  Filter,
  LocalPrefs,
  Message,
  OutboxItem,
  SessionInfo,
  User,
} from './types';
import { FILTERS, isUiError } from './types';

export type Screen = 'loading' | 'signin' | 'password' | 'main';
export type View = 'dialogs' | 'settings';

export interface Toast {
  id: number;
  text: string;
  kind: 'error' | 'info';
}

/** The `author` of a typing event's `data`, which may be any JSON. */
function typingAuthor(data: unknown): { kind?: unknown; id?: unknown; name?: unknown } {
  if (typeof data !== 'object' || data === null || !('author' in data)) return {};
  const a = data.author;
  return typeof a === 'object' && a !== null ? (a as { kind?: unknown; id?: unknown; name?: unknown }) : {};
}

class Store {
  screen = $state<Screen>('loading');
  view = $state<View>('dialogs');
  info = $state<AppInfo | null>(null);
  prefs = $state<LocalPrefs | null>(null);
  session = $state<SessionInfo | null>(null);
  user = $state<User | null>(null);
  locale = $state<Locale>('en');
  filter = $state<Filter>('all');
  list = $state<Conversation[]>([]);
  counts = $state<Record<Filter, number>>({ mine: 0, unassigned: 0, all: 0, closed: 0 });
  unreadTotal = $state(0);
  connection = $state<ConnState>({ state: 'connecting' });
  selected = $state<number | null>(null);
  messages = $state<Message[]>([]);
  olderCursor = $state<string | null>(null);
  outbox = $state<OutboxItem[]>([]);
  team = $state<User[]>([]);
  typing = $state<Record<number, { until: number; name: string | null }>>({});
  toasts = $state<Toast[]>([]);
  closedMore = $state(false);
  /** Why the server signed us out, shown on the sign-in screen until the next sign-in. */
  signedOutNotice = $state<string | null>(null);
  private toastId = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  t = (key: Key, params: Record<string, string | number> = {}): string =>
    translate(this.locale, key, params);

  toast(text: string, kind: 'error' | 'info' = 'error'): void {
    const id = ++this.toastId;
    this.toasts = [...this.toasts, { id, text, kind }];
    setTimeout(() => this.dismiss(id), kind === 'error' ? 9000 : 4000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  errorText(e: unknown): string {
    if (isUiError(e)) {
      if (e.code === 'network') return this.t('signin.unreachable');
      if (e.code === 'insecure_http') return this.t('signin.insecure');
      if (e.code === 'password_change_required') {
        // the server lets nothing else through until the emailed password is replaced
        this.requirePasswordChange();
        return this.t('password.explain');
      }
      if (e.status === 403) return this.t('error.forbidden');
      if (e.status === 429) return this.t('error.tooMany');
      return e.message;
    }
    return String(e);
  }

  fail(e: unknown): void {
    this.toast(this.errorText(e));
  }

  applyLocale(): void {
    const l = pickLocale(this.prefs?.locale ?? null, navigator.languages ?? [navigator.language]);
    this.locale = l;
    document.documentElement.lang = l;
  }

  async start(): Promise<void> {
    await onCoreEvent((e) => this.onEvent(e));
    this.info = await api.appInfo();
    this.prefs = this.info.prefs;
    this.applyLocale();
    try {
      const s = await api.restore();
      if (s) {
        this.enter(s);
        return;
      }
    } catch (e) {
      this.fail(e);
    }
    this.screen = 'signin';
  }

  enter(s: SessionInfo): void {
    this.signedOutNotice = null;
    this.session = s;
    this.user = s.user;
    this.view = 'dialogs';
    this.filter = 'all';
    this.selected = null;
    this.messages = [];
    this.screen = s.user.must_change_password ? 'password' : 'main';
    if (!s.token_saved) this.toast(this.t('app.keyringMissing'), 'info');
    void this.refreshList();
    void api.outbox().then((o) => (this.outbox = o)).catch(() => {});
  }

  /** The user still has the emailed password: only the change-password screen works. */
  requirePasswordChange(): void {
    if (this.user && !this.user.must_change_password) {
      this.user = { ...this.user, must_change_password: true };
    }
    if (this.screen === 'main') this.screen = 'password';
  }

  async signOut(): Promise<void> {
    try {
      await api.signOut();
    } catch (e) {
      this.fail(e);
    }
    this.session = null;
    this.user = null;
    this.selected = null;
    this.messages = [];
    this.list = [];
    this.info = await api.appInfo();
    this.screen = 'signin';
  }

  async refreshList(): Promise<void> {
    if (!this.session) return;
    try {
      const l = await api.listConversations(this.filter);
      this.list = l.items;
      // the core sends a string-keyed map: a filter it left out counts 0
      const counts = { ...this.counts };
      for (const f of FILTERS) counts[f] = l.counts[f] ?? 0;
      this.counts = counts;
      this.unreadTotal = l.unread_total;
      this.connection = l.connection;
    } catch (e) {
      this.fail(e);
    }
  }

  scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshList();
    }, 150);
  }

  async setFilter(f: Filter): Promise<void> {
    this.filter = f;
    await this.refreshList();
    if (f === 'closed') {
      try {
        this.closedMore = await api.loadClosed(false);
        await this.refreshList();
      } catch {
        /* offline: the cached closed dialogs are shown */
      }
    }
  }

  async moreClosed(): Promise<void> {
    try {
      this.closedMore = await api.loadClosed(true);
      await this.refreshList();
    } catch (e) {
      this.fail(e);
    }
  }

  async select(id: number | null): Promise<void> {
    this.selected = id;
    this.messages = [];
    this.olderCursor = null;
    void api.setView(id);
    if (id === null) return;
    try {
      const cached = await api.cachedMessages(id);
      if (this.selected === id) this.messages = cached.items;
      const fresh = await api.getMessages(id);
      if (this.selected === id) {
        this.messages = fresh.items;
        this.olderCursor = fresh.next;
      }
      await api.markRead(id);
    } catch (e) {
      if (this.selected === id) this.fail(e);
    }
  }

  async older(): Promise<void> {
    const id = this.selected;
    if (id === null) return;
    try {
      const log = await api.olderMessages(id);
      if (this.selected === id) {
        this.messages = log.items;
        this.olderCursor = log.next;
      }
    } catch (e) {
      this.fail(e);
    }
  }

  selectedConversation(): Conversation | null {
    return this.list.find((c) => c.id === this.selected) ?? null;
  }

  onEvent(e: CoreEvent): void {
    switch (e.type) {
      case 'connection':
        this.connection = e.state;
        break;
      case 'reloaded':
        this.scheduleRefresh();
        if (this.selected !== null) void this.select(this.selected);
        break;
      case 'conversation': {
        const i = this.list.findIndex((c) => c.id === e.conversation.id);
        if (i >= 0) this.list[i] = e.conversation;
        this.scheduleRefresh();
        break;
      }
      case 'message':
        if (e.message.conversation_id === this.selected) {
          if (!this.messages.some((m) => m.id === e.message.id)) {
            this.messages = [...this.messages, e.message];
          }
          if (e.message.author.kind === 'visitor' && document.hasFocus()) {
            void api.markRead(e.message.conversation_id).catch(() => {});
          }
          const tp = { ...this.typing };
          delete tp[e.message.conversation_id];
          this.typing = tp;
        }
        break;
      case 'outbox':
        this.outbox = e.items;
        break;
      case 'typing':
        if (e.conversation_id !== null) {
          // {conversation_id, author: {kind, id, name}}; our own typing is not shown
          const author = typingAuthor(e.data);
          if (author.kind === 'operator' && author.id === this.user?.id) break;
          const name = author.kind === 'visitor' || typeof author.name !== 'string' ? null : author.name;
          this.typing = { ...this.typing, [e.conversation_id]: { until: Date.now() + 5000, name } };
        }
        break;
      case 'me':
        this.user = e.user;
        if (this.session) this.session = { ...this.session, user: e.user };
        // the same flag decides the screen at sign-in, on a 403 password_change_required
        // and here: set again (e.g. by the server) → the password screen; cleared
        // elsewhere (the cabinet) → back to work
        if (e.user.must_change_password) this.requirePasswordChange();
        else if (this.screen === 'password') this.screen = 'main';
        break;
      case 'team':
        this.team = e.members;
        break;
      case 'unread':
        this.unreadTotal = e.total;
        break;
      case 'open_conversation':
        this.view = 'dialogs';
        void this.select(e.conversation_id);
        break;
      case 'warning':
        this.toast(e.message, 'info');
        break;
      case 'signed_out':
        // the server no longer accepts the token (removed, signed out elsewhere, password
        // changed, expired): the core has stopped and forgotten it; say why on the
        // sign-in screen
        this.signedOutNotice = this.t('signout.message', { reason: this.t(signedOutKey(e.code)) });
        void this.signOut();
        break;
    }
  }

  async savePrefs(p: LocalPrefs): Promise<void> {
    try {
      this.prefs = await api.setPrefs(p);
      this.applyLocale();
    } catch (e) {
      this.fail(e);
    }
  }

  memberName(id: number | null): string {
    if (id === null) return this.t('dialog.unassigned');
    const u = this.team.find((m) => m.id === id);
    return u ? u.name || u.email : `#${id}`;
  }
}

export const app = new Store();
