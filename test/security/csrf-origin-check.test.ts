import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, register } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { fakeClock } from '../support/clock.ts';
import { snapshotDir } from '../support/files.ts';
import { bodyOf, sessionView } from '../support/json.ts';
import { startTestServer, suiteScope } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

interface UnsafeRoute {
  method: string;
  path: string;
  /** A body that would change something if the request got through. */
  fields: Record<string, string>;
}

/** Every unsafe route of the app, each with a body an attacker's page would love to send. */
const UNSAFE_ROUTES: readonly UnsafeRoute[] = [
  { method: 'POST', path: '/login', fields: { username: 'alice', password: PASSWORD } },
  { method: 'POST', path: '/register', fields: { username: 'mallory', password: PASSWORD } },
  { method: 'POST', path: '/logout', fields: {} },
  { method: 'POST', path: '/api/password', fields: { currentPassword: PASSWORD, newPassword: 'chosen by mallory' } },
  { method: 'POST', path: '/api/cart', fields: { item: 'forged' } },
  { method: 'PATCH', path: '/api/profile', fields: { displayName: 'pwned' } },
  { method: 'DELETE', path: '/api/cart', fields: {} },
  { method: 'PUT', path: '/api/preferences', fields: { theme: 'dark' } },
];

type HeaderCase = [description: string, headers: Record<string, string>];

/** send makes `route`'s request as an HTML form would (the kind a cross-site page can send without asking). */
function send(browser: Client, route: UnsafeRoute, headers: Record<string, string>) {
  const body = new URLSearchParams(route.fields).toString();
  return browser.request(route.method, route.path, body, { 'Content-Type': 'application/x-www-form-urlencoded', ...headers });
}

describe('CSRF: unsafe requests from another origin are refused and change nothing', () => {
  const scope = suiteScope();
  const clock = fakeClock();
  let server: TestServer;
  let victim: Client;
  let origin: string;
  let otherPortOrigin: string;
  after(() => scope.close());

  before(async () => {
    server = await startTestServer(scope.context, {}, { clock: clock.clock });
    victim = server.client();
    await register(victim, 'alice', PASSWORD);
    assert.equal((await victim.json('POST', '/api/cart', { item: 'umbrella' })).status, 200);
    assert.equal((await victim.json('PUT', '/api/preferences', { theme: 'light' })).status, 200);
    const url = new URL(server.url);
    origin = url.origin;
    otherPortOrigin = `http://${url.hostname}:${Number(url.port) === 65535 ? 65534 : Number(url.port) + 1}`;
  });

  async function assertVictimUntouched(context: string): Promise<void> {
    const me = await victim.get('/api/me');
    assert.equal(me.status, 200, `${context}: the victim's session ended`);
    assert.equal(bodyOf(me).displayName, 'alice', `${context}: the profile changed`);
    const session = await victim.get('/api/session');
    assert.deepEqual(sessionView(session).data, { cart: ['umbrella'], theme: 'light' }, `${context}: the session data changed`);
  }

  it('refuses every unsafe route for every cross-origin header combination with 403, and nothing changes', async () => {
    const refused: HeaderCase[] = [
      ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'Sec-Fetch-Site': 'same-site' }],
      ['a bogus Sec-Fetch-Site', { 'Sec-Fetch-Site': 'bogus' }],
      ['Sec-Fetch-Site: cross-site beside a matching Origin', { 'Sec-Fetch-Site': 'cross-site', Origin: origin }],
      ['Sec-Fetch-Site: same-site beside a matching Origin', { 'Sec-Fetch-Site': 'same-site', Origin: origin }],
      ['Origin: null (a sandboxed frame)', { Origin: 'null' }],
      ['the Origin of another site', { Origin: 'https://evil.example' }],
      ['the Origin of another port on this host', { Origin: otherPortOrigin }],
      ['a bogus Origin', { Origin: 'not a url' }],
    ];
    const sessionsBefore = await snapshotDir(server.dirs.sessionsDir);
    const usersBefore = await readFile(server.dirs.usersFile, 'utf8');

    for (const [description, headers] of refused) {
      for (const route of UNSAFE_ROUTES) {
        const context = `${route.method} ${route.path} with ${description}`;
        const reply = await send(victim, route, headers);
        assert.equal(reply.status, 403, context);
        assert.deepEqual(reply.headers.getSetCookie(), [], `${context}: a cookie was set or cleared`);
        assert.deepEqual(await snapshotDir(server.dirs.sessionsDir), sessionsBefore, `${context}: a session file changed`);
        assert.equal(await readFile(server.dirs.usersFile, 'utf8'), usersBefore, `${context}: the users file changed`);
        await assertVictimUntouched(context);
      }
    }
  });

  it('refuses a cross-site request before reading its body: 403, not 413', async () => {
    const reply = await victim.request('POST', '/api/cart', `item=${'x'.repeat(20 * 1024)}`, {
      'Content-Type': 'application/x-www-form-urlencoded',
      'Sec-Fetch-Site': 'cross-site',
    });
    assert.equal(reply.status, 403);
    await assertVictimUntouched('an oversized cross-site request');
  });

  it('lets same-origin pages, typed URLs and non-browser clients through', async () => {
    const allowed: HeaderCase[] = [
      ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
      ['Sec-Fetch-Site: none (typed or bookmarked)', { 'Sec-Fetch-Site': 'none' }],
      ['a matching Origin', { Origin: origin }],
      ['a matching Origin in upper case', { Origin: origin.toUpperCase() }],
      ['neither header (curl, scripts)', {}],
    ];
    const guest = server.client();
    for (const [description, headers] of allowed) {
      const route: UnsafeRoute = { method: 'PUT', path: '/api/preferences', fields: { theme: 'dark' } };
      assert.equal((await send(guest, route, headers)).status, 200, `PUT /api/preferences with ${description}`);
      const cart: UnsafeRoute = { method: 'POST', path: '/api/cart', fields: { item: description.slice(0, 64) } };
      assert.equal((await send(guest, cart, headers)).status, 200, `POST /api/cart with ${description}`);
    }
    assert.equal(sessionView(await guest.get('/api/session')).data.cart.length, allowed.length);
  });

  it('lets same-origin sign-in and sign-out through, for every allowed header combination', async () => {
    const allowed: HeaderCase[] = [
      ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
      ['Sec-Fetch-Site: none', { 'Sec-Fetch-Site': 'none' }],
      ['a matching Origin', { Origin: origin }],
      ['neither header', {}],
    ];
    await register(server.client(), 'bob', PASSWORD);
    for (const [description, headers] of allowed) {
      const browser = server.client();
      const login = await send(browser, { method: 'POST', path: '/login', fields: { username: 'bob', password: PASSWORD } }, headers);
      assert.equal(login.status, 303, `POST /login with ${description}`);
      assert.equal(login.headers.get('location'), '/dashboard', `POST /login with ${description}`);
      assert.equal((await browser.get('/api/me')).status, 200, `signed in after POST /login with ${description}`);
      const logout = await send(browser, { method: 'POST', path: '/logout', fields: {} }, headers);
      assert.equal(logout.status, 303, `POST /logout with ${description}`);
      assert.equal((await browser.get('/api/me')).status, 401, `signed out after POST /logout with ${description}`);
    }
  });

  it('never refuses a safe method, so links from other sites still work', async () => {
    const page = await victim.get('/dashboard', { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' });
    assert.equal(page.status, 200);
    const head = await victim.request('HEAD', '/api/me', undefined, { 'Sec-Fetch-Site': 'cross-site' });
    assert.equal(head.status, 200);
  });
});
