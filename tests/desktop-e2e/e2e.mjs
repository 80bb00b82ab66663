// Drives the real Switchboard window through tauri-driver (W3C WebDriver over HTTP, no
// client library) while a visitor talks through the widget API. Run by run.sh.
import { mkdirSync } from 'node:fs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const { SERVER_URL, WEBDRIVER_URL, APP_BIN, SCREENSHOTS, AVATAR, SERVER_BIN, SERVER_DATA, SERVER_PID, EXTRA_PIDS } =
  process.env;
const ADMIN = { email: 'admin@example.com', password: 'correct horse battery' };
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function wd(method, path, body) {
  const r = await fetch(WEBDRIVER_URL + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j).slice(0, 400)}`);
  return j.value;
}

let sid;
const s = (p) => `/session/${sid}${p}`;

async function find(css, { timeout = 15000, all = false } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await wd('POST', s(all ? '/elements' : '/element'), { using: 'css selector', value: css });
      if (!all) return v[ELEMENT];
      if (v.length) return v.map((e) => e[ELEMENT]);
    } catch (e) {
      last = e;
    }
    await sleep(150);
  }
  throw new Error(`no element ${css}: ${last?.message ?? 'none'}`);
}
const click = async (css) => wd('POST', s(`/element/${await find(css)}/click`), {});
const text = async (css) => wd('GET', s(`/element/${await find(css)}/text`));
async function type(css, value, clear = true) {
  const el = await find(css);
  if (clear) await wd('POST', s(`/element/${el}/clear`), {});
  await wd('POST', s(`/element/${el}/value`), { text: value });
}
async function until(what, f, timeout = 20000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out: ${what} ${last ? '(' + last.message + ')' : ''}`);
}
async function shot(name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await js('const t = document.querySelector(".toasts"); if (t) t.style.visibility = "hidden"');
  await sleep(400);
  // the whole X display (ImageMagick): WebKitWebDriver's own screenshot is unreliable here
  const [w, h] = await js('return [window.innerWidth, window.innerHeight]');
  execFileSync('import', ['-window', 'root', '-crop', `${w}x${h}+0+0`, join(SCREENSHOTS, `${name}.png`)]);
  await js('const t = document.querySelector(".toasts"); if (t) t.style.visibility = ""');
  console.log(`screenshot ${name}.png`);
}
const js = (script, args = []) => wd('POST', s('/execute/sync'), { script, args });

async function api(method, path, { token, visitor, body } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (visitor) headers['x-visitor-token'] = visitor;
  const r = await fetch(SERVER_URL + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const t = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${t}`);
  return t ? JSON.parse(t) : null;
}

const step = (m) => console.log(`• ${m}`);
const CHROME_ON_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** The tray item the app registered with the test's StatusNotifierWatcher. */
function trayItem() {
  const lines = readFileSync(process.env.SNI_ITEMS, 'utf8').trim().split('\n').filter(Boolean);
  if (!lines.length) throw new Error('the app registered no tray icon');
  const [service, path] = lines[lines.length - 1].split(' ');
  return { service, path };
}
/** The colour of the tray icon's unread dot (top right) or status dot (bottom right). */
function trayColor(which) {
  const icon = trayProp('IconName').match(/'([^']+)'/)[1];
  const [w] = execFileSync('identify', ['-format', '%w %h', icon], { encoding: 'utf8' }).split(' ').map(Number);
  const r = w * 0.2;
  const x = Math.round(w - r - 1);
  const y = Math.round(which === 'unread' ? r + 1 : w - r - 1);
  const px = execFileSync('convert', [icon, '-format', `%[pixel:p{${x},${y}}]`, 'info:'], { encoding: 'utf8' });
  const [R, G, B] = (px.match(/\d+(\.\d+)?/g) ?? []).map(Number);
  if (R > 200 && G < 80 && B < 80) return 'red';
  if (R < 80 && G > 150 && B < 120) return 'green';
  if (R > 200 && G > 140 && B < 60) return 'amber';
  if (Math.abs(R - 150) < 10 && Math.abs(G - 150) < 10 && Math.abs(B - 150) < 10) return 'grey';
  return px.trim();
}
function trayProp(name) {
  const { service, path } = trayItem();
  return execFileSync('gdbus', ['call', '--session', '--dest', service, '--object-path', path, '--method',
    'org.freedesktop.DBus.Properties.Get', 'org.kde.StatusNotifierItem', name], { encoding: 'utf8' }).trim();
}
let ok = false;
/** Headless Chromium with the demo shop, for the widget's live update (step 13). */
let browser;
try {
  const t0 = Date.now();
  sid = (await wd('POST', '/session', {
    capabilities: { alwaysMatch: { 'tauri:options': { application: APP_BIN } } },
  })).sessionId;
  step(`session in ${Date.now() - t0} ms`);

  // 1. sign in
  await find('[data-testid=signin]');
  await shot('01-sign-in');
  await type('input[name=server]', SERVER_URL);
  await type('input[name=email]', ADMIN.email);
  await type('input[name=password]', ADMIN.password);
  await click('[data-testid=signin] button[type=submit]');
  await find('[data-testid=conversation-list]');
  await until('online', async () => (await text('[data-testid=connection]')).length > 0 &&
    (await js('return document.querySelector("[data-testid=connection]").className')).includes('online'));
  step('signed in, stream online');

  // single instance: a second start hands over to the running app and exits
  const second = spawnSync(APP_BIN, [], { timeout: 15000, encoding: 'utf8' });
  if (second.status === null) throw new Error('a second instance kept running');
  await find('[data-testid=conversation-list]');
  step(`a second start exited (status ${second.status}); the first window stays`);

  // 2. a visitor writes; the message shows up live with an unread badge
  const v = await api('POST', '/api/v1/widget/session', { body: { locale: 'ru' } });
  await api('PUT', '/api/v1/widget/contact', { visitor: v.visitor_token, body: { name: 'Мария', email: 'maria@example.net' } });
  const first = await api('POST', '/api/v1/widget/messages', {
    visitor: v.visitor_token, body: { body: 'Здравствуйте! Где мой заказ?', client_id: 'e2e-1' },
  });
  await until('the live dialog', async () => (await find('[data-testid=conversation]', { all: true })).length > 0);
  await until('unread badge', async () => (await text('[data-testid=unread-total]')) === '1');
  step('visitor message arrived live');
  // the tray, as a panel sees it: the count as the label, red unread dot, green status dot
  await until('tray label 1', async () => trayProp('XAyatanaLabel').includes("<'1'>"));
  await until('tray icon: unread and online', async () => trayColor('unread') === 'red' && trayColor('status') === 'green');
  step('tray shows 1 unread and online');
  await shot('02-dialogs');

  // 3. open it and answer
  await click(`[data-testid=conversation][data-id="${first.conversation_id}"]`);
  await until('history', async () => (await text('[data-testid=history]')).includes('Где мой заказ?'));
  // read: the count stays until the dialog is read, then leaves the tray
  await until('tray cleared', async () => trayProp('XAyatanaLabel').includes("<''>") && trayColor('unread') !== 'red');
  step('reading the dialog cleared the tray count');
  const email = await text('[data-testid=visitor-email]');
  if (!email.includes('maria@example.net')) throw new Error(`visitor email not shown: ${email}`);
  await type('[data-testid=composer]', 'Добрый день! Заказ уже в пути.', false);
  await click('[data-testid=send]');
  await until('reply reached the visitor', async () => {
    const m = await api('GET', '/api/v1/widget/messages', { visitor: v.visitor_token });
    return m.items.filter((x) => x.body === 'Добрый день! Заказ уже в пути.').length === 1;
  });
  await until('reply in the window', async () => (await text('[data-testid=history]')).includes('Заказ уже в пути'));
  step('operator answer reached the visitor exactly once');
  await shot('03-dialog');

  // attachments: a pasted screenshot and a PDF dropped from another app (a native
  // file picker cannot be driven), both through the real upload code; sent with no
  // text; the visitor gets one message with both files, byte for byte
  const png = readFileSync(AVATAR);
  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(400_000)]);
  const pdfName = 'Счёт 4512.pdf';
  await js(
    `const [png] = arguments;
     const bytes = (b) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
     const dt = new DataTransfer();
     dt.items.add(new File([bytes(png)], 'image.png', { type: 'image/png' }));
     document.querySelector('[data-testid=composer]').dispatchEvent(
       new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));`,
    [png.toString('base64')],
  );
  await js(
    `const [pdf, name] = arguments;
     const bytes = (b) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
     const dt = new DataTransfer();
     dt.items.add(new File([bytes(pdf)], name, { type: 'application/pdf' }));
     const target = document.querySelector('[data-testid=history]');
     for (const type of ['dragenter', 'dragover', 'drop']) {
       target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
     }`,
    [pdf.toString('base64'), pdfName],
  );
  await until('two files uploaded in the composer', async () =>
    (await js('return document.querySelectorAll("[data-testid=file-chip][data-state=done]").length')) === 2, 30000);
  await until('the pasted picture previewed', async () =>
    js('const i = document.querySelector("[data-testid=file-chip] [data-testid=chip-preview]"); return !!i && i.complete && i.naturalWidth > 0'));
  const chipNames = await js('return [...document.querySelectorAll("[data-testid=file-chip]")].map((c) => c.dataset.name)');
  if (!String(chipNames[0]).startsWith('pasted-') || chipNames[1] !== pdfName) throw new Error(`chips: ${chipNames}`);
  step('a pasted picture and a dropped PDF uploaded from the composer, with previews');
  // the page cannot attach a path that was not dropped on the window by the OS
  const refused = await wd('POST', s('/execute/async'), {
    script: `const done = arguments[arguments.length - 1];
      window.__TAURI_INTERNALS__.invoke('attach_dropped', { paths: ['/etc/hostname'] })
        .then(() => done('accepted'), (e) => done(String(e && e.message)));`,
    args: [],
  });
  if (!String(refused).includes('was not dropped')) throw new Error(`attach_dropped took any path: ${refused}`);
  step('attach_dropped refuses a path the OS did not drop');
  await shot('03c-attachments-composer');
  await click('[data-testid=send]');
  const withFiles = await until('the files reached the visitor', async () => {
    const m = await api('GET', '/api/v1/widget/messages', { visitor: v.visitor_token });
    const sent = m.items.filter((x) => x.author.kind === 'operator' && x.attachments?.length);
    return sent.length === 1 ? sent[0] : null;
  }, 30000);
  if (withFiles.body !== '' || withFiles.attachments.length !== 2) throw new Error(`sent: ${JSON.stringify(withFiles)}`);
  const [imgAtt, pdfAtt] = withFiles.attachments;
  if (imgAtt.content_type !== 'image/png' || !imgAtt.thumbnail_url || pdfAtt.name !== pdfName) {
    throw new Error(`attachments: ${JSON.stringify(withFiles.attachments)}`);
  }
  for (const [a, bytes] of [[imgAtt, png], [pdfAtt, pdf]]) {
    const url = a.url.startsWith('http') ? a.url : SERVER_URL + a.url;
    const got = Buffer.from(await (await fetch(url)).arrayBuffer());
    if (!got.equals(bytes)) throw new Error(`${a.name}: the server has other bytes`);
  }
  step('the message with both files reached the visitor once, byte for byte');
  await until('the picture previewed in the dialog', async () =>
    js('const i = document.querySelector("[data-testid=attachment-image] img"); return !!i && i.complete && i.naturalWidth > 0'));
  await find(`[data-testid=attachment-file][data-name="${pdfName}"] [data-testid=attachment-save]`);
  // Open: the app fetches its own copy, then hands it to the OS (run.sh's stand-in xdg-open)
  await click(`[data-testid=attachment-file][data-name="${pdfName}"] [data-testid=attachment-open]`);
  const opened = await until('the PDF handed to the OS', async () => {
    const lines = existsSync(process.env.SWITCHBOARD_OPENED) ? readFileSync(process.env.SWITCHBOARD_OPENED, 'utf8').trim().split('\n') : [];
    return lines.find((l) => l.endsWith(pdfName)) ?? null;
  });
  if (!opened.startsWith(process.env.SWITCHBOARD_DESKTOP_HOME) || !readFileSync(opened).equals(pdf)) {
    throw new Error(`opened ${opened}: not the app's copy of the PDF`);
  }
  step('Open downloaded the PDF into the app\'s data (same bytes) and handed it to the OS');
  await click('[data-testid=attachment-image]');
  await until('the picture at full size', async () =>
    js('const i = document.querySelector("[data-testid=lightbox-image]"); return !!i && i.complete && i.naturalWidth === 128'));
  await shot('03d-attachment-full-size');
  await wd('POST', s('/actions'), {
    actions: [{ type: 'key', id: 'kb', actions: [{ type: 'keyDown', value: '\uE00C' }, { type: 'keyUp', value: '\uE00C' }] }],
  });
  await until('Escape closes it', async () => (await js('return document.querySelectorAll("[data-testid=lightbox]").length')) === 0);
  step('the dialog shows the picture (full size on click) and the PDF with Open and Save');

  // search: another visitor's dialog is open; Ctrl+K, another form of a word, Enter
  // opens Мария's dialog at the found message, highlighted; Escape clears
  const v2 = await api('POST', '/api/v1/widget/session', { body: { locale: 'en' } });
  const other = await api('POST', '/api/v1/widget/messages', {
    visitor: v2.visitor_token, body: { body: 'Hello, is anyone there?', client_id: 'e2e-other' },
  });
  await click(`[data-testid=conversation][data-id="${other.conversation_id}"]`);
  await until('the other dialog', async () => (await text('[data-testid=history]')).includes('is anyone there'));
  await wd('POST', s('/actions'), {
    actions: [{
      type: 'key', id: 'kb', actions: [
        { type: 'keyDown', value: '\uE009' }, { type: 'keyDown', value: 'k' },
        { type: 'keyUp', value: 'k' }, { type: 'keyUp', value: '\uE009' },
      ],
    }],
  });
  await until('Ctrl+K focuses the search', async () =>
    js('return document.activeElement?.dataset?.testid === "search"'));
  await type('[data-testid=search]', 'заказом', false);
  const hits = await until('search hits with the words marked', async () => {
    const h = await js(`return [...document.querySelectorAll("[data-testid=search-hit]")].map((e) => ({
      conversation: Number(e.dataset.conversation), message: Number(e.dataset.message),
      marks: [...e.querySelectorAll("mark")].map((m) => m.textContent) }))`);
    return h.length >= 2 ? h : null;
  });
  if (!hits.every((h) => h.conversation === first.conversation_id && h.marks.some((m) => /^заказ$/i.test(m)))) {
    throw new Error(`hits: ${JSON.stringify(hits)}`);
  }
  await shot('03e-search');
  await wd('POST', s(`/element/${await find('[data-testid=search]')}/value`), { text: '\uE007' });
  await until('the found dialog open', async () => (await text('[data-testid=dialog-title]')).includes('Мария'));
  await until('the found message highlighted', async () =>
    js(`return document.querySelector(".msg.found")?.dataset.messageId === "${hits[0].message}"`), 5000);
  step('search found "заказ" and "Заказ" for "заказом" (marked); Enter opened the dialog at the message');
  await wd('POST', s(`/element/${await find('[data-testid=search]')}/value`), { text: '\uE00C' });
  await until('Escape clears the search', async () =>
    (await js('return document.querySelectorAll("[data-testid=search-results]").length')) === 0 &&
    (await js('return document.querySelector("[data-testid=search]").value')) === '');

  // offline: the server goes away, the operator answers anyway; the message waits on
  // disk, shows as sending, and reaches the visitor once the server is back
  process.kill(Number(SERVER_PID), 'SIGKILL');
  await until('offline shown', async () =>
    !String(await js('return document.querySelector("[data-testid=connection]").className')).includes('online'), 60000);
  await until('tray status grey', async () => trayColor('status') === 'grey');
  await type('[data-testid=composer]', 'Отвечу, как только связь вернётся.', false);
  await click('[data-testid=send]');
  await find('[data-testid=pending]');
  await shot('03b-offline-pending');
  const port = new URL(SERVER_URL).port;
  const log = openSync(`${SERVER_DATA}/restarted.log`, 'a');
  const again = spawn(SERVER_BIN, ['--http', `127.0.0.1:${port}`, '--data-dir', SERVER_DATA, '--smtp-in', 'off'], {
    stdio: ['ignore', log, log],
    detached: true,
  });
  appendFileSync(EXTRA_PIDS, `${again.pid}\n`);
  again.unref();
  await until('the queued reply reached the visitor', async () => {
    const m = await api('GET', '/api/v1/widget/messages', { visitor: v.visitor_token });
    return m.items.filter((x) => x.body === 'Отвечу, как только связь вернётся.').length === 1;
  }, 60000);
  await until('no pending message left', async () =>
    (await js('return document.querySelectorAll("[data-testid=pending]").length')) === 0);
  step('a reply typed offline was delivered once after the server came back');

  // status by hand: away shows on the server and in the tray, then back online
  const setPresence = (p) =>
    js(`const s = document.querySelector("[data-testid=presence]"); s.value = "${p}"; s.dispatchEvent(new Event("change", { bubbles: true }))`);
  await until('tray online again', async () => trayColor('status') === 'green', 30000);
  await setPresence('away');
  await until('tray away', async () => trayColor('status') === 'amber');
  const { token: t1 } = await api('POST', '/api/v1/auth/login', { body: ADMIN });
  if ((await api('GET', '/api/v1/team', { token: t1 })).find((u) => u.email === ADMIN.email)?.presence !== 'away') {
    throw new Error('away not on the server');
  }
  await setPresence('online');
  await until('tray online', async () => trayColor('status') === 'green');
  step('away and back online, in the tray and on the server');

  // 4. Settings → Administrators: invite a colleague, the email arrives
  await click('[data-testid=nav-settings]');
  await find('[data-testid=invite-form]');
  await type('input[name=invite-email]', 'olga@example.com');
  await click('[data-testid=invite]');
  await until('colleague in the list', async () =>
    (await find('[data-testid=member][data-email="olga@example.com"]', { timeout: 1000 })) !== undefined);
  await until('invitation email', async () => {
    const mails = await api('GET', '/dev/mailbox');
    return mails.some((m) => String(m.to).includes('olga@example.com'));
  });
  step('invitation sent and emailed');
  await shot('04-settings-administrators');

  // 5. Personal data: avatar with preview, uploaded
  await click('[data-testid=tab-personal]');
  const file = await find('[data-testid=avatar-file]');
  await wd('POST', s(`/element/${file}/value`), { text: AVATAR });
  await until('upload enabled', async () =>
    !(await js('return document.querySelector("[data-testid=avatar-upload]").disabled')));
  await click('[data-testid=avatar-upload]');
  const { token } = await api('POST', '/api/v1/auth/login', { body: ADMIN });
  await until('avatar stored', async () => (await api('GET', '/api/v1/me', { token })).avatar_url);
  step('avatar uploaded');
  await shot('05-settings-personal');

  // 6. Notifications tab
  await click('[data-testid=tab-notifications]');
  await find('[data-testid=test-sound]');
  await shot('06-settings-notifications');
  // start at login (opt-in) writes the XDG autostart entry, and removes it again
  const autostartDir = join(process.env.XDG_CONFIG_HOME ?? join(process.env.HOME, '.config'), 'autostart');
  const entries = () => (existsSync(autostartDir) ? readdirSync(autostartDir).filter((f) => f.endsWith('.desktop')) : []);
  if (entries().length) throw new Error('autostart enabled before opting in');
  await click('[data-testid=start-at-login]');
  await until('autostart entry', async () => entries().length === 1);
  await click('[data-testid=start-at-login]');
  await until('autostart entry removed', async () => entries().length === 0);
  step('start at login: opt-in writes and removes the autostart entry');

  // Settings → Mail (admins): the DNS records to publish, as `mail dns` prints them
  await click('[data-testid=tab-mail]');
  await until('DNS records', async () =>
    String(
      await js('return [...document.querySelectorAll("[data-testid=dns-record] .name")].map((e) => e.textContent).join(" ")'),
    ).includes('._domainkey.'));
  await shot('06-settings-mail');
  step('Settings → Mail lists the DKIM, SPF, DMARC and MX records');
  // "Check DNS" answers for every record (here, offline, at most "no answer").
  await click('[data-testid=dns-check]');
  await until('a DNS status per record', async () => {
    const counts = await js(
      'return [document.querySelectorAll("[data-testid=dns-record]").length, document.querySelectorAll("[data-testid=dns-status]").length]',
    );
    return counts[0] > 0 && counts[0] === counts[1];
  });
  step('Settings → Mail → Check DNS shows a status for each record');

  // 7. the invited colleague signs in with the emailed password and must set their own
  const mails = await api('GET', '/dev/mailbox');
  const inv = mails.find((m) => String(m.to).includes('olga@example.com'));
  const raw = await (await fetch(SERVER_URL + inv.url)).text();
  const unfolded = raw.replace(/=\r?\n/g, '');
  const pw = (unfolded.match(/(?:Password|Пароль): (\S+)/) ?? [])[1];
  if (!pw) throw new Error('no password in the invitation email');
  await click('[data-testid=sign-out]');
  await find('[data-testid=signin]');
  await type('input[name=server]', SERVER_URL);
  await type('input[name=email]', 'olga@example.com');
  await type('input[name=password]', pw);
  await click('[data-testid=signin] button[type=submit]');
  await find('[data-testid=change-password]');
  await shot('07-forced-password-change');
  await type('input[name=current]', pw);
  await type('input[name=new]', 'olga-own-password-1');
  await type('input[name=repeat]', 'olga-own-password-1');
  await click('[data-testid=change-password] button[type=submit]');
  // with no name yet she lands on Personal data
  await find('[data-testid=save-name]');
  await type('input[name=name]', 'Ольга Смирнова');
  await click('[data-testid=save-name]');
  await until('name saved', async () =>
    String(await js('return document.querySelector("header .me")?.textContent ?? ""')).includes('Ольга'));
  step('invited colleague signed in, set her own password and her name');
  await api('POST', '/api/v1/auth/login', { body: { email: 'olga@example.com', password: 'olga-own-password-1' } });

  // an operator sees no Administrators tab; the app speaks Russian when asked
  await click('[data-testid=nav-settings]');
  await find('[data-testid=tab-personal]');
  const tabs = await js('return [...document.querySelectorAll("[role=tab]")].map((t) => t.dataset.testid)');
  if (tabs.includes('tab-admins')) throw new Error('an operator sees the Administrators tab');
  if (tabs.includes('tab-mail')) throw new Error('an operator sees the Mail tab');
  if (await js('return !!document.querySelector("[data-testid=nav-reports]")')) throw new Error('an operator sees Reports');
  await click('[data-testid=tab-personal]');
  const lang = await find('[data-testid=language]');
  await js('const s = document.querySelector("[data-testid=language]"); s.value = "ru"; s.dispatchEvent(new Event("change", { bubbles: true }))');
  void lang;
  await until('Russian', async () =>
    String(await js('return document.querySelector("[data-testid=nav-dialogs]").textContent')).includes('Диалоги'));
  await click('[data-testid=nav-dialogs]');
  await click(`[data-testid=conversation][data-id="${first.conversation_id}"]`);
  await until('history', async () => (await text('[data-testid=history]')).includes('Заказ уже в пути'));
  await shot('08-dialog-ru');
  step('operator view in Russian');

  // 9. an admin removes her while the app is open: it signs out at once and says why
  const { token: adm } = await api('POST', '/api/v1/auth/login', { body: ADMIN });
  const olga = (await api('GET', '/api/v1/team', { token: adm })).find((u) => u.email === 'olga@example.com');
  await api('DELETE', `/api/v1/team/${olga.id}`, { token: adm });
  await until('signed out with the reason', async () =>
    (await text('[data-testid=signed-out-notice]')).includes('Вы вышли из аккаунта'), 10000);
  step('a removed colleague is signed out at once and told why');

  // 10. plain http:// to another computer only by an explicit, visible choice
  await type('input[name=server]', 'http://chat.example.com');
  await find('[data-testid=allow-http]');
  await type('input[name=email]', 'olga@example.com');
  await type('input[name=password]', 'olga-own-password-1');
  await click('[data-testid=signin] button[type=submit]');
  await until('the clear-text warning', async () => (await text('[data-testid=signin-error]')).includes('http://'));
  step('http:// to another computer is refused without the choice');

  // 11. an analyst opens Reports and sees the figures of the dialogs above
  const { token: adm2 } = await api('POST', '/api/v1/auth/login', { body: ADMIN });
  await api('POST', '/api/v1/team/invitations', { token: adm2, body: { email: 'ivan@example.com', role: 'analyst' } });
  let ivanPw;
  await until('analyst invitation email', async () => {
    const m = (await api('GET', '/dev/mailbox')).find((x) => String(x.to).includes('ivan@example.com'));
    if (!m) return false;
    const body = (await (await fetch(SERVER_URL + m.url)).text()).replace(/=\r?\n/g, '');
    ivanPw = (body.match(/(?:Password|Пароль): (\S+)/) ?? [])[1];
    return !!ivanPw;
  });
  const { token: ivanTok } = await api('POST', '/api/v1/auth/login', { body: { email: 'ivan@example.com', password: ivanPw } });
  await api('PUT', '/api/v1/me/password', {
    token: ivanTok,
    body: { current_password: ivanPw, new_password: 'ivan-own-password-1' },
  });
  await api('PATCH', '/api/v1/me', { token: (await api('POST', '/api/v1/auth/login', { body: { email: 'ivan@example.com', password: 'ivan-own-password-1' } })).token, body: { name: 'Иван Аналитик' } });
  await type('input[name=server]', SERVER_URL);
  await type('input[name=email]', 'ivan@example.com');
  await type('input[name=password]', 'ivan-own-password-1');
  await click('[data-testid=signin] button[type=submit]');
  await click('[data-testid=nav-reports]');
  await find('[data-testid=fig-new]');
  const [rFrom, rTo, rTz] = await js(
    'return ["from", "to", "tz"].map((k) => document.querySelector(`[data-testid=reports-${k}]`).value)',
  );
  const { token: ivan } = await api('POST', '/api/v1/auth/login', { body: { email: 'ivan@example.com', password: 'ivan-own-password-1' } });
  const rep = await api('GET', `/api/v1/reports?from=${rFrom}&to=${rTo}&tz=${encodeURIComponent(rTz)}&missed_after=15`, { token: ivan });
  const totalNew = rep.new_conversations.reduce((a, d) => a + d.count, 0);
  if (totalNew < 2 || rep.answered_in_chat < 1) throw new Error(`unexpected report: ${JSON.stringify(rep)}`);
  const digits = (t) => t.replace(/\D/g, '');
  await until('the figures on screen', async () =>
    digits(await text('[data-testid=fig-new] .big')) === String(totalNew) &&
    digits(await text('[data-testid=fig-chat]')) === String(rep.answered_in_chat) &&
    (await find('[data-testid=operators] tbody tr', { all: true })).length === rep.operators.length);
  await find('[data-testid=csv-operators]');
  const cells = await js('return document.querySelectorAll("[data-testid=chart-hours] .cell[title]").length');
  if (cells !== 7 * 24) throw new Error(`heatmap has ${cells} cells`);
  // the per-day chart (uPlot): hovering today's bar tells the day and its exact count
  const today = rep.new_conversations[rep.new_conversations.length - 1];
  const tip = await until('the count beside the cursor on the per-day chart', async () => {
    const t = await js(`
      const over = document.querySelector('[data-testid=chart-days] .u-over');
      if (!over || !document.querySelector('[data-testid=chart-days] canvas')) return '';
      const r = over.getBoundingClientRect();
      const at = { clientX: r.right - 3, clientY: r.top + r.height / 2, bubbles: true };
      over.dispatchEvent(new MouseEvent('mouseenter', at));
      over.dispatchEvent(new MouseEvent('mousemove', at));
      const tip = document.querySelector('[data-testid=chart-days-tip]');
      return tip && !tip.hidden ? [tip.querySelector('b').textContent, tip.textContent] : null;`);
    return t && digits(t[0]) === String(today.count) && t[1];
  });
  await shot('09-reports');
  step(`an analyst sees Reports: ${totalNew} new, ${rep.answered_in_chat} answered in chat, ${rep.operators.length} operators; the chart's hover: ${tip}`);

  // 12. the analyst reads a dialog without a composer; beside it, who the visitor is:
  // a pageview from Chrome on Windows tells the browser, the system and the page
  const pv = await fetch(SERVER_URL + '/api/v1/widget/pageview', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-visitor-token': v.visitor_token,
      'user-agent': CHROME_ON_WINDOWS,
    },
    body: JSON.stringify({
      url: 'https://northwind-tea.example/teas/da-hong-pao',
      title: 'Da Hong Pao — Northwind Tea',
      referrer: 'https://www.google.com/',
      language: 'ru-RU',
      time_zone: 'Europe/Moscow',
    }),
  });
  if (!pv.ok) throw new Error(`pageview: ${pv.status} ${await pv.text()}`);
  await click('[data-testid=nav-dialogs]');
  await click(`[data-testid=conversation][data-id="${first.conversation_id}"]`);
  await until('history', async () => (await text('[data-testid=history]')).includes('Заказ уже в пути'));
  await find('[data-testid=dialog-title]');
  if (await js('return !!document.querySelector("[data-testid=composer], [data-testid=send], [data-testid=attach]")')) {
    throw new Error('an analyst sees the composer');
  }
  await find('.readonly');
  if (!(await js('return !!document.querySelector("[data-testid=visitor-panel]")'))) await click('[data-testid=visitor-panel-toggle]');
  await until('the visitor panel', async () =>
    (await text('[data-testid=visitor-browser]')).includes('Chrome') &&
    (await text('[data-testid=visitor-os]')).includes('Windows') &&
    (await text('[data-testid=visitor-pages]')).includes('Da Hong Pao — Northwind Tea'));
  const panelText = await text('[data-testid=visitor-panel]');
  if (!panelText.includes('google.com')) throw new Error(`no referrer in the panel: ${panelText}`);
  await shot('03f-visitor-panel');
  // a page's title opens it in the OS's browser (run.sh's stand-in xdg-open records it)
  await click('[data-testid=visitor-page] a');
  await until('the page handed to the OS browser', async () =>
    existsSync(process.env.SWITCHBOARD_OPENED) &&
    readFileSync(process.env.SWITCHBOARD_OPENED, 'utf8').split('\n').includes('https://northwind-tea.example/teas/da-hong-pao'));
  // the panel folds away and comes back
  await click('[data-testid=visitor-panel-toggle]');
  await until('panel hidden', async () => !(await js('return !!document.querySelector("[data-testid=visitor-panel]")')));
  await click('[data-testid=visitor-panel-toggle]');
  await find('[data-testid=visitor-panel]');
  // Мария comes back from another browser with the same email: her new dialog's panel
  // lists the earlier one, which opens on click
  const v3 = await api('POST', '/api/v1/widget/session', { body: { locale: 'ru' } });
  await api('PUT', '/api/v1/widget/contact', { visitor: v3.visitor_token, body: { name: 'Мария', email: 'maria@example.net' } });
  const back = await api('POST', '/api/v1/widget/messages', {
    visitor: v3.visitor_token, body: { body: 'Это снова я: заказ пришёл, спасибо!', client_id: 'e2e-again' },
  });
  await click(`[data-testid=conversation][data-id="${back.conversation_id}"]`);
  await until('her new dialog', async () => (await text('[data-testid=history]')).includes('заказ пришёл'));
  await click(`[data-testid=visitor-conversation][data-id="${first.conversation_id}"]`);
  await until('the earlier dialog opened from the panel', async () =>
    (await text('[data-testid=history]')).includes('Где мой заказ?'));
  step('an earlier conversation of the same email is listed in the panel and opens on click');
  step('an analyst reads the dialog without a composer; the visitor panel shows Chrome, Windows and the page, which opens in the OS browser');

  // 13. a marketer shapes the widget: colour, texts and a greeting for a tea shop;
  // a refused pattern is explained beside the form; once saved, a visitor's open
  // widget (headless Chromium on /demo, opened before the change) turns the new
  // colour without reloading
  await api('POST', '/api/v1/team/invitations', { token: adm2, body: { email: 'lena@example.com', role: 'marketer' } });
  let lenaPw;
  await until('marketer invitation email', async () => {
    const m = (await api('GET', '/dev/mailbox')).find((x) => String(x.to).includes('lena@example.com'));
    if (!m) return false;
    const body = (await (await fetch(SERVER_URL + m.url)).text()).replace(/=\r?\n/g, '');
    lenaPw = (body.match(/(?:Password|Пароль): (\S+)/) ?? [])[1];
    return !!lenaPw;
  });
  const { token: lenaFirst } = await api('POST', '/api/v1/auth/login', { body: { email: 'lena@example.com', password: lenaPw } });
  await api('PUT', '/api/v1/me/password', {
    token: lenaFirst,
    body: { current_password: lenaPw, new_password: 'lena-own-password-1' },
  });
  const { token: lena } = await api('POST', '/api/v1/auth/login', { body: { email: 'lena@example.com', password: 'lena-own-password-1' } });
  // names a tea shop's team would have, for the screenshot
  await api('PATCH', '/api/v1/me', { token: lena, body: { name: 'Lena Orlova' } });
  await api('PATCH', '/api/v1/me', { token: adm2, body: { name: 'Anna Sokolova' } });

  const { chromium } = await import('../widget/node_modules/playwright-core/index.mjs');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync', '--disable-background-networking'],
  });
  const shop = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } })).newPage();
  await shop.goto(SERVER_URL + '/demo');
  const launcherColor = () =>
    shop.evaluate(() => {
      const l = document.querySelector('switchboard-widget')?.shadowRoot?.querySelector('.sb-launcher');
      return l ? getComputedStyle(l).backgroundColor : null;
    });
  const colorBefore = await until('the widget on the demo shop', launcherColor);
  await shop.evaluate(() => (window.__sameDocument = true));

  await click('[data-testid=sign-out]');
  await find('[data-testid=signin]');
  await type('input[name=server]', SERVER_URL);
  await type('input[name=email]', 'lena@example.com');
  await type('input[name=password]', 'lena-own-password-1');
  await click('[data-testid=signin] button[type=submit]');
  // back to English (the app speaks Russian since step 8)
  await click('[data-testid=nav-settings]');
  await click('[data-testid=tab-personal]');
  await find('[data-testid=language]');
  await js('const s = document.querySelector("[data-testid=language]"); s.value = "en"; s.dispatchEvent(new Event("change", { bubbles: true }))');
  await until('English', async () =>
    String(await js('return document.querySelector("[data-testid=nav-dialogs]").textContent')).includes('Dialogs'));
  await click('[data-testid=nav-widget]');
  await find('[data-testid=widget-color-text]');
  await type('[data-testid=widget-title]', 'Northwind Tea');
  await type('[data-testid=widget-welcome]', 'Hi! Ask us about teas, brewing or your order — we answer in a few minutes.');
  await type('[data-testid=widget-away]', 'We are brewing a fresh pot. Leave your email and we will write back.');
  await type('[data-testid=widget-color-text]', '#1f7a4d');
  await js('const s = document.querySelector("[data-testid=widget-language]"); s.value = "en"; s.dispatchEvent(new Event("change", { bubbles: true }))');
  await click('[data-testid=greeting-add]');
  await type('[data-testid=greeting-pattern]', 'teas');
  await type('[data-testid=greeting-delay]', '20');
  await type('[data-testid=greeting-message]', 'Choosing an oolong? Tell me how you like it and I will suggest one.');
  await until('the preview in the new colour', async () =>
    (await js('return getComputedStyle(document.querySelector("[data-testid=preview-launcher]")).backgroundColor')) === 'rgb(31, 122, 77)');
  await click('[data-testid=widget-save]');
  const refusal = await until('the refusal beside the form', async () => text('[data-testid=widget-error]'));
  if ((await api('GET', '/api/v1/widget-settings', { token: lena })).color === '#1f7a4d') throw new Error('a refused form was saved');
  step(`a bad page pattern is refused beside the form: "${refusal}"`);
  await type('[data-testid=greeting-pattern]', '/teas/*');
  await click('[data-testid=widget-save]');
  await find('[data-testid=widget-saved]');
  const stored = await api('GET', '/api/v1/widget-settings', { token: lena });
  if (stored.color !== '#1f7a4d' || stored.title !== 'Northwind Tea' || stored.greetings.length !== 1 || !stored.greetings[0].id) {
    throw new Error(`stored: ${JSON.stringify(stored)}`);
  }
  await until('the open widget in the new colour', async () => (await launcherColor()) === 'rgb(31, 122, 77)', 20000);
  if (!(await shop.evaluate(() => window.__sameDocument === true))) throw new Error('the demo page reloaded');
  await click('[data-testid=preview-mode-greeting]');
  await find('[data-testid=preview-greeting]');
  await click('[data-testid=preview-mode-window]');
  await js('document.querySelector("[data-testid=widget-settings]").scrollTop = 0');
  await shot('10-widget-settings');
  step(`a marketer saved the widget; the open widget went from ${colorBefore} to rgb(31, 122, 77) without a reload`);
  // a colleague saves elsewhere: the unchanged form follows (widget.updated)
  await api('PUT', '/api/v1/widget-settings', { token: adm2, body: { ...stored, title: 'Northwind Tea House' } });
  await until('the form follows a save made elsewhere', async () =>
    (await js('return document.querySelector("[data-testid=widget-title]").value')) === 'Northwind Tea House');
  step('a save made elsewhere refreshed the open Widget screen');

  // 14. the greeting is shown to a visitor; an admin's Reports count it
  const shownRes = await fetch(`${SERVER_URL}/api/v1/widget/greetings/${stored.greetings[0].id}/shown`, {
    method: 'POST',
    headers: { 'x-visitor-token': v2.visitor_token },
  });
  if (shownRes.status !== 204) throw new Error(`greeting shown: ${shownRes.status} ${await shownRes.text()}`);
  await click('[data-testid=sign-out]');
  await find('[data-testid=signin]');
  await type('input[name=server]', SERVER_URL);
  await type('input[name=email]', ADMIN.email);
  await type('input[name=password]', ADMIN.password);
  await click('[data-testid=signin] button[type=submit]');
  await click('[data-testid=nav-reports]');
  const greetingRow = await until('the greeting in Reports', async () => {
    const rows = await js('return [...document.querySelectorAll("[data-testid=greeting-row]")].map((r) => r.innerText)');
    return rows.find((r) => r.includes('Choosing an oolong')) ?? null;
  });
  if (!/\b1\b/.test(greetingRow)) throw new Error(`greeting row: ${greetingRow}`);
  await find('[data-testid=csv-greetings]');
  step(`an admin's Reports count the greeting: ${greetingRow.replace(/\s+/g, ' ')}`);

  ok = true;
  console.log('desktop e2e: all steps passed');
} catch (e) {
  console.error('desktop e2e FAILED:', e.message);
  try {
    console.error('title:', await wd('GET', s('/title')));
    console.error('source:', String(await wd('GET', s('/source'))).slice(0, 3000));
  } catch (e2) {
    console.error('no page source:', e2.message);
  }
  try {
    await shot('failure');
  } catch {}
} finally {
  await browser?.close().catch(() => {});
  if (sid) await wd('DELETE', `/session/${sid}`).catch(() => {});
}
process.exit(ok ? 0 : 1);
