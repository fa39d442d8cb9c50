import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Client, Reply } from '../support/client.ts';
import { fakeClock, T0 } from '../support/clock.ts';
import { sessionFiles } from '../support/files.ts';
import { bodyOf, sessionView, usersIn } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const SECOND = 1000;

function assertJsonNoStore(reply: Reply): void {
  assert.equal(reply.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(reply.headers.get('cache-control'), 'no-store');
}

async function aliceSignedIn(t: TestContext): Promise<{ server: TestServer; alice: Client }> {
  const server = await startTestServer(t);
  const alice = server.client();
  await register(alice, 'alice', PASSWORD);
  return { server, alice };
}

describe('GET /api/me', () => {
  it('answers 401 {error} without a session', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().get('/api/me');
    assert.equal(reply.status, 401);
    assert.equal(typeof bodyOf(reply).error, 'string');
    assertJsonNoStore(reply);
  });

  it('answers 401 for a guest session', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'hat' });
    assert.equal((await guest.get('/api/me')).status, 401);
  });

  it('answers 200 {username, displayName, createdAt} when signed in, and nothing more', async (t) => {
    const server = await startTestServer(t, {}, { clock: fakeClock(T0).clock });
    const alice = server.client();
    await register(alice, 'alice');
    const reply = await alice.get('/api/me');
    assert.equal(reply.status, 200);
    assertJsonNoStore(reply);
    assert.deepEqual(reply.json, { username: 'alice', displayName: 'alice', createdAt: new Date(T0).toISOString() });
  });
});

describe('PATCH /api/profile', () => {
  it('stores the display name with the user, so a second session of the user sees it', async (t) => {
    const { server, alice } = await aliceSignedIn(t);
    const reply = await alice.json('PATCH', '/api/profile', { displayName: 'Alice A.' });
    assert.equal(reply.status, 200);
    assertJsonNoStore(reply);
    assert.equal(bodyOf(reply).displayName, 'Alice A.');

    const laptop = server.client();
    await laptop.json('POST', '/login', { username: 'alice', password: PASSWORD });
    assert.equal(bodyOf(await laptop.get('/api/me')).displayName, 'Alice A.');
    const users = usersIn(await readFile(server.dirs.usersFile, 'utf8'));
    assert.equal(users[0]!.displayName, 'Alice A.');
    const session = await readFile(path.join(server.dirs.sessionsDir, `${storageKey(alice.sid!)}.json`), 'utf8');
    assert.ok(!session.includes('Alice A.'), 'the display name is not kept in the session');
  });

  it('accepts 1 and 64 characters, counting an emoji as one', async (t) => {
    const { alice } = await aliceSignedIn(t);
    for (const displayName of ['A', 'x'.repeat(64), '🧥'.repeat(64), '<b>not HTML</b>']) {
      const reply = await alice.json('PATCH', '/api/profile', { displayName });
      assert.equal(reply.status, 200, displayName);
      assert.equal(bodyOf(reply).displayName, displayName);
    }
  });

  const invalid: Array<[string, unknown]> = [
    ['an empty name', ''],
    ['65 characters', 'x'.repeat(65)],
    ['a number', 42],
    ['a missing name', undefined],
    ['a control character', 'Alice\u0000'],
    ['a line break', 'Alice\nBob'],
  ];
  for (const [what, displayName] of invalid) {
    it(`answers 400 for ${what} and changes nothing`, async (t) => {
      const { alice } = await aliceSignedIn(t);
      const reply = await alice.json('PATCH', '/api/profile', { displayName });
      assert.equal(reply.status, 400);
      assert.equal(typeof bodyOf(reply).error, 'string');
      assert.equal(bodyOf(await alice.get('/api/me')).displayName, 'alice');
    });
  }

  it('answers 401 without a signed-in session', async (t) => {
    const server = await startTestServer(t);
    assert.equal((await server.client().json('PATCH', '/api/profile', { displayName: 'x' })).status, 401);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'hat' });
    assert.equal((await guest.json('PATCH', '/api/profile', { displayName: 'x' })).status, 401);
  });
});

describe('POST /api/password', () => {
  it('answers 200, issues a new session ID and ends every other session of the user at once', async (t) => {
    const { server, alice } = await aliceSignedIn(t);
    const laptop = server.client();
    await laptop.json('POST', '/login', { username: 'alice', password: PASSWORD });
    const bob = server.client();
    await register(bob, 'bob');
    const before = alice.sid!;

    const reply = await alice.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new password' });
    assert.equal(reply.status, 200);
    assertJsonNoStore(reply);
    assert.deepEqual(reply.json, { username: 'alice' });
    assert.notEqual(alice.sid, before);
    assert.ok(!(await sessionFiles(server.dirs.sessionsDir)).includes(`${storageKey(before)}.json`));

    assert.equal((await alice.get('/api/me')).status, 200, 'this session goes on');
    const laptopId = laptop.sid!;
    const ended = await laptop.get('/api/me');
    assert.equal(ended.status, 401, 'the other session ended');
    assert.match(ended.headers.get('set-cookie') ?? '', /Max-Age=0/i);
    assert.ok(!(await sessionFiles(server.dirs.sessionsDir)).includes(`${storageKey(laptopId)}.json`));
    assert.equal((await bob.get('/api/me')).status, 200, "another user's session is untouched");
  });

  it('makes the new password the one that signs in', async (t) => {
    const { server, alice } = await aliceSignedIn(t);
    await alice.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new password' });
    assert.equal((await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 401);
    assert.equal((await server.client().json('POST', '/login', { username: 'alice', password: 'a brand new password' })).status, 200);
  });

  it('answers 403 for a wrong current password and changes nothing', async (t) => {
    const { server, alice } = await aliceSignedIn(t);
    const id = alice.sid;
    const reply = await alice.json('POST', '/api/password', { currentPassword: 'not my password', newPassword: 'a brand new password' });
    assert.equal(reply.status, 403);
    assert.equal(alice.sid, id);
    assert.equal((await alice.get('/api/me')).status, 200);
    assert.equal((await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
  });

  it('answers 401 without a signed-in session', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new password' });
    assert.equal(reply.status, 401);
  });

  const invalid: Array<[string, Record<string, unknown>]> = [
    ['a new password of 7 characters', { currentPassword: PASSWORD, newPassword: 'x'.repeat(7) }],
    ['a new password of 1025 characters', { currentPassword: PASSWORD, newPassword: 'x'.repeat(1025) }],
    ['a missing new password', { currentPassword: PASSWORD }],
    ['a missing current password', { newPassword: 'a brand new password' }],
  ];
  for (const [what, body] of invalid) {
    it(`answers 400 for ${what}`, async (t) => {
      const { alice } = await aliceSignedIn(t);
      assert.equal((await alice.json('POST', '/api/password', body)).status, 400);
    });
  }

  it('answers 429 after 5 wrong current passwords', async (t) => {
    const { alice } = await aliceSignedIn(t);
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await alice.json('POST', '/api/password', { currentPassword: `wrong ${i}`, newPassword: 'a brand new password' })).status,
        403,
      );
    }
    const reply = await alice.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new password' });
    assert.equal(reply.status, 429);
    assert.ok(Number(reply.headers.get('retry-after')) > 0);
  });
});

describe('GET /api/session', () => {
  it('answers 401 when there is no session', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().get('/api/session');
    assert.equal(reply.status, 401);
    assertJsonNoStore(reply);
    assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
  });

  it('shows every field of the inspector view with the right deadlines', async (t) => {
    const time = fakeClock(T0);
    const server = await startTestServer(t, { idleTimeoutMs: 600 * SECOND, absoluteTimeoutMs: 3600 * SECOND }, { clock: time.clock });
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'umbrella' });
    await guest.json('PUT', '/api/preferences', { theme: 'dark' });
    time.advance(90 * SECOND);
    const reply = await guest.get('/api/session');
    assert.equal(reply.status, 200);
    assertJsonNoStore(reply);
    const id = guest.sid!;
    const view = sessionView(reply);
    assert.equal(view.id, `${id.slice(0, 6)}…`);
    assert.equal(view.file, `sessions/${storageKey(id)}.json`);
    assert.equal(view.createdAt, new Date(T0).toISOString());
    // Read at T0 + 90 s, a touch was due (interval 60 s): lastSeenAt moved on.
    assert.equal(view.lastSeenAt, new Date(T0 + 90 * SECOND).toISOString());
    assert.equal(view.idleExpiresAt, new Date(T0 + 90 * SECOND + 600 * SECOND).toISOString());
    assert.equal(view.absoluteExpiresAt, new Date(T0 + 3600 * SECOND).toISOString());
    assert.equal(view.user, null);
    assert.deepEqual(view.data, { cart: ['umbrella'], theme: 'dark' });
    assert.deepEqual(view.cookie, { name: 'sid', httpOnly: true, sameSite: 'Lax', secure: false, path: '/' });
    assert.ok(!reply.text.includes(id), 'the whole ID is never shown');
  });

  it('shows the signed-in user', async (t) => {
    const { alice } = await aliceSignedIn(t);
    const view = sessionView(await alice.get('/api/session'));
    assert.equal(view.user, 'alice');
  });
});

describe('POST /api/cart', () => {
  it('starts a guest session on the first add, and keeps that ID after', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    const first = await guest.json('POST', '/api/cart', { item: 'apple' });
    assert.equal(first.status, 200);
    assertJsonNoStore(first);
    assert.deepEqual(first.json, { cart: ['apple'] });
    assert.match(first.headers.get('set-cookie') ?? '', /^sid=[A-Za-z0-9_-]{43};/);
    const id = guest.sid!;
    assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), [`${storageKey(id)}.json`]);

    const second = await guest.json('POST', '/api/cart', { item: 'pear' });
    assert.deepEqual(second.json, { cart: ['apple', 'pear'] });
    assert.equal(second.headers.get('set-cookie'), null, 'an existing session keeps its ID');
    assert.equal(guest.sid, id);
  });

  it('accepts a form body too', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().form('/api/cart', { item: 'scarf' });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json, { cart: ['scarf'] });
  });

  it('accepts items of 1 and 64 characters', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'a' });
    const reply = await guest.json('POST', '/api/cart', { item: 'b'.repeat(64) });
    assert.deepEqual(reply.json, { cart: ['a', 'b'.repeat(64)] });
  });

  it('keeps an item of 64 emoji (128 UTF-16 units) through the next read of the session file', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    const emoji = '\u{1F600}'.repeat(64);
    assert.equal((await guest.json('POST', '/api/cart', { item: emoji })).status, 200);
    await guest.json('POST', '/api/cart', { item: 'umbrella' });
    // A new server process reads the file from disk, not from its cache.
    const fresh = await startTestServer(t, { sessionsDir: server.dirs.sessionsDir, usersFile: server.dirs.usersFile });
    const reader = fresh.client();
    reader.cookies.set('sid', guest.sid!);
    const view = await reader.get('/api/session');
    assert.equal(view.status, 200);
    assert.deepEqual(sessionView(view).data.cart, [emoji, 'umbrella']);
  });

  const invalid: Array<[string, unknown]> = [
    ['an empty item', ''],
    ['an item of 65 characters', 'x'.repeat(65)],
    ['an item that is not a string', ['apple']],
    ['a missing item', undefined],
  ];
  for (const [what, item] of invalid) {
    it(`answers 400 for ${what} and creates no session`, async (t) => {
      const server = await startTestServer(t);
      const guest = server.client();
      const reply = await guest.json('POST', '/api/cart', { item });
      assert.equal(reply.status, 400);
      assert.equal(guest.sid, undefined);
      assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
    });
  }

  it('holds at most 100 items: the 101st is 400 and the cart stays as it was', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    for (let i = 1; i <= 100; i++) assert.equal((await guest.json('POST', '/api/cart', { item: `item ${i}` })).status, 200);
    const refused = await guest.json('POST', '/api/cart', { item: 'one too many' });
    assert.equal(refused.status, 400);
    assert.equal(bodyOf(refused).error, 'cart_full');
    const view = sessionView(await guest.get('/api/session'));
    assert.equal(view.data.cart.length, 100);
    assert.equal(view.data.cart.at(-1), 'item 100');
  });
});

describe('DELETE /api/cart', () => {
  it('answers {cart: []} without a session and creates none', async (t) => {
    const server = await startTestServer(t);
    const client = server.client();
    const reply = await client.json('DELETE', '/api/cart');
    assert.equal(reply.status, 200);
    assertJsonNoStore(reply);
    assert.deepEqual(reply.json, { cart: [] });
    assert.equal(reply.headers.get('set-cookie'), null);
    assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
  });

  it('empties the cart of a session and keeps the session', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'apple' });
    await guest.json('PUT', '/api/preferences', { theme: 'dark' });
    const reply = await guest.json('DELETE', '/api/cart');
    assert.deepEqual(reply.json, { cart: [] });
    assert.deepEqual(sessionView(await guest.get('/api/session')).data, { cart: [], theme: 'dark' });
  });
});

describe('PUT /api/preferences', () => {
  for (const theme of ['light', 'dark']) {
    it(`sets theme ${theme} for a guest, starting a session`, async (t) => {
      const server = await startTestServer(t);
      const guest = server.client();
      const reply = await guest.json('PUT', '/api/preferences', { theme });
      assert.equal(reply.status, 200);
      assertJsonNoStore(reply);
      assert.deepEqual(reply.json, { theme });
      assert.equal((await sessionFiles(server.dirs.sessionsDir)).length, 1);
      assert.equal(sessionView(await guest.get('/api/session')).data.theme, theme);
    });
  }

  it('sets the theme of a signed-in session', async (t) => {
    const { alice } = await aliceSignedIn(t);
    assert.deepEqual((await alice.json('PUT', '/api/preferences', { theme: 'dark' })).json, { theme: 'dark' });
    assert.match((await alice.get('/dashboard')).text, /data-theme="dark"/);
  });

  for (const theme of ['blue', 'Dark', '', null, undefined, ['dark']]) {
    it(`answers 400 for theme ${JSON.stringify(theme)} and creates no session`, async (t) => {
      const server = await startTestServer(t);
      const guest = server.client();
      const reply = await guest.json('PUT', '/api/preferences', { theme });
      assert.equal(reply.status, 400);
      assert.equal(guest.sid, undefined);
      assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), []);
    });
  }
});
