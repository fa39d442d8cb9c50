import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkHost } from '../../lib/host-check.ts';
import { HSTS_HEADER } from '../../lib/security-headers.ts';
import { rawExchange } from '../support/raw-http.ts';
import { startTestServer, suiteScope } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

/** get sends GET `target` with exactly this Host header (fetch would not let a test choose it). */
function get(server: TestServer, host: string, target = '/login', extra = ''): ReturnType<typeof rawExchange> {
  return rawExchange(server.url, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);
}

describe('DNS rebinding: only localhost, IP literals and ALLOWED_HOSTS are answered', () => {
  const scope = suiteScope();
  let server: TestServer;
  before(async () => {
    server = await startTestServer(scope.context, { allowedHosts: ['cloakroom.example.org'] });
  });
  after(() => scope.close());

  const allowed = [
    '127.0.0.1',
    '127.0.0.1:3000',
    '10.1.2.3:8080',
    '[::1]',
    '[::1]:3000',
    'localhost',
    'LOCALHOST:3000',
    'localhost.',
    'app.localhost',
    'a.b.localhost:8080',
    'cloakroom.example.org',
    'Cloakroom.Example.ORG:443',
  ];
  for (const host of allowed) {
    it(`answers Host: ${host}`, async () => {
      assert.equal((await get(server, host)).status, 200);
    });
  }

  const refused = [
    'evil.example',
    'evil.example:3000',
    'x',
    'localhost.evil.example',
    'evillocalhost',
    'example.org',
    'www.cloakroom.example.org',
    '127.0.0.1.nip.io',
    '[evil.example]',
    '[::1',
    '1.2.3',
  ];
  for (const host of refused) {
    it(`refuses Host: ${host} with 421 before routing, naming ALLOWED_HOSTS`, async () => {
      for (const target of ['/login', '/api/me', '/no-such-page', '/style.css']) {
        const reply = await get(server, host, target);
        assert.equal(reply.status, 421, `${host} ${target}`);
        assert.match(reply.body, /ALLOWED_HOSTS/);
      }
    });
  }

  it('refuses an unsafe request from a rebound name before it touches anything', async () => {
    const body = JSON.stringify({ username: 'rebound', password: 'correct horse battery' });
    const reply = await rawExchange(
      server.url,
      `POST /register HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(reply.status, 421);
    assert.equal((await get(server, '127.0.0.1', '/api/me')).status, 401);
  });

  it('lets a request without Host through (HTTP/1.0; browsers always send one)', () => {
    assert.equal(checkHost(undefined, []), 'allowed');
  });
});

describe('HSTS: only HTTPS answers carry Strict-Transport-Security', () => {
  it('sends it when a trusted proxy says the request came over HTTPS, on pages, API answers, errors and static files', async (t) => {
    const server = await startTestServer(t, { trustProxy: true });
    for (const path of ['/login', '/api/me', '/nowhere', '/style.css']) {
      const reply = await server.client().get(path, { 'X-Forwarded-Proto': 'https' });
      assert.equal(reply.headers.get(HSTS_HEADER.name), HSTS_HEADER.value, path);
      assert.match(HSTS_HEADER.value, /^max-age=\d+$/);
    }
  });

  it('never sends it over plain HTTP, nor when an untrusted client claims HTTPS', async (t) => {
    const trusting = await startTestServer(t, { trustProxy: true });
    const untrusting = await startTestServer(t);
    assert.equal((await trusting.client().get('/login')).headers.get(HSTS_HEADER.name), null);
    assert.equal((await trusting.client().get('/login', { 'X-Forwarded-Proto': 'http' })).headers.get(HSTS_HEADER.name), null);
    assert.equal((await untrusting.client().get('/login', { 'X-Forwarded-Proto': 'https' })).headers.get(HSTS_HEADER.name), null);
  });
});

describe('X-Forwarded-Proto: the entry the proxy appended, the last, decides', () => {
  const cases: Array<[header: string, secure: boolean]> = [
    ['https', true],
    ['http, https', true],
    ['https, http', false],
    ['http', false],
    ['https, ', false],
  ];
  for (const [header, secure] of cases) {
    it(`X-Forwarded-Proto: ${header} → ${secure ? 'a Secure __Host- cookie' : 'a cookie without Secure'}`, async (t) => {
      const server = await startTestServer(t, { trustProxy: true });
      const reply = await server.client().json('POST', '/api/cart', { item: 'hat' }, { 'X-Forwarded-Proto': header });
      const cookie = reply.headers.get('set-cookie') ?? '';
      assert.equal(/;\s*Secure/i.test(cookie), secure, cookie);
      assert.equal(cookie.startsWith('__Host-sid='), secure, cookie);
    });
  }
});
