// Startup time to the first painted dialog list, and memory (PSS of the app and its
// WebKit processes), with 1,000 dialogs in the cache. Prints figures, asserts nothing
// about speed. Run by `bash tests/desktop-e2e/run.sh bench`.
import { readFileSync, readdirSync } from 'node:fs';

const { SERVER_URL, WEBDRIVER_URL, APP_BIN } = process.env;
const ADMIN = { email: 'admin@example.com', password: 'correct horse battery' };
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
const N = Number(process.env.BENCH_DIALOGS ?? 1000);
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
async function find(css, timeout = 60000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    try {
      return (await wd('POST', s('/element'), { using: 'css selector', value: css }))[ELEMENT];
    } catch {
      await sleep(20);
    }
  }
  throw new Error(`no element ${css}`);
}
const js = (script) => wd('POST', s('/execute/sync'), { script, args: [] });
const newSession = async () =>
  (sid = (await wd('POST', '/session', { capabilities: { alwaysMatch: { 'tauri:options': { application: APP_BIN } } } })).sessionId);

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
function appMemoryKb() {
  const ps = processes();
  const app = ps.filter((p) => p.exe === APP_BIN);
  const ids = new Set(app.map((p) => p.pid));
  // WebKit's web and network processes are children of the app
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of ps) if (!ids.has(p.pid) && ids.has(p.ppid)) (ids.add(p.pid), (grew = true));
  }
  const parts = [...ids].map((pid) => ({ pid, exe: ps.find((p) => p.pid === pid)?.exe ?? '?', kb: pss(pid) }));
  return { total: parts.reduce((a, p) => a + p.kb, 0), parts };
}

try {
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

  // first start: sign in, let the core load and cache everything
  await newSession();
  await find('[data-testid=signin]');
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

  // second start: restored from the keyring, the list painted from the cache
  const t1 = performance.now();
  await newSession();
  const tSession = performance.now();
  await find('[data-testid=conversation]');
  const tList = performance.now();
  const rows = await js('return document.querySelectorAll("[data-testid=conversation]").length');
  await sleep(3000); // settle before measuring memory
  const mem = appMemoryKb();
  console.log('--- desktop benchmark');
  console.log(`dialogs cached: ${N}; rows painted (virtualised): ${rows}`);
  console.log(`startup to first painted dialog list: ${(tList - t1).toFixed(0)} ms (WebDriver session ready after ${(tSession - t1).toFixed(0)} ms)`);
  console.log(`memory (PSS): ${(mem.total / 1024).toFixed(1)} MB`);
  for (const p of mem.parts) console.log(`  ${p.pid} ${p.exe.split('/').pop()}: ${(p.kb / 1024).toFixed(1)} MB`);
  await wd('DELETE', s(''));
  process.exit(0);
} catch (e) {
  console.error('bench FAILED:', e.message);
  if (sid) await wd('DELETE', s('')).catch(() => {});
  process.exit(1);
}
