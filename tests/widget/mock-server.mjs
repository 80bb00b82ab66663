// A stand-in for switchboard-server's widget and conversation endpoints, just
// enough to develop the widget and to check widget.test.mjs itself when the
// real server is not at hand. It is NOT the server's test: the real check is
// `npm test` against switchboard-server (see README.md).
//
//   node mock-server.mjs                 # serves on 127.0.0.1:8099
//   node mock-server.mjs --run-tests     # port 0, runs widget.test.mjs against it
//
// It serves /demo and /widget.js from crates/server/assets/, keeps everything in
// memory, and speaks the websocket protocol (RFC 6455, text frames) by hand.

import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const assets = resolve(here, '../../crates/server/assets');

const ADMIN = { email: 'anna@northwind.test', password: 'correct horse battery', name: 'Anna Petrova' };
const MAX_BODY = 10_000;

const AVATAR_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#c9731f"/><circle cx="32" cy="25" r="12" fill="#fde8cf"/><path d="M10 60c2-14 12-20 22-20s20 6 22 20z" fill="#fde8cf"/></svg>`;

export function startMock({ port = 8099, host = '127.0.0.1' } = {}) {
  const state = {
    seq: 0,
    nextId: 1,
    visitors: new Map(), // token -> {id, email, name, conversationId}
    conversations: new Map(), // id -> {id, visitorToken, messages: []}
    events: [], // {seq, conversationId, event, data}
    sockets: new Set(), // {send, token, conversationId}
    operatorTokens: new Set(),
  };
  const operator = { id: 1, name: ADMIN.name, avatar_url: '/avatars/anna.svg' };

  const user = () => ({
    id: operator.id, email: ADMIN.email, name: operator.name, role: 'admin', status: 'active',
    presence: 'online', avatar_url: operator.avatar_url, locale: 'en', must_change_password: false,
    notifications: { sound: true, email: true },
  });

  function publish(conversationId, event, data) {
    const ev = { seq: ++state.seq, conversationId, event, data };
    state.events.push(ev);
    for (const s of state.sockets) {
      if (s.operator || s.conversationId === conversationId) s.send({ type: 'event', seq: ev.seq, event, data });
    }
  }

  /** Typing is ephemeral: sent live, without a seq, never replayed. */
  function typing(conversationId, author, toOperators) {
    for (const s of state.sockets) {
      if (toOperators ? s.operator : !s.operator && s.conversationId === conversationId) {
        s.send({ type: 'event', event: 'typing', data: { conversation_id: conversationId, author } });
      }
    }
  }

  function conversationFor(token) {
    const v = state.visitors.get(token);
    if (!v.conversationId) {
      const id = state.nextId++;
      state.conversations.set(id, { id, visitorToken: token, messages: [], created_at: Date.now() });
      v.conversationId = id;
    }
    return state.conversations.get(v.conversationId);
  }

  function conversationJson(c) {
    const v = state.visitors.get(c.visitorToken);
    const last = c.messages[c.messages.length - 1] || null;
    return {
      id: c.id, status: 'open', visitor: { id: v.id, name: v.name, email: v.email }, assignee_id: null,
      last_message: last, unread: 0, created_at: c.created_at, updated_at: last ? last.created_at : c.created_at,
    };
  }

  function addMessage(c, author, body, clientId) {
    const dup = c.messages.find((m) => m.client_id === clientId && m.author.kind === author.kind);
    if (dup) return dup;
    const m = {
      id: state.nextId++, conversation_id: c.id, client_id: clientId, author, body, channel: 'chat',
      created_at: Date.now(),
    };
    c.messages.push(m);
    publish(c.id, 'message.created', m);
    return m;
  }

  const cors = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Content-Type, X-Visitor-Token, Authorization',
  };
  const send = (res, status, body, type = 'application/json') => {
    res.writeHead(status, { ...cors, 'Content-Type': type, 'Cache-Control': 'no-store' });
    res.end(body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : body);
  };
  const fail = (res, status, code, message) => send(res, status, { error: { code, message } });

  async function readJson(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      return null;
    }
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    try {
      if (req.method === 'OPTIONS') return send(res, 204);
      if (req.method === 'GET' && path === '/demo') {
        return send(res, 200, await readFile(resolve(assets, 'demo.html')), 'text/html; charset=utf-8');
      }
      if (req.method === 'GET' && path === '/widget.js') {
        return send(res, 200, await readFile(resolve(assets, 'widget.js')), 'text/javascript; charset=utf-8');
      }
      if (req.method === 'GET' && path === '/avatars/anna.svg') return send(res, 200, AVATAR_SVG, 'image/svg+xml');
      if (req.method === 'GET' && path === '/healthz') return send(res, 200, 'ok', 'text/plain');

      // ---- widget
      if (path.startsWith('/api/v1/widget/')) {
        if (req.method === 'POST' && path === '/api/v1/widget/session') {
          const b = await readJson(req);
          if (!b) return fail(res, 400, 'bad_json', 'Body is not JSON');
          let token = typeof b.visitor_token === 'string' && state.visitors.has(b.visitor_token) ? b.visitor_token : null;
          if (!token) {
            token = randomUUID();
            state.visitors.set(token, { id: state.nextId++, email: null, name: null, conversationId: null });
          }
          return send(res, 200, {
            visitor_token: token, visitor_id: state.visitors.get(token).id,
            operators: [{ name: operator.name, avatar_url: operator.avatar_url }, { name: 'Boris Lee', avatar_url: null }],
            online: true,
          });
        }
        const token = req.headers['x-visitor-token'];
        if (!token || !state.visitors.has(token)) return fail(res, 401, 'unauthorized', 'Unknown visitor token');
        if (req.method === 'GET' && path === '/api/v1/widget/messages') {
          const v = state.visitors.get(token);
          const c = v.conversationId ? state.conversations.get(v.conversationId) : null;
          return send(res, 200, { items: c ? c.messages : [] });
        }
        if (req.method === 'POST' && path === '/api/v1/widget/messages') {
          const b = await readJson(req);
          if (!b || typeof b.body !== 'string' || typeof b.client_id !== 'string') {
            return fail(res, 422, 'invalid_body', 'body and client_id are required');
          }
          if (!b.body.trim()) return fail(res, 422, 'empty_body', 'The message is empty');
          if (b.body.length > MAX_BODY) return fail(res, 413, 'body_too_long', `At most ${MAX_BODY} characters`);
          const v = state.visitors.get(token);
          const m = addMessage(conversationFor(token), { kind: 'visitor', id: v.id, name: v.name, avatar_url: null }, b.body, b.client_id);
          return send(res, 201, m);
        }
        if (req.method === 'PUT' && path === '/api/v1/widget/contact') {
          const b = await readJson(req);
          if (!b || (b.email !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(b.email))) {
            return fail(res, 422, 'invalid_email', 'Not an email address');
          }
          const v = state.visitors.get(token);
          if (b.email !== undefined) v.email = b.email;
          if (b.name !== undefined) v.name = b.name;
          return send(res, 204);
        }
        return fail(res, 404, 'not_found', 'No such endpoint');
      }

      // ---- operators
      if (req.method === 'POST' && path === '/api/v1/auth/login') {
        const b = await readJson(req);
        if (!b || b.email !== ADMIN.email || b.password !== ADMIN.password) {
          return fail(res, 401, 'invalid_credentials', 'Wrong email or password');
        }
        const t = randomUUID();
        state.operatorTokens.add(t);
        return send(res, 200, { token: t, user: user() });
      }
      if (path.startsWith('/api/v1/')) {
        const auth = (req.headers.authorization || '').replace(/^Bearer /, '');
        if (!state.operatorTokens.has(auth)) return fail(res, 401, 'unauthorized', 'Sign in first');
        if (req.method === 'GET' && path === '/api/v1/conversations') {
          const items = [...state.conversations.values()].map(conversationJson).sort((a, b) => b.updated_at - a.updated_at);
          return send(res, 200, { items, next: null });
        }
        let m = path.match(/^\/api\/v1\/conversations\/(\d+)$/);
        if (m && req.method === 'GET') {
          const c = state.conversations.get(Number(m[1]));
          return c ? send(res, 200, conversationJson(c)) : fail(res, 404, 'not_found', 'No such conversation');
        }
        m = path.match(/^\/api\/v1\/conversations\/(\d+)\/messages$/);
        if (m) {
          const c = state.conversations.get(Number(m[1]));
          if (!c) return fail(res, 404, 'not_found', 'No such conversation');
          if (req.method === 'GET') return send(res, 200, { items: c.messages, next: null });
          if (req.method === 'POST') {
            const b = await readJson(req);
            if (!b || typeof b.body !== 'string' || typeof b.client_id !== 'string') {
              return fail(res, 422, 'invalid_body', 'body and client_id are required');
            }
            return send(res, 201, addMessage(c, { kind: 'operator', ...operator }, b.body, b.client_id));
          }
        }
      }
      return fail(res, 404, 'not_found', 'No such endpoint');
    } catch (e) {
      return fail(res, 500, 'internal', String(e));
    }
  });

  // ---- websockets: the visitor's stream and the operators' stream
  server.on('upgrade', (req, socket) => {
    const url = new URL(req.url, 'http://x');
    const key = req.headers['sec-websocket-key'];
    const isOperator = url.pathname === '/api/v1/stream';
    const token = url.searchParams.get(isOperator ? 'token' : 'visitor_token');
    const ok = isOperator ? state.operatorTokens.has(token) : url.pathname === '/api/v1/widget/stream' && state.visitors.has(token);
    if (!key || !ok) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const frame = (opcode, payload) => {
      const len = payload.length;
      const head = len < 126 ? Buffer.from([0x80 | opcode, len])
        : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 255])
          : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
      if (!socket.destroyed) socket.write(Buffer.concat([head, payload]));
    };
    const v = isOperator ? { conversationId: null } : state.visitors.get(token);
    const conn = {
      token,
      operator: isOperator,
      get conversationId() { return v.conversationId; },
      send: (obj) => frame(1, Buffer.from(JSON.stringify(obj))),
    };
    const sinceRaw = url.searchParams.get('since');
    conn.send({ type: 'ready', seq: state.seq });
    if (sinceRaw !== null) {
      const since = Number(sinceRaw);
      for (const ev of state.events) {
        if (ev.seq > since && (isOperator || ev.conversationId === v.conversationId)) {
          conn.send({ type: 'event', seq: ev.seq, event: ev.event, data: ev.data });
        }
      }
    }
    state.sockets.add(conn);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 15;
        let len = buf[1] & 127;
        let off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        const masked = (buf[1] & 128) !== 0;
        const maskAt = off;
        if (masked) off += 4;
        if (buf.length < off + len) return;
        const payload = Buffer.from(buf.subarray(off, off + len));
        if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + (i % 4)];
        buf = buf.subarray(off + len);
        if (opcode === 8) { frame(8, Buffer.alloc(0)); socket.end(); return; }
        if (opcode === 9) { frame(10, payload); continue; }
        if (opcode === 1) {
          try {
            const msg = JSON.parse(payload.toString('utf8'));
            if (msg.type === 'typing' && isOperator && state.conversations.has(msg.conversation_id)) {
              typing(msg.conversation_id, { kind: 'operator', id: operator.id, name: operator.name, avatar_url: operator.avatar_url }, false);
            } else if (msg.type === 'typing' && !isOperator && v.conversationId) {
              state.visitorTyping = (state.visitorTyping || 0) + 1;
              typing(v.conversationId, { kind: 'visitor', id: v.id, name: v.name, avatar_url: null }, true);
            }
          } catch { /* ignore */ }
        }
      }
    });
    const drop = () => state.sockets.delete(conn);
    socket.on('close', drop);
    socket.on('error', drop);
  });

  return new Promise((resolveStart) => {
    server.listen(port, host, () => {
      const addr = server.address();
      resolveStart({
        url: `http://${host}:${addr.port}`,
        state,
        close: () => new Promise((r) => { for (const s of state.sockets) s.send({ type: 'bye' }); server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runTests = process.argv.includes('--run-tests');
  const mock = await startMock({ port: runTests ? 0 : 8099 });
  console.log(`mock server on ${mock.url} (operator ${ADMIN.email} / ${ADMIN.password}); demo at ${mock.url}/demo`);
  if (runTests) {
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', resolve(here, 'widget.test.mjs')], {
      stdio: 'inherit',
      env: { ...process.env, SWITCHBOARD_URL: mock.url, SWITCHBOARD_ADMIN_EMAIL: ADMIN.email, SWITCHBOARD_ADMIN_PASSWORD: ADMIN.password },
    });
    child.on('exit', async (code) => {
      await mock.close();
      process.exit(code ?? 1);
    });
  }
}
