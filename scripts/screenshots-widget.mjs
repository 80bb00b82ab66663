// Takes the README's widget screenshots (docs/screenshots/widget.png and
// widget-mobile.png) on a running, freshly set-up switchboard-server: a small
// Northwind Tea team with names and faces, one visitor asking about tea on
// /demo and an operator answering, all through the real HTTP API and the real
// widget in Debian's headless Chromium. Run it through scripts/screenshots.sh,
// which starts the server and passes:
//
//   SWITCHBOARD_URL            the server, e.g. http://127.0.0.1:41234
//   SWITCHBOARD_ADMIN_EMAIL    an admin made with `switchboard-server admin create`
//   SWITCHBOARD_ADMIN_PASSWORD its password
//   SWITCHBOARD_COLLEAGUE_EMAIL, SWITCHBOARD_COLLEAGUE_PASSWORD
//                              optional: a second account, made the same way,
//                              that becomes the operator Sam Ortega
//   SCREENSHOTS_OUT            where the PNGs go (default docs/screenshots)
//
// Every wait is on a selector or a condition, never a fixed sleep.

import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// playwright-core is installed for the widget's end-to-end test; use that copy.
const { chromium } = createRequire(join(root, 'tests/widget/package.json'))('playwright-core');

const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const EMAIL = process.env.SWITCHBOARD_ADMIN_EMAIL;
const PASSWORD = process.env.SWITCHBOARD_ADMIN_PASSWORD;
const COLLEAGUE = process.env.SWITCHBOARD_COLLEAGUE_EMAIL;
const COLLEAGUE_PASSWORD = process.env.SWITCHBOARD_COLLEAGUE_PASSWORD;
const OUT = resolve(root, process.env.SCREENSHOTS_OUT || 'docs/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const WAIT_MS = 15_000;

// The people and the conversation on the pictures.
const TEAM = [
  {
    name: 'Maya Lin',
    face: { bg: '#cfe6dc', skin: '#f0c6a4', hair: '#2b211d', top: '#2f6b4f', style: 'long' },
  },
  {
    name: 'Sam Ortega',
    face: { bg: '#f3dcc4', skin: '#b57a55', hair: '#1f1a17', top: '#3d5a80', style: 'short' },
  },
];
const VISITOR_ASKS = 'Hi! Which tea would you suggest for a gentle afternoon cup?';
const OPERATOR_ANSWERS =
  'Hi! Try our Da Hong Pao: a roasted oolong, mellow, with notes of cocoa. ' +
  'Brew it at 95\u00a0°C for 30\u00a0seconds — the same leaves give five or six cups.';
const VISITOR_REPLIES = 'Sounds perfect — it’s in my basket. Thank you!';

// The clock on the messages: early afternoon wherever this runs
// (SCREENSHOTS_TZ, an IANA zone, overrides).
function afternoonZone() {
  let offset = 14 - new Date().getUTCHours();
  if (offset < -12) offset += 24;
  if (offset > 14) offset -= 24;
  return offset === 0 ? 'Etc/UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

// ---- the API ------------------------------------------------------------------

async function api(method, path, { token, json, bytes, type } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (bytes !== undefined) {
    headers['Content-Type'] = type;
    body = bytes;
  }
  const res = await fetch(BASE + path, { method, headers, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function eventually(what, fn) {
  const deadline = Date.now() + WAIT_MS;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Signs in; sets a password of one's own when the server asks for it. */
async function signIn(email, password) {
  let { token, user } = await api('POST', '/api/v1/auth/login', { json: { email, password } });
  if (user.must_change_password) {
    const own = `${password}-${randomUUID()}`;
    await api('PUT', '/api/v1/me/password', { token, json: { current_password: password, new_password: own } });
    ({ token, user } = await api('POST', '/api/v1/auth/login', { json: { email, password: own } }));
  }
  return { token, user };
}

// ---- avatars --------------------------------------------------------------------

/** A flat, friendly head-and-shoulders portrait drawn on the browser's canvas → PNG bytes. */
async function drawFace(page, face) {
  const dataUrl = await page.evaluate((f) => {
    const S = 256;
    const c = document.createElement('canvas');
    c.width = c.height = S;
    const g = c.getContext('2d');
    const ellipse = (x, y, rx, ry, fill) => {
      g.beginPath();
      g.ellipse(x, y, rx, ry, 0, 0, Math.PI * 2);
      g.fillStyle = fill;
      g.fill();
    };
    const shade = (hex, k) => {
      const n = parseInt(hex.slice(1), 16);
      const ch = (v) => Math.max(0, Math.min(255, Math.round(v * k)));
      return `rgb(${ch(n >> 16)},${ch((n >> 8) & 255)},${ch(n & 255)})`;
    };
    g.fillStyle = f.bg;
    g.fillRect(0, 0, S, S);
    // Long hair falls behind the shoulders.
    if (f.style === 'long') {
      g.beginPath();
      g.moveTo(66, 120);
      g.quadraticCurveTo(60, 215, 84, 222);
      g.lineTo(172, 222);
      g.quadraticCurveTo(196, 215, 190, 120);
      g.closePath();
      g.fillStyle = f.hair;
      g.fill();
      ellipse(128, 112, 63, 66, f.hair);
    }
    // Shoulders and neck.
    ellipse(128, 268, 104, 82, f.top);
    g.fillStyle = shade(f.skin, 0.9);
    g.fillRect(111, 150, 34, 44);
    ellipse(128, 193, 17, 9, shade(f.skin, 0.9));
    // Head and ears.
    ellipse(81, 122, 9, 13, shade(f.skin, 0.95));
    ellipse(175, 122, 9, 13, shade(f.skin, 0.95));
    ellipse(128, 118, 47, 56, f.skin);
    // Hair on top.
    g.beginPath();
    if (f.style === 'long') {
      g.moveTo(78, 126);
      g.bezierCurveTo(70, 60, 120, 46, 150, 58);
      g.bezierCurveTo(182, 68, 186, 100, 178, 128);
      g.bezierCurveTo(160, 96, 128, 84, 100, 90);
      g.bezierCurveTo(90, 100, 84, 112, 78, 126);
    } else {
      g.moveTo(80, 112);
      g.bezierCurveTo(74, 62, 118, 48, 140, 54);
      g.bezierCurveTo(172, 58, 184, 84, 176, 112);
      g.bezierCurveTo(170, 96, 160, 86, 146, 84);
      g.bezierCurveTo(124, 92, 100, 88, 86, 92);
      g.bezierCurveTo(83, 100, 82, 106, 80, 112);
    }
    g.closePath();
    g.fillStyle = f.hair;
    g.fill();
    // A calm, friendly face.
    ellipse(109, 124, 4.5, 5.5, '#2a2220');
    ellipse(147, 124, 4.5, 5.5, '#2a2220');
    g.globalAlpha = 0.25;
    ellipse(101, 142, 9, 6, '#e0605a');
    ellipse(155, 142, 9, 6, '#e0605a');
    g.globalAlpha = 1;
    g.beginPath();
    g.arc(128, 140, 15, Math.PI * 0.2, Math.PI * 0.8);
    g.lineWidth = 3.5;
    g.lineCap = 'round';
    g.strokeStyle = shade(f.skin, 0.55);
    g.stroke();
    return c.toDataURL('image/png');
  }, face);
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

// ---- the pictures ------------------------------------------------------------------

async function main() {
  if (!BASE || !EMAIL || !PASSWORD) throw new Error('run this through scripts/screenshots.sh');
  await mkdir(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
  try {
    const ctx = { locale: 'en-US', timezoneId: process.env.SCREENSHOTS_TZ || afternoonZone() };

    // The team: names, faces, the first one online with a live stream open.
    const accounts = [[EMAIL, PASSWORD]];
    if (COLLEAGUE && COLLEAGUE_PASSWORD) accounts.push([COLLEAGUE, COLLEAGUE_PASSWORD]);
    const staff = await browser.newContext(ctx);
    const desk = await staff.newPage();
    await desk.goto(`${BASE}/healthz`);
    const team = [];
    for (const [i, [email, password]] of accounts.entries()) {
      const { token, user } = await signIn(email, password);
      await api('PATCH', '/api/v1/me', { token, json: { name: TEAM[i].name, locale: 'en' } });
      const png = await drawFace(desk, TEAM[i].face);
      await api('PUT', '/api/v1/me/avatar', { token, bytes: png, type: 'image/png' });
      team.push({ token, user });
    }
    const [maya] = team;
    if (team[1]) await api('PATCH', `/api/v1/team/${team[1].user.id}`, { token: maya.token, json: { role: 'operator' } });
    // Presence counts only with a live stream: the desktop app's, here a websocket.
    await desk.evaluate(async (token) => {
      const u = new URL('/api/v1/stream', location.href);
      u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
      u.searchParams.set('token', token);
      await new Promise((ok, fail) => {
        const ws = new WebSocket(u.href);
        window.ws_ = ws;
        ws.onmessage = (e) => JSON.parse(e.data).type === 'ready' && ok();
        ws.onerror = () => fail(new Error('operator websocket failed'));
      });
    }, maya.token);
    await api('PUT', '/api/v1/me/presence', { token: maya.token, json: { presence: 'online' } });
    if (team[1]) await api('PUT', '/api/v1/me/presence', { token: team[1].token, json: { presence: 'away' } });

    // A visitor on the demo shop asks; Maya answers from the "desktop app".
    const visitor = await browser.newContext({ ...ctx, viewport: { width: 1280, height: 800 } });
    const page = await visitor.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(`${BASE}/demo`);
    await page.locator('.sb-launcher').click();
    await page.locator('.sb-panel').waitFor({ state: 'visible' });
    await page.locator('.sb-status[data-online="true"]').waitFor({ state: 'attached' });
    await page.locator('.sb-team img').nth(team.length - 1).waitFor();

    const visitorSays = async (text) => {
      await page.locator('.sb-input').fill(text);
      await page.locator('.sb-input').press('Enter');
      await page.locator('.sb-msg[data-kind="visitor"]:not(.sb-pending)', { hasText: text }).waitFor();
    };
    const mayaSays = async (conversationId, text) => {
      await desk.evaluate((id) => window.ws_.send(JSON.stringify({ type: 'typing', conversation_id: id })), conversationId);
      await api('POST', `/api/v1/conversations/${conversationId}/messages`, {
        token: maya.token,
        json: { body: text, client_id: randomUUID() },
      });
      const row = page.locator('.sb-msg[data-kind="operator"]', { hasText: text });
      await row.waitFor();
      await row.locator('.sb-avatar img').waitFor();
    };

    await visitorSays(VISITOR_ASKS);
    const conversation = await eventually('the visitor’s conversation', async () => {
      const { items } = await api('GET', '/api/v1/conversations?limit=1', { token: maya.token });
      return items[0];
    });
    await api('PATCH', `/api/v1/conversations/${conversation.id}`, {
      token: maya.token,
      json: { assignee_id: maya.user.id },
    });
    await mayaSays(conversation.id, OPERATOR_ANSWERS);
    await visitorSays(VISITOR_REPLIES);
    const last = await api('GET', `/api/v1/conversations/${conversation.id}/messages?limit=1`, { token: maya.token });
    await api('POST', `/api/v1/conversations/${conversation.id}/read`, {
      token: maya.token,
      json: { message_id: last.items.at(-1).id },
    });

    const settle = async (p) => {
      await p.locator('.sb-typing').waitFor({ state: 'hidden' });
      await p.locator('.sb-error').waitFor({ state: 'hidden' });
      await p.locator('.sb-pending').waitFor({ state: 'detached' });
      await p.evaluate(() => document.fonts.ready);
      await p.evaluate(() => Promise.all([...document.querySelector('switchboard-widget').shadowRoot.querySelectorAll('img')]
        .map((img) => img.complete || new Promise((r) => { img.onload = img.onerror = r; }))));
    };
    await page.locator('.sb-input').blur();
    await settle(page);
    await page.screenshot({ path: join(OUT, 'widget.png') });

    // The same visitor on a phone.
    const phone = await browser.newContext({
      ...ctx,
      storageState: await visitor.storageState(),
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 1,
      isMobile: true,
      hasTouch: true,
    });
    const mobile = await phone.newPage();
    mobile.setDefaultTimeout(WAIT_MS);
    await mobile.goto(`${BASE}/demo`);
    await mobile.locator('.sb-launcher').waitFor({ state: 'attached' });
    // The widget remembers the panel was open; open it only if it is not.
    if (!(await mobile.locator('.sb-panel').isVisible())) await mobile.locator('.sb-launcher').click();
    await mobile.locator('.sb-panel').waitFor({ state: 'visible' });
    await mobile.locator('.sb-status[data-online="true"]').waitFor({ state: 'attached' });
    await mobile.locator('.sb-msg[data-kind="operator"]', { hasText: OPERATOR_ANSWERS }).locator('.sb-avatar img').waitFor();
    await mobile.locator('.sb-msg[data-kind="visitor"]', { hasText: VISITOR_REPLIES }).waitFor();
    await settle(mobile);
    await mobile.screenshot({ path: join(OUT, 'widget-mobile.png') });
    console.log(`wrote ${join(OUT, 'widget.png')} and ${join(OUT, 'widget-mobile.png')}`);
  } finally {
    await browser.close();
  }
}

await main();
