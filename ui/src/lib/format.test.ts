import { describe, expect, it } from 'vitest';
import { checkAvatar, initials, mergeTimeline, preview, visibleRange, absoluteUrl } from './format';
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
