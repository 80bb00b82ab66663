// Takes the README's widget screenshots (docs/screenshots/widget.png and
// widget-mobile.png) on a running, freshly set-up switchboard-server: a small
// Northwind Tea team with names and faces, one visitor on /demo sending a photo
// of a tin that arrived dented and an operator answering with the corrected
// invoice as a PDF, all through the real HTTP API and the real widget in
// Debian's headless Chromium (the photo attached through the widget's file
// input, the PDF uploaded as a colleague). Run it through scripts/screenshots.sh,
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
/** The demo shop's own green (crates/server/assets/demo.html, --leaf). */
const LEAF = '#2f6f4f';

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
const VISITOR_ASKS = 'Hi! My order #4512 came today, but the Da Hong Pao tin is dented. Is the tea OK?';
const PHOTO_NAME = 'IMG_20260312_141502.jpg';
const OPERATOR_ANSWERS =
  'So sorry! The tea is sealed in its own bag, so it is fine. Here is the corrected invoice, with the tin refunded:';
const INVOICE_NAME = 'invoice-4512.pdf';

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

// ---- the files they send ------------------------------------------------------------

/** A phone photo of a tea tin with a dent, on a wooden table → JPEG bytes. */
async function drawPhoto(page) {
  const dataUrl = await page.evaluate(() => {
    const W = 1200;
    const H = 800;
    const c = document.createElement('canvas');
    c.width = W;
    c.height = H;
    const g = c.getContext('2d');
    let seed = 4512;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);

    // The table: warm planks with grain.
    const wood = g.createLinearGradient(0, 0, W, H);
    wood.addColorStop(0, '#b98552');
    wood.addColorStop(1, '#8d5a33');
    g.fillStyle = wood;
    g.fillRect(0, 0, W, H);
    for (let p = 0; p < 5; p++) {
      const y0 = p * 190 - 20;
      g.fillStyle = `rgba(60, 30, 10, ${0.05 + rnd() * 0.06})`;
      g.fillRect(0, y0, W, 190);
      g.strokeStyle = 'rgba(50, 25, 8, 0.45)';
      g.lineWidth = 3;
      g.beginPath();
      g.moveTo(0, y0);
      g.lineTo(W, y0 + 12);
      g.stroke();
      for (let k = 0; k < 9; k++) {
        const y = y0 + 15 + rnd() * 170;
        const amp = 2 + rnd() * 6;
        g.strokeStyle = `rgba(70, 38, 14, ${0.12 + rnd() * 0.15})`;
        g.lineWidth = 1 + rnd() * 2;
        g.beginPath();
        for (let x = 0; x <= W; x += 20) g.lineTo(x, y + Math.sin(x / (60 + k * 9) + k) * amp);
        g.stroke();
      }
    }

    // The parcel it came in, at the back.
    g.save();
    g.translate(160, 150);
    g.rotate(-0.12);
    g.fillStyle = '#c9a272';
    g.fillRect(-260, -260, 520, 330);
    g.fillStyle = '#b48c5d';
    g.fillRect(-260, 40, 520, 30);
    g.fillStyle = 'rgba(235, 225, 200, 0.7)';
    g.fillRect(-40, -260, 80, 330);
    g.restore();

    // Shadow, then the tin: a cylinder, lit from the left.
    g.save();
    g.translate(0, -40);
    const cx = 640;
    const top = 190;
    const bottom = 720;
    const rx = 175;
    const ry = 46;
    g.save();
    g.filter = 'blur(18px)';
    g.fillStyle = 'rgba(30, 15, 5, 0.55)';
    g.beginPath();
    g.ellipse(cx + 40, bottom + 14, rx + 40, ry + 14, 0, 0, Math.PI * 2);
    g.fill();
    g.restore();

    // Everything of the tin is drawn inside its outline, pushed in on the right
    // where the parcel was knocked.
    const dentY = 440;
    g.save();
    g.beginPath();
    g.moveTo(cx - rx - 8, top - 60);
    g.lineTo(cx - rx - 8, bottom);
    g.ellipse(cx, bottom, rx + 8, ry + 2, 0, Math.PI, 0, true);
    g.lineTo(cx + rx + 8, dentY + 80);
    g.bezierCurveTo(cx + rx - 6, dentY + 40, cx + rx - 40, dentY + 10, cx + rx - 34, dentY - 20);
    g.bezierCurveTo(cx + rx - 30, dentY - 50, cx + rx, dentY - 70, cx + rx + 8, dentY - 100);
    g.lineTo(cx + rx + 8, top - 60);
    g.closePath();
    g.clip();

    const body = g.createLinearGradient(cx - rx, 0, cx + rx, 0);
    body.addColorStop(0, '#173f2e');
    body.addColorStop(0.22, '#3f8a64');
    body.addColorStop(0.45, '#2a6a4b');
    body.addColorStop(1, '#10291e');
    g.fillStyle = body;
    g.beginPath();
    g.moveTo(cx - rx, top);
    g.lineTo(cx - rx, bottom);
    g.ellipse(cx, bottom, rx, ry, 0, Math.PI, 0, true);
    g.lineTo(cx + rx, top);
    g.closePath();
    g.fill();

    // The paper label around the middle.
    const label = g.createLinearGradient(cx - rx, 0, cx + rx, 0);
    label.addColorStop(0, '#cdbf9c');
    label.addColorStop(0.25, '#f6ecd2');
    label.addColorStop(0.5, '#eadcb8');
    label.addColorStop(1, '#9d916f');
    g.fillStyle = label;
    g.beginPath();
    g.moveTo(cx - rx, 330);
    g.ellipse(cx, 330, rx, ry, 0, Math.PI, 0, true);
    g.lineTo(cx + rx, 590);
    g.ellipse(cx, 590, rx, ry, 0, 0, Math.PI, false);
    g.closePath();
    g.fill();
    g.fillStyle = '#2f6f4f';
    g.textAlign = 'center';
    g.font = '600 26px Georgia, serif';
    g.fillText('NORTHWIND TEA', cx - 10, 420);
    g.font = 'bold 54px Georgia, serif';
    g.fillText('Da Hong Pao', cx - 10, 488);
    g.font = 'italic 24px Georgia, serif';
    g.fillStyle = '#6b5a3a';
    g.fillText('roasted Wuyi oolong · 50 g', cx - 10, 532);

    // Gold rims: the lid on top, a band at the foot.
    const gold = g.createLinearGradient(cx - rx, 0, cx + rx, 0);
    gold.addColorStop(0, '#8a6a2a');
    gold.addColorStop(0.25, '#f1d58a');
    gold.addColorStop(0.6, '#c79a45');
    gold.addColorStop(1, '#6d5020');
    g.fillStyle = gold;
    g.beginPath();
    g.moveTo(cx - rx - 6, top + 6);
    g.lineTo(cx - rx - 6, top + 62);
    g.ellipse(cx, top + 62, rx + 6, ry + 2, 0, Math.PI, 0, true);
    g.lineTo(cx + rx + 6, top + 6);
    g.closePath();
    g.fill();
    const lid = g.createLinearGradient(cx - rx, top - ry, cx + rx, top + ry);
    lid.addColorStop(0, '#fbe7a8');
    lid.addColorStop(1, '#a77c35');
    g.fillStyle = lid;
    g.beginPath();
    g.ellipse(cx, top + 6, rx + 6, ry + 2, 0, 0, Math.PI * 2);
    g.fill();
    g.strokeStyle = 'rgba(90, 60, 20, 0.5)';
    g.lineWidth = 2;
    g.beginPath();
    g.ellipse(cx, top + 6, rx - 18, ry - 6, 0, 0, Math.PI * 2);
    g.stroke();
    g.fillStyle = gold;
    g.beginPath();
    g.moveTo(cx - rx, bottom - 34);
    g.ellipse(cx, bottom - 34, rx, ry, 0, Math.PI, 0, true);
    g.lineTo(cx + rx, bottom);
    g.ellipse(cx, bottom, rx, ry, 0, 0, Math.PI, false);
    g.closePath();
    g.fill();

    // The dent: a hollow in shadow toward the edge, lit on its far rim, creased.
    const dx = cx + rx - 40;
    const hollow = g.createRadialGradient(dx + 26, dentY, 6, dx + 16, dentY, 95);
    hollow.addColorStop(0, 'rgba(35, 25, 8, 0.7)');
    hollow.addColorStop(0.5, 'rgba(50, 38, 15, 0.38)');
    hollow.addColorStop(1, 'rgba(50, 38, 15, 0)');
    g.fillStyle = hollow;
    g.beginPath();
    g.ellipse(dx + 10, dentY, 95, 120, 0, 0, Math.PI * 2);
    g.fill();
    g.lineCap = 'round';
    g.strokeStyle = 'rgba(255, 252, 240, 0.5)';
    g.lineWidth = 4;
    g.beginPath();
    g.ellipse(dx + 30, dentY, 82, 104, 0, Math.PI * 0.7, Math.PI * 1.3);
    g.stroke();
    g.strokeStyle = 'rgba(25, 18, 5, 0.55)';
    g.lineWidth = 2.5;
    for (const [a, b, c2, d] of [[-30, -60, 30, -10], [-40, 0, 36, 8], [-26, 56, 30, 20]]) {
      g.beginPath();
      g.moveTo(dx + a, dentY + b);
      g.quadraticCurveTo(dx + (a + c2) / 2, dentY + (b + d) / 2 - 10, dx + c2, dentY + d);
      g.stroke();
    }
    g.restore();
    g.restore();

    // A phone camera's soft vignette.
    const v = g.createRadialGradient(W / 2, H / 2, H * 0.35, W / 2, H / 2, H * 0.85);
    v.addColorStop(0, 'rgba(0, 0, 0, 0)');
    v.addColorStop(1, 'rgba(0, 0, 0, 0.35)');
    g.fillStyle = v;
    g.fillRect(0, 0, W, H);
    return c.toDataURL('image/jpeg', 0.86);
  });
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

/** The corrected invoice: a real one-page PDF (Helvetica, text and rules). */
function invoicePdf() {
  const esc = (t) => t.replace(/[\\()]/g, (ch) => `\\${ch}`);
  const ops = [];
  const text = (x, y, size, bold, t, right = false) => {
    // Helvetica's average advance is about half the size: enough to right-align figures.
    const w = right ? t.length * size * 0.52 : 0;
    ops.push(`BT /${bold ? 'F2' : 'F1'} ${size} Tf ${x - w} ${y} Td (${esc(t)}) Tj ET`);
  };
  const rule = (y, gray = 0.8) => ops.push(`${gray} G 0.8 w 56 ${y} m 539 ${y} l S`);
  ops.push('0.184 0.435 0.310 rg');
  text(56, 770, 22, true, 'Northwind Tea');
  ops.push('0.2 g');
  text(56, 752, 10, false, '12 Harbour Lane, Bristol BS1 4RW · hello@northwind-tea.example');
  text(539, 770, 18, true, 'INVOICE', true);
  text(539, 752, 10, false, 'No. 4512 (corrected)', true);
  rule(735);
  text(56, 710, 10, true, 'Billed to');
  text(56, 695, 10, false, 'Emma Reed');
  text(56, 681, 10, false, '7 Orchard Road, Bath BA2 3QT');
  text(380, 710, 10, true, 'Order date');
  text(380, 695, 10, false, '10 March 2026');
  text(380, 676, 10, true, 'Corrected');
  text(380, 661, 10, false, '12 March 2026');
  text(56, 620, 10, true, 'Item');
  text(360, 620, 10, true, 'Qty');
  text(539, 620, 10, true, 'Amount', true);
  rule(610, 0.6);
  const rows = [
    ['Da Hong Pao, roasted Wuyi oolong, 50 g', '2', '£48.00'],
    ['Dragon Well Longjing, green, 50 g', '1', '£18.00'],
    ['Refund: Da Hong Pao tin damaged in transit', '1', '-£8.00'],
    ['Delivery', '1', '£0.00'],
  ];
  rows.forEach(([item, qty, amount], i) => {
    const y = 590 - i * 24;
    text(56, y, 10, false, item);
    text(364, y, 10, false, qty);
    text(539, y, 10, false, amount, true);
    rule(y - 9);
  });
  text(380, 470, 12, true, 'Total');
  text(539, 470, 12, true, '£58.00', true);
  text(56, 420, 9, false, 'Refunded to the card ending 4242 on 12 March 2026. Thank you for shopping with us!');
  const stream = ops.join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>',
    `<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`,
  ];
  let pdf = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(pdf, 'latin1'));
    pdf += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, 'latin1');
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) pdf += `${String(off).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
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
    // The shop shapes its widget as a marketer would in Settings → Widget:
    // its own green, its name, a greeting line.
    const settings = await api('GET', '/api/v1/widget-settings', { token: maya.token });
    await api('PUT', '/api/v1/widget-settings', {
      token: maya.token,
      json: { ...settings, color: LEAF, title: 'Northwind Tea', welcome: 'Questions about teas, brewing or your order? We usually answer within minutes.' },
    });

    // A visitor on the demo shop asks; Maya answers from the "desktop app".
    const visitor = await browser.newContext({ ...ctx, viewport: { width: 1280, height: 800 } });
    const page = await visitor.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(`${BASE}/demo`);
    await page.locator('.sb-launcher').click();
    await page.locator('.sb-panel').waitFor({ state: 'visible' });
    await page.locator('.sb-status[data-online="true"]').waitFor({ state: 'attached' });
    await page.locator('.sb-team img').nth(team.length - 1).waitFor();

    /** The visitor types, and attaches a photo through the widget's file input. */
    const visitorSays = async (text, photo) => {
      if (photo) {
        await page.locator('.sb-picker').setInputFiles({ name: PHOTO_NAME, mimeType: 'image/jpeg', buffer: photo });
        await page.locator('.sb-chip[data-state="done"]').waitFor();
      }
      await page.locator('.sb-input').fill(text);
      await page.locator('.sb-input').press('Enter');
      const row = page.locator('.sb-msg[data-kind="visitor"]:not(.sb-pending)', { hasText: text });
      await row.waitFor();
      if (photo) await row.locator('.sb-att-img img').waitFor();
    };
    /** Maya answers from the "desktop app", with a file uploaded as she would. */
    const mayaSays = async (conversationId, text, file) => {
      await desk.evaluate((id) => window.ws_.send(JSON.stringify({ type: 'typing', conversation_id: id })), conversationId);
      const attachments = [];
      if (file) {
        const q = new URLSearchParams({ name: file.name });
        const a = await api('POST', `/api/v1/attachments?${q}`, { token: maya.token, bytes: file.bytes, type: file.type });
        attachments.push(a.id);
      }
      await api('POST', `/api/v1/conversations/${conversationId}/messages`, {
        token: maya.token,
        json: { body: text, client_id: randomUUID(), attachments },
      });
      const row = page.locator('.sb-msg[data-kind="operator"]', { hasText: text });
      await row.waitFor();
      await row.locator('.sb-avatar img').waitFor();
      if (file) await row.locator('.sb-att-file', { hasText: file.name }).waitFor();
    };

    await visitorSays(VISITOR_ASKS, await drawPhoto(desk));
    const conversation = await eventually('the visitor’s conversation', async () => {
      const { items } = await api('GET', '/api/v1/conversations?limit=1', { token: maya.token });
      return items[0];
    });
    await api('PATCH', `/api/v1/conversations/${conversation.id}`, {
      token: maya.token,
      json: { assignee_id: maya.user.id },
    });
    // No email form here: the widget asks for one only while nobody is online
    // (the `email_prompt` setting), and Maya and Sam are.
    await mayaSays(conversation.id, OPERATOR_ANSWERS, {
      name: INVOICE_NAME,
      type: 'application/pdf',
      bytes: invoicePdf(),
    });
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
    await mobile.locator('.sb-msg[data-kind="visitor"]', { hasText: VISITOR_ASKS }).locator('.sb-att-img img').waitFor();
    await mobile.locator('.sb-msg[data-kind="operator"]', { hasText: OPERATOR_ANSWERS }).locator('.sb-att-file').waitFor();
    await settle(mobile);
    await mobile.screenshot({ path: join(OUT, 'widget-mobile.png') });
    console.log(`wrote ${join(OUT, 'widget.png')} and ${join(OUT, 'widget-mobile.png')}`);
  } finally {
    await browser.close();
  }
}

await main();
