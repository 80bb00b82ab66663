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
import { createServer } from 'node:http';
import { deflateSync } from 'node:zlib';
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

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A real PNG (RGB, a gradient with a mark of `seed`), so the server can make a thumbnail of it. */
function makePng(width, height, seed = 0) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      const i = row + 1 + x * 3;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = (seed * 37 + x * y) & 0xff;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** GET an attachment's signed URL (absolute, or relative to the server). */
async function download(url) {
  const res = await fetch(new URL(url, `${BASE}/`));
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
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
  const picker = () => page.locator('.sb-picker');
  const chip = (name) => page.locator('.sb-chip', { hasText: name });
  const WIDGET_UPLOADS = /\/api\/v1\/widget\/attachments\b/;
  const WIDGET_MESSAGES = '**/api/v1/widget/messages';

  /** Records the bodies of the widget's message POSTs until `stop()`. */
  function recordPosts() {
    const posts = [];
    const onRequest = (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/widget/messages') posts.push(r.postDataJSON());
    };
    page.on('request', onRequest);
    return { posts, stop: () => page.off('request', onRequest) };
  }

  /** Puts files on the widget the way a browser does for a drop or a paste (a
   *  DataTransfer on a synthetic event, which headless Chromium drives reliably). */
  async function transfer(kind, files) {
    return page.evaluate(
      ({ kind, files }) => {
        const root = document.querySelector('switchboard-widget').shadowRoot;
        const dt = new DataTransfer();
        for (const f of files) {
          const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
          dt.items.add(new File([bytes], f.name, { type: f.type }));
        }
        const init = { bubbles: true, cancelable: true, composed: true };
        if (kind === 'paste') {
          return root.querySelector('.sb-input').dispatchEvent(new ClipboardEvent('paste', { ...init, clipboardData: dt }));
        }
        // Over the message list, as a visitor drags a file from the desktop onto the chat.
        const list = root.querySelector('.sb-msgs');
        for (const type of kind === 'drop' ? ['dragover', 'drop'] : ['dragenter', 'dragover']) {
          list.dispatchEvent(new DragEvent(type, { ...init, dataTransfer: dt }));
        }
        return true;
      },
      { kind, files: files.map((f) => ({ ...f, b64: f.buffer.toString('base64') })) },
    );
  }

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

  it('tells operators which pages the visitor opens, single-page navigation included', async () => {
    const visitorId = conversation.visitor.id;
    const pages = async () => {
      const r = await api('GET', `/api/v1/visitors/${visitorId}`, { token: operator.token });
      assert.equal(r.status, 200, `visitor profile: ${r.status} ${r.text}`);
      return r.json;
    };
    const demo = new URL('/demo', BASE).href;
    await eventually('the demo page in the profile', async () => (await pages()).pages.some((p) => p.url === demo));
    // A shop that routes with the History API: no reload, one report per address.
    await page.evaluate(() => history.pushState({}, '', '/demo?tea=da-hong-pao'));
    const moved = new URL('/demo?tea=da-hong-pao', BASE).href;
    const profile = await eventually('the new address in the profile', async () => {
      const p = await pages();
      return p.pages[0]?.url === moved ? p : null;
    });
    assert.equal(profile.language, 'en-US');
    assert.ok(profile.time_zone, 'the browser time zone');
    assert.match(profile.browser ?? '', /Chrome/);
    assert.equal(profile.ip_address, null, 'no address kept by default');
    assert.equal(profile.pages.filter((p) => p.url === moved).length, 1);
    assert.equal(profile.conversations[0].id, conversation.id);
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

  it('attaches a PNG through the file input, previews it and sends it; the operator gets the same bytes', async () => {
    const png = makePng(320, 240, 1);
    const name = `parcel-${TAG}.png`;
    const text = `Here is a photo of the parcel [${TAG}]`;
    await page.locator('.sb-attach[aria-label="Attach files"]').waitFor();
    await picker().setInputFiles({ name, mimeType: 'image/png', buffer: png });
    // At once: a chip with the local preview, name and size, uploading.
    await chip(name).waitFor();
    assert.match(await chip(name).locator('.sb-chip-thumb img').getAttribute('src'), /^blob:/);
    assert.match(await chip(name).locator('.sb-chip-note').textContent(), /^\d+(\.\d)?\sK?B$/);
    await page.locator('.sb-chip[data-state="done"]', { hasText: name }).waitFor();
    assert.equal(await page.locator('.sb-send').isDisabled(), false);

    await send(text);
    const row = sentMessage(text);
    await row.waitFor();
    assert.equal(await page.locator('.sb-tray').isVisible(), false, 'the tray is emptied by sending');
    assert.equal(await row.locator('.sb-bubble').textContent(), text, 'the text in its bubble');
    const link = row.locator('.sb-att-img');
    const img = link.locator('img');
    await eventually('the preview to load', () => img.evaluate((i) => i.complete && i.naturalWidth > 0));
    assert.equal(await img.getAttribute('alt'), name);
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.getAttribute('rel'), /\bnoopener\b/);
    assert.equal(await link.getAttribute('download'), null, 'an image opens, it is not a download');

    // The operator sees the message with the file, and its URL gives the same bytes.
    const msg = await eventually('the message with the PNG on the server', async () =>
      (await conversationMessages(operator.token, conversation.id)).find((m) => m.body === text),
    );
    assert.equal(msg.attachments.length, 1, JSON.stringify(msg.attachments));
    const [att] = msg.attachments;
    assert.deepEqual(
      { name: att.name, content_type: att.content_type, size: att.size },
      { name, content_type: 'image/png', size: png.length },
    );
    const got = await download(att.url);
    assert.equal(got.res.status, 200);
    assert.equal(got.res.headers.get('content-type'), 'image/png');
    assert.equal(got.res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(got.bytes.equals(png), 'the operator downloads exactly the bytes the visitor attached');
    // The widget's link is the full picture; its preview the thumbnail when there is one.
    const href = await link.getAttribute('href');
    assert.equal(new URL(href).pathname, new URL(att.url, BASE).pathname);
    assert.ok((await download(href)).bytes.equals(png), 'the widget links the same bytes');
    const shown = new URL(await img.getAttribute('src')).pathname;
    assert.equal(shown, new URL(att.thumbnail_url || att.url, BASE).pathname);

    // A click opens the full picture in a new tab.
    const [tab] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await tab.waitForLoadState();
    assert.equal(new URL(tab.url()).pathname, new URL(att.url, BASE).pathname);
    await tab.close();
  });

  it('sends a file without text; an HTML file is offered as a download', async () => {
    const name = `order-${TAG}.html`;
    const html = Buffer.from(`<!doctype html><script>window.__pwned = 1</script><p>order ${TAG}</p>\n`);
    await picker().setInputFiles({ name, mimeType: 'text/html', buffer: html });
    await page.locator('.sb-chip[data-state="done"]', { hasText: name }).waitFor();
    assert.equal(await chip(name).locator('.sb-chip-thumb img').count(), 0, 'a file icon, not a preview');
    assert.equal(await input().inputValue(), '');
    await page.locator('.sb-send').click();

    const file = page.locator('.sb-msg[data-kind="visitor"]:not(.sb-pending) .sb-att-file', { hasText: name });
    await file.waitFor();
    assert.equal(await file.getAttribute('download'), name);
    assert.match(await file.locator('.sb-att-size').textContent(), /^\d+\sB$/);
    const row = page.locator('.sb-msg', { has: file });
    assert.equal(await row.locator('.sb-bubble').count(), 0, 'no empty bubble for a message without text');

    const msg = await eventually('the message with the HTML file on the server', async () =>
      (await conversationMessages(operator.token, conversation.id)).find((m) => m.attachments?.some((a) => a.name === name)),
    );
    assert.equal(msg.body, '');
    const got = await download(await file.getAttribute('href'));
    assert.equal(got.res.status, 200);
    assert.match(got.res.headers.get('content-disposition') || '', /^attachment\b/);
    assert.equal(got.res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(got.bytes.equals(html), 'the same bytes');
  });

  it('says a 26 MiB file is too large, offers no retry and sends nothing', async () => {
    const before = (await conversationMessages(operator.token, conversation.id)).length;
    const rec = recordPosts();
    const name = `holiday-video-${TAG}.mp4`;
    await picker().setInputFiles({ name, mimeType: 'video/mp4', buffer: Buffer.alloc(26 * 1024 * 1024, 7) });
    const failed = page.locator('.sb-chip[data-state="failed"]', { hasText: name });
    await failed.waitFor({ timeout: Math.max(WAIT_MS, 60_000) });
    assert.equal(await failed.locator('.sb-chip-note').textContent(), 'The file is too large to send');
    assert.equal(await failed.locator('.sb-chip-retry').isVisible(), false, 'no retry for a file too large');
    assert.ok(await page.locator('.sb-send').isDisabled(), 'nothing to send');
    // With text, the visitor is asked to deal with the file first, and keeps the text.
    const text = `Text next to a file that failed [${TAG}]`;
    await send(text);
    await page.locator('.sb-error', { hasText: 'retry or remove them' }).waitFor();
    assert.equal(await input().inputValue(), text);
    await failed.locator('.sb-chip-x').click();
    await page.locator('.sb-tray').waitFor({ state: 'hidden' });
    await input().fill('');
    rec.stop();
    assert.deepEqual(rec.posts, [], 'no message posted');
    assert.equal((await conversationMessages(operator.token, conversation.id)).length, before, 'nothing was sent');
  });

  it('retries a failed upload, and a send waits for the upload in progress', async () => {
    const name = `receipt-${TAG}.png`;
    const png = makePng(200, 120, 2);
    let tries = 0;
    let release;
    const held = new Promise((r) => {
      release = r;
    });
    await page.route(WIDGET_UPLOADS, async (route) => {
      tries += 1;
      if (tries === 1) return route.abort('connectionreset');
      await held;
      return route.continue();
    });
    await picker().setInputFiles({ name, mimeType: 'image/png', buffer: png });
    const retry = chip(name).locator('.sb-chip-retry');
    await retry.waitFor();
    assert.equal(await chip(name).getAttribute('data-state'), 'failed');
    assert.equal(await chip(name).locator('.sb-chip-note').textContent(), 'Could not upload');
    await retry.click();
    await page.locator('.sb-chip[data-state="uploading"]', { hasText: name }).waitFor();

    const rec = recordPosts();
    const text = `The receipt is attached [${TAG}]`;
    await send(text);
    await page.locator('.sb-hint', { hasText: 'Will be sent once the files are uploaded' }).waitFor();
    assert.equal(await input().inputValue(), text, 'the text waits in the composer');
    assert.deepEqual(rec.posts, [], 'nothing posted while the file uploads');
    release();
    await sentMessage(text).locator('.sb-att-img img').waitFor();
    rec.stop();
    await page.unroute(WIDGET_UPLOADS);
    assert.equal(tries, 2);
    assert.equal(rec.posts.length, 1, JSON.stringify(rec.posts));
    assert.equal(rec.posts[0].attachments.length, 1);
    assert.equal(await page.locator('.sb-hint').isVisible(), false);
    const msg = await eventually('the receipt on the server', async () =>
      (await conversationMessages(operator.token, conversation.id)).find((m) => m.body === text),
    );
    assert.deepEqual(msg.attachments.map((a) => a.id), rec.posts[0].attachments);
  });

  it('resends a message with its files under the same client_id after a network failure', async () => {
    const name = `label-${TAG}.png`;
    const png = makePng(96, 96, 5);
    await picker().setInputFiles({ name, mimeType: 'image/png', buffer: png });
    await page.locator('.sb-chip[data-state="done"]', { hasText: name }).waitFor();
    const posted = [];
    await page.route(WIDGET_MESSAGES, async (route) => {
      const req = route.request();
      if (req.method() !== 'POST') return route.continue();
      posted.push(req.postDataJSON());
      return posted.length === 1 ? route.abort('failed') : route.continue();
    });
    const text = `The label, through a flaky network [${TAG}]`;
    await send(text);
    const pending = page.locator('.sb-msg.sb-pending', { hasText: text });
    await pending.locator('.sb-meta', { hasText: 'Waiting for connection…' }).waitFor();
    assert.equal(await pending.locator('.sb-att-img').count(), 1, 'the pending message shows its file');
    await sentMessage(text).locator('.sb-att-img').waitFor();
    await page.unroute(WIDGET_MESSAGES);
    assert.ok(posted.length >= 2, 'retried');
    assert.equal(new Set(posted.map((p) => p.client_id)).size, 1, 'every try carries the same client_id');
    assert.equal(new Set(posted.map((p) => JSON.stringify(p.attachments))).size, 1, 'and the same ids');
    const msgs = await conversationMessages(operator.token, conversation.id);
    const copies = msgs.filter((m) => m.body === text);
    assert.equal(copies.length, 1, 'the server keeps one copy');
    assert.deepEqual(copies[0].attachments.map((a) => a.id), posted[0].attachments);
  });

  it('attaches an image dropped on the panel and one pasted into the composer', async () => {
    const dropped = { name: `dropped-${TAG}.png`, type: 'image/png', buffer: makePng(160, 120, 3) };
    const pasted = { name: `pasted-${TAG}.png`, type: 'image/png', buffer: makePng(120, 160, 4) };
    const zone = page.locator('.sb-drop');
    assert.equal(await zone.isVisible(), false);
    await transfer('drag', [dropped]);
    await zone.waitFor({ state: 'visible' });
    assert.equal(await zone.textContent(), 'Drop files here to attach them');
    await transfer('drop', [dropped]);
    await zone.waitFor({ state: 'hidden' });
    await chip(dropped.name).waitFor();

    await input().focus();
    const notPrevented = await transfer('paste', [pasted]);
    assert.equal(notPrevented, false, 'an image paste does not also paste text');
    await chip(pasted.name).waitFor();
    await page.locator('.sb-chip[data-state="done"]').nth(1).waitFor();
    assert.equal(await page.locator('.sb-chip[data-state="done"]').count(), 2);

    const text = `Dropped and pasted [${TAG}]`;
    await send(text);
    const row = sentMessage(text);
    await row.locator('.sb-att-img').nth(1).waitFor();
    assert.deepEqual(await row.locator('.sb-att-img img').evaluateAll((imgs) => imgs.map((i) => i.alt)), [dropped.name, pasted.name]);
    const msg = await eventually('the dropped and pasted images on the server', async () =>
      (await conversationMessages(operator.token, conversation.id)).find((m) => m.body === text),
    );
    assert.deepEqual(msg.attachments.map((a) => a.name), [dropped.name, pasted.name]);
    assert.ok((await download(msg.attachments[0].url)).bytes.equals(dropped.buffer));
    assert.ok((await download(msg.attachments[1].url)).bytes.equals(pasted.buffer));
  });

  it('shortens a file name longer than the server takes, keeping its extension', async () => {
    const name = `${'Протокол приёмки заказа 4512 — '.repeat(8)}${TAG}.txt`;
    assert.ok(Array.from(name).length > 200);
    const uploads = [];
    const onResponse = async (r) => {
      if (WIDGET_UPLOADS.test(r.url()) && r.request().method() === 'POST') uploads.push({ status: r.status(), json: await r.json() });
    };
    page.on('response', onResponse);
    await picker().setInputFiles({ name, mimeType: 'text/plain', buffer: Buffer.from('accepted\n') });
    await page.locator('.sb-chip[data-state="done"]').waitFor();
    await eventually('the upload answer', () => uploads.length === 1);
    page.off('response', onResponse);
    assert.equal(uploads[0].status, 201, JSON.stringify(uploads[0].json));
    const stored = uploads[0].json.name;
    assert.equal(Array.from(stored).length, 200, stored);
    assert.ok(stored.endsWith('….txt'), stored);
    await page.locator('.sb-chip .sb-chip-x').click();
    await page.locator('.sb-tray').waitFor({ state: 'hidden' });
  });

  it('takes at most 10 files for one message', async () => {
    // Answered here, so the server's upload rate limit is not spent on it.
    let n = 0;
    await page.route(WIDGET_UPLOADS, (route) => {
      n += 1;
      return route.fulfill({
        status: 201,
        contentType: 'application/json',
        body: JSON.stringify({ id: 900_000 + n, name: `note-${n}.txt`, content_type: 'text/plain', size: 7, url: `/files/${900_000 + n}/x`, thumbnail_url: null }),
      });
    });
    const files = Array.from({ length: 11 }, (_, i) => ({
      name: `note-${i + 1}-${TAG}.txt`,
      mimeType: 'text/plain',
      buffer: Buffer.from(`note ${i + 1}`),
    }));
    await picker().setInputFiles(files);
    await page.locator('.sb-error', { hasText: 'Up to 10 files per message' }).waitFor();
    assert.equal(await page.locator('.sb-chip').count(), 10);
    assert.equal(await chip(`note-11-${TAG}.txt`).count(), 0, 'the 11th is left out');
    await eventually('ten uploads', async () => (await page.locator('.sb-chip[data-state="done"]').count()) === 10);
    assert.equal(n, 10);
    while ((await page.locator('.sb-chip').count()) > 0) {
      await page.locator('.sb-chip .sb-chip-x').first().click();
    }
    await page.locator('.sb-tray').waitFor({ state: 'hidden' });
    await page.unroute(WIDGET_UPLOADS);
    assert.ok(await page.locator('.sb-send').isDisabled(), 'nothing left to send');
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
    // Files fit the phone: the attach button is there, previews and file rows stay on screen.
    await page.locator('.sb-attach').waitFor({ state: 'visible' });
    await page.locator('.sb-att-file').last().scrollIntoViewIfNeeded();
    for (const box of await page.locator('.sb-att-img, .sb-att-file').evaluateAll((els) =>
      els.map((e) => e.getBoundingClientRect().toJSON()),
    )) {
      assert.ok(box.left >= 0 && box.right <= 375, `attachment within the screen: ${JSON.stringify(box)}`);
    }
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
    await p.locator('.sb-attach[aria-label="Прикрепить файлы"]').waitFor();
    await p.locator('.sb-status[data-online]').waitFor({ state: 'attached' });
    await ru.close();
  });

  // ---- widget settings and greetings (issue 13) ----------------------------

  describe('settings and greetings', () => {
    let shop; // a shop on another origin: any path is a page with the widget's tag
    let shopUrl;
    let original; // the widget settings before, restored after
    let greetingId;
    const greetingText = `Questions about plans? I can help [${TAG}]`;
    const answerText = `Which plan fits a tea shop? [${TAG}]`;
    const exitText = `Leaving already? Here is 10% off [${TAG}]`;

    async function putSettings(change) {
      const r = await api('PUT', '/api/v1/widget-settings', { token: operator.token, body: { ...original, ...change } });
      assert.equal(r.status, 200, `PUT /api/v1/widget-settings: ${r.status} ${r.text}`);
      return r.json;
    }

    /** A fresh visitor (a new browser profile) on the shop; records the greeting
     *  showings the widget asks the server about. */
    async function visitor(locale = 'en-US') {
      const ctx = await browser.newContext({ locale, viewport: { width: 1280, height: 800 } });
      const p = await ctx.newPage();
      p.setDefaultTimeout(WAIT_MS);
      p.on('pageerror', (e) => pageErrors.push(String(e)));
      const asked = [];
      p.on('response', (r) => {
        if (/\/api\/v1\/widget\/greetings\/\d+\/shown$/.test(new URL(r.url()).pathname)) asked.push(r.status());
      });
      return { ctx, p, asked };
    }

    /** The widget has its session (and so its settings) on page `p`. */
    async function booted(p) {
      await p.locator('.sb-status[data-online]').waitFor({ state: 'attached' });
    }

    before(async () => {
      shop = createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><html><head><title>Tea shop</title></head><body><h1>Tea shop: ${req.url.replace(/[<>&"]/g, '')}</h1>` +
            `<script src="${BASE}/widget.js" async></script></body></html>`,
        );
      });
      await new Promise((resolve) => shop.listen(0, '127.0.0.1', resolve));
      shopUrl = `http://127.0.0.1:${shop.address().port}`;
      const r = await api('GET', '/api/v1/widget-settings', { token: operator.token });
      assert.equal(r.status, 200, `GET /api/v1/widget-settings: ${r.status} ${r.text}`);
      original = r.json;
      const saved = await putSettings({
        greetings: [
          {
            id: null,
            enabled: true,
            url_pattern: '/pricing*',
            delay_seconds: 1,
            on_exit_intent: false,
            message: greetingText,
            from_user_id: operator.user.id,
            per_visitor_cap: 1,
          },
          {
            id: null,
            enabled: true,
            url_pattern: '/checkout*',
            delay_seconds: 0,
            on_exit_intent: true,
            message: exitText,
            from_user_id: operator.user.id,
            per_visitor_cap: 3,
          },
        ],
      });
      greetingId = saved.greetings[0].id;
      assert.ok(Number.isInteger(greetingId), `the rule got an id: ${JSON.stringify(saved.greetings)}`);
    });

    after(async () => {
      if (original) await api('PUT', '/api/v1/widget-settings', { token: operator.token, body: original });
      await new Promise((resolve) => (shop ? shop.close(resolve) : resolve()));
    });

    it('greets on /pricing* after its delay, not on other pages; the answer opens the conversation with it', async () => {
      const { ctx, p, asked } = await visitor();
      const bubble = p.locator('.sb-greet');
      await p.goto(`${shopUrl}/about`);
      await booted(p);
      await p.waitForTimeout(2500); // longer than the delay: nothing may come
      assert.equal(await bubble.count(), 0, 'no greeting on /about');
      assert.deepEqual(asked, [], 'nothing asked on /about');

      const loaded = Date.now();
      await p.goto(`${shopUrl}/pricing?plan=pro`);
      await bubble.waitFor();
      assert.ok(Date.now() - loaded >= 1000, 'shown after the delay');
      assert.deepEqual(asked, [204], 'the showing was asked for and counted');
      assert.match(await bubble.textContent(), new RegExp(`Wanda Widget[\\s\\S]*${TAG}`));
      assert.equal(await p.locator('.sb-greet-live[role="status"] .sb-greet').count(), 1, 'in a polite live region');
      await p.screenshot({ path: join(SHOTS, 'widget-greeting.png') });

      // Clicking it opens the chat with the greeting as the first message.
      await p.locator('.sb-greet-open').click();
      await p.locator('.sb-panel').waitFor({ state: 'visible' });
      assert.equal(await bubble.count(), 0, 'the bubble goes when the chat opens');
      const local = p.locator('.sb-msg.sb-greeting[data-kind="operator"]', { hasText: greetingText });
      await local.waitFor();
      assert.equal((await local.locator('.sb-author').textContent()).trim(), 'Wanda Widget');
      assert.equal(await p.locator('.sb-empty').isVisible(), false);
      await p.screenshot({ path: join(SHOTS, 'widget-greeting-chat.png') });

      const posts = [];
      p.on('request', (r) => {
        if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/widget/messages') posts.push(r.postDataJSON());
      });
      await p.locator('.sb-input').fill(answerText);
      await p.locator('.sb-input').press('Enter');
      await p.locator('.sb-msg[data-kind="visitor"]:not(.sb-pending)', { hasText: answerText }).waitFor();
      assert.equal(posts[0].greeting_id, greetingId, 'the first message names the greeting it answers');

      // The server keeps the greeting as the conversation's first message, from its colleague.
      const conv = await findConversation(operator.token, answerText);
      const full = await api('GET', `/api/v1/conversations/${conv.id}`, { token: operator.token });
      assert.equal(full.json.greeting_id, greetingId, 'the conversation knows its greeting');
      const msgs = await conversationMessages(operator.token, conv.id);
      assert.equal(msgs[0].body, greetingText);
      assert.equal(msgs[0].author.kind, 'operator');
      assert.equal(msgs[0].author.id, operator.user.id);
      assert.equal(msgs[1].body, answerText);

      // The widget shows the stored greeting in place of its own: once, then the answer.
      const stored = p.locator(`.sb-msg[data-id="${msgs[0].id}"]`, { hasText: greetingText });
      await stored.waitFor();
      await p.locator('.sb-msg.sb-greeting').waitFor({ state: 'detached' });
      assert.equal(await p.locator('.sb-msg', { hasText: greetingText }).count(), 1, 'the greeting shows once');
      const order = await p.locator('.sb-msg').evaluateAll((els) => els.map((e) => e.textContent));
      assert.ok(order[0].includes(greetingText) && order[1].includes(answerText), `greeting first: ${order}`);

      // With a conversation going, no greeting again (and the server is not asked).
      await p.reload();
      await booted(p);
      await p.waitForTimeout(2000);
      assert.equal(await bubble.count(), 0);
      assert.deepEqual(asked, [204]);
      await ctx.close();
    });

    it('closes a greeting by keyboard; its cap of one stops a second showing on reload', async () => {
      const { ctx, p, asked } = await visitor();
      await p.goto(`${shopUrl}/pricing`);
      const bubble = p.locator('.sb-greet');
      await bubble.waitFor();
      await p.locator('.sb-greet-x[aria-label="Hide"]').waitFor();
      await p.locator('.sb-greet-open').focus();
      await p.keyboard.press('Escape');
      await bubble.waitFor({ state: 'detached' });
      assert.equal(await p.locator('.sb-panel').isVisible(), false, 'closing it does not open the chat');

      await p.reload();
      await booted(p);
      await eventually('the second showing asked for', async () => asked.length === 2);
      assert.deepEqual(asked, [204, 409], 'the server refuses a showing past the cap');
      await p.waitForTimeout(500);
      assert.equal(await bubble.count(), 0, 'not shown past the cap');
      await p.locator('.sb-launcher').click();
      await p.locator('.sb-panel').waitFor({ state: 'visible' });
      assert.equal(await p.locator('.sb-greeting').count(), 0, 'nor in the chat');
      await p.locator('.sb-close').click();

      // An exit-intent greeting: only when the pointer leaves through the top edge.
      await p.goto(`${shopUrl}/checkout?step=2`);
      await booted(p);
      const leave = (clientY) =>
        p.evaluate((y) => document.body.dispatchEvent(new MouseEvent('mouseout', { bubbles: true, clientX: 300, clientY: y, relatedTarget: null })), clientY);
      await p.waitForTimeout(1000);
      await leave(400); // out through the bottom or a side: not leaving towards the tabs
      await p.waitForTimeout(500);
      assert.equal(await bubble.count(), 0, 'no exit greeting before the pointer leaves');
      await leave(-2);
      await p.locator('.sb-greet', { hasText: exitText }).waitFor();
      assert.deepEqual(asked, [204, 409, 204]);
      await ctx.close();
    });

    it('applies a settings change live, without a reload', async () => {
      const { ctx, p } = await visitor();
      await p.goto(`${shopUrl}/about`);
      await p.locator('.sb-launcher').click();
      await p.locator('.sb-panel').waitFor({ state: 'visible' });
      await booted(p);
      const launcherBox = await p.locator('.sb-launcher').boundingBox();
      assert.ok(launcherBox.x > 640, `the launcher starts on the right: ${JSON.stringify(launcherBox)}`);
      let reloaded = false;
      p.on('framenavigated', (f) => {
        if (f === p.mainFrame()) reloaded = true;
      });

      const title = `Tea help [${TAG}]`;
      await putSettings({ color: '#c2410c', title, welcome: `Ask about teas [${TAG}]`, away_text: `Away: leave a note [${TAG}]` });
      await p.locator('.sb-title', { hasText: title }).waitFor();
      assert.equal(await p.locator('.sb-panel').getAttribute('aria-label'), title);
      await eventually('the new colour', async () =>
        (await p.locator('.sb-launcher').evaluate((e) => getComputedStyle(e).backgroundColor)) === 'rgb(194, 65, 12)',
      );
      assert.equal(await p.locator('.sb-header').evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(194, 65, 12)');
      const online = (await p.locator('.sb-status').getAttribute('data-online')) === 'true';
      await p.locator('.sb-empty', { hasText: online ? 'Ask about teas' : 'Away: leave a note' }).waitFor();
      // The email form is asked for while nobody is online.
      assert.equal(await p.locator('.sb-contact').isVisible(), !online);

      // The other side, Russian, no email form.
      await putSettings({ color: '#c2410c', title, position: 'left', language: 'ru', email_prompt: false });
      await p.locator('.sb-input[placeholder="Напишите сообщение…"]').waitFor();
      await p.locator('.sb-contact').waitFor({ state: 'hidden' });
      await eventually('the window on the left', async () => {
        const box = await p.locator('.sb-panel').boundingBox();
        return box && box.x < 100;
      });
      assert.ok((await p.locator('.sb-launcher').boundingBox()).x < 100, 'the launcher on the left');
      assert.equal(await p.locator('.sb-close').getAttribute('aria-label'), 'Закрыть чат');
      assert.equal(reloaded, false, 'no reload');
      await p.screenshot({ path: join(SHOTS, 'widget-settings-live.png') });

      // The settings as they were: English again.
      await putSettings({});
      await p.locator('.sb-input[placeholder="Write a message…"]').waitFor();
      await ctx.close();
    });
  });

  it('threw no errors on the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
