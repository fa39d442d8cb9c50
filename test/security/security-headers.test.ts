import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { LoginThrottle } from '../../lib/auth/throttle.ts';
import { nodeFileSystem } from '../../lib/file-system.ts';
import type { FileSystem } from '../../lib/file-system.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { rawExchange } from '../support/raw-http.ts';
import { startTestServer, suiteScope } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const OVERSIZED_BODY_BYTES = 20 * 1024;

/** Seen is one response, whichever way it was fetched. */
interface Seen {
  status: number;
  headers: Headers;
  body: string;
}

interface Expectation {
  status: number;
  /** no-store on signed-in pages, API answers, and answers that set or clear the cookie (lib/context.ts send). */
  noStore?: boolean;
  /** Answers that depend on the session say so to caches. */
  varyCookie?: boolean;
}

function assertHeaders(kind: string, seen: Seen, expected: Expectation): void {
  const { headers } = seen;
  assert.equal(seen.status, expected.status, `${kind}: status`);
  assert.equal(headers.get('content-security-policy'), CSP, `${kind}: Content-Security-Policy`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${kind}: X-Content-Type-Options`);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', `${kind}: Referrer-Policy`);
  assert.equal(headers.get('x-powered-by'), null, `${kind}: X-Powered-By`);
  assert.equal(headers.get('server'), null, `${kind}: Server`);
  const type = headers.get('content-type');
  if (seen.body.length > 0) assert.ok(type !== null, `${kind}: a body without Content-Type`);
  if (type !== null && /^(text\/|application\/json|image\/svg\+xml)/.test(type)) {
    assert.match(type, /;\s*charset=utf-8$/i, `${kind}: text without a charset`);
  }
  if (expected.noStore) assert.match(headers.get('cache-control') ?? '', /\bno-store\b/, `${kind}: Cache-Control`);
  if (expected.varyCookie) assert.match(headers.get('vary') ?? '', /\bCookie\b/i, `${kind}: Vary`);
}

async function seen(request: Promise<{ status: number; headers: Headers; text: string }>): Promise<Seen> {
  const reply = await request;
  return { status: reply.status, headers: reply.headers, body: reply.text };
}

describe('security headers: every kind of response carries SECURITY_HEADERS and the caching headers it needs', () => {
  const scope = suiteScope();
  let server: TestServer;
  let member: Client;
  after(() => scope.close());

  before(async () => {
    // One failure locks an account here, so a 429 is one request away.
    server = await startTestServer(scope.context, {}, { throttle: new LoginThrottle({ accountLimit: 1 }) });
    member = server.client();
    await register(member, 'alice', PASSWORD);
  });

  const cases: Array<[kind: string, expected: Expectation, fetch: () => Promise<Seen>]> = [
    ['a page for a signed-out visitor', { status: 200, varyCookie: true }, () => seen(server.client().get('/login'))],
    ['a signed-in page', { status: 200, noStore: true, varyCookie: true }, () => seen(member.get('/dashboard'))],
    ['a redirect away from a protected page', { status: 303, varyCookie: true }, () => seen(server.client().get('/profile'))],
    ['a static file', { status: 200 }, () => seen(server.client().get('/style.css'))],
    ['a HEAD of a script', { status: 200 }, () => seen(server.client().request('HEAD', '/js/api.js'))],
    [
      'a 304 for a static file the browser has',
      { status: 304 },
      async () => {
        const first = await server.client().get('/favicon.svg');
        return seen(server.client().get('/favicon.svg', { 'If-None-Match': first.headers.get('etag') ?? '' }));
      },
    ],
    ['an API answer', { status: 200, noStore: true, varyCookie: true }, () => seen(member.get('/api/me'))],
    ['an API 401', { status: 401, noStore: true, varyCookie: true }, () => seen(server.client().get('/api/me'))],
    [
      "a guest's first write, which sets the cookie",
      { status: 200, noStore: true, varyCookie: true },
      () => seen(server.client().json('POST', '/api/cart', { item: 'tea' })),
    ],
    [
      'a form sign-in, which sets the cookie',
      { status: 303, noStore: true, varyCookie: true },
      () => seen(server.client().form('/login', { username: 'alice', password: PASSWORD })),
    ],
    [
      'a logout, which clears the cookie',
      { status: 303, noStore: true, varyCookie: true },
      async () => {
        const browser = server.client();
        await browser.json('PUT', '/api/preferences', { theme: 'dark' });
        return seen(browser.form('/logout', {}));
      },
    ],
    ['a 404 page', { status: 404, varyCookie: true }, () => seen(server.client().get('/no/such/page'))],
    ['a 404 under /api/', { status: 404, noStore: true, varyCookie: true }, () => seen(server.client().get('/api/no-such-thing'))],
    [
      'a 405 with Allow',
      { status: 405, varyCookie: true },
      async () => {
        const reply = await seen(server.client().get('/logout'));
        assert.equal(reply.headers.get('allow'), 'POST');
        return reply;
      },
    ],
    [
      'a 413 for a body over 16 KiB',
      { status: 413, noStore: true, varyCookie: true },
      () =>
        seen(
          server.client().request('POST', '/api/cart', JSON.stringify({ item: 'x'.repeat(OVERSIZED_BODY_BYTES) }), {
            'Content-Type': 'application/json',
          }),
        ),
    ],
    [
      'a 415 for an unsupported Content-Type',
      { status: 415, noStore: true, varyCookie: true },
      () => seen(server.client().request('POST', '/api/cart', 'item=tea', { 'Content-Type': 'text/plain' })),
    ],
    [
      'a 400 for malformed JSON',
      { status: 400, noStore: true, varyCookie: true },
      () => seen(server.client().request('POST', '/api/cart', '{"item":', { 'Content-Type': 'application/json' })),
    ],
    [
      'a 403 for a cross-origin API request',
      { status: 403, noStore: true, varyCookie: true },
      () => seen(server.client().json('POST', '/api/cart', { item: 'tea' }, { 'Sec-Fetch-Site': 'cross-site' })),
    ],
    [
      'a 403 for a cross-origin form',
      { status: 403, varyCookie: true },
      () => seen(server.client().form('/login', { username: 'alice', password: PASSWORD }, { 'Sec-Fetch-Site': 'cross-site' })),
    ],
    [
      'a 429 for a locked account (JSON)',
      { status: 429, noStore: true, varyCookie: true },
      async () => {
        await server.client().json('POST', '/login', { username: 'locked', password: 'wrong password' });
        return seen(server.client().json('POST', '/login', { username: 'locked', password: 'wrong password' }));
      },
    ],
    [
      'a 429 for a locked account (HTML form)',
      { status: 429, varyCookie: true },
      async () => {
        await server.client().form('/login', { username: 'locked2', password: 'wrong password' });
        return seen(server.client().form('/login', { username: 'locked2', password: 'wrong password' }));
      },
    ],
    ['a 400 for a request Node cannot even parse', { status: 400 }, () => rawExchange(server.url, 'NOT HTTP AT ALL\r\n\r\n')],
  ];

  for (const [kind, expected, fetch] of cases) {
    it(`puts them on ${kind}`, async () => assertHeaders(kind, await fetch(), expected));
  }

  it('puts them on a 503 when session storage fails', async (t) => {
    const failingDisk: FileSystem = {
      ...nodeFileSystem,
      statSync: () => {
        throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      },
    };
    const broken = await startTestServer(t, {}, { fs: failingDisk });
    const browser = broken.client();
    browser.cookies.set('sid', randomBytes(32).toString('base64url'));
    const reply = await seen(browser.get('/api/me'));
    assertHeaders('a 503', reply, { status: 503, noStore: true, varyCookie: true });
    assert.match(reply.headers.get('retry-after') ?? '', /^\d+$/);
  });

  it('puts them on the last-resort 500', async (t) => {
    let explode = false;
    const clock = (): number => {
      if (!explode) return Date.now();
      explode = false;
      throw new Error('the clock broke');
    };
    const broken = await startTestServer(t, {}, { clock });
    explode = true;
    assertHeaders('the last-resort 500', await seen(broken.client().get('/login')), { status: 500 });
  });
});
