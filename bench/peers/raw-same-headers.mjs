// Peer "raw node:http with the same headers": the physical ceiling for
// Cloakroom's GET /api/me. It answers with exactly the headers Cloakroom
// sends (the security headers, Cache-Control, Vary, a JSON Content-Type with
// charset) and a body of the same shape, but parses no cookie and keeps no
// session. Cloakroom's ratio to this peer is what sessions cost, with the
// cost of the headers taken out; the plain raw peer mixes the two.
//
// Routes: POST /login (hands out a cookie that nothing checks) and
// GET /api/me. PORT (default 0) picks the port; prints its URL on one line.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

/** The headers Cloakroom sends on a signed-in GET /api/me, in its order (bench/scenarios/me.mjs checks Cloakroom sends them). */
const HEADERS = {
  'Content-Security-Policy': "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  Vary: 'Cookie',
  'Content-Type': 'application/json; charset=utf-8',
};

const ME_BODY = JSON.stringify({ username: 'bench', displayName: 'bench', createdAt: new Date().toISOString() });

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/api/me') {
    res.writeHead(200, HEADERS);
    res.end(ME_BODY);
    return;
  }
  if (req.method === 'POST' && req.url === '/login') {
    req.resume();
    req.on('end', () => {
      const sid = randomBytes(32).toString('base64url');
      res.writeHead(200, { ...HEADERS, 'Set-Cookie': `sid=${sid}; Path=/; HttpOnly; SameSite=Lax` });
      res.end('{"username":"bench"}');
    });
    return;
  }
  res.writeHead(404, HEADERS);
  res.end('{"error":"not_found"}');
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`raw-same-headers listening on http://127.0.0.1:${server.address().port}`);
});
