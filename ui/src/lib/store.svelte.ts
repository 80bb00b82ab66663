// The UI's state, fed by commands and core events.
import { api, onCoreEvent } from './api';
import { LIST_WINDOW, listWindow, MAX_FILES, needsWindow, pastedName, signedOutKey } from './format';
import { pickLocale, translate, type Key, type Locale } from './i18n';
import type {
  AppInfo,
  ConnState,
  Conversation,
  ConversationList,
  CoreEvent,
  Filter,
  LocalPrefs,
  Message,
  OutboxItem,
  Permission,
  SearchHit,
  SessionInfo,
  Upload,
  User,
  WidgetSettings,
} from './types';
import { FILTERS, isUiError } from './types';

/** Larger files go through the attach button or a drop from the desktop, not the page's memory. */
const MAX_BYTES_IN_PAGE = 64 * 1024 * 1024;

export type Screen = 'loading' | 'signin' | 'password' | 'main';
export type View = 'dialogs' | 'settings' | 'reports' | 'widget';

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
  // The dialog list is loaded a window at a time around the rows on screen
  // (`showRows`): `list` holds positions `listStart..listStart + list.length` of
  // `listTotal`. raw: each dialog is replaced whole, never changed in place; a
  // deep proxy would wrap every one (memory and time for nothing).
  list = $state.raw<Conversation[]>([]);
  listStart = $state(0);
  listTotal = $state(0);
  /** The rows on screen, as the list last asked (`showRows`). */
  private wanted = { start: 0, end: LIST_WINDOW };
  private listAsked = 0;
  private listApplied = 0;
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
  /** Files attached in each dialog's composer, in order (local ids). */
  composerFiles = $state<Record<number, string[]>>({});
  /** The latest state of every file on its way to the server, by local id. */
  uploads = $state<Record<string, Upload>>({});
  /** Pictures of pasted images shown before the server's preview exists (object URLs). */
  previews = $state<Record<string, string>>({});
  /** Attachments being saved or fetched to open: bytes so far. */
  downloads = $state<Record<number, { received: number; total: number | null }>>({});
  /** The open dialog, wherever it is in the list (or in none: a search hit). */
  current = $state.raw<Conversation | null>(null);
  /** A found message to scroll to and highlight once the dialog shows it. */
  focusMessage = $state<number | null>(null);
  /** The visitor panel beside the dialog is open (remembered on this computer). */
  visitorPanel = $state(localStorage.getItem('visitorPanel') !== 'closed');
  /** The widget's settings as last announced by the server (`widget.updated`). */
  widgetSettings = $state<WidgetSettings | null>(null);
  searchQuery = $state('');
  searchItems = $state<SearchHit[]>([]);
  searchNext = $state<string | null>(null);
  searchState = $state<'idle' | 'busy' | 'done' | 'error'>('idle');
  searchError = $state('');
  private searchSeq = 0;
  private searchTimer: ReturnType<typeof setTimeout> | null = null;
  private toastId = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  /** Whether the signed-in user's role allows this (the server checks the same). */
  may(p: Permission): boolean {
    return this.user?.permissions.includes(p) ?? false;
  }

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
    // the marks let the desktop benchmark (tests/desktop-e2e/bench.mjs) split the startup
    performance.mark('sb:start');
    await onCoreEvent((e) => this.onEvent(e));
    const { start, count } = listWindow(this.wanted.start, this.wanted.end);
    const boot = await api.startup(start, count);
    performance.mark('sb:startup');
    this.info = boot.info;
    this.prefs = boot.info.prefs;
    this.applyLocale();
    if (boot.restore_error) this.fail(boot.restore_error);
    if (boot.session) {
      this.enter(boot.session, boot.list);
      return;
    }
    this.screen = 'signin';
  }

  /**
   * Shows the signed-in screens; with the list's first rows already at hand
   * (`startup`), the main screen is built once, with them.
   */
  enter(s: SessionInfo, list: ConversationList | null = null): void {
    this.signedOutNotice = null;
    this.session = s;
    this.user = s.user;
    this.view = 'dialogs';
    this.filter = 'all';
    this.selected = null;
    this.messages = [];
    if (list) {
      this.applyList(list);
      performance.mark('sb:list');
      // the frame that shows the first rows (Svelte has put them in the DOM by then)
      requestAnimationFrame(() => performance.mark('sb:rows'));
    }
    this.screen = s.user.must_change_password ? 'password' : 'main';
    if (!s.token_saved) this.toast(this.t('app.keyringMissing'), 'info');
    if (!list) void this.refreshList();
    void api
      .outbox()
      .then(async (o) => {
        this.outbox = o;
        // files of messages still queued (e.g. from before a restart): their state
        const ids = o.flatMap((i) => (i.files ?? []).map((f) => f.local_id));
        if (ids.length) for (const u of await api.uploads(ids)) this.uploads[u.local_id] ??= u;
      })
      .catch(() => {});
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
    this.listStart = 0;
    this.listTotal = 0;
    this.current = null;
    this.composerFiles = {};
    this.uploads = {};
    this.clearSearch();
    this.info = await api.appInfo();
    this.screen = 'signin';
  }

  async refreshList(): Promise<void> {
    if (!this.session) return;
    const filter = this.filter;
    const { start, count } = listWindow(this.wanted.start, this.wanted.end);
    // Scrolling may ask again before an answer is back: answers apply in the
    // order asked, and one overtaken by a later one is dropped.
    const asked = ++this.listAsked;
    try {
      const l = await api.listConversations(filter, start, count);
      if (filter !== this.filter || asked < this.listApplied) return;
      this.listApplied = asked;
      this.applyList(l);
    } catch (e) {
      this.fail(e);
    }
  }

  private applyList(l: ConversationList): void {
    this.list = l.items;
    this.listStart = l.start;
    this.listTotal = l.total;
    const open = l.items.find((c) => c.id === this.selected);
    if (open) this.current = open;
    // the core sends a string-keyed map: a filter it left out counts 0
    const counts = { ...this.counts };
    for (const f of FILTERS) counts[f] = l.counts[f] ?? 0;
    this.counts = counts;
    this.unreadTotal = l.unread_total;
    this.connection = l.connection;
  }

  scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshList();
    }, 150);
  }

  /**
   * The list shows rows `start..end`: loads the window around them unless the
   * one loaded holds them with room to scroll (`needsWindow`).
   */
  showRows(start: number, end: number): void {
    this.wanted = { start, end };
    if (needsWindow(start, end, this.listStart, this.listStart + this.list.length, this.listTotal)) {
      void this.refreshList();
    }
  }

  async setFilter(f: Filter): Promise<void> {
    this.filter = f;
    this.wanted = { start: 0, end: LIST_WINDOW };
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

  /**
   * Opens a dialog; with `focus`, its history is fetched back to that message (a
   * search hit), which the dialog then scrolls to and highlights.
   */
  async select(id: number | null, focus: number | null = null, conversation: Conversation | null = null): Promise<void> {
    this.selected = id;
    this.messages = [];
    this.olderCursor = null;
    this.focusMessage = focus;
    this.current =
      conversation ?? this.list.find((c) => c.id === id) ?? (this.current?.id === id ? this.current : null);
    void api.setView(id);
    if (id === null) return;
    try {
      if (!this.current) {
        const c = await api.getConversation(id);
        if (this.selected === id) this.current = c;
      }
      const cached = await api.cachedMessages(id);
      if (this.selected === id) this.messages = cached.items;
      const fresh = focus === null ? await api.getMessages(id) : await api.messagesUntil(id, focus);
      if (this.selected === id) {
        this.messages = fresh.items;
        this.olderCursor = fresh.next;
        // a hit too far back to fetch: the dialog opens at its newest message
        if (focus !== null && !fresh.items.some((m) => m.id === focus)) this.focusMessage = null;
      }
      await api.markRead(id);
    } catch (e) {
      if (this.selected === id) this.fail(e);
    }
  }

  /** Opens the dialog of a search hit, at the found message. */
  async openHit(hit: SearchHit): Promise<void> {
    this.view = 'dialogs';
    await this.select(hit.conversation.id, hit.message?.id ?? null, hit.conversation);
  }

  /** Opens a dialog that may not be in the current list (an earlier conversation). */
  async openConversation(c: Conversation): Promise<void> {
    this.view = 'dialogs';
    await this.select(c.id, null, c);
  }

  toggleVisitorPanel(): void {
    this.visitorPanel = !this.visitorPanel;
    localStorage.setItem('visitorPanel', this.visitorPanel ? 'open' : 'closed');
  }

  setSearch(q: string): void {
    this.searchQuery = q;
    if (this.searchTimer) clearTimeout(this.searchTimer);
    this.searchTimer = null;
    if (!q.trim()) {
      this.searchSeq++;
      this.searchItems = [];
      this.searchNext = null;
      this.searchState = 'idle';
      return;
    }
    this.searchState = 'busy';
    // results as you type, without a request per key
    this.searchTimer = setTimeout(() => void this.runSearch(false), 250);
  }

  clearSearch(): void {
    this.setSearch('');
  }

  async runSearch(more: boolean): Promise<void> {
    const seq = ++this.searchSeq;
    const q = this.searchQuery.trim();
    if (!q) return;
    this.searchState = 'busy';
    try {
      const r = await api.search(q, more ? this.searchNext : null);
      if (seq !== this.searchSeq) return;
      this.searchItems = more ? [...this.searchItems, ...r.items] : r.items;
      this.searchNext = r.next;
      this.searchState = 'done';
    } catch (e) {
      if (seq !== this.searchSeq) return;
      this.searchState = 'error';
      this.searchError = isUiError(e) && e.code === 'network' ? this.t('search.offline') : this.errorText(e);
    }
  }

  /** Puts uploads into a dialog's composer, at most MAX_FILES in all; the rest are dropped. */
  private addFiles(conversationId: number, ups: Upload[]): void {
    const cur = this.composerFiles[conversationId] ?? [];
    const room = Math.max(0, MAX_FILES - cur.length);
    for (const u of ups) this.uploads[u.local_id] ??= u;
    const extra = ups.slice(room);
    if (extra.length) {
      this.toast(this.t('attach.tooMany', { n: MAX_FILES }));
      for (const u of extra) void api.removeUpload(u.local_id).catch(() => {});
    }
    this.composerFiles[conversationId] = [...cur, ...ups.slice(0, room).map((u) => u.local_id)];
  }

  /** The native file picker, for the dialog on screen. */
  async attachFromPicker(): Promise<void> {
    const id = this.selected;
    if (id === null) return;
    try {
      this.addFiles(id, await api.attachFiles());
    } catch (e) {
      this.fail(e);
    }
  }

  /** Files dropped from the desktop (their paths), for the dialog on screen. */
  async attachDropped(paths: string[]): Promise<void> {
    const id = this.selected;
    if (id === null) {
      this.toast(this.t('attach.noDialog'), 'info');
      return;
    }
    if (!paths.length) return;
    try {
      this.addFiles(id, await api.attachDropped(paths.slice(0, MAX_FILES)));
      if (paths.length > MAX_FILES) this.toast(this.t('attach.tooMany', { n: MAX_FILES }));
    } catch (e) {
      this.fail(e);
    }
  }

  /** Files the page holds (pasted, or dropped from another app), for the dialog on screen. */
  async attachBlobs(files: File[]): Promise<void> {
    const id = this.selected;
    if (id === null || !files.length) return;
    for (const f of files.slice(0, MAX_FILES)) {
      if (f.size > MAX_BYTES_IN_PAGE) {
        this.toast(this.t('attach.tooBigToPaste', { name: f.name }));
        continue;
      }
      try {
        const name = f.name && f.name !== 'image.png' ? f.name : pastedName(f.type || 'image/png');
        const up = await api.attachBytes(name, new Uint8Array(await f.arrayBuffer()));
        if (f.type.startsWith('image/')) this.previews[up.local_id] = URL.createObjectURL(f);
        this.addFiles(id, [up]);
      } catch (e) {
        this.fail(e);
      }
    }
    if (files.length > MAX_FILES) this.toast(this.t('attach.tooMany', { n: MAX_FILES }));
  }

  /** Takes a file out of a dialog's composer (and stops its upload). */
  async removeFile(conversationId: number, localId: string): Promise<void> {
    this.composerFiles[conversationId] = (this.composerFiles[conversationId] ?? []).filter((x) => x !== localId);
    this.forgetPreview(localId);
    try {
      await api.removeUpload(localId);
    } catch (e) {
      this.fail(e);
    }
  }

  forgetPreview(localId: string): void {
    const url = this.previews[localId];
    if (url) {
      URL.revokeObjectURL(url);
      delete this.previews[localId];
    }
  }

  /** Sends the composer of a dialog: its text and files. Returns whether it was queued. */
  async sendComposer(conversationId: number, body: string): Promise<boolean> {
    const files = this.composerFiles[conversationId] ?? [];
    if (!body.trim() && !files.length) return false;
    if (files.some((f) => this.uploads[f]?.state.state === 'failed')) {
      this.toast(this.t('attach.fixFailed'));
      return false;
    }
    try {
      await api.sendMessage(conversationId, body.trim(), files);
      this.composerFiles[conversationId] = [];
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /** Saves an attachment where the user chooses (native save dialog). */
  async saveAttachment(conversationId: number, attachmentId: number, name: string): Promise<void> {
    this.downloads[attachmentId] = { received: 0, total: null };
    try {
      const path = await api.saveAttachment(conversationId, attachmentId, name);
      if (path) this.toast(this.t('file.saved', { path }), 'info');
    } catch (e) {
      this.fail(e);
    } finally {
      delete this.downloads[attachmentId];
    }
  }

  /** Opens an attachment with the OS's default app. */
  async openAttachment(conversationId: number, attachmentId: number): Promise<void> {
    this.downloads[attachmentId] = { received: 0, total: null };
    try {
      await api.openAttachment(conversationId, attachmentId);
    } catch (e) {
      this.toast(isUiError(e) && e.code === 'risky_file' ? this.t('file.risky') : this.errorText(e));
    } finally {
      delete this.downloads[attachmentId];
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
    return this.current?.id === this.selected ? this.current : null;
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
        if (i >= 0) {
          const list = this.list.slice();
          list[i] = e.conversation;
          this.list = list;
        }
        if (this.current?.id === e.conversation.id) this.current = e.conversation;
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
      case 'outbox': {
        // files of messages the server now has: their pictures are no longer needed
        const still = new Set(e.items.flatMap((i) => (i.files ?? []).map((f) => f.local_id)));
        for (const o of this.outbox) {
          for (const f of o.files ?? []) {
            if (!still.has(f.local_id)) {
              this.forgetPreview(f.local_id);
              delete this.uploads[f.local_id];
            }
          }
        }
        this.outbox = e.items;
        break;
      }
      case 'upload':
        this.uploads[e.upload.local_id] = e.upload;
        break;
      case 'download':
        if (this.downloads[e.attachment_id]) {
          this.downloads[e.attachment_id] = { received: e.received, total: e.total };
        }
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
      case 'widget':
        this.widgetSettings = e.settings;
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
