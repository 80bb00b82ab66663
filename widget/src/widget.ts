// The widget: a launcher, a chat panel in a shadow root, and the plumbing that
// keeps it in step with the server (REST for history and sending, a websocket
// for live updates, an outbox so nothing typed is lost).
//
// This file wires the three parts together and holds the flows that touch more
// than one of them: `view.ts` (the DOM), `state.ts` (the data and what is
// remembered), `transport.ts` (the session, the stream, sending and retrying),
// and `attach.ts` (the files in the composer and their uploads).

import { ApiError } from './api';
import { MAX_FILES, Tray } from './attach';
import { Greeter } from './greetings';
import type { Locale, Strings } from './i18n';
import { stringsFor } from './i18n';
import { WidgetState } from './state';
import * as store from './storage';
import type { OutboxItem } from './storage';
import { WidgetTransport } from './transport';
import { isMessage, widgetSettings, type Message, type PublicGreeting, type PublicWidget } from './types';
import { WidgetView } from './view';

export interface WidgetOptions {
  /** Server base URL ending with '/', e.g. "https://chat.example.com/". */
  base: string;
  locale: Locale;
  /** CSS colour for the launcher, header and the visitor's bubbles, until the
   *  server's settings (whose colour wins) are known. */
  accent?: string | null;
}

const OFFLINE_BANNER_DELAY_MS = 4000;

export class Widget {
  private t: Strings;
  /** The language in use: the browser's (`auto`) or the one settings force. */
  private locale: Locale;
  private readonly state: WidgetState;
  private readonly view: WidgetView;
  private readonly transport: WidgetTransport;
  private readonly tray: Tray;
  private readonly greeter: Greeter;
  /** The greeting shown on this page and not yet answered. */
  private greeting: PublicGreeting | null = null;
  private offlineTimer: number | undefined;
  /** Send was pressed while files were still uploading: send when they are done. */
  private sendWhenUploaded = false;

  constructor(host: HTMLElement, private readonly opts: WidgetOptions) {
    this.locale = opts.locale;
    this.t = stringsFor(opts.locale);
    this.state = new WidgetState();

    this.view = new WidgetView(host, opts, this.t, {
      toggle: () => this.toggle(),
      close: () => this.close(),
      submit: () => this.submit(),
      input: () => this.onInput(),
      files: (files) => this.attach(files),
      editContact: () => {
        this.view.renderContact(this.state.contactEmail(), true);
        this.view.focusContact();
      },
      saveContact: (email) => this.saveContact(email),
      greetingOpen: () => this.open(),
    });
    this.view.renderContact(this.state.contactEmail());
    this.renderLauncher();

    this.transport = new WidgetTransport(opts.base, opts.locale, this.state, {
      session: (s) => {
        this.view.hideConn();
        this.view.setOnline(s.online === true);
        const w = widgetSettings(s.widget);
        if (w) this.applySettings(w);
        else this.view.renderTeam(s.operators);
      },
      widget: (w) => this.applySettings(w),
      sessionFailed: (e, first) => {
        if (e instanceof ApiError && !e.transient) this.view.showError(this.view.describe(e));
        this.view.showConn(first ? this.t.connecting : this.t.noConnection);
      },
      forgotten: () => {
        this.state.historyKnown = false;
        this.state.forgetVisitor();
        this.view.clearMessages();
        this.updateEmpty();
      },
      connected: (connected) => this.setOffline(!connected),
      event: (name, data) => this.onEvent(name, data),
      history: (items) => {
        for (const m of items) this.addMessage(m);
        this.view.scrollToEnd();
        this.state.historyKnown = true;
        this.greeter.start();
      },
      delivered: (m) => this.addMessage(m),
      dropped: (clientId) => this.dropPending(clientId),
      refused: (item, e) => {
        this.dropPending(item.client_id);
        this.view.restoreDraft(item.body);
        // The files come back too, unless they are what was refused (gone, or
        // sent with another message): the same ids would fail again.
        if (e.status !== 404 && e.status !== 409) this.tray.restore(item.files || []);
        this.onInput();
        this.view.showError(this.view.describe(e));
      },
      waiting: (clientId, why) => this.view.pendingWaiting(clientId, why),
      failed: (e) => this.view.showError(`${this.t.failed}: ${String(e)}`),
    });

    this.tray = new Tray(
      this.view.tray,
      this.t,
      opts.locale,
      opts.base,
      (file, progress) => this.transport.upload(file, progress),
      () => this.trayChanged(),
    );

    this.greeter = new Greeter({
      // Only to a visitor with no conversation yet, and none replaces one
      // they may be reading in the open chat.
      allowed: () => this.state.historyKnown && this.state.isEmpty() && !(this.greeting && this.state.isOpen),
      ask: (g) => this.transport.greetingShown(g.id),
      show: (g) => this.showGreeting(g),
    });

    // The settings the last page had, so the button starts where and as it was.
    try {
      const cached = widgetSettings(JSON.parse(store.load(store.KEY_WIDGET) || 'null'));
      if (cached) this.applySettings(cached);
    } catch {
      /* none kept */
    }

    window.addEventListener('online', () => this.transport.retryPending());
    watchNavigation(() => {
      this.transport.reportPage();
      this.greeter.navigated();
    });
    document.addEventListener('visibilitychange', () => this.markRead());

    // Messages typed on an earlier page and never acknowledged: show them and send again.
    const outbox = this.state.storedOutbox();
    for (const item of outbox) this.addPending(item);

    // Connected at once: the session brings the widget's settings (colour,
    // side, language, greetings) and a returning visitor's answers.
    void this.transport.ensureSession();
    if (this.state.wasOpen()) this.open(false);
  }

  // ---- open / close ----------------------------------------------------

  open(focus = true): void {
    if (!this.state.isOpen) {
      this.state.setOpen(true);
      this.view.showPanel(true);
      this.view.hideGreetingBubble();
      this.renderLauncher();
    }
    void this.transport.ensureSession();
    this.transport.refreshIfStale();
    this.view.scrollToEnd();
    this.markRead();
    if (focus && window.matchMedia('(pointer: fine)').matches) this.view.focusInput();
  }

  close(): void {
    if (!this.state.isOpen) return;
    this.state.setOpen(false);
    this.view.showPanel(false);
    this.renderLauncher();
    this.view.focusLauncher();
  }

  toggle(): void {
    if (this.state.isOpen) this.close();
    else this.open();
  }

  private renderLauncher(): void {
    this.view.renderLauncher(this.state.isOpen, this.state.unread());
  }

  // ---- incoming ----------------------------------------------------------

  private onEvent(name: string, data: unknown): void {
    switch (name) {
      case 'message.created':
        if (isMessage(data)) this.addMessage(data);
        break;
      case 'typing':
        this.view.showTyping(data);
        break;
      case 'team.updated':
        void this.transport.refreshSession();
        break;
      default:
        break;
    }
  }

  private addMessage(m: Message): void {
    if (m.client_id) {
      // The send that answered the greeting is kept: the stored greeting
      // (the conversation's first message) takes the place of ours.
      if (this.state.pending.get(m.client_id)?.item.greeting_id) this.dropGreeting();
      this.dropPending(m.client_id);
    }
    const g = this.greeting;
    if (g && m.author.kind !== 'visitor' && m.body === g.message) this.dropGreeting();
    if (this.state.hasMessage(m.id)) return;
    const stick = this.view.nearEnd() || m.author.kind === 'visitor';
    this.view.addMessage(m);
    this.state.addMessage(m);
    if (m.author.kind !== 'visitor') this.view.hideTyping();
    this.updateEmpty();
    if (stick) this.view.scrollToEnd();
    this.markRead();
  }

  // ---- outgoing ----------------------------------------------------------

  private onInput(): void {
    const has = this.view.composerChanged(this.tray.count());
    if (has) this.transport.typing();
  }

  /** Files picked, dropped or pasted: into the tray, uploading at once. */
  private attach(files: File[]): void {
    if (!this.tray.add(files)) this.view.showError(this.t.tooManyFiles(MAX_FILES));
  }

  private trayChanged(): void {
    this.view.composerChanged(this.tray.count());
    if (this.sendWhenUploaded && !this.tray.uploading()) this.submit();
  }

  /** Sends the text and the uploaded files as one message; waits for uploads
   *  under way, refuses while an upload has failed (retry or remove it first). */
  private submit(): void {
    this.sendWhenUploaded = false;
    this.view.setWaiting(false);
    const body = this.view.draft().trim();
    if (!body && !this.tray.count()) return;
    if (this.tray.failed()) {
      this.view.showError(this.t.filesFailed);
      return;
    }
    if (this.tray.uploading()) {
      this.sendWhenUploaded = true;
      this.view.setWaiting(true);
      return;
    }
    // The first message after a greeting answers it (the server then keeps
    // the greeting as the conversation's first message).
    const answers = this.greeting && !this.state.messages.size ? this.greeting.id : undefined;
    const item = this.state.queue(body, this.tray.ready(), answers);
    this.tray.clear();
    this.view.setDraft('');
    this.onInput();
    this.view.hideError();
    this.addPending(item);
    this.view.scrollToEnd();
    void this.transport.deliver(item.client_id);
  }

  private addPending(item: OutboxItem): void {
    if (!this.state.addPending(item)) return;
    this.view.addPending(item);
    this.updateEmpty();
  }

  private dropPending(clientId: string): void {
    this.state.dropPending(clientId);
    this.view.removePending(clientId);
    this.updateEmpty();
  }

  // ---- settings and greetings --------------------------------------------

  /** The widget's settings from the server (the session, a live change, or
   *  the copy kept from the last page): applied without a reload. */
  private applySettings(w: PublicWidget): void {
    store.save(store.KEY_WIDGET, JSON.stringify(w));
    const locale = w.language === 'auto' ? this.opts.locale : w.language;
    if (locale !== this.locale) {
      this.locale = locale;
      this.t = stringsFor(locale);
      this.view.setStrings(this.t, locale);
      this.tray.t = this.t;
      this.tray.locale = locale;
      this.transport.locale = locale;
      this.renderLauncher();
      this.view.renderContact(this.state.contactEmail());
    }
    this.view.applySettings(w);
    this.greeter.setRules(w.greetings);
  }

  private showGreeting(g: PublicGreeting): void {
    this.greeting = g;
    this.view.showGreeting(g, !this.state.isOpen);
    this.updateEmpty();
  }

  private dropGreeting(): void {
    if (!this.greeting) return;
    this.greeting = null;
    this.view.removeGreeting();
    this.updateEmpty();
  }

  // ---- contact -----------------------------------------------------------

  /** Resolves to the error text to show under the form, or null once saved. */
  private async saveContact(email: string): Promise<string | null> {
    try {
      await this.transport.saveContact(email);
      this.state.saveContactEmail(email);
      this.view.renderContact(this.state.contactEmail());
      return null;
    } catch (e) {
      return e instanceof ApiError
        ? e.status === 400 || e.status === 422
          ? this.t.emailInvalid
          : this.view.describe(e)
        : this.t.noConnection;
    }
  }

  // ---- state shown -------------------------------------------------------

  private setOffline(offline: boolean): void {
    window.clearTimeout(this.offlineTimer);
    if (!offline) {
      if (this.transport.hasSession) this.view.hideConn();
      return;
    }
    // Brief reconnects are not worth a banner.
    this.offlineTimer = window.setTimeout(() => {
      if (!this.transport.connected) this.view.showConn(this.t.noConnection);
    }, OFFLINE_BANNER_DELAY_MS);
  }

  private updateEmpty(): void {
    this.view.showEmpty(this.state.isEmpty() && !this.greeting);
  }

  private markRead(): void {
    if (this.state.isOpen && document.visibilityState === 'visible') this.state.markAllRead();
    this.view.renderBadge(this.state.isOpen, this.state.unread());
  }
}

/**
 * Calls `changed` after the page's address changes without a reload: the
 * back and forward buttons, anchors, and single-page apps that use the
 * History API (whose pushState fires no event, so it is wrapped).
 */
function watchNavigation(changed: () => void): void {
  window.addEventListener('popstate', changed);
  window.addEventListener('hashchange', changed);
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      window.setTimeout(changed, 0);
    };
  }
}
