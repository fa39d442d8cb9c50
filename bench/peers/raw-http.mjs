// Peer "raw node:http": the ceiling. No sessions, no files, no framework —
// every route answers at once, so its req/s is what node:http itself can do
// on this machine, and every other server is reported as a ratio to it.
//
// Routes: POST /login (hands out a cookie that nothing checks), GET /api/me
// (a fixed small JSON body), POST /api/cart {item} (reads and parses the body,
// stores nothing). PORT (default 0) picks the port; prints its URL on one line.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const ME_BODY = JSON.stringify({ username: 'bench', displayName: 'bench', createdAt: new Date().toISOString() });

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

const server = http.createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/api/me') {
    sendJson(res, 200, ME_BODY);
    return;
  }
  if (req.method === 'POST' && req.url === '/login') {
    await readBody(req);
    const sid = randomBytes(32).toString('base64url');
    sendJson(res, 200, '{"username":"bench"}', { 'Set-Cookie': `sid=${sid}; Path=/; HttpOnly; SameSite=Lax` });
    return;
  }
  if (req.method === 'POST' && req.url === '/api/cart') {
    const { item } = JSON.parse(await readBody(req));
    sendJson(res, 200, JSON.stringify({ cart: [item] }));
    return;
  }
  sendJson(res, 404, '{"error":"not found"}');
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`raw-http listening on http://127.0.0.1:${server.address().port}`);
});
