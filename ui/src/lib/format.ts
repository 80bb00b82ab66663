// Small pure helpers, unit tested.
import type { Attachment, Conversation, Message, OutboxItem } from './types';
import type { Key, Locale } from './i18n';

/**
 * Whether signing in to this address needs the explicit "allow an unencrypted
 * connection" choice: plain http:// to anything but this computer (localhost,
 * 127.0.0.0/8, ::1). The core checks the same and is the one that refuses.
 */
export function needsHttpChoice(address: string): boolean {
  const m = /^\s*http:\/\/(\[[^\]]*\]|[^/:?#]*)/i.exec(address);
  if (!m) return false;
  const host = (m[1] ?? '').toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host === '[::1]' || host === '[::ffff:127.0.0.1]') return false;
  return !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The words for why the server signed the user out (the `signed_out` event's code). */
export function signedOutKey(code: string): Key {
  switch (code) {
    case 'session_expired':
      return 'signout.expired';
    case 'password_expired':
      return 'signout.passwordExpired';
    default:
      // session_ended (close 4401), unauthorized: removed, signed out elsewhere, …
      return 'signout.ended';
  }
}

export function visitorName(c: Conversation, fallback: string): string {
  const n = c.visitor.name?.trim();
  if (n) return n;
  const e = c.visitor.email?.trim();
  if (e) return e;
  return `${fallback} #${c.visitor.id}`;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const first = parts[0]?.[0] ?? '?';
  const second = parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '';
  return (first + second).toUpperCase();
}

/** "14:05" today, "yesterday", or a short date. */
const formats = new Map<string, Intl.DateTimeFormat>();
/**
 * One formatter per locale and kind, kept: `toLocaleTimeString(locale, options)` builds a
 * new ICU formatter at every call, tens of kB outside the JS heap that stay until a
 * garbage collection, and a scrolled dialog list formats thousands of times.
 */
function dateFormat(locale: Locale, kind: 'time' | 'day'): Intl.DateTimeFormat {
  const key = `${locale}/${kind}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(
      locale,
      kind === 'time' ? { hour: '2-digit', minute: '2-digit' } : { day: 'numeric', month: 'short' },
    );
    formats.set(key, f);
  }
  return f;
}

export function shortTime(ms: number, locale: Locale, now: Date = new Date(), yesterday = 'yesterday'): string {
  const d = new Date(ms);
  const sameDay = d.toDateString() === now.toDateString();
  if (sameDay) return dateFormat(locale, 'time').format(d);
  const y = new Date(now);
  y.setDate(now.getDate() - 1);
  if (d.toDateString() === y.toDateString()) return yesterday;
  return dateFormat(locale, 'day').format(d);
}

export function preview(body: string, max = 80): string {
  const one = body.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** Messages plus still-pending outbox items, without showing anything twice. */
export interface Row {
  key: string;
  message: Message | null;
  pending: OutboxItem | null;
}

export function mergeTimeline(messages: Message[], outbox: OutboxItem[], conversationId: number): Row[] {
  const seen = new Set<number>();
  const clientIds = new Set<string>();
  const rows: Row[] = [];
  const sorted = [...messages].sort((a, b) => a.created_at - b.created_at || a.id - b.id);
  for (const m of sorted) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    if (m.client_id) clientIds.add(m.client_id);
    rows.push({ key: `m${m.id}`, message: m, pending: null });
  }
  for (const o of outbox) {
    if (o.conversation_id !== conversationId || clientIds.has(o.client_id)) continue;
    rows.push({ key: `o${o.client_id}`, message: null, pending: o });
  }
  return rows;
}

/** Which rows of a fixed-height list are visible (with some overscan). */
export function visibleRange(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  total: number,
  overscan = 8,
): { start: number; end: number } {
  const start = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const end = Math.min(total, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { start, end };
}

/** Rows loaded beyond each edge of the screen, so that scrolling rarely waits. */
export const LIST_MARGIN = 100;
/** The rows loaded before the list has measured its screen. */
export const LIST_WINDOW = 2 * LIST_MARGIN;

/** The window of the dialog list to load for rows `start..end` on screen. */
export function listWindow(start: number, end: number): { start: number; count: number } {
  const from = Math.max(0, start - LIST_MARGIN);
  return { start: from, count: end + LIST_MARGIN - from };
}

/**
 * Whether rows `start..end` on screen call for a new window: they come within half a
 * margin of an edge of the loaded rows `loadedStart..loadedEnd` (not the list's own
 * ends), so the next window is asked for before a scroll reaches rows not loaded.
 */
export function needsWindow(start: number, end: number, loadedStart: number, loadedEnd: number, total: number): boolean {
  const ahead = LIST_MARGIN / 2;
  return Math.max(0, start - ahead) < loadedStart || Math.min(total, end + ahead) > loadedEnd;
}

export const MAX_AVATAR_BYTES = 1_048_576;
export const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

export function checkAvatar(size: number, type: string): 'too_big' | 'bad_type' | null {
  if (!AVATAR_TYPES.includes(type)) return 'bad_type';
  if (size > MAX_AVATAR_BYTES) return 'too_big';
  return null;
}

export function absoluteUrl(server: string, url: string | null): string | null {
  if (!url) return null;
  if (/^(https?:|data:|blob:)/.test(url)) return url;
  return server.replace(/\/$/, '') + (url.startsWith('/') ? url : '/' + url);
}

/** At most this many files go with one message (API.md). */
export const MAX_FILES = 10;

/** "940 B", "48 KB", "3.2 MB" (1024-based, as file managers show), in the locale's digits. */
export function formatSize(bytes: number, locale: Locale): string {
  const units = locale === 'ru' ? ['Б', 'КБ', 'МБ', 'ГБ'] : ['B', 'KB', 'MB', 'GB'];
  let v = Math.max(0, bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = i === 0 || v >= 10 ? 0 : 1;
  return `${v.toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${units[i]}`;
}

/** Whether an attachment is shown as a picture (the server made a preview of it). */
export function isImage(a: Pick<Attachment, 'content_type' | 'thumbnail_url'>): boolean {
  return a.content_type.startsWith('image/') && !!a.thumbnail_url;
}

/** Whole percent of a transfer, 0 when the total is unknown. */
export function percent(done: number, total: number | null): number {
  if (!total || total <= 0) return 0;
  return Math.min(100, Math.max(0, Math.floor((done * 100) / total)));
}

/** A piece of a search snippet: `hit` when it is one of the matched words. */
export interface Segment {
  text: string;
  hit: boolean;
}

const WORD_CHAR = /[\p{L}\p{N}]/u;
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Splits `text` into plain and highlighted pieces: every whole-word occurrence of a
 * matched word (any case). The UI renders the pieces as text nodes (never as HTML),
 * so a snippet can hold anything.
 */
export function highlight(text: string, matched: readonly string[]): Segment[] {
  const mask = new Array<boolean>(text.length).fill(false);
  for (const w of new Set(matched.map((m) => m.trim()).filter(Boolean))) {
    for (const m of text.matchAll(new RegExp(escapeRe(w), 'giu'))) {
      const start = m.index ?? 0;
      const end = start + m[0].length;
      const before = text.slice(0, start);
      const prev = before.length ? [...before].pop() : undefined;
      const next = [...text.slice(end, end + 2)][0];
      if ((prev && WORD_CHAR.test(prev)) || (next && WORD_CHAR.test(next))) continue;
      for (let i = start; i < end; i++) mask[i] = true;
    }
  }
  const out: Segment[] = [];
  for (let i = 0; i < text.length; i++) {
    const hit = mask[i] ?? false;
    const last = out[out.length - 1];
    if (last && last.hit === hit) last.text += text[i];
    else out.push({ text: text[i] ?? '', hit });
  }
  return out;
}

/** What a search hit says about where it was found: a message, or the visitor's name or email. */
export function hitKind(hit: { message: Message | null }): 'message' | 'visitor' {
  return hit.message ? 'message' : 'visitor';
}

/** Builds the raw body of `attach_bytes`: the name in UTF-8, a NUL byte, the file. */
export function attachBody(name: string, bytes: Uint8Array): Uint8Array {
  const n = new TextEncoder().encode(name.replace(/\0/g, ''));
  const out = new Uint8Array(n.length + 1 + bytes.length);
  out.set(n, 0);
  out[n.length] = 0;
  out.set(bytes, n.length + 1);
  return out;
}

/** A name for a pasted image, which comes without one: "pasted-2026-12-04-0839.png". */
export function pastedName(type: string, now: Date = new Date()): string {
  const ext = type === 'image/jpeg' ? 'jpg' : type === 'image/gif' ? 'gif' : type === 'image/webp' ? 'webp' : 'png';
  const p = (n: number): string => String(n).padStart(2, '0');
  return `pasted-${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}.${ext}`;
}

/** A duration in seconds, human-readably: "45 s", "2 min", "1 h 30 min", "2 d 3 h"; "—" for none. */
export function formatDuration(seconds: number | null, locale: Locale): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const u = locale === 'ru' ? { s: 'с', m: 'мин', h: 'ч', d: 'д' } : { s: 's', m: 'min', h: 'h', d: 'd' };
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} ${u.s}`;
  const mins = Math.round(s / 60);
  if (mins < 60) return `${mins} ${u.m}`;
  const hours = Math.floor(mins / 60);
  if (hours < 24) {
    const m = mins % 60;
    return m ? `${hours} ${u.h} ${m} ${u.m}` : `${hours} ${u.h}`;
  }
  const days = Math.floor(hours / 24);
  const h = hours % 24;
  return h ? `${days} ${u.d} ${h} ${u.h}` : `${days} ${u.d}`;
}

/** A date as `YYYY-MM-DD` in this computer's time zone. */
export function isoDay(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** The last `days` days up to `now`, today included, as `YYYY-MM-DD`. */
export function lastDays(days: number, now: Date = new Date()): { from: string; to: string } {
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (days - 1));
  return { from: isoDay(start), to: isoDay(now) };
}

/** Rows as CSV (RFC 4180: fields with commas, quotes or line breaks quoted). */
export function toCsv(rows: readonly (readonly (string | number | null)[])[]): string {
  const cell = (v: string | number | null): string => {
    const s = v === null ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** The time now in an IANA zone ("14:05, Thu" in the UI's language), or null for an unknown zone. */
export function localTimeIn(zone: string | null | undefined, locale: Locale, now: Date = new Date()): string | null {
  if (!zone) return null;
  try {
    return new Intl.DateTimeFormat(locale, { timeZone: zone, hour: '2-digit', minute: '2-digit', weekday: 'short' }).format(now);
  } catch {
    return null;
  }
}

/** A language tag as a name in the UI's language ("ru-RU" → "Russian (Russia)"), else the tag itself. */
export function languageName(tag: string | null | undefined, locale: Locale): string | null {
  if (!tag) return null;
  try {
    const n = new Intl.DisplayNames([locale], { type: 'language' }).of(tag);
    return n && n !== tag ? `${n} (${tag})` : tag;
  } catch {
    return tag;
  }
}

/** What a link shows of a page: its title, else its address without the scheme. */
export function pageLabel(p: { url: string; title: string }): string {
  const t = p.title.trim();
  return t || p.url.replace(/^https?:\/\//, '');
}

/**
 * A report day (`YYYY-MM-DD`, already in the report's time zone) in the UI's language:
 * short for a chart's axis ("Dec 4", "4 дек."), long for its hover ("Fri, December 4, 2026").
 */
export function reportDay(day: string, locale: Locale, long = false): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return day;
  const at = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  const opts: Intl.DateTimeFormatOptions = long
    ? { weekday: 'short', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }
    : { day: 'numeric', month: 'short', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(locale, opts).format(at);
}

/** Whole-number steps for a count axis: 1, 2, 5, 10, 20, 50, … */
export function countSteps(upTo = 1e9): number[] {
  const out: number[] = [];
  for (let p = 1; p <= upTo; p *= 10) out.push(p, 2 * p, 5 * p);
  return out;
}
