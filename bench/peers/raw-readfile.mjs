// Peer "raw node:http + readFile + JSON.parse": the floor for a server whose
// session files are the source of truth and that reads one on every request.
// No framework and no cache: GET /api/me reads and parses the session file on
// every request, which is what issue 7 calls "the floor at 0.25".
//
// Files use Cloakroom's naming (SESSIONS_DIR/<sha256 hex of the ID>.json) so
// the work per request is the same. POST /login, and POST /api/cart without a
// session, create a session file with an atomic write (temp file + rename),
// the least a crash-safe file store can do; POST /api/cart with a session
// rewrites its file the same way. SESSIONS_DIR (default: a fresh temp dir)
// and PORT (default 0); prints its URL on one line.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SESSIONS_DIR = process.env.SESSIONS_DIR ?? mkdtempSync(path.join(tmpdir(), 'bench-raw-readfile-'));
const SID_PATTERN = /(?:^|;\s*)sid=([A-Za-z0-9_-]{43})(?:;|$)/;

function fileFor(sid) {
  return path.join(SESSIONS_DIR, `${createHash('sha256').update(sid).digest('hex')}.json`);
}

async function writeSession(sid, record) {
  const target = fileFor(sid);
  const temp = path.join(SESSIONS_DIR, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temp, JSON.stringify(record, null, 2), { mode: 0o600 });
  await rename(temp, target);
}

async function createSession(user, data) {
  const sid = randomBytes(32).toString('base64url');
  const now = new Date().toISOString();
  await writeSession(sid, { version: 1, createdAt: now, lastSeenAt: now, user, generation: user ? 0 : null, data, events: [] });
  return `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`;
}

function sendJson(res, status, body, extraHeaders = {}) {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    ...extraHeaders,
  });
  res.end(body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The request's session as {sid, record}, or null. */
async function readSession(req) {
  const match = SID_PATTERN.exec(req.headers.cookie ?? '');
  if (!match) return null;
  try {
    return { sid: match[1], record: JSON.parse(await readFile(fileFor(match[1]), 'utf8')) };
  } catch {
    return null;
  }
}

async function handle(req, res) {
  if (req.method === 'GET' && req.url === '/api/me') {
    const session = await readSession(req);
    if (!session?.record.user) return sendJson(res, 401, '{"error":"not signed in"}');
    const { user, createdAt } = session.record;
    return sendJson(res, 200, JSON.stringify({ username: user, displayName: user, createdAt }));
  }
  if (req.method === 'POST' && req.url === '/login') {
    const { username } = JSON.parse(await readBody(req));
    const cookie = await createSession(username, { cart: [], theme: null });
    return sendJson(res, 200, JSON.stringify({ username }), { 'Set-Cookie': cookie });
  }
  if (req.method === 'POST' && req.url === '/api/cart') {
    const { item } = JSON.parse(await readBody(req));
    const session = await readSession(req);
    if (session === null) {
      const cookie = await createSession(null, { cart: [item], theme: null });
      return sendJson(res, 200, JSON.stringify({ cart: [item] }), { 'Set-Cookie': cookie });
    }
    const cart = [...session.record.data.cart, item];
    await writeSession(session.sid, { ...session.record, lastSeenAt: new Date().toISOString(), data: { ...session.record.data, cart } });
    return sendJson(res, 200, JSON.stringify({ cart }));
  }
  return sendJson(res, 404, '{"error":"not found"}');
}

const server = http.createServer((req, res) => {
  handle(req, res).catch(() => sendJson(res, 500, '{"error":"internal"}'));
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`raw-readfile listening on http://127.0.0.1:${server.address().port}`);
});
