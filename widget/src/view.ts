// What the visitor sees: the launcher and the chat panel in a shadow root, built
// and updated here (messages and their files, sends in flight, typing line,
// banners, contact form, badge, the composer with its attach button and drop
// zone; the tray the files wait in is attach.ts's). It holds no data of its own
// beyond the DOM; what to show comes from the widget, what the visitor does goes
// back through `ViewHandlers`.

import type { ApiError } from './api';
import {
  avatar,
  el,
  humanSize,
  icon,
  ICON_CHAT,
  ICON_CLIP,
  ICON_CLOSE,
  ICON_DOWN,
  ICON_FILE,
  ICON_SEND,
  isInlineImage,
  safeUrl,
} from './dom';
import type { Locale, Strings } from './i18n';
import type { OutboxItem } from './storage';
import type { WaitReason } from './transport';
import {
  attachmentsOf,
  isObject,
  type Attachment,
  type Message,
  type PublicGreeting,
  type PublicOperator,
  type PublicWidget,
} from './types';
import css from './widget.css';
import type { WidgetOptions } from './widget';

/** What the visitor does in the view. */
export interface ViewHandlers {
  toggle(): void;
  close(): void;
  /** The composer was submitted (button or Enter). */
  submit(): void;
  /** The composer's text changed. */
  input(): void;
  /** Files picked, dropped on the panel or pasted into the composer. */
  files(files: File[]): void;
  /** "Change" next to the saved email. */
  editContact(): void;
  /** Saves a checked email address; resolves to an error text, or null when saved. */
  saveContact(email: string): Promise<string | null>;
  /** The greeting's bubble was clicked: open the chat. */
  greetingOpen(): void;
}

const TYPING_SHOW_MS = 5000;
const COLOR_RE = /^#[0-9a-f]{6}$/i;

/** Dark text on a light accent, white on a dark one. */
function textOn(color: string): string {
  const n = parseInt(color.slice(1), 16);
  const lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return lum > 165 ? '#1d2327' : '#fff';
}
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function toMillis(v: unknown): number {
  if (typeof v === 'number') return v < 1e12 ? v * 1000 : v;
  if (typeof v === 'string') return Date.parse(v);
  return NaN;
}

export class WidgetView {
  private readonly wrap: HTMLElement;
  private readonly launcher: HTMLButtonElement;
  private readonly badge: HTMLElement;
  private readonly panel: HTMLElement;
  private readonly title: HTMLElement;
  private readonly closeBtn: HTMLButtonElement;
  private readonly attachBtn: HTMLButtonElement;
  private readonly drop: HTMLElement;
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
  private readonly hint: HTMLElement;
  /** Where the composer's files show (filled by attach.ts's Tray). */
  readonly tray: HTMLElement;

  /** The row of each message shown, by id. */
  private readonly rows = new Map<number, HTMLElement>();
  /** The row of each send in flight, by client_id, in the order they were typed. */
  private readonly pendingRows = new Map<string, { row: HTMLElement; meta: HTMLElement }>();
  private typingTimer: number | undefined;
  private errTimer: number | undefined;
  /** The list was scrolled to its end (so a preview that loads keeps it there). */
  private pinned = true;
  /** Set by the session; null before it answers. */
  private online: boolean | null = null;
  /** The widget's settings from the server, once known. */
  private look: PublicWidget | null = null;
  /** The greeting shown: its bubble over the launcher and its row atop the chat. */
  private greetBubble: HTMLElement | null = null;
  private greetRow: HTMLElement | null = null;
  /** The visitor has left an email. */
  private emailSaved = false;
  /** A polite live region the greeting's bubble goes into, so it is read out. */
  private readonly greetLive: HTMLElement;
  locale: Locale;

  constructor(
    host: HTMLElement,
    private readonly opts: WidgetOptions,
    private t: Strings,
    private readonly on: ViewHandlers,
  ) {
    this.locale = opts.locale;
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
    if (opts.accent) this.wrap.style.setProperty('--sb-accent', opts.accent);
    root.appendChild(this.wrap);

    // Panel
    this.panel = el('div', 'sb-panel');
    this.panel.hidden = true;
    this.panel.setAttribute('role', 'dialog');

    const header = el('div', 'sb-header');
    this.team = el('div', 'sb-team');
    const heading = el('div', 'sb-heading');
    this.title = el('div', 'sb-title');
    heading.appendChild(this.title);
    this.names = el('div', 'sb-names');
    this.names.hidden = true;
    this.status = el('div', 'sb-status');
    heading.append(this.names, this.status);
    const closeBtn = (this.closeBtn = el('button', 'sb-icon-btn sb-close'));
    closeBtn.type = 'button';
    closeBtn.appendChild(icon(ICON_CLOSE));
    closeBtn.addEventListener('click', () => this.on.close());
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
    this.empty = el('div', 'sb-empty');
    this.list.appendChild(this.empty);

    this.typing = el('div', 'sb-typing');
    this.typing.hidden = true;
    this.typing.setAttribute('aria-live', 'polite');

    // Filled by renderContact.
    this.contact = el('div', 'sb-contact');

    this.tray = el('div', 'sb-tray');
    this.tray.hidden = true;
    this.tray.setAttribute('role', 'list');
    this.hint = el('div', 'sb-hint');
    this.hint.hidden = true;
    this.hint.setAttribute('role', 'status');

    const composer = el('form', 'sb-composer');
    const picker = el('input', 'sb-picker');
    picker.type = 'file';
    picker.multiple = true;
    picker.hidden = true;
    picker.tabIndex = -1;
    picker.addEventListener('change', () => {
      const files = Array.from(picker.files || []);
      picker.value = ''; // the same file again is a new pick
      if (files.length) this.on.files(files);
    });
    const attach = (this.attachBtn = el('button', 'sb-attach'));
    attach.type = 'button';
    attach.appendChild(icon(ICON_CLIP));
    attach.addEventListener('click', () => picker.click());
    this.input = el('textarea', 'sb-input');
    this.input.rows = 1;
    this.sendBtn = el('button', 'sb-send');
    this.sendBtn.type = 'submit';
    this.sendBtn.disabled = true;
    this.sendBtn.appendChild(icon(ICON_SEND));
    composer.append(picker, attach, this.input, this.sendBtn);
    composer.addEventListener('submit', (e) => {
      e.preventDefault();
      this.on.submit();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.on.submit();
      }
    });
    this.input.addEventListener('input', () => this.on.input());
    // Pasted images (screenshots) and files become attachments; text pastes as text.
    this.input.addEventListener('paste', (e) => {
      const data = e.clipboardData;
      const files = data ? Array.from(data.files) : [];
      if (!files.length) return;
      if (!Array.from(data?.types || []).includes('text/plain')) e.preventDefault();
      this.on.files(files);
    });
    // Only a scroll up (the visitor's) unpins the end: content growing above
    // (a preview loading) only ever moves the scroll position down.
    let lastTop = 0;
    this.list.addEventListener('scroll', () => {
      const top = this.list.scrollTop;
      if (top < lastTop || this.nearEnd()) this.pinned = this.nearEnd();
      lastTop = top;
    });
    // The list shrinks when files wait in the tray or a banner shows: the end stays in view.
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => {
        if (this.pinned) this.scrollToEnd();
      }).observe(this.list);
    }

    const drop = (this.drop = el('div', 'sb-drop'));
    drop.hidden = true;
    this.panel.append(
      header,
      this.connBanner,
      this.errBanner,
      this.list,
      this.typing,
      this.contact,
      this.tray,
      this.hint,
      composer,
      drop,
    );
    this.dropZone(drop);
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.on.close();
    });

    // Launcher (its icon and badge: renderLauncher)
    this.launcher = el('button', 'sb-launcher');
    this.launcher.type = 'button';
    this.launcher.setAttribute('aria-haspopup', 'dialog');
    this.launcher.setAttribute('aria-expanded', 'false');
    this.badge = el('span', 'sb-badge');
    this.badge.hidden = true;
    this.launcher.addEventListener('click', () => this.on.toggle());

    this.greetLive = el('div', 'sb-greet-live');
    this.greetLive.setAttribute('role', 'status');
    this.greetLive.setAttribute('aria-live', 'polite');

    this.wrap.append(this.panel, this.greetLive, this.launcher);
    this.relabel();
  }

  // ---- language and settings -------------------------------------------------

  /** Another language (settings may force one): every fixed text again. The
   *  widget renders the launcher and the contact form again itself. */
  setStrings(t: Strings, locale: Locale): void {
    this.t = t;
    this.locale = locale;
    this.relabel();
  }

  private relabel(): void {
    const t = this.t;
    const labelled = (e: HTMLElement, text: string) => {
      e.setAttribute('aria-label', text);
      e.title = text;
    };
    this.wrap.lang = this.locale;
    labelled(this.closeBtn, t.close);
    labelled(this.attachBtn, t.attach);
    labelled(this.sendBtn, t.send);
    this.tray.setAttribute('aria-label', t.attach);
    this.hint.textContent = t.waitingUploads;
    this.input.placeholder = t.placeholder;
    this.input.setAttribute('aria-label', t.placeholder);
    this.drop.textContent = t.dropFiles;
    this.greetBubble?.querySelector('.sb-greet-x')?.setAttribute('aria-label', t.hideGreeting);
    this.renderLook();
  }

  /** The widget's settings from the server: colour, side, title, texts, faces.
   *  The server's colour wins over the script tag's `data-color`. */
  applySettings(w: PublicWidget): void {
    this.look = w;
    if (COLOR_RE.test(w.color)) {
      this.wrap.style.setProperty('--sb-accent', w.color);
      this.wrap.style.setProperty('--sb-accent-text', textOn(w.color));
    }
    this.wrap.classList.toggle('sb-left', w.position === 'left');
    this.renderTeam(w.operators);
    this.renderLook();
  }

  /** The title, the online line and the welcome (or away) text. */
  private renderLook(): void {
    const t = this.t;
    const w = this.look;
    const title = w?.title.trim() || t.title;
    this.title.textContent = title;
    this.panel.setAttribute('aria-label', title);
    const online = this.online;
    if (online === null) {
      this.status.textContent = t.connecting;
    } else {
      this.status.dataset.online = String(online);
      this.status.textContent = online ? t.online : t.offline;
    }
    // Without settings (an older server): the widget's own wording, and the
    // email form always.
    this.empty.textContent = !w
      ? t.empty
      : online === false
        ? w.away_text.trim() || t.offline
        : w.welcome.trim() || t.empty;
    // The email form while nobody is online (`email_prompt`); a saved email stays in view.
    this.contact.hidden = !!w && !(w.email_prompt && (online === false || this.emailSaved));
  }

  /** Files dragged over the panel: the drop zone shows; dropped, they are attached. */
  private dropZone(drop: HTMLElement): void {
    let depth = 0; // dragenter/dragleave pairs, one per element crossed
    const files = (e: DragEvent) => Array.from(e.dataTransfer?.types || []).includes('Files');
    const show = (on: boolean) => {
      drop.hidden = !on;
      if (!on) depth = 0;
    };
    this.panel.addEventListener('dragenter', (e) => {
      if (!files(e)) return;
      e.preventDefault();
      depth++;
      show(true);
    });
    this.panel.addEventListener('dragover', (e) => {
      if (!files(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    });
    this.panel.addEventListener('dragleave', (e) => {
      if (files(e) && --depth <= 0) show(false);
    });
    this.panel.addEventListener('drop', (e) => {
      if (!files(e)) return;
      e.preventDefault();
      show(false);
      const dropped = Array.from(e.dataTransfer?.files || []);
      if (dropped.length) this.on.files(dropped);
    });
  }

  // ---- panel and launcher --------------------------------------------------

  showPanel(open: boolean): void {
    this.panel.hidden = !open;
    if (open) this.wrap.classList.add('sb-open');
    else this.wrap.classList.remove('sb-open');
  }

  renderLauncher(isOpen: boolean, unread: number): void {
    this.launcher.replaceChildren(icon(isOpen ? ICON_DOWN : ICON_CHAT), this.badge);
    this.launcher.setAttribute('aria-expanded', String(isOpen));
    this.launcher.title = isOpen ? this.t.close : this.t.open;
    this.renderBadge(isOpen, unread);
  }

  renderBadge(isOpen: boolean, n: number): void {
    const show = n > 0 && !isOpen;
    this.badge.textContent = n > 99 ? '99+' : String(n);
    this.badge.hidden = !show;
    const label = isOpen ? this.t.close : this.t.open;
    this.launcher.setAttribute('aria-label', show ? `${label} (${this.t.unread(n)})` : label);
  }

  focusLauncher(): void {
    this.launcher.focus();
  }

  /** Whether anyone answers now (from the session). */
  setOnline(online: boolean): void {
    this.online = online;
    this.renderLook();
  }

  /** The header's faces: who answers (avatars, names). */
  renderTeam(operators: PublicOperator[]): void {
    const ops = Array.isArray(operators) ? operators.filter((o) => isObject(o)) : [];
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
  }

  // ---- greetings -------------------------------------------------------------

  /** A greeting: its row atop the chat, as the first message from its
   *  colleague, and (with `bubble`: the chat is closed) a bubble over the launcher. */
  showGreeting(g: PublicGreeting, bubble: boolean): void {
    this.removeGreeting();
    const name = g.from.name.trim() || this.t.operator;
    const face = () => avatar(name, g.from.avatar_url, this.opts.base);
    const row = el('div', 'sb-msg sb-greeting');
    row.dataset.kind = 'operator';
    const col = el('div', 'sb-col');
    col.append(el('div', 'sb-author', name), el('div', 'sb-bubble', g.message));
    row.append(face(), col);
    this.list.insertBefore(row, this.empty.nextSibling);
    this.greetRow = row;
    if (!bubble) return;
    const box = el('div', 'sb-greet');
    const open = el('button', 'sb-greet-open');
    open.type = 'button';
    const text = el('span', 'sb-greet-body');
    text.append(el('b', 'sb-greet-name', name), el('span', 'sb-greet-text', g.message));
    open.append(face(), text);
    open.addEventListener('click', () => this.on.greetingOpen());
    const x = el('button', 'sb-greet-x');
    x.type = 'button';
    x.setAttribute('aria-label', this.t.hideGreeting);
    x.title = this.t.hideGreeting;
    x.appendChild(icon(ICON_CLOSE));
    x.addEventListener('click', () => this.hideGreetingBubble(true));
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.hideGreetingBubble(true);
    });
    box.append(open, x);
    this.greetLive.appendChild(box);
    this.greetBubble = box;
  }

  /** The bubble goes (closed, or the chat opened); the greeting stays in the chat. */
  hideGreetingBubble(refocus = false): void {
    const box = this.greetBubble;
    if (!box) return;
    const root = box.getRootNode() as ShadowRoot | Document;
    const hadFocus = refocus && box.contains(root.activeElement);
    box.remove();
    this.greetBubble = null;
    if (hadFocus) this.launcher.focus();
  }

  /** The greeting goes altogether (its stored copy came, or another replaces it). */
  removeGreeting(): void {
    this.hideGreetingBubble();
    this.greetRow?.remove();
    this.greetRow = null;
  }

  // ---- messages --------------------------------------------------------------

  /** Shows a message in id order; sends in flight stay last. */
  addMessage(m: Message): void {
    const row = this.renderMessage(m);
    let before: HTMLElement | null = null;
    let beforeId = Infinity;
    for (const [id, other] of this.rows) {
      if (id > m.id && id < beforeId) {
        before = other;
        beforeId = id;
      }
    }
    if (!before) before = this.firstPendingRow();
    this.list.insertBefore(row, before);
    this.rows.set(m.id, row);
  }

  clearMessages(): void {
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
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
    this.appendContent(col, m.body, attachmentsOf(m));
    const meta = [this.formatTime(m.created_at)];
    if (m.channel === 'email') meta.push(this.t.viaEmail);
    col.appendChild(el('div', 'sb-meta', meta.filter(Boolean).join(' · ')));
    row.appendChild(col);
    return row;
  }

  /** The text in its bubble (none when a message is only files), then the files. */
  private appendContent(col: HTMLElement, body: string, files: Attachment[]): void {
    if (body || !files.length) col.appendChild(el('div', 'sb-bubble', body));
    if (!files.length) return;
    const box = el('div', 'sb-files');
    for (const a of files) {
      const link = this.attachment(a);
      if (link) box.appendChild(link);
    }
    col.appendChild(box);
  }

  /** An image as its preview opening the full picture in a new tab; any other
   *  file as a row (icon, name, size) that downloads it. */
  private attachment(a: Attachment): HTMLElement | null {
    const url = safeUrl(a.url, this.opts.base);
    if (!url) return null;
    const image = isInlineImage(a.content_type);
    const preview = safeUrl(a.thumbnail_url, this.opts.base) || (image ? url : null);
    const link = el('a', preview ? 'sb-att-img' : 'sb-att-file');
    link.href = url;
    link.target = '_blank';
    link.rel = 'noopener';
    link.title = a.name;
    // Everything but an inline image is served as a download (the attribute
    // names the file where the browser honours it: same origin).
    if (!image) link.setAttribute('download', a.name);
    if (preview) {
      const img = el('img');
      img.alt = a.name;
      img.decoding = 'async';
      img.addEventListener('load', () => {
        if (this.pinned) this.scrollToEnd();
      });
      // No preview after all (an expired link, …): the file row instead.
      img.addEventListener(
        'error',
        () => {
          const row = this.attachment({ ...a, thumbnail_url: null, content_type: '' });
          if (row) link.replaceWith(row);
        },
        { once: true },
      );
      img.src = preview;
      link.appendChild(img);
    } else {
      link.title = `${this.t.download}: ${a.name}`;
      link.append(
        icon(ICON_FILE),
        el('span', 'sb-att-name', a.name),
        el('span', 'sb-att-size', humanSize(a.size, this.locale, this.t.sizeUnits)),
      );
    }
    return link;
  }

  private formatTime(v: unknown): string {
    const ms = toMillis(v);
    if (!Number.isFinite(ms)) return '';
    const d = new Date(ms);
    const time = d.toLocaleTimeString(this.locale, { hour: 'numeric', minute: '2-digit' });
    if (d.toDateString() === new Date().toDateString()) return time;
    return `${d.toLocaleDateString(this.locale, { day: 'numeric', month: 'short' })}, ${time}`;
  }

  /** A send in flight, shown at the end as "sending…". */
  addPending(item: OutboxItem): void {
    const row = el('div', 'sb-msg sb-pending');
    row.dataset.kind = 'visitor';
    row.dataset.clientId = item.client_id;
    const col = el('div', 'sb-col');
    this.appendContent(col, item.body, item.files || []);
    const meta = el('div', 'sb-meta', this.t.sending);
    col.appendChild(meta);
    row.appendChild(col);
    this.list.appendChild(row);
    this.pendingRows.set(item.client_id, { row, meta });
  }

  /** The send failed for now and waits for its next try. */
  pendingWaiting(clientId: string, why: WaitReason): void {
    const p = this.pendingRows.get(clientId);
    if (p) p.meta.textContent = why === 'server' ? this.t.retrying : this.t.waiting;
  }

  removePending(clientId: string): void {
    const p = this.pendingRows.get(clientId);
    if (p) {
      p.row.remove();
      this.pendingRows.delete(clientId);
    }
  }

  private firstPendingRow(): HTMLElement | null {
    for (const p of this.pendingRows.values()) return p.row;
    return null;
  }

  /** The "no messages yet" line. */
  showEmpty(empty: boolean): void {
    this.empty.hidden = !empty;
  }

  nearEnd(): boolean {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  scrollToEnd(): void {
    this.list.scrollTop = this.list.scrollHeight;
    this.pinned = true;
  }

  // ---- typing line -----------------------------------------------------------

  showTyping(data: unknown): void {
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

  hideTyping(): void {
    window.clearTimeout(this.typingTimer);
    this.typing.hidden = true;
  }

  // ---- composer --------------------------------------------------------------

  draft(): string {
    return this.input.value;
  }

  setDraft(text: string): void {
    this.input.value = text;
  }

  /** A message the server refused for good goes back into the composer, before what is there. */
  restoreDraft(body: string): void {
    if (!body) return;
    const current = this.input.value.trim();
    this.input.value = current ? `${body}\n${current}` : body;
  }

  /** Grows the composer with its text; the send button only with something to
   *  send (text or `files`). True when there is text. */
  composerChanged(files: number): boolean {
    this.autosize();
    const has = this.input.value.trim().length > 0;
    this.sendBtn.disabled = !has && !files;
    return has;
  }

  /** "Will be sent once the files are uploaded": the send waits for them. */
  setWaiting(on: boolean): void {
    this.hint.hidden = !on;
    this.sendBtn.setAttribute('aria-busy', String(on));
  }

  focusInput(): void {
    this.input.focus();
  }

  private autosize(): void {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 140)}px`;
  }

  // ---- banners ---------------------------------------------------------------

  /** The text for an error the server answered with. */
  describe(e: ApiError): string {
    if (e.status === 413 || /too_(long|large|big)|length/.test(e.code)) return this.t.tooLong;
    if (e.status === 429) return this.t.tooMany;
    return `${this.t.failed}: ${e.message}`;
  }

  showError(text: string): void {
    this.errBanner.textContent = text;
    this.errBanner.hidden = false;
    window.clearTimeout(this.errTimer);
    this.errTimer = window.setTimeout(() => this.hideError(), 10_000);
  }

  hideError(): void {
    window.clearTimeout(this.errTimer);
    this.errBanner.hidden = true;
  }

  showConn(text: string): void {
    this.connBanner.textContent = text;
    this.connBanner.hidden = false;
  }

  hideConn(): void {
    this.connBanner.hidden = true;
  }

  // ---- contact ---------------------------------------------------------------

  /** The saved email with a "change" link, or the form to enter one. */
  renderContact(saved: string | null, editing = false): void {
    const t = this.t;
    this.emailSaved = !!saved;
    this.renderLook();
    if (saved && !editing) {
      const line = el('div', 'sb-contact-saved');
      line.append(el('span', '', '✓'), el('b', '', saved), el('span', '', `— ${t.emailSaved}`));
      const change = el('button', 'sb-link', t.emailChange);
      change.type = 'button';
      change.addEventListener('click', () => this.on.editContact());
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
      void this.submitContact(input, btn, err);
    });
    this.contact.replaceChildren(form);
  }

  focusContact(): void {
    (this.contact.querySelector('.sb-email') as HTMLInputElement | null)?.focus();
  }

  private async submitContact(
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
    const problem = await this.on.saveContact(email);
    if (problem === null) return;
    btn.disabled = false;
    err.textContent = problem;
    err.hidden = false;
  }
}
