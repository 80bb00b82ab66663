import { describe, expect, it } from 'vitest';
import {
  attachBody,
  formatDuration,
  languageName,
  lastDays,
  reportDay,
  countSteps,
  localTimeIn,
  pageLabel,
  toCsv,
  checkAvatar,
  formatSize,
  highlight,
  isImage,
  pastedName,
  percent,
  initials,
  mergeTimeline,
  needsHttpChoice,
  preview,
  signedOutKey,
  visibleRange,
  listWindow,
  LIST_MARGIN,
  needsWindow,
  absoluteUrl,
} from './format';
import { pickLocale, translate } from './i18n';
import type { Message, OutboxItem } from './types';

const msg = (id: number, client_id: string | null = null): Message => ({
  id,
  conversation_id: 1,
  client_id,
  author: { kind: 'visitor', id: null, name: null, avatar_url: null },
  body: `m${id}`,
  channel: 'chat',
  created_at: id * 10,
  attachments: [],
});

describe('timeline', () => {
  it('shows a sent message once, not also as pending', () => {
    const out: OutboxItem[] = [
      { client_id: 'a', conversation_id: 1, body: 'x', created_at: 0, failed: null },
      { client_id: 'b', conversation_id: 1, body: 'y', created_at: 0, failed: null },
      { client_id: 'c', conversation_id: 2, body: 'z', created_at: 0, failed: null },
    ];
    const rows = mergeTimeline([msg(2), msg(1, 'a'), msg(2)], out, 1);
    expect(rows.map((r) => r.key)).toEqual(['m1', 'm2', 'ob']);
  });
});

describe('virtual list', () => {
  it('renders only the visible window of 10,000 rows', () => {
    const r = visibleRange(64 * 5000, 640, 64, 10_000);
    expect(r.end - r.start).toBeLessThan(40);
    expect(r.start).toBe(4992);
    expect(visibleRange(0, 640, 64, 3)).toEqual({ start: 0, end: 3 });
  });
  it('loads a margin of rows beyond each edge of the screen', () => {
    expect(listWindow(4992, 5020)).toEqual({ start: 4992 - LIST_MARGIN, count: 28 + 2 * LIST_MARGIN });
    // at the top there is nothing above to load
    expect(listWindow(0, 18)).toEqual({ start: 0, count: 18 + LIST_MARGIN });
    expect(listWindow(30, 48)).toEqual({ start: 0, count: 48 + LIST_MARGIN });
  });
  it('asks for the next window before the screen reaches rows not loaded', () => {
    // rows 0..118 loaded of 10,000
    expect(needsWindow(0, 18, 0, 118, 10_000)).toBe(false);
    expect(needsWindow(60, 78, 0, 118, 10_000)).toBe(true);
    // scrolled up towards a window that starts below the top
    expect(needsWindow(440, 458, 400, 718, 10_000)).toBe(true);
    expect(needsWindow(560, 578, 400, 718, 10_000)).toBe(false);
    // the list's own ends are no edge to load past
    expect(needsWindow(9_982, 10_000, 9_882, 10_000, 10_000)).toBe(false);
    expect(needsWindow(0, 3, 0, 3, 3)).toBe(false);
    // nothing loaded yet
    expect(needsWindow(0, 0, 0, 0, 0)).toBe(false);
  });
});

describe('helpers', () => {
  it('checks avatars before upload', () => {
    expect(checkAvatar(1_048_576, 'image/png')).toBeNull();
    expect(checkAvatar(1_048_577, 'image/png')).toBe('too_big');
    expect(checkAvatar(10, 'image/svg+xml')).toBe('bad_type');
  });
  it('formats', () => {
    expect(initials('Анна Петрова')).toBe('АП');
    expect(initials('')).toBe('?');
    expect(preview('a\n\nb')).toBe('a b');
    expect(absoluteUrl('http://h:1/', '/avatars/x.png')).toBe('http://h:1/avatars/x.png');
  });
  it('speaks Russian and English', () => {
    expect(pickLocale(null, ['ru-RU', 'en-US'])).toBe('ru');
    expect(pickLocale('en', ['ru-RU'])).toBe('en');
    expect(pickLocale(null, ['de-DE'])).toBe('en');
    expect(translate('ru', 'settings.admins')).toBe('Администраторы');
    expect(translate('en', 'admins.added', { email: 'a@b.c' })).toBe('Invitation sent to a@b.c.');
  });
});

describe('sign-in safety', () => {
  it('asks for the unencrypted-connection choice only for http:// to another computer', () => {
    for (const a of ['http://chat.example.com', 'HTTP://10.0.0.5:8080/', 'http://[fe80::1]:80', 'http://localhost.example.com']) {
      expect(needsHttpChoice(a), a).toBe(true);
    }
    for (const a of [
      'https://chat.example.com',
      'chat.example.com',
      'http://localhost:8080',
      'http://127.0.0.1:8080',
      'http://127.9.9.9',
      'http://[::1]:8080',
      '',
    ]) {
      expect(needsHttpChoice(a), a).toBe(false);
    }
  });
  it('says why the server signed the user out, in both languages', () => {
    expect(signedOutKey('session_ended')).toBe('signout.ended');
    expect(signedOutKey('unauthorized')).toBe('signout.ended');
    expect(signedOutKey('session_expired')).toBe('signout.expired');
    expect(signedOutKey('password_expired')).toBe('signout.passwordExpired');
    const reason = translate('ru', signedOutKey('session_ended'));
    expect(translate('ru', 'signout.message', { reason })).toMatch(/^Вы вышли из аккаунта: сервер завершил/);
    expect(translate('en', 'signout.message', { reason: translate('en', 'signout.expired') })).toBe(
      'You were signed out: the session expired after a long time without use.',
    );
  });
});

describe('attachments', () => {
  it('shows sizes as file managers do, in both languages', () => {
    expect(formatSize(940, 'en')).toBe('940 B');
    expect(formatSize(48213, 'en')).toBe('47 KB');
    expect(formatSize(3.2 * 1024 * 1024, 'en')).toBe('3.2 MB');
    expect(formatSize(3.2 * 1024 * 1024, 'ru')).toBe('3,2 МБ');
    expect(formatSize(25 * 1024 * 1024, 'en')).toBe('25 MB');
  });
  it('tells pictures from other files by the preview the server made', () => {
    expect(isImage({ content_type: 'image/png', thumbnail_url: '/t/1.jpg' })).toBe(true);
    expect(isImage({ content_type: 'image/svg+xml', thumbnail_url: null })).toBe(false);
    expect(isImage({ content_type: 'application/pdf', thumbnail_url: null })).toBe(false);
  });
  it('computes progress', () => {
    expect(percent(50, 200)).toBe(25);
    expect(percent(5, null)).toBe(0);
    expect(percent(300, 200)).toBe(100);
  });
  it('sends the name before the bytes, separated by one NUL', () => {
    const b = attachBody('Счёт.pdf', new Uint8Array([0, 1, 2]));
    const nul = b.indexOf(0);
    expect(new TextDecoder().decode(b.slice(0, nul))).toBe('Счёт.pdf');
    expect([...b.slice(nul + 1)]).toEqual([0, 1, 2]);
  });
  it('names pasted images by the time', () => {
    expect(pastedName('image/jpeg', new Date(2026, 11, 4, 8, 39, 5))).toBe('pasted-2026-12-04-083905.jpg');
    expect(pastedName('image/png', new Date(2026, 0, 1, 0, 0, 0))).toBe('pasted-2026-01-01-000000.png');
  });
});

describe('search highlighting', () => {
  const marked = (text: string, words: string[]): string[] =>
    highlight(text, words)
      .filter((s) => s.hit)
      .map((s) => s.text);
  it('marks whole words in any case, in Russian and English', () => {
    expect(marked('Где мой заказ? Заказом займётся Анна.', ['заказ', 'Заказом'])).toEqual(['заказ', 'Заказом']);
    expect(marked('I ordered it; the order is late', ['ordered'])).toEqual(['ordered']);
    // not inside another word
    expect(marked('reorder the orders', ['order'])).toEqual([]);
  });
  it('keeps every character, in order', () => {
    const t = '…мой <b>заказ</b> & "order" №4512…';
    expect(
      highlight(t, ['заказ', 'order', '4512'])
        .map((s) => s.text)
        .join(''),
    ).toBe(t);
    expect(marked(t, ['заказ', 'order', '4512'])).toEqual(['заказ', 'order', '4512']);
  });
  it('treats the words as text, not patterns', () => {
    expect(marked('a.b and axb', ['a.b'])).toEqual(['a.b']);
    expect(highlight('plain', [])).toEqual([{ text: 'plain', hit: false }]);
    expect(highlight('', ['x'])).toEqual([]);
  });
});

describe('reports helpers', () => {
  it('formats durations', () => {
    expect(formatDuration(null, 'en')).toBe('—');
    expect(formatDuration(45, 'en')).toBe('45 s');
    expect(formatDuration(120, 'en')).toBe('2 min');
    expect(formatDuration(5400, 'en')).toBe('1 h 30 min');
    expect(formatDuration(7200, 'ru')).toBe('2 ч');
    expect(formatDuration(97200, 'en')).toBe('1 d 3 h');
  });
  it('counts the last days with today', () => {
    expect(lastDays(30, new Date(2026, 11, 4, 10))).toEqual({ from: '2026-11-05', to: '2026-12-04' });
    expect(lastDays(1, new Date(2026, 0, 1))).toEqual({ from: '2026-01-01', to: '2026-01-01' });
  });
  it('names report days in the UI language, whatever this computer\'s zone', () => {
    expect(reportDay('2026-12-04', 'en')).toBe('Dec 4');
    expect(reportDay('2026-12-04', 'ru')).toMatch(/^4 дек/);
    expect(reportDay('2026-12-04', 'en', true)).toBe('Fri, December 4, 2026');
    expect(reportDay('2026-12-04', 'ru', true)).toMatch(/^пт, 4 декабря 2026/);
    expect(reportDay('2026-01-01', 'en')).toBe('Jan 1');
    expect(reportDay('not a day', 'en')).toBe('not a day');
  });
  it('steps a count axis in whole numbers', () => {
    expect(countSteps(100)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500]);
  });
  it('writes CSV', () => {
    expect(toCsv([['name', 'n'], ['Ann, "A"', 3], ['x', null]])).toBe('name,n\r\n"Ann, ""A""",3\r\nx,\r\n');
  });
});

describe('visitor panel helpers', () => {
  it('tells the time in the visitor\'s zone', () => {
    const at = new Date(Date.UTC(2026, 11, 4, 12, 5));
    expect(localTimeIn('Asia/Tokyo', 'en', at)).toMatch(/(21|09):05/);
    expect(localTimeIn('Europe/Moscow', 'en', at)).toMatch(/(15|03):05/);
    expect(localTimeIn('Not/AZone', 'en', at)).toBeNull();
    expect(localTimeIn(null, 'en', at)).toBeNull();
  });
  it('names languages', () => {
    expect(languageName('ru-RU', 'en')).toContain('Russian');
    expect(languageName('ru-RU', 'en')).toContain('ru-RU');
    expect(languageName(null, 'en')).toBeNull();
  });
  it('labels pages by title, else by address', () => {
    expect(pageLabel({ url: 'https://shop.example/teas', title: ' Teas ' })).toBe('Teas');
    expect(pageLabel({ url: 'https://shop.example/teas', title: '' })).toBe('shop.example/teas');
  });
});
