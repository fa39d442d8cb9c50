import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HasherBusyError, PasswordHasher } from '../../lib/auth/passwords.ts';
import { ERROR_MESSAGES, throttledMessage } from '../../lib/pages.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { sessionFiles } from '../support/files.ts';
import { bodyOf, readSessionFile, sessionView, usersIn } from '../support/json.ts';
import type { SessionShape } from '../support/json.ts';
import { startTestServer, TEST_SCRYPT_COST } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

async function readSession(server: TestServer, id: string): Promise<SessionShape> {
  return readSessionFile(path.join(server.dirs.sessionsDir, `${storageKey(id)}.json`));
}

function location(reply: Reply): URL {
  return new URL(reply.headers.get('location') ?? 'missing:', 'http://base.invalid');
}

/** BusyHasher is a password hasher whose queue is always full. */
class BusyHasher extends PasswordHasher {
  override async hash(): Promise<never> {
    throw new HasherBusyError();
  }

  override async verify(): Promise<never> {
    throw new HasherBusyError();
  }
}

describe('POST /register', () => {
  it('signs a form in and redirects to /dashboard with 303', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    const reply = await browser.form('/register', { username: 'alice', password: PASSWORD });
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/dashboard');
    assert.match(browser.sid ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await readSession(server, browser.sid!)).user, 'alice');
    assert.equal((await browser.get('/dashboard')).status, 200);
  });

  it('answers JSON with 201 {username} and signs the client in', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    const reply = await browser.json('POST', '/register', { username: 'alice', password: PASSWORD });
    assert.equal(reply.status, 201);
    assert.deepEqual(reply.json, { username: 'alice' });
    assert.equal(reply.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.equal(bodyOf(await browser.get('/api/me')).username, 'alice');
  });

  it('stores the password only as an scrypt hash, in a 0600 file', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'alice', PASSWORD);
    const text = await readFile(server.dirs.usersFile, 'utf8');
    assert.ok(!text.includes(PASSWORD));
    const stored = usersIn(text)[0]!;
    assert.equal(stored.password.algorithm, 'scrypt');
    assert.equal(stored.password.N, TEST_SCRYPT_COST);
  });

  it('accepts the boundaries: 3 and 32 character names, 8 and 1024 character passwords', async (t) => {
    const server = await startTestServer(t);
    for (const [username, password] of [
      ['abc', 'x'.repeat(8)],
      ['a'.repeat(32), 'x'.repeat(1024)],
      ['A.b_c-9', '🧥'.repeat(8)],
    ] as const) {
      const reply = await server.client().json('POST', '/register', { username, password });
      assert.equal(reply.status, 201, `${username} / ${password.length}`);
    }
  });

  const invalid: Array<{ it: string; fields: Record<string, unknown>; code: 'username' | 'password' }> = [
    { it: 'a name of 2 characters', fields: { username: 'ab', password: PASSWORD }, code: 'username' },
    { it: 'a name of 33 characters', fields: { username: 'a'.repeat(33), password: PASSWORD }, code: 'username' },
    { it: 'a name with a space', fields: { username: 'al ice', password: PASSWORD }, code: 'username' },
    { it: 'a name with a slash', fields: { username: '../alice', password: PASSWORD }, code: 'username' },
    { it: 'a name with non-ASCII letters', fields: { username: 'ålice', password: PASSWORD }, code: 'username' },
    { it: 'a missing name', fields: { password: PASSWORD }, code: 'username' },
    { it: 'a password of 7 characters', fields: { username: 'alice', password: 'x'.repeat(7) }, code: 'password' },
    { it: 'a password of 1025 characters', fields: { username: 'alice', password: 'x'.repeat(1025) }, code: 'password' },
    { it: 'a missing password', fields: { username: 'alice' }, code: 'password' },
  ];
  for (const c of invalid) {
    it(`refuses ${c.it}: form → 303 /register?error=${c.code}, JSON → 400, no session`, async (t) => {
      const server = await startTestServer(t);
      const formBrowser = server.client();
      const form = await formBrowser.form('/register', c.fields as Record<string, string>);
      assert.equal(form.status, 303);
      assert.equal(form.headers.get('location'), `/register?error=${c.code}`);
      const jsonBrowser = server.client();
      const json = await jsonBrowser.json('POST', '/register', c.fields);
      assert.equal(json.status, 400);
      assert.deepEqual(json.json, { error: c.code, message: ERROR_MESSAGES[c.code] });
      assert.equal(formBrowser.sid, undefined);
      assert.equal(jsonBrowser.sid, undefined);
      assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
    });
  }

  it('refuses a JSON name that is not a string with 400', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().json('POST', '/register', { username: ['alice'], password: PASSWORD });
    assert.equal(reply.status, 400);
  });

  it('answers 409 for a taken name, in any case, and keeps the first account', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'alice', PASSWORD);
    for (const username of ['alice', 'ALICE', 'Alice']) {
      const reply = await server.client().json('POST', '/register', { username, password: 'another password' });
      assert.equal(reply.status, 409, username);
      assert.deepEqual(reply.json, { error: 'taken', message: ERROR_MESSAGES.taken });
    }
    const login = await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD });
    assert.equal(login.status, 200);
  });

  it('sends a form with a taken name to /register?error=taken', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'alice');
    const reply = await server.client().form('/register', { username: 'Alice', password: PASSWORD });
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/register?error=taken');
  });

  it('answers 503 when hashing is busy: JSON gets the status, a form gets its page back with the message', async (t) => {
    const server = await startTestServer(t, {}, { hasher: new BusyHasher({ cost: TEST_SCRYPT_COST }) });
    const json = await server.client().json('POST', '/register', { username: 'alice', password: PASSWORD });
    assert.equal(json.status, 503);
    assert.equal(json.headers.get('retry-after'), '2');
    const form = await server.client().form('/register', { username: 'alice', password: PASSWORD });
    assert.equal(form.status, 503);
    assert.equal(form.headers.get('retry-after'), '2');
    assert.ok(form.text.includes(ERROR_MESSAGES.busy!));
    assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
  });
});

describe('POST /login', () => {
  async function withAlice(t: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
    const server = await startTestServer(t);
    await register(server.client(), 'alice', PASSWORD);
    return server;
  }

  it('signs a form in and redirects to /dashboard when there is no next', async (t) => {
    const server = await withAlice(t);
    const browser = server.client();
    const reply = await browser.form('/login', { username: 'alice', password: PASSWORD });
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/dashboard');
    assert.equal(bodyOf(await browser.get('/api/me')).username, 'alice');
  });

  const nexts: Array<[string, string]> = [
    ['/profile', '/profile'],
    ['/dashboard?tab=cart', '/dashboard?tab=cart'],
    ['https://evil.example/', '/dashboard'],
    ['//evil.example', '/dashboard'],
    ['/\\evil.example', '/dashboard'],
    ['/..//evil.example', '/dashboard'],
    ['', '/dashboard'],
  ];
  for (const [next, expected] of nexts) {
    it(`redirects a form with next=${JSON.stringify(next)} to ${expected}`, async (t) => {
      const server = await withAlice(t);
      const reply = await server.client().form('/login', { username: 'alice', password: PASSWORD, next });
      assert.equal(reply.status, 303);
      assert.equal(reply.headers.get('location'), expected);
    });
  }

  it('answers JSON with 200 {username}', async (t) => {
    const server = await withAlice(t);
    const reply = await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json, { username: 'alice' });
    assert.equal(reply.headers.get('cache-control'), 'no-store');
  });

  it('finds the account whatever the case of the name, and answers with its stored name', async (t) => {
    const server = await withAlice(t);
    const reply = await server.client().json('POST', '/login', { username: 'ALICE', password: PASSWORD });
    assert.deepEqual(reply.json, { username: 'alice' });
  });

  it('answers an unknown user and a wrong password identically: form → 303 /login?error=invalid', async (t) => {
    const server = await withAlice(t);
    const unknown = await server.client().form('/login', { username: 'mallory', password: PASSWORD });
    const wrong = await server.client().form('/login', { username: 'alice', password: 'wrong password' });
    for (const reply of [unknown, wrong]) {
      assert.equal(reply.status, 303);
      const target = location(reply);
      assert.equal(target.pathname, '/login');
      assert.equal(target.searchParams.get('error'), 'invalid');
      assert.equal(reply.headers.get('set-cookie'), null);
    }
    assert.equal(unknown.headers.get('location'), wrong.headers.get('location'));
  });

  it('keeps next on the way back to the form after a failure', async (t) => {
    const server = await withAlice(t);
    const reply = await server.client().form('/login', { username: 'alice', password: 'wrong password', next: '/profile' });
    assert.equal(location(reply).searchParams.get('next'), '/profile');
  });

  it('answers an unknown user and a wrong password identically: JSON → 401 {error}', async (t) => {
    const server = await withAlice(t);
    const unknown = await server.client().json('POST', '/login', { username: 'mallory', password: PASSWORD });
    const wrong = await server.client().json('POST', '/login', { username: 'alice', password: 'wrong password' });
    assert.equal(unknown.status, 401);
    assert.equal(wrong.status, 401);
    assert.equal(unknown.text, wrong.text);
    assert.equal(typeof bodyOf(unknown).error, 'string');
  });

  it('answers a body without username or password: JSON → 400, form → 303 /login?error=invalid', async (t) => {
    const server = await withAlice(t);
    assert.equal((await server.client().json('POST', '/login', { username: 'alice' })).status, 400);
    assert.equal((await server.client().json('POST', '/login', { username: 'alice', password: 12345678 })).status, 400);
    const form = await server.client().form('/login', { password: PASSWORD });
    assert.equal(form.status, 303);
    assert.equal(location(form).searchParams.get('error'), 'invalid');
  });

  it('always issues a new session ID, even to a client that is already signed in', async (t) => {
    const server = await withAlice(t);
    const browser = server.client();
    await browser.json('POST', '/login', { username: 'alice', password: PASSWORD });
    const first = browser.sid!;
    await browser.json('POST', '/login', { username: 'alice', password: PASSWORD });
    const second = browser.sid!;
    assert.notEqual(second, first);
    const files = await sessionFiles(server.dirs.sessionsDir);
    assert.ok(files.includes(`${storageKey(second)}.json`));
    assert.ok(!files.includes(`${storageKey(first)}.json`), 'the replaced session file is gone');
    browser.cookies.set('sid', first);
    assert.equal((await browser.get('/api/me')).status, 401);
  });

  it("never carries one user's cart into another user's session signed in on the same browser", async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'erin');
    const browser = server.client();
    await register(browser, 'dave');
    await browser.json('POST', '/api/cart', { item: "dave's umbrella" });
    await browser.json('POST', '/login', { username: 'erin', password: 'correct horse battery' });
    const view = sessionView(await browser.get('/api/session'));
    assert.equal(view.user, 'erin');
    assert.deepEqual(view.data, { cart: [], theme: null });
    assert.deepEqual(
      view.events.map((event: { event: string }) => event.event),
      ['created at sign-in'],
      "nothing of dave's session, not even its history",
    );
    // Signing in again as the same user keeps the cart, as it does for a guest.
    await browser.json('POST', '/api/cart', { item: "erin's hat" });
    await browser.json('POST', '/login', { username: 'erin', password: 'correct horse battery' });
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ["erin's hat"]);
  });

  it('answers 429 with Retry-After after 5 failures, even for the right password', async (t) => {
    const server = await withAlice(t);
    for (let i = 0; i < 5; i++) {
      assert.equal((await server.client().json('POST', '/login', { username: 'alice', password: `wrong ${i} password` })).status, 401);
    }
    const json = await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD });
    assert.equal(json.status, 429);
    assert.ok(Number(json.headers.get('retry-after')) > 0);
    const browser = server.client();
    const form = await browser.form('/login', { username: 'alice', password: PASSWORD, next: '/profile' });
    assert.equal(form.status, 429);
    assert.ok(Number(form.headers.get('retry-after')) > 0);
    assert.ok(form.text.includes(throttledMessage(Number(form.headers.get('retry-after')))));
    assert.match(form.text, /name="next" value="\/profile"/);
    assert.equal(browser.sid, undefined);
  });

  it('answers 503 when hashing is busy: JSON gets the status, a form gets its page back', async (t) => {
    const server = await startTestServer(t, {}, { hasher: new BusyHasher({ cost: TEST_SCRYPT_COST }) });
    const json = await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD });
    assert.equal(json.status, 503);
    assert.equal(json.headers.get('retry-after'), '2');
    const form = await server.client().form('/login', { username: 'alice', password: PASSWORD });
    assert.equal(form.status, 503);
    assert.ok(form.text.includes(ERROR_MESSAGES.busy!));
  });

  it('upgrades a hash made at a lower cost when the user signs in', async (t) => {
    const before = await startTestServer(t);
    await register(before.client(), 'alice', PASSWORD);
    // The same users file under a server configured with a higher cost.
    const raised = await startTestServer(t, { usersFile: before.dirs.usersFile, scryptCost: TEST_SCRYPT_COST * 2 });
    assert.equal((await raised.client().json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
    const stored = usersIn(await readFile(before.dirs.usersFile, 'utf8'))[0]!;
    assert.equal(stored.password.N, TEST_SCRYPT_COST * 2);
    assert.equal((await raised.client().json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
  });
});

describe('POST /logout', () => {
  it('deletes the session file, clears the cookie, and redirects a form to /login', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'alice');
    const id = browser.sid!;
    const reply = await browser.form('/logout', {});
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/login?reason=signed-out');
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    const cleared = reply.headers.get('set-cookie') ?? '';
    assert.match(cleared, /^sid=;/);
    assert.match(cleared, /Max-Age=0/i);
    assert.match(cleared, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/i);
    assert.ok(!(await sessionFiles(server.dirs.sessionsDir)).includes(`${storageKey(id)}.json`));
  });

  it('answers JSON with 204 and no body', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'alice');
    const reply = await browser.json('POST', '/logout');
    assert.equal(reply.status, 204);
    assert.equal(reply.text, '');
    assert.match(reply.headers.get('set-cookie') ?? '', /Max-Age=0/i);
    assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
  });

  it('leaves the old ID dead: replaying the cookie is no session', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'alice');
    const id = browser.sid!;
    await browser.json('POST', '/logout');
    browser.cookies.set('sid', id);
    assert.equal((await browser.get('/api/me')).status, 401);
    assert.equal((await browser.get('/api/session')).status, 401);
  });

  it('ends a guest session too', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'hat' });
    assert.equal((await guest.json('POST', '/logout')).status, 204);
    assert.equal(guest.sid, undefined);
    assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
  });

  it('clears a stale cookie, whose session is already gone, just the same', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    browser.cookies.set('sid', newSessionId());
    const reply = await browser.form('/logout', {});
    assert.equal(reply.status, 303);
    assert.match(reply.headers.get('set-cookie') ?? '', /^sid=; Max-Age=0;/);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
  });

  it('answers JSON with 204 when only Accept asks for JSON', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'accepting');
    const reply = await browser.request('POST', '/logout', undefined, { Accept: 'application/json' });
    assert.equal(reply.status, 204);
    assert.equal((await browser.get('/api/me')).status, 401);
  });

  it('answers a client without a session the same way, setting no cookie', async (t) => {
    const server = await startTestServer(t);
    const json = await server.client().json('POST', '/logout');
    assert.equal(json.status, 204);
    assert.equal(json.headers.get('set-cookie'), null);
    const form = await server.client().form('/logout', {});
    assert.equal(form.status, 303);
    assert.equal(form.headers.get('location'), '/login');
  });
});
