// Startup time to the first painted dialog list, memory (PSS of the app and all its
// WebKit processes) and scrolling, with N dialogs in the cache (BENCH_DIALOGS, 1,000),
// against a bare Tauri window (BARE_BIN: an empty page, the same WebKit settings)
// started in the same run. Prints figures, asserts nothing about speed.
// Run by `bash tests/desktop-e2e/run.sh bench`.
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';

const { SERVER_URL, WEBDRIVER_URL, APP_BIN, BARE_BIN } = process.env;
const ADMIN = { email: 'admin@example.com', password: 'correct horse battery' };
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
const N = Number(process.env.BENCH_DIALOGS ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3); // starts with the list cached
const SETTLE = 3000; // ms after the first paint before memory is read
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function wd(method, path, body) {
  const r = await fetch(WEBDRIVER_URL + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j).slice(0, 300)}`);
  return j.value;
}
async function api(method, path, { visitor, body } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (visitor) headers['x-visitor-token'] = visitor;
  const r = await fetch(SERVER_URL + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  const t = await r.text();
  return t ? JSON.parse(t) : null;
}
let sid;
const s = (p) => `/session/${sid}${p}`;
async function find(css, timeout = 60000, poll = 20) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    try {
      return (await wd('POST', s('/element'), { using: 'css selector', value: css }))[ELEMENT];
    } catch {
      await sleep(poll);
    }
  }
  throw new Error(`no element ${css}`);
}
const js = (script) => wd('POST', s('/execute/sync'), { script, args: [] });
const newSession = async (bin = APP_BIN) =>
  (sid = (await wd('POST', '/session', { capabilities: { alwaysMatch: { 'tauri:options': { application: bin } } } })).sessionId);
const jsAsync = (script) => wd('POST', s('/execute/async'), { script, args: [] });

function pss(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
function processes() {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const exe = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0];
      out.push({ pid: Number(d), ppid, exe });
    } catch {}
  }
  return out;
}
const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;
/**
 * When the newest process running `bin` started, in ms since the epoch (to 10 ms): a
 * user's start begins there, not at the WebDriver session, whose set-up (tauri-driver,
 * WebKitWebDriver) comes before it.
 */
function startedAt(bin) {
  const ticks = processes()
    .filter((p) => p.exe === bin)
    .map((p) => {
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]); // field 22, starttime
    });
  if (!ticks.length) return NaN;
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() - uptime * 1000 + (Math.max(...ticks) / CLK_TCK) * 1000;
}
const now = () => performance.timeOrigin + performance.now();

/** With BENCH_SMAPS=<dir>, each measurement also keeps every process's
 * /proc/<pid>/smaps there (`<label>-<name>-<pid>.smaps`), to see what the PSS is made of. */
function keepSmaps(label, parts) {
  const dir = process.env.BENCH_SMAPS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  for (const p of parts) {
    try {
      const name = p.exe.split('/').pop();
      writeFileSync(`${dir}/${label}-${name}-${p.pid}.smaps`, readFileSync(`/proc/${p.pid}/smaps`));
    } catch {}
  }
}
function memoryKb(bin, label) {
  const ps = processes();
  const app = ps.filter((p) => p.exe === bin);
  const ids = new Set(app.map((p) => p.pid));
  // WebKit's web and network processes are children of the app
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of ps) if (!ids.has(p.pid) && ids.has(p.ppid)) (ids.add(p.pid), (grew = true));
  }
  const parts = [...ids].map((pid) => ({ pid, exe: ps.find((p) => p.pid === pid)?.exe ?? '?', kb: pss(pid) }));
  if (label) keepSmaps(label, parts);
  return { total: parts.reduce((a, p) => a + p.kb, 0), parts };
}

const mb = (kb) => (kb / 1024).toFixed(1);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
function pct(a, q) {
  const b = [...a].sort((x, y) => x - y);
  return b[Math.min(b.length - 1, Math.floor(q * b.length))];
}
/** "total (app 60.1, WebKitWebProcess 80.2, …)" by process name */
function parts(mem) {
  const by = new Map();
  for (const p of mem.parts) {
    const name = p.exe.split('/').pop();
    by.set(name, (by.get(name) ?? 0) + p.kb);
  }
  return [...by].map(([n, kb]) => `${n} ${mb(kb)}`).join(', ') + ` — ${mem.parts.length} processes`;
}
/**
 * Scrolls the list by `step` px every frame for `ms`, wrapping at the end; frame times,
 * and how many frames showed a row still loading (the list loads a window of rows
 * around the screen: a blank row is one whose dialog has not come from the core yet).
 */
const SCROLL = (step, ms) => `
  const done = arguments[arguments.length - 1];
  const el = document.querySelector('[data-testid=conversation-list]');
  const deltas = [];
  let last = 0;
  let blank = 0;
  const t0 = performance.now();
  function frame(t) {
    if (last) deltas.push(t - last);
    last = t;
    if (el.querySelector('.row[aria-hidden=true]')) blank++;
    el.scrollTop = el.scrollTop + el.clientHeight >= el.scrollHeight - 1 ? 0 : el.scrollTop + ${step};
    if (t - t0 < ${ms}) requestAnimationFrame(frame);
    else done({ deltas, blank, rows: document.querySelectorAll('[data-testid=conversation]').length, top: el.scrollTop });
  }
  requestAnimationFrame(frame);`;

try {
  // the bare window: an empty page, the same WebKit settings
  let bare = null;
  // Started twice, the second kept: the first start of the run also reads WebKit's
  // libraries from disk (the app's measured starts come after its own first start).
  if (BARE_BIN) {
    for (let r = 0; r < 2; r++) {
      const t = performance.now();
      await newSession(BARE_BIN);
      const started = startedAt(BARE_BIN);
      while ((await js('return document.readyState')) !== 'complete') await sleep(10);
      await jsAsync('const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(1)));');
      const painted = performance.now() - t;
      const fromStart = now() - started;
      const pageAt = (await js('return performance.timeOrigin')) - started;
      await sleep(SETTLE);
      bare = { painted, fromStart, pageAt, first: bare?.fromStart ?? fromStart, mem: memoryKb(BARE_BIN, 'bare') };
      await wd('DELETE', s(''));
      await sleep(1000);
    }
  }

  console.log(`seeding ${N} dialogs…`);
  const t0 = Date.now();
  for (let i = 0; i < N; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, N - i) }, async (_, k) => {
        const v = await api('POST', '/api/v1/widget/session', { body: { locale: 'en' } });
        await api('POST', '/api/v1/widget/messages', {
          visitor: v.visitor_token,
          body: { body: `Question number ${i + k}`, client_id: `bench-${i + k}` },
        });
      }),
    );
  }
  console.log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // first start: the sign-in screen (a new user), then sign in and let the core load
  // and cache everything
  const tFirst = performance.now();
  await newSession();
  await find('[data-testid=signin]', 60000, 5);
  const signinPainted = performance.now() - tFirst;
  await sleep(SETTLE);
  const signinMem = memoryKb(APP_BIN, 'signin');
  for (const [name, v] of [['server', SERVER_URL], ['email', ADMIN.email], ['password', ADMIN.password]]) {
    const el = await find(`input[name=${name}]`);
    await wd('POST', s(`/element/${el}/clear`), {});
    await wd('POST', s(`/element/${el}/value`), { text: v });
  }
  await wd('POST', s(`/element/${await find('[data-testid=signin] button[type=submit]')}/click`), {});
  const end = Date.now() + 120000;
  while (Date.now() < end) {
    const h = await js('const e = document.querySelector("[data-testid=conversation-list] > div:last-of-type"); return e ? e.offsetHeight : 0');
    if (h >= N * 64) break;
    await sleep(200);
  }
  await sleep(1500); // the cache is written every 500 ms
  await wd('DELETE', s(''));
  await sleep(1000);

  // later starts: restored from the keyring, the list painted from the cache
  const starts = [];
  for (let r = 0; r < RUNS; r++) {
    const t1 = performance.now();
    await newSession();
    const tSession = performance.now();
    const started = startedAt(APP_BIN);
    await find('[data-testid=conversation]', 60000, 5);
    const tList = performance.now();
    const fromStart = performance.timeOrigin + tList - started;
    const pageAt = (await js('return performance.timeOrigin')) - started;
    const rows = await js('return document.querySelectorAll("[data-testid=conversation]").length');
    // the page's own marks (ui/src/lib/store.svelte.ts), from when the app was asked for
    const marks = await js(`const n = performance.getEntriesByType('navigation')[0];
      return { origin: performance.timeOrigin, script: n ? n.domInteractive : 0,
        marks: performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]) }`);
    const page = marks.origin - (performance.timeOrigin + t1);
    const split = [['page', 0], ['html', marks.script], ...marks.marks]
      .map(([n, t]) => `${n.replace('sb:', '')} ${(page + t).toFixed(0)}`)
      .join(', ');
    await sleep(SETTLE);
    const mem = memoryKb(APP_BIN, `rest${starts.length + 1}`);
    // scrolling the whole list: 7 rows a frame for 5 s, then the memory again
    const sc = await jsAsync(SCROLL(7 * 64, 5000));
    await sleep(1000);
    const after = memoryKb(APP_BIN, `scrolled${starts.length + 1}`);
    starts.push({ list: tList - t1, fromStart, pageAt, session: tSession - t1, rows, mem, sc, after, split });
    await wd('DELETE', s(''));
    await sleep(1000);
  }

  const lists = starts.map((x) => x.list);
  const mid = starts.find((x) => x.list === median(lists));
  const frames = starts.flatMap((x) => x.sc.deltas);
  const ratio = (kb) => (bare ? ` (${(kb / bare.mem.total).toFixed(2)}× bare)` : '');
  console.log('--- desktop benchmark');
  console.log(`dialogs cached: ${N}; rows in the DOM (virtualised): ${mid.rows} at the top, ${mid.sc.rows} while scrolling`);
  console.log(`starts with the list cached: ${RUNS}; first painted dialog list ${lists.map((x) => x.toFixed(0)).join(' / ')} ms, median ${median(lists).toFixed(0)} ms (WebDriver session ready after ${mid.session.toFixed(0)} ms)`);
  console.log(`  the median start, ms from the app being asked for: ${mid.split}, list found ${mid.list.toFixed(0)}`);
  const fromStarts = starts.map((x) => x.fromStart);
  console.log(`  from the app's process start (as a user starts it, without WebDriver's set-up): ${fromStarts.map((x) => x.toFixed(0)).join(' / ')} ms, median ${median(fromStarts).toFixed(0)} ms; its page began loading ${starts.map((x) => x.pageAt.toFixed(0)).join(' / ')} ms after the process started`);
  if (bare) console.log(`bare window: page painted ${bare.painted.toFixed(0)} ms after the session was asked for, ${bare.fromStart.toFixed(0)} ms after its process started (its first start of the run: ${bare.first.toFixed(0)} ms); its page began loading after ${bare.pageAt.toFixed(0)} ms`);
  console.log(`app sign-in screen painted after ${signinPainted.toFixed(0)} ms (first start)`);
  console.log('memory (PSS, all processes), 3 s after the first paint:');
  if (bare) console.log(`  bare window              ${mb(bare.mem.total).padStart(6)} MB          (${parts(bare.mem)})`);
  console.log(`  app, sign-in screen      ${mb(signinMem.total).padStart(6)} MB${ratio(signinMem.total)} (${parts(signinMem)})`);
  for (const [i, x] of starts.entries()) {
    console.log(`  app, ${N} dialogs, run ${i + 1}${' '.repeat(Math.max(0, 6 - String(N).length))}${mb(x.mem.total).padStart(6)} MB${ratio(x.mem.total)} (${parts(x.mem)})`);
  }
  for (const [i, x] of starts.entries()) {
    console.log(`  app, run ${i + 1} after scrolling   ${mb(x.after.total).padStart(6)} MB${ratio(x.after.total)} (${parts(x.after)})`);
  }
  console.log(
    `scrolling ${N} dialogs (7 rows a frame, 5 s, ${RUNS} runs): ${frames.length} frames, median ${median(frames).toFixed(1)} ms, ` +
      `p99 ${pct(frames, 0.99).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms, ` +
      `over 50 ms: ${frames.filter((d) => d > 50).length}; ` +
      `frames showing a row still loading: ${starts.reduce((n, x) => n + x.sc.blank, 0)}`,
  );
  process.exit(0);
} catch (e) {
  console.error('bench FAILED:', e.message);
  if (sid) await wd('DELETE', s('')).catch(() => {});
  process.exit(1);
}
