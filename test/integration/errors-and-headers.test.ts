import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MAX_BODY_BYTES } from '../../lib/body.ts';
import { register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { hookedFs } from '../support/files.ts';
import { bodyOf } from '../support/json.ts';
import { answerOf, RawExchange, rawExchange } from '../support/raw-http.ts';
import { startTestServer } from '../support/server.ts';

const CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
// What an error body must never show: a stack frame, a file path or an internal error name.
const LEAKS = /\bat \S+ \(|\/tmp\/|\/work\/|node:internal|\.ts\b|Error:|ENO[A-Z]+|EACCES/;

function assertSecurityHeaders(reply: Reply, what: string): void {
  assert.equal(reply.headers.get('content-security-policy'), CSP, what);
  assert.equal(reply.headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(reply.headers.get('referrer-policy'), 'no-referrer', what);
  assert.equal(reply.headers.get('x-powered-by'), null, what);
}

describe('errors', () => {
  it('answers 404 for an unknown path: text for pages, JSON under /api/', async (t) => {
    const server = await startTestServer(t);
    const page = await server.client().get('/no-such-page');
    assert.equal(page.status, 404);
    assert.equal(page.headers.get('content-type'), 'text/plain; charset=utf-8');
    const api = await server.client().get('/api/no-such-thing');
    assert.equal(api.status, 404);
    assert.equal(api.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(bodyOf(api).error, 'not_found');
  });

  const wrongMethods: Array<[string, string, string]> = [
    ['POST', '/dashboard', 'GET, HEAD'],
    ['DELETE', '/', 'GET, HEAD'],
    ['PUT', '/login', 'GET, HEAD, POST'],
    ['GET', '/logout', 'POST'],
    ['GET', '/api/profile', 'PATCH'],
    ['PATCH', '/api/me', 'GET, HEAD'],
    ['PUT', '/api/cart', 'DELETE, POST'],
    ['POST', '/api/preferences', 'PUT'],
    ['POST', '/style.css', 'GET, HEAD'],
    ['OPTIONS', '/api/session', 'GET, HEAD'],
  ];
  for (const [method, path, allow] of wrongMethods) {
    it(`answers ${method} ${path} with 405 and Allow: ${allow}`, async (t) => {
      const server = await startTestServer(t);
      const reply = await server.client().request(method, path);
      assert.equal(reply.status, 405);
      assert.equal(reply.headers.get('allow'), allow);
    });
  }

  const heads = ['/', '/login', '/register', '/dashboard', '/api/me', '/api/session', '/style.css', '/js/api.js'];
  for (const path of heads) {
    it(`answers HEAD ${path} as GET would, without a body`, async (t) => {
      const server = await startTestServer(t);
      const get = await server.client().get(path);
      const reply = await rawExchange(server.url, `HEAD ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.equal(reply.status, get.status);
      assert.equal(reply.body, '');
      assert.equal(reply.headers.get('content-type'), get.headers.get('content-type'));
    });
  }

  it('answers HEAD on a signed-in page with its headers', async (t) => {
    const server = await startTestServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    const reply = await alice.request('HEAD', '/dashboard');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.equal(reply.text, '');
  });

  it('answers 413 to a body declared over 16 KiB, before it is read', async (t) => {
    const server = await startTestServer(t);
    const body = JSON.stringify({ username: 'alice', password: 'x'.repeat(MAX_BODY_BYTES) });
    const reply = await rawExchange(
      server.url,
      `POST /register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    assert.equal(reply.status, 413);
    assert.equal(reply.headers.get('connection'), 'close');
  });

  it('refuses an oversized body announced with Expect: 100-continue without inviting it: 413, never 100 Continue', async (t) => {
    const server = await startTestServer(t);
    const head = `POST /api/cart HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\nExpect: 100-continue\r\n\r\n`;
    const refused = await rawExchange(server.url, head);
    assert.deepEqual(refused.statuses, [413]);
    // A body of an allowed size is invited, and then read.
    const exchange = await RawExchange.open(server.url);
    const small = JSON.stringify({ item: 'hat' });
    const interim = exchange.interim();
    await exchange.write(
      `POST /api/cart HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${small.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(await interim, 100);
    await exchange.write(small);
    assert.equal((await answerOf(exchange)).status, 200);
  });

  it('applies the body rules to POST /logout and DELETE /api/cart too, which need no body: 413, 415', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'bodyless');
    for (const [method, pathname] of [
      ['POST', '/logout'],
      ['DELETE', '/api/cart'],
    ] as const) {
      const unsupported = await browser.request(method, pathname, 'x', { 'Content-Type': 'text/plain' });
      assert.equal(unsupported.status, 415, `${method} ${pathname}`);
      const oversized = await browser.request(method, pathname, 'x'.repeat(MAX_BODY_BYTES + 1), {
        'Content-Type': 'application/x-www-form-urlencoded',
      });
      assert.equal(oversized.status, 413, `${method} ${pathname}`);
    }
    assert.equal((await browser.get('/api/me')).status, 200, 'the refused logouts ended nothing');
  });

  it('answers 413 to a chunked body that grows past 16 KiB', async (t) => {
    const server = await startTestServer(t);
    const { port } = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, method: 'POST', path: '/api/cart', headers: { 'Content-Type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"item":"');
      req.write('x'.repeat(MAX_BODY_BYTES));
      req.end('"}');
    });
    assert.equal(status, 413);
    assert.deepEqual(
      await server
        .client()
        .json('DELETE', '/api/cart')
        .then((r): unknown => r.json),
      { cart: [] },
    );
  });

  it('answers 415 to an unsupported Content-Type', async (t) => {
    const server = await startTestServer(t);
    const client = server.client();
    for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml']) {
      const reply = await client.request('POST', '/api/cart', 'item=hat', { 'Content-Type': type });
      assert.equal(reply.status, 415, type);
    }
    assert.equal((await client.request('POST', '/login', 'username=a', { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal(client.sid, undefined);
  });

  it('answers 400 to malformed JSON', async (t) => {
    const server = await startTestServer(t);
    for (const [path, method] of [
      ['/api/cart', 'POST'],
      ['/login', 'POST'],
      ['/register', 'POST'],
      ['/api/preferences', 'PUT'],
    ] as const) {
      const reply = await server.client().request(method, path, '{"item":', { 'Content-Type': 'application/json' });
      assert.equal(reply.status, 400, path);
      assert.equal(bodyOf(reply).error, 'malformed_json', path);
    }
  });

  it('answers 400 to a request line Node cannot parse, with the security headers', async (t) => {
    const server = await startTestServer(t);
    const reply = await rawExchange(server.url, 'NOT A REQUEST\r\n\r\n');
    assert.equal(reply.status, 400);
    assert.equal(reply.headers.get('content-security-policy'), CSP);
  });

  it('answers 400 to a request target that is not a path', async (t) => {
    const server = await startTestServer(t);
    assert.equal((await rawExchange(server.url, 'GET * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).status, 400);
  });

  it('accepts an absolute-form target', async (t) => {
    const server = await startTestServer(t);
    const reply = await rawExchange(
      server.url,
      `GET ${server.url}/login?next=%2Fprofile HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(reply.status, 200);
    assert.match(reply.body, /name="next" value="\/profile"/);
  });

  const crossOrigin: Array<[string, Record<string, string>]> = [
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'Sec-Fetch-Site': 'same-site' }],
    ['an Origin of another host', { Origin: 'https://evil.example' }],
    ['Origin: null', { Origin: 'null' }],
    ['an Origin that is not a URL', { Origin: 'not a url' }],
  ];
  for (const [what, headers] of crossOrigin) {
    it(`answers 403 to an unsafe request with ${what}, and changes nothing`, async (t) => {
      const server = await startTestServer(t);
      const client = server.client();
      const reply = await client.json('POST', '/api/cart', { item: 'hat' }, headers);
      assert.equal(reply.status, 403);
      assert.equal(bodyOf(reply).error, 'cross_origin');
      assert.equal(client.sid, undefined);
      assert.equal((await client.form('/login', { username: 'a', password: 'b' }, headers)).status, 403);
    });
  }

  it('lets same-origin, typed-in and header-less unsafe requests through', async (t) => {
    const server = await startTestServer(t);
    const allowed: Array<Record<string, string>> = [
      { 'Sec-Fetch-Site': 'same-origin' },
      { 'Sec-Fetch-Site': 'none' },
      { Origin: server.url },
      {},
    ];
    for (const headers of allowed) {
      const reply = await server.client().json('POST', '/api/cart', { item: 'hat' }, headers);
      assert.equal(reply.status, 200, JSON.stringify(headers));
    }
  });

  it('answers 500 or 503 when the users file cannot be written, without a path or stack, and keeps serving', async (t) => {
    const broken = await startTestServer(t);
    // A regular file where the users file's directory was at start-up: saving the first account fails. The
    // registration counters live in that directory too, and which of the two fails first depends on how
    // this Node version's recursive mkdir reports a file in the way: a counter that cannot be kept is the
    // store's 503, an account that cannot be written a 500. Either way nothing leaks and the server goes on.
    await rm(path.dirname(broken.dirs.usersFile), { recursive: true });
    await writeFile(path.dirname(broken.dirs.usersFile), '');
    const json = await broken.client().json('POST', '/register', { username: 'alice', password: 'correct horse battery' });
    assert.ok([500, 503].includes(json.status), `status ${String(json.status)}`);
    assert.deepEqual(Object.keys(bodyOf(json)).sort(), ['error', 'message']);
    assert.doesNotMatch(json.text, LEAKS);
    const form = await broken.client().form('/register', { username: 'bob', password: 'correct horse battery' });
    assert.equal(form.status, json.status);
    assert.equal(form.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.doesNotMatch(form.text, LEAKS);
    assert.equal((await broken.client().get('/login')).status, 200);
  });

  it('answers 503 with Retry-After when session storage fails, without a path', async (t) => {
    const failing = hookedFs({
      before: (operation) => {
        if (operation === 'writeFile') throw Object.assign(new Error('EACCES: permission denied, open /secret/path'), { code: 'EACCES' });
      },
    });
    const server = await startTestServer(t, {}, { fs: failing });
    const reply = await server.client().json('POST', '/api/cart', { item: 'hat' });
    assert.equal(reply.status, 503);
    assert.ok(Number(reply.headers.get('retry-after')) > 0);
    assert.doesNotMatch(reply.text, LEAKS);
    assert.equal(reply.headers.get('set-cookie'), null);
  });

  it('never shows a stack, a file path or an internal message in any error body', async (t) => {
    const server = await startTestServer(t);
    const client = server.client();
    const replies = [
      await client.get('/nope'),
      await client.get('/api/nope'),
      await client.request('POST', '/dashboard'),
      await client.request('POST', '/api/cart', '{"item":', { 'Content-Type': 'application/json' }),
      await client.request('POST', '/api/cart', '{"item":', { 'Content-Type': 'application/json', Accept: 'text/html' }),
      await client.request('POST', '/login', 'x', { 'Content-Type': 'text/plain' }),
      await client.get('/api/me'),
      await client.json('PATCH', '/api/profile', { displayName: 'x' }),
      await client.json('POST', '/api/cart', { item: '' }),
    ];
    for (const reply of replies) {
      assert.ok(reply.status >= 400, `${reply.status}`);
      assert.doesNotMatch(reply.text, LEAKS, reply.text);
    }
  });
});

describe('headers', () => {
  it('sends the security headers on every kind of response', async (t) => {
    const server = await startTestServer(t);
    const alice = server.client();
    const registered = await alice.json('POST', '/register', { username: 'alice', password: 'correct horse battery' });
    const etag = (await alice.get('/style.css')).headers.get('etag')!;
    const replies: Array<[string, Reply]> = [
      ['register 201', registered],
      ['page 200', await alice.get('/dashboard')],
      ['redirect 303', await alice.get('/')],
      ['static 200', await alice.get('/style.css')],
      ['static 304', await alice.get('/style.css', { 'If-None-Match': etag })],
      ['api 200', await alice.get('/api/session')],
      ['404', await alice.get('/nope')],
      ['405', await alice.request('DELETE', '/login')],
      ['400', await alice.request('POST', '/api/cart', '[', { 'Content-Type': 'application/json' })],
      ['415', await alice.request('POST', '/api/cart', 'x', { 'Content-Type': 'text/plain' })],
      ['403', await alice.json('POST', '/api/cart', { item: 'x' }, { Origin: 'https://evil.example' })],
      ['logout 204', await alice.json('POST', '/logout')],
      ['401', await alice.get('/api/me')],
    ];
    for (const [what, reply] of replies) assertSecurityHeaders(reply, what);
  });

  it('gives every text response a Content-Type with a charset', async (t) => {
    const server = await startTestServer(t);
    const client = server.client();
    for (const path of ['/login', '/style.css', '/js/api.js', '/favicon.svg', '/nope', '/api/me']) {
      assert.match((await client.get(path)).headers.get('content-type') ?? '', /; charset=utf-8$/, path);
    }
  });

  it('marks session-dependent responses with Vary: Cookie', async (t) => {
    const server = await startTestServer(t);
    const client = server.client();
    for (const path of ['/', '/login', '/dashboard', '/api/me', '/api/session']) {
      assert.match((await client.get(path)).headers.get('vary') ?? '', /\bCookie\b/, path);
    }
    assert.match((await client.json('POST', '/api/cart', { item: 'x' })).headers.get('vary') ?? '', /\bCookie\b/);
  });

  it('sends Cache-Control: no-store on signed-in pages, every API answer and every cookie change', async (t) => {
    const server = await startTestServer(t);
    const client = server.client();
    assert.equal((await client.get('/api/me')).headers.get('cache-control'), 'no-store');
    const created = await client.json('POST', '/api/cart', { item: 'x' });
    assert.ok(created.headers.get('set-cookie'));
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const signedIn = await client.form('/register', { username: 'alice', password: 'correct horse battery' });
    assert.ok(signedIn.headers.get('set-cookie'));
    assert.equal(signedIn.headers.get('cache-control'), 'no-store');
    assert.equal((await client.get('/profile')).headers.get('cache-control'), 'no-store');
    const out = await client.form('/logout', {});
    assert.ok(out.headers.get('set-cookie'));
    assert.equal(out.headers.get('cache-control'), 'no-store');
  });
});
