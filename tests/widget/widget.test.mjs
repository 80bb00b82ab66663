// End-to-end test of the visitor widget: a real headless Chromium (Debian's
// /usr/bin/chromium, never a downloaded browser) on the server's /demo page,
// an operator answering over the real REST API and websocket.
//
//   SWITCHBOARD_URL=http://127.0.0.1:8080 \
//   SWITCHBOARD_ADMIN_EMAIL=admin@example.com SWITCHBOARD_ADMIN_PASSWORD=secret \
//   npm test
//
// Every wait is on a selector or a condition, never a fixed sleep.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(here, 'screenshots');
const BASE = (process.env.SWITCHBOARD_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const EMAIL = process.env.SWITCHBOARD_ADMIN_EMAIL;
const PASSWORD = process.env.SWITCHBOARD_ADMIN_PASSWORD;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const WAIT_MS = Number(process.env.SWITCHBOARD_WAIT_MS || 15_000);

// One run's marker, so the test finds its own conversation on a shared server.
const TAG = randomUUID().slice(0, 8);

// ---- helpers ---------------------------------------------------------------

async function api(method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

/** Retry `fn` until it returns something truthy (the server works asynchronously). */
async function eventually(what, fn, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}

async function listConversations(token) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 20; page++) {
    const q = new URLSearchParams({ limit: '50' });
    if (cursor) q.set('before', cursor);
    const r = await api('GET', `/api/v1/conversations?${q}`, { token });
    assert.equal(r.status, 200, `GET /api/v1/conversations: ${r.status} ${r.text}`);
    items.push(...r.json.items);
    cursor = r.json.next;
    if (!cursor) break;
  }
  return items;
}

async function conversationMessages(token, id) {
  const r = await api('GET', `/api/v1/conversations/${id}/messages?limit=200`, { token });
  assert.equal(r.status, 200, `GET messages: ${r.status} ${r.text}`);
  return r.json.items;
}

/** The conversation holding a visitor message with exactly `body`. */
async function findConversation(token, body) {
  return eventually(`a conversation with "${body}"`, async () => {
    const convs = await listConversations(token);
    const direct = convs.find((c) => c.last_message && c.last_message.body === body);
    if (direct) return direct;
    for (const c of convs.slice(0, 20)) {
      const msgs = await conversationMessages(token, c.id);
      if (msgs.some((m) => m.body === body)) return c;
    }
    return null;
  });
}

// ---- the test ----------------------------------------------------------------

describe('visitor widget in Chromium', () => {
  let browser;
  let context;
  let page;
  let operator; // {token, user}
  let conversation;
  const pageErrors = [];
  const firstText = `Hello, do you ship Da Hong Pao to Kazan? [${TAG}]`;
  const replyText = `Yes, we ship everywhere within 3 days [${TAG}]`;

  const panel = () => page.locator('.sb-panel');
  const launcher = () => page.locator('.sb-launcher');
  const input = () => page.locator('.sb-input');
  /** A visitor message the server has acknowledged (no longer pending). */
  const sentMessage = (text) => page.locator('.sb-msg[data-kind="visitor"]:not(.sb-pending)', { hasText: text });
  const operatorMessage = (text) => page.locator('.sb-msg[data-kind="operator"]', { hasText: text });

  async function openPanel() {
    await launcher().waitFor({ state: 'attached' }); // the widget has booted
    if (!(await panel().isVisible())) await launcher().click();
    await panel().waitFor({ state: 'visible' });
    // The session is up once the online/offline hint is set.
    await page.locator('.sb-status[data-online]').waitFor({ state: 'attached' });
  }

  async function send(text) {
    await input().fill(text);
    await input().press('Enter');
  }

  before(async () => {
    assert.ok(EMAIL && PASSWORD, 'set SWITCHBOARD_ADMIN_EMAIL and SWITCHBOARD_ADMIN_PASSWORD');
    const login = await api('POST', '/api/v1/auth/login', { body: { email: EMAIL, password: PASSWORD } });
    assert.equal(login.status, 200, `login: ${login.status} ${login.text}`);
    operator = login.json;
    assert.ok(operator.token, 'login answers a token');
    await mkdir(SHOTS, { recursive: true });
    // chromium.launch gives every run a fresh temporary --user-data-dir of its
    // own (and deletes it on close); Playwright refuses one passed in args.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-quic',
        '--disable-sync',
      ],
    });
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    await browser?.close();
  });

  it('serves the demo shop with the widget embedded by one async script tag', async () => {
    const res = await page.goto(`${BASE}/demo`);
    assert.equal(res.status(), 200);
    const tags = await page.$$eval('script[src]', (els) => els.map((e) => [e.getAttribute('src'), e.async]));
    assert.deepEqual(tags, [['/widget.js', true]]);
    await launcher().waitFor();
    assert.equal(await panel().isVisible(), false, 'the panel starts closed');
  });

  it('opens the panel with the team and sends a message', async () => {
    await launcher().click();
    await openPanel();
    await page.locator('.sb-title', { hasText: 'Chat with us' }).waitFor();
    // The team's names come from the session's `operators`.
    const names = await page.locator('.sb-names').textContent();
    const me = (operator.user.name || '').trim();
    if (me) assert.ok(names.includes(me), `team names "${names}" include "${me}"`);
    assert.ok((await page.locator('.sb-team .sb-avatar').count()) >= 1, 'team avatars shown');
    const status = await page.locator('.sb-status').textContent();
    assert.match(status, /online|away/i);
    const token = await page.evaluate(() => localStorage.getItem('switchboard.visitor_token'));
    assert.ok(token, 'visitor token kept in localStorage');

    await send(firstText);
    await sentMessage(firstText).waitFor();
    assert.equal(await input().inputValue(), '', 'composer cleared');
  });

  it('shows the operator answer with name and avatar, live', async () => {
    conversation = await findConversation(operator.token, firstText);
    const r = await api('POST', `/api/v1/conversations/${conversation.id}/messages`, {
      token: operator.token,
      body: { body: replyText, client_id: randomUUID() },
    });
    assert.equal(r.status, 201, `operator reply: ${r.status} ${r.text}`);
    const row = operatorMessage(replyText);
    await row.waitFor();
    const expectedName = (r.json.author?.name || operator.user.name || '').trim() || 'Operator';
    assert.equal((await row.locator('.sb-author').textContent()).trim(), expectedName);
    const avatarUrl = r.json.author?.avatar_url ?? operator.user.avatar_url;
    if (avatarUrl) {
      const img = row.locator('.sb-avatar img');
      await img.waitFor({ state: 'attached' });
      const src = await img.getAttribute('src');
      assert.equal(new URL(src).pathname, new URL(avatarUrl, BASE).pathname, 'avatar img points at the avatar');
    } else {
      assert.equal(await row.locator('.sb-avatar img').count(), 0);
      assert.ok((await row.locator('.sb-avatar').textContent()).trim().length > 0, 'initials instead');
    }
    // Exactly once, even though it may come both over the stream and a history reload.
    assert.equal(await operatorMessage(replyText).count(), 1);
  });

  it('shows "typing" both ways over the websockets', async () => {
    // The operator side: a websocket on the server's origin, opened from a
    // second page (Node 20 has no WebSocket client built in).
    const op = await context.newPage();
    await op.goto(`${BASE}/healthz`);
    await op.evaluate(async (token) => {
      const u = new URL('/api/v1/stream', location.href);
      u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
      u.searchParams.set('token', token);
      window.frames_ = [];
      const ws = new WebSocket(u.href);
      window.ws_ = ws;
      ws.onmessage = (e) => window.frames_.push(JSON.parse(e.data));
      await new Promise((ok, fail) => {
        ws.onerror = () => fail(new Error('operator websocket failed'));
        const check = setInterval(() => {
          if (window.frames_.some((f) => f.type === 'ready')) {
            clearInterval(check);
            ok();
          }
        }, 20);
      });
    }, operator.token);

    // Operator types → the widget says so.
    await op.evaluate((id) => window.ws_.send(JSON.stringify({ type: 'typing', conversation_id: id })), conversation.id);
    const typing = page.locator('.sb-typing');
    await typing.waitFor({ state: 'visible' });
    assert.match(await typing.textContent(), /typing/i);

    // Visitor types → the operator's stream gets a typing event. The widget
    // sends at most one typing frame per 2 s, so keep typing until it arrives.
    await input().focus();
    await eventually('a typing event from the visitor on the operator stream', async () => {
      await input().press('a');
      return op.evaluate(() => window.frames_.some((f) => f.type === 'event' && f.event === 'typing'));
    });
    await input().fill('');
    await op.close();
  });

  it('keeps the history after a reload', async () => {
    await page.reload();
    await openPanel();
    await sentMessage(firstText).waitFor();
    await operatorMessage(replyText).waitFor();
    assert.equal(await sentMessage(firstText).count(), 1, 'no duplicate after reload');
  });

  it('reconnects after the stream drops and resumes with since', async () => {
    // Every widget websocket goes through Playwright, which can cut it.
    const opened = []; // {url, ws, server, frames}
    let hold = false;
    await page.routeWebSocket(/\/api\/v1\/widget\/stream/, (ws) => {
      const entry = { url: ws.url(), ws, server: null, frames: [] };
      opened.push(entry);
      if (hold) {
        ws.close({ code: 1011, reason: 'test holds the stream down' });
        return;
      }
      entry.server = ws.connectToServer();
      entry.server.onMessage((m) => {
        entry.frames.push(String(m));
        ws.send(m);
      });
    });
    await page.reload();
    await openPanel();
    await operatorMessage(replyText).waitFor();
    await eventually('the stream to be ready', () => opened.at(-1)?.frames.some((f) => JSON.parse(f).type === 'ready'));

    // Cut it, and keep it down while the operator answers.
    hold = true;
    const first = opened.at(-1);
    first.server.close();
    first.ws.close({ code: 1011, reason: 'test drops the stream' });
    const missed = `Answer sent while the visitor was offline [${TAG}]`;
    const r = await api('POST', `/api/v1/conversations/${conversation.id}/messages`, {
      token: operator.token,
      body: { body: missed, client_id: randomUUID() },
    });
    assert.equal(r.status, 201, `operator reply: ${r.status} ${r.text}`);
    hold = false;

    // The widget comes back by itself (backoff) and gets the answer replayed.
    await operatorMessage(missed).waitFor();
    const resumed = opened.filter((o) => o.server).slice(1);
    assert.ok(resumed.length >= 1, 'reconnected');
    const since = new URL(resumed[0].url).searchParams.get('since');
    assert.ok(since !== null && /^\d+$/.test(since), `reconnected with since: ${resumed[0].url}`);
    assert.equal(await operatorMessage(missed).count(), 1);
  });

  it('renders message bodies as text, never HTML', async () => {
    const payload = `<img src=x onerror="window.__xss=1"><b>bold</b> [xss ${TAG}]`;
    await send(payload);
    const row = sentMessage(`[xss ${TAG}]`);
    await row.waitFor();
    assert.equal(await row.locator('.sb-bubble').textContent(), payload, 'shown literally');
    // The server stored exactly what was typed (and the operator sees it as text too).
    await eventually('the XSS message on the server', async () => {
      const msgs = await conversationMessages(operator.token, conversation.id);
      return msgs.some((m) => m.body === payload);
    });
    const injected = await page.evaluate(() => {
      const root = document.querySelector('switchboard-widget').shadowRoot;
      return {
        xss: window.__xss,
        inBubbles: root.querySelectorAll('.sb-bubble *').length,
        bold: root.querySelectorAll('b').length - root.querySelectorAll('.sb-contact-saved b').length,
        pageBold: document.querySelectorAll('b').length,
      };
    });
    assert.deepEqual(injected, { xss: undefined, inBubbles: 0, bold: 0, pageBold: 0 });
  });

  it('resends with the same client_id after a network failure, and keeps one copy', async () => {
    const text = `Sent through a flaky network [${TAG}]`;
    const posted = [];
    await page.route('**/api/v1/widget/messages', async (route) => {
      const req = route.request();
      if (req.method() !== 'POST') return route.continue();
      posted.push(JSON.parse(req.postData()).client_id);
      if (posted.length === 1) return route.abort('failed');
      return route.continue();
    });
    await send(text);
    // Nothing reached the server: the row says so.
    const pending = page.locator('.sb-msg.sb-pending', { hasText: text });
    await pending.locator('.sb-meta', { hasText: 'Waiting for connection…' }).waitFor();
    await sentMessage(text).waitFor();
    await page.unroute('**/api/v1/widget/messages');
    assert.ok(posted.length >= 2, 'retried');
    assert.equal(new Set(posted).size, 1, 'every try carries the same client_id');
    const msgs = await conversationMessages(operator.token, conversation.id);
    assert.equal(msgs.filter((m) => m.body === text).length, 1, 'the server keeps one copy');
    assert.equal(await sentMessage(text).count(), 1);
  });

  it('says "can\'t send, retrying" while the server answers 507, then delivers once with the same client_id', async () => {
    const text = `Sent while the server's disk is full [${TAG}]`;
    const posted = [];
    await page.route('**/api/v1/widget/messages', async (route) => {
      const req = route.request();
      if (req.method() !== 'POST') return route.continue();
      posted.push(JSON.parse(req.postData()).client_id);
      if (posted.length > 2) return route.continue();
      return route.fulfill({
        status: 507,
        headers: { 'Retry-After': '1' },
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'storage_full', message: 'The server is out of disk space' } }),
      });
    });
    await send(text);
    const retrying = page
      .locator('.sb-msg.sb-pending', { hasText: text })
      .locator('.sb-meta', { hasText: 'Can’t send right now — retrying…' });
    await retrying.waitFor();
    // The server did answer: this is not a lost connection.
    assert.equal(await page.locator('.sb-meta', { hasText: 'Waiting for connection' }).count(), 0);
    await sentMessage(text).waitFor();
    await page.unroute('**/api/v1/widget/messages');
    assert.equal(posted.length, 3, `two 507s, then through: ${JSON.stringify(posted)}`);
    assert.equal(new Set(posted).size, 1, 'every try carries the same client_id');
    const msgs = await conversationMessages(operator.token, conversation.id);
    assert.equal(msgs.filter((m) => m.body === text).length, 1, 'the server keeps one copy');
    assert.equal(await sentMessage(text).count(), 1);
    assert.equal(await page.locator('.sb-pending', { hasText: text }).count(), 0, 'no longer pending');
    assert.equal(await page.locator('.sb-meta', { hasText: 'Can’t send right now' }).count(), 0, 'the retrying text is gone');
  });

  it('shows a readable error when the server refuses a message, and keeps the text', async () => {
    const text = `A message the server refuses [${TAG}]`;
    await page.route('**/api/v1/widget/messages', (route) =>
      route.request().method() === 'POST'
        ? route.fulfill({
            status: 413,
            contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'body_too_long', message: 'The message is longer than allowed' } }),
          })
        : route.continue(),
    );
    await send(text);
    const banner = page.locator('.sb-error');
    await banner.waitFor({ state: 'visible' });
    assert.match(await banner.textContent(), /too long/i);
    assert.equal(await input().inputValue(), text, 'the text is back in the composer');
    assert.equal(await page.locator('.sb-msg', { hasText: text }).count(), 0);
    await page.unroute('**/api/v1/widget/messages');
    await input().fill('');
  });

  it('leaves an email for answers by email', async () => {
    const email = `visitor.${TAG}@example.com`;
    await page.locator('.sb-contact label', { hasText: 'we will answer there too' }).waitFor();
    await page.locator('.sb-email').fill('not-an-email');
    await page.locator('.sb-email-save').click();
    await page.locator('.sb-contact-error', { hasText: 'check' }).waitFor();
    await page.locator('.sb-email').fill(email);
    await page.locator('.sb-email-save').click();
    const saved = page.locator('.sb-contact-saved', { hasText: email });
    await saved.waitFor();
    assert.match(await saved.textContent(), /we will answer there too/);
    await eventually('the visitor email on the conversation', async () => {
      const r = await api('GET', `/api/v1/conversations/${conversation.id}`, { token: operator.token });
      return r.status === 200 && r.json.visitor && r.json.visitor.email === email;
    });
    await page.screenshot({ path: join(SHOTS, 'widget.png') });
  });

  it('fills the screen on a phone (375×700)', async () => {
    await page.setViewportSize({ width: 375, height: 700 });
    await openPanel();
    const box = await panel().boundingBox();
    assert.ok(box, 'panel laid out');
    assert.ok(Math.abs(box.x) <= 1 && Math.abs(box.y) <= 1, `panel at the corner: ${JSON.stringify(box)}`);
    assert.ok(Math.abs(box.width - 375) <= 1, `panel full width: ${box.width}`);
    assert.ok(Math.abs(box.height - 700) <= 1, `panel full height: ${box.height}`);
    assert.equal(await launcher().isVisible(), false, 'launcher out of the way while open');
    await page.locator('.sb-close').click();
    await launcher().waitFor({ state: 'visible' });
    await launcher().click();
    await panel().waitFor({ state: 'visible' });
    await page.screenshot({ path: join(SHOTS, 'widget-mobile.png') });
  });

  it('speaks Russian to a Russian browser', async () => {
    const ru = await browser.newContext({ locale: 'ru-RU', viewport: { width: 1280, height: 800 } });
    const p = await ru.newPage();
    p.setDefaultTimeout(WAIT_MS);
    await p.goto(`${BASE}/demo`);
    await p.locator('.sb-launcher').click();
    await p.locator('.sb-title', { hasText: 'Напишите нам' }).waitFor();
    await p.locator('.sb-contact label', { hasText: 'ответим и туда тоже' }).waitFor();
    await p.locator('.sb-status[data-online]').waitFor({ state: 'attached' });
    await ru.close();
  });

  it('threw no errors on the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
