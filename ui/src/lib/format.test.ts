import { describe, expect, it } from 'vitest';
import {
  checkAvatar,
  initials,
  mergeTimeline,
  needsHttpChoice,
  preview,
  signedOutKey,
  visibleRange,
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
