import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_MESSAGES } from '../../lib/pages.ts';
import { register } from '../support/client.ts';
import type { Client, Reply } from '../support/client.ts';
import { sessionFiles } from '../support/files.ts';
import { rawExchange } from '../support/raw-http.ts';
import { startTestServer } from '../support/server.ts';

/** sessionFiles lists the session files on disk (temp files and .gitkeep aside). */

function locationOf(reply: Reply): URL {
  const location = reply.headers.get('location');
  assert.ok(location, `no Location on a ${reply.status}`);
  return new URL(location, 'http://base.invalid');
}

async function signedIn(client: Client): Promise<Client> {
  await register(client, 'alice');
  return client;
}

describe('GET /', () => {
  it('sends a signed-out visitor to /login with 303', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().get('/');
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/login');
  });

  it('sends a signed-in visitor to /dashboard with 303', async (t) => {
    const server = await startTestServer(t);
    const reply = await (await signedIn(server.client())).get('/');
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/dashboard');
  });

  it('sends a guest (a session without a user) to /login', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'hat' });
    assert.equal((await guest.get('/')).headers.get('location'), '/login');
  });
});

describe('GET /login and GET /register', () => {
  for (const page of ['/login', '/register']) {
    it(`${page} shows its HTML page to a signed-out visitor`, async (t) => {
      const server = await startTestServer(t);
      const reply = await server.client().get(page);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.match(reply.text, /^<!doctype html>/i);
      assert.match(reply.text, new RegExp(`action="${page}"`));
      assert.doesNotMatch(reply.text, /\{\{/);
    });

    it(`${page} sends a signed-in visitor to /dashboard with 303`, async (t) => {
      const server = await startTestServer(t);
      const reply = await (await signedIn(server.client())).get(page);
      assert.equal(reply.status, 303);
      assert.equal(reply.headers.get('location'), '/dashboard');
      assert.equal(reply.headers.get('cache-control'), 'no-store');
    });
  }

  it('shows the message of a known ?error= code', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().get('/login?error=invalid');
    assert.ok(reply.text.includes(ERROR_MESSAGES.invalid!));
  });

  it('shows nothing for an unknown ?error= code, including names of Object.prototype', async (t) => {
    const server = await startTestServer(t);
    for (const code of ['%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'toString', '__proto__']) {
      const reply = await server.client().get(`/login?error=${code}`);
      assert.equal(reply.status, 200, code);
      assert.doesNotMatch(reply.text, /<p id="page-error" class="form-error" role="alert">|<script>alert/, code);
    }
  });

  it('carries a local ?next= into the form, and drops one that leaves the site', async (t) => {
    const server = await startTestServer(t);
    const local = await server.client().get('/login?next=%2Fprofile');
    assert.match(local.text, /name="next" value="\/profile"/);
    for (const next of ['https%3A%2F%2Fevil.example%2F', '%2F%2Fevil.example', '%2F..%2F%2Fevil.example']) {
      const reply = await server.client().get(`/login?next=${next}`);
      assert.match(reply.text, /name="next" value=""/, next);
    }
  });

  it("shows the session's theme and whether there is a session", async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    assert.match((await guest.get('/login')).text, /data-theme="light" data-session="no"/);
    await guest.json('PUT', '/api/preferences', { theme: 'dark' });
    assert.match((await guest.get('/login')).text, /data-theme="dark" data-session="yes"/);
  });
});

describe('GET /dashboard and GET /profile', () => {
  for (const page of ['/dashboard', '/profile']) {
    it(`${page} sends a signed-out visitor to /login?next=${page}`, async (t) => {
      const server = await startTestServer(t);
      const reply = await server.client().get(page);
      assert.equal(reply.status, 303);
      const location = locationOf(reply);
      assert.equal(location.pathname, '/login');
      assert.equal(location.searchParams.get('next'), page);
      assert.equal(reply.text, '');
    });

    it(`${page} sends a guest to /login too`, async (t) => {
      const server = await startTestServer(t);
      const guest = server.client();
      await guest.json('POST', '/api/cart', { item: 'hat' });
      assert.equal(locationOf(await guest.get(page)).pathname, '/login');
    });

    it(`${page} is 200 HTML with Cache-Control: no-store when signed in`, async (t) => {
      const server = await startTestServer(t);
      const reply = await (await signedIn(server.client())).get(page);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(reply.headers.get('cache-control'), 'no-store');
      assert.match(reply.text, /data-session="yes"/);
    });
  }

  it('sends a visitor whose session was logged out elsewhere back to /login', async (t) => {
    const server = await startTestServer(t);
    const browser = await signedIn(server.client());
    const stolenCookie = browser.sid!;
    await browser.json('POST', '/logout');
    browser.cookies.set('sid', stolenCookie);
    assert.equal((await browser.get('/dashboard')).status, 303);
  });
});

describe('no other URL serves a page', () => {
  const paths = [
    '/dashboard.html',
    '/profile.html',
    '/login.html',
    '/register.html',
    '/public/dashboard.html',
    '/public/style.css',
    '/dashboard/',
    '/Dashboard',
    '/%64ashboard',
    '/dashboard%2Ehtml',
    '/./dashboard',
    '/index.html',
  ];
  for (const path of paths) {
    it(`${path} is 404, signed in or not`, async (t) => {
      const server = await startTestServer(t);
      // Raw bytes on the wire: fetch would normalise some of these paths before sending.
      assert.equal((await rawExchange(server.url, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).status, 404);
      const browser = await signedIn(server.client());
      const cookie = `sid=${browser.sid}`;
      assert.equal(
        (await rawExchange(server.url, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)).status,
        404,
      );
    });
  }
});

describe('static files', () => {
  const assets = [
    { path: '/style.css', type: 'text/css; charset=utf-8' },
    { path: '/js/api.js', type: 'text/javascript; charset=utf-8' },
    { path: '/favicon.svg', type: 'image/svg+xml; charset=utf-8' },
  ];
  for (const asset of assets) {
    it(`${asset.path} is served as ${asset.type} with an ETag`, async (t) => {
      const server = await startTestServer(t);
      const reply = await server.client().get(asset.path);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.get('content-type'), asset.type);
      assert.match(reply.headers.get('etag') ?? '', /^"[^"]+"$/);
      assert.equal(reply.headers.get('cache-control'), 'no-cache');
      assert.equal(Number(reply.headers.get('content-length')), Buffer.byteLength(reply.text));
      assert.ok(reply.text.length > 0);
    });
  }

  it('answers 304 with no body when If-None-Match names the ETag', async (t) => {
    const server = await startTestServer(t);
    const client = server.client();
    const first = await client.get('/style.css');
    const etag = first.headers.get('etag')!;
    const again = await client.get('/style.css', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal(again.headers.get('etag'), etag);
    assert.equal((await client.get('/style.css', { 'If-None-Match': '"something-else"' })).status, 200);
  });

  it('answers HEAD with the headers of GET and no body', async (t) => {
    const server = await startTestServer(t);
    const get = await server.client().get('/style.css');
    const reply = await rawExchange(server.url, 'HEAD /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal(reply.headers.get('content-length'), get.headers.get('content-length'));
    assert.equal(reply.headers.get('etag'), get.headers.get('etag'));
    assert.equal(reply.body, '');
  });

  it('never sets a cookie or creates a session', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().get('/style.css');
    assert.equal(reply.headers.get('set-cookie'), null);
    assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
  });

  it('serves nothing outside public/', async (t) => {
    const server = await startTestServer(t);
    const paths = [
      '/server.ts',
      '/package.json',
      '/lib/app.ts',
      '/../package.json',
      '/%2e%2e/package.json',
      '/js/../../server.ts',
      '/js/%2e%2e/%2e%2e/server.ts',
      '/js/..%2F..%2Fserver.ts',
    ];
    for (const path of paths) {
      assert.equal(
        (await rawExchange(server.url, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).status,
        404,
        path,
      );
    }
  });
});
