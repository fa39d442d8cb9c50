import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { Logger } from '../../lib/log.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { USER_INDEX_DIR, userKey } from '../../lib/sessions/user-index.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Client, Reply } from '../support/client.ts';
import { fakeClock, T0 } from '../support/clock.ts';
import type { FakeClock } from '../support/clock.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const MINUTE = 60_000;
const IDLE_MS = 30 * MINUTE;
const ABSOLUTE_MS = 8 * 60 * MINUTE;

interface Devices {
  server: TestServer;
  clock: FakeClock;
  /** laptop registered alice with Firefox on Linux; phone signed in as alice with Safari on an iPhone. */
  laptop: Client;
  phone: Client;
}

/** signIn signs `client` in as `username` through the JSON API, as the browser named by `userAgent`. */
async function signIn(client: Client, username: string, userAgent: string): Promise<void> {
  const reply = await client.json('POST', '/login', { username, password: PASSWORD }, { 'User-Agent': userAgent });
  assert.equal(reply.status, 200, reply.text);
}

/** aliceOnTwoDevices: alice registered on a laptop and signed in on a phone, on a server with a fake clock. */
async function aliceOnTwoDevices(t: TestContext, logger?: Logger): Promise<Devices> {
  const clock = fakeClock(T0);
  const server = await startTestServer(
    t,
    { idleTimeoutMs: IDLE_MS, absoluteTimeoutMs: ABSOLUTE_MS },
    { clock: clock.clock, ...(logger === undefined ? {} : { logger }) },
  );
  const laptop = server.client();
  const registered = await laptop.json('POST', '/register', { username: 'alice', password: PASSWORD }, { 'User-Agent': FIREFOX_LINUX });
  assert.equal(registered.status, 201);
  clock.advance(MINUTE);
  const phone = server.client();
  await signIn(phone, 'alice', SAFARI_IPHONE);
  return { server, clock, laptop, phone };
}

/** bodyOf is a reply's JSON body, checked to be an object. */
function bodyOf(reply: Reply): Record<string, unknown> {
  const body: unknown = reply.json;
  assert.ok(typeof body === 'object' && body !== null, `a JSON object, not ${reply.text}`);
  return body as Record<string, unknown>;
}

/** listed is what GET /api/sessions answers `client`, checked to be a 200. */
async function listed(client: Client): Promise<Array<Record<string, unknown>>> {
  const reply = await client.get('/api/sessions');
  assert.equal(reply.status, 200, reply.text);
  const { sessions } = bodyOf(reply);
  assert.ok(Array.isArray(sessions));
  return sessions as Array<Record<string, unknown>>;
}

/** lastEvent is the newest line of the history of `client`'s session, as the inspector shows it. */
async function lastEvent(client: Client): Promise<string> {
  const { events } = bodyOf(await client.get('/api/session'));
  assert.ok(Array.isArray(events));
  const last: unknown = events.at(-1);
  return typeof last === 'object' && last !== null && 'event' in last ? String(last.event) : '';
}

/** ids are the file ids GET /api/sessions lists for `client`, sorted. */
async function ids(client: Client): Promise<string[]> {
  return (await listed(client)).map((session) => String(session.id)).sort();
}

function fileIdOf(client: Client): string {
  return storageKey(client.sid ?? '');
}

/** markers lists alice's folder of the user index on disk. */
async function markers(server: TestServer, username: string): Promise<string[]> {
  try {
    return (await readdir(path.join(server.dirs.sessionsDir, USER_INDEX_DIR, userKey(username)))).sort();
  } catch {
    return [];
  }
}

function assertJsonNoStore(reply: Reply): void {
  assert.equal(reply.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(reply.headers.get('cache-control'), 'no-store');
}

describe('GET /api/sessions', () => {
  it('answers 401 to a visitor and to a guest', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    assert.equal((await guest.get('/api/sessions')).status, 401);
    await guest.json('POST', '/api/cart', { item: 'hat' });
    const reply = await guest.get('/api/sessions');
    assert.equal(reply.status, 401);
    assertJsonNoStore(reply);
  });

  it("lists every live session of the user by file id, with device, times and this device marked, and no one else's", async (t) => {
    const { server, laptop, phone } = await aliceOnTwoDevices(t);
    await register(server.client(), 'bob');
    const reply = await phone.get('/api/sessions');
    assert.equal(reply.status, 200);
    assertJsonNoStore(reply);
    const laptopStart = new Date(T0).toISOString();
    const phoneStart = new Date(T0 + MINUTE).toISOString();
    assert.deepEqual(reply.json, {
      sessions: [
        {
          id: fileIdOf(laptop),
          current: false,
          device: 'Firefox on Linux',
          createdAt: laptopStart,
          lastSeenAt: laptopStart,
          idleExpiresAt: new Date(T0 + IDLE_MS).toISOString(),
          absoluteExpiresAt: new Date(T0 + ABSOLUTE_MS).toISOString(),
        },
        {
          id: fileIdOf(phone),
          current: true,
          device: 'Safari on iOS',
          createdAt: phoneStart,
          lastSeenAt: phoneStart,
          idleExpiresAt: new Date(T0 + MINUTE + IDLE_MS).toISOString(),
          absoluteExpiresAt: new Date(T0 + MINUTE + ABSOLUTE_MS).toISOString(),
        },
      ],
    });
    for (const sid of [laptop.sid, phone.sid]) assert.ok(!reply.text.includes(sid ?? '-'), 'no session ID is ever listed');
  });
});

describe('DELETE /api/sessions/:id', () => {
  it('ends the other session at its next request and writes it into the history of the session that did it', async (t) => {
    const { laptop, phone } = await aliceOnTwoDevices(t);
    const reply = await phone.json('DELETE', `/api/sessions/${fileIdOf(laptop)}`);
    assert.equal(reply.status, 204);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.equal(reply.headers.getSetCookie().length, 0, "the revoking session's cookie is left alone");

    const next = await laptop.get('/api/me');
    assert.equal(next.status, 401);
    assert.equal((await laptop.get('/dashboard')).headers.get('location'), '/login?next=%2Fdashboard&reason=revoked');
    assert.deepEqual(await ids(phone), [fileIdOf(phone)]);
    assert.equal(await lastEvent(phone), `signed out Firefox on Linux (file ${fileIdOf(laptop).slice(0, 16)}…) from this device`);
  });

  it("answers the same 404 for another user's session and for one that does not exist, and ends neither", async (t) => {
    const { server, phone } = await aliceOnTwoDevices(t);
    const bob = server.client();
    await register(bob, 'bob');
    const theirs = await phone.json('DELETE', `/api/sessions/${fileIdOf(bob)}`);
    const unknown = await phone.json('DELETE', `/api/sessions/${storageKey(newSessionId())}`);
    assert.equal(theirs.status, 404);
    assert.deepEqual([unknown.status, unknown.text], [theirs.status, theirs.text]);
    assert.equal((await bob.get('/api/me')).status, 200, "bob's session is untouched");
  });

  it('answers 404 to an id that is not 64 lower-case hex, before naming any file', async (t) => {
    const { laptop, phone } = await aliceOnTwoDevices(t);
    const fileId = fileIdOf(laptop);
    const hostile = [
      fileId.toUpperCase(),
      fileId.slice(1),
      `${fileId}0`,
      `${fileId}.json`,
      '..',
      '%2e%2e',
      laptop.sid ?? '',
      'x'.repeat(64),
    ];
    for (const id of hostile) assert.equal((await phone.json('DELETE', `/api/sessions/${id}`)).status, 404, id);
    assert.equal((await laptop.get('/api/me')).status, 200, 'the laptop is still signed in');
  });

  it('signs this device out when it names its own session, clearing the cookie', async (t) => {
    const { laptop, phone } = await aliceOnTwoDevices(t);
    const reply = await phone.json('DELETE', `/api/sessions/${fileIdOf(phone)}`);
    assert.equal(reply.status, 204);
    assert.equal(phone.sid, undefined);
    assert.equal((await laptop.get('/api/me')).status, 200);
  });

  it('answers 401 to a visitor and 403 to a cross-origin request', async (t) => {
    const { server, laptop, phone } = await aliceOnTwoDevices(t);
    assert.equal((await server.client().json('DELETE', `/api/sessions/${fileIdOf(laptop)}`)).status, 401);
    const crossSite = await phone.json('DELETE', `/api/sessions/${fileIdOf(laptop)}`, undefined, { 'Sec-Fetch-Site': 'cross-site' });
    assert.equal(crossSite.status, 403);
    assert.equal((await laptop.get('/api/me')).status, 200);
  });
});

describe('POST /api/sessions/revoke-others', () => {
  it('ends every other session of the user and keeps this one, with its ID', async (t) => {
    const { server, laptop, phone } = await aliceOnTwoDevices(t);
    const tablet = server.client();
    await signIn(tablet, 'alice', SAFARI_IPHONE);
    const bob = server.client();
    await register(bob, 'bob');
    const sid = phone.sid;

    const reply = await phone.json('POST', '/api/sessions/revoke-others', { currentPassword: PASSWORD });
    assert.equal(reply.status, 204);
    assert.equal(phone.sid, sid, 'the current session keeps its ID');
    assert.equal((await phone.get('/api/me')).status, 200);
    for (const other of [laptop, tablet]) assert.equal((await other.get('/api/me')).status, 401);
    assert.equal((await bob.get('/api/me')).status, 200, "another user's session is not touched");
    assert.deepEqual(await ids(phone), [fileIdOf(phone)]);
    assert.equal(await lastEvent(phone), 'signed out 2 other sessions from this device');
  });

  it('answers 403 to a wrong password and ends nothing', async (t) => {
    const { laptop, phone } = await aliceOnTwoDevices(t);
    const reply = await phone.json('POST', '/api/sessions/revoke-others', { currentPassword: 'not the password' });
    assert.equal(reply.status, 403);
    assert.equal(bodyOf(reply).error, 'wrong_password');
    assert.equal((await laptop.get('/api/me')).status, 200);
  });

  it('answers 400 without a password', async (t) => {
    const { phone } = await aliceOnTwoDevices(t);
    assert.equal((await phone.json('POST', '/api/sessions/revoke-others', {})).status, 400);
  });

  it('is throttled like a password change: 429 with Retry-After after five wrong passwords, even for the right one', async (t) => {
    const { laptop, phone } = await aliceOnTwoDevices(t);
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      assert.equal((await phone.json('POST', '/api/sessions/revoke-others', { currentPassword: `wrong ${attempt}` })).status, 403);
    }
    const refused = await phone.json('POST', '/api/sessions/revoke-others', { currentPassword: PASSWORD });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal((await laptop.get('/api/me')).status, 200, 'nothing was ended');
  });
});

describe('GET /devices', () => {
  it('sends a visitor to the login page, which comes back here', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().get('/devices');
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/login?next=%2Fdevices');
  });

  it('shows the page when signed in, linked from the dashboard and the profile', async (t) => {
    const { laptop } = await aliceOnTwoDevices(t);
    const page = await laptop.get('/devices');
    assert.equal(page.status, 200);
    assert.match(page.text, /<h1 id="devices-title">Your devices<\/h1>/);
    for (const other of ['/dashboard', '/profile']) {
      assert.match((await laptop.get(other)).text, /<a href="\/devices"[^>]*>Devices<\/a>/, other);
    }
  });
});

describe('the per-user index', () => {
  it('follows a rotation: signing in again lists the new file id and drops the old one', async (t) => {
    const { server, laptop, phone } = await aliceOnTwoDevices(t);
    const before = fileIdOf(laptop);
    await signIn(laptop, 'alice', FIREFOX_LINUX);
    assert.notEqual(fileIdOf(laptop), before);
    assert.deepEqual(await ids(phone), [fileIdOf(laptop), fileIdOf(phone)].sort());
    assert.deepEqual(await markers(server, 'alice'), [fileIdOf(laptop), fileIdOf(phone)].sort());
  });

  it('follows a password change: the new ID is listed, the sessions it ended are not, even before their next request', async (t) => {
    const { laptop, phone } = await aliceOnTwoDevices(t);
    const changed = await phone.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new password' });
    assert.equal(changed.status, 200);
    // The laptop's file stays until its next request, but its generation is old: it is over, and not listed.
    assert.deepEqual(await ids(phone), [fileIdOf(phone)]);
    assert.equal((await phone.json('DELETE', `/api/sessions/${fileIdOf(laptop)}`)).status, 404);
    assert.equal((await laptop.get('/api/me')).status, 401);
    assert.deepEqual(await ids(phone), [fileIdOf(phone)]);
  });

  it('follows a logout, and leaves no trace of the user once the last session is gone', async (t) => {
    const { server, laptop, phone } = await aliceOnTwoDevices(t);
    assert.equal((await laptop.json('POST', '/logout')).status, 204);
    assert.deepEqual(await ids(phone), [fileIdOf(phone)]);
    assert.deepEqual(await markers(server, 'alice'), [fileIdOf(phone)]);
    await phone.json('POST', '/logout');
    assert.ok(!(await readdir(server.dirs.sessionsDir)).includes(USER_INDEX_DIR));
  });

  it('leaves out an expired session at once, and the sweeper drops its marker', async (t) => {
    const { server, clock, laptop, phone } = await aliceOnTwoDevices(t);
    // The phone stays in use; the laptop, signed in a minute earlier, reaches its idle deadline first.
    clock.advance(IDLE_MS - MINUTE);
    assert.deepEqual(await ids(phone), [fileIdOf(phone)]);
    assert.deepEqual(await markers(server, 'alice'), [fileIdOf(laptop), fileIdOf(phone)].sort());
    await server.app.sweeper.runNow();
    assert.deepEqual(await markers(server, 'alice'), [fileIdOf(phone)]);
  });

  it('is repaired by the sweeper after a crash between writing a session file and its marker', async (t) => {
    const { server, clock, laptop, phone } = await aliceOnTwoDevices(t);
    // What a process that died between the two writes leaves: the file, without its marker.
    const orphan = newSessionId();
    const record = { ...newRecord(clock.clock(), 'created at sign-in'), user: 'alice', generation: 0, device: 'Chrome on Android' };
    await writeFile(path.join(server.dirs.sessionsDir, `${storageKey(orphan)}.json`), JSON.stringify(record), { mode: 0o600 });
    assert.deepEqual(await ids(phone), [fileIdOf(laptop), fileIdOf(phone)].sort(), 'not listed: it has no marker');

    await server.app.sweeper.runNow();
    assert.ok((await ids(phone)).includes(storageKey(orphan)));
    assert.equal((await phone.json('DELETE', `/api/sessions/${storageKey(orphan)}`)).status, 204);
    assert.ok(!(await ids(phone)).includes(storageKey(orphan)));
  });

  it('drops a marker whose session file was deleted behind its back', async (t) => {
    const { server, laptop, phone } = await aliceOnTwoDevices(t);
    await rm(path.join(server.dirs.sessionsDir, `${fileIdOf(laptop)}.json`));
    assert.deepEqual(await ids(phone), [fileIdOf(phone)]);
    assert.deepEqual(await markers(server, 'alice'), [fileIdOf(phone)], 'listing dropped the stale marker');
  });
});

describe('the revoked browser is told why', () => {
  /** assertSignedOutElsewhere checks what `client`, whose session was revoked, is told at its next requests: the API, then a page. */
  async function assertSignedOutElsewhere(client: Client): Promise<void> {
    const me = await client.get('/api/me');
    assert.equal(me.status, 401);
    assert.equal(bodyOf(me).reason, 'revoked');
    assert.match(String(bodyOf(me).message), /^You were signed out from another device/);
    const page = await client.get('/dashboard');
    assert.equal(page.headers.get('location'), '/login?next=%2Fdashboard&reason=revoked');
    const login = await client.get(page.headers.get('location') ?? '');
    assert.match(
      login.text,
      /<p id="page-notice" class="notice" role="status">You were signed out from another device: .* Sign in to see \/dashboard\.<\/p>/,
    );
  }

  it('after "Sign out" on the devices page: its next request is a 401 with the reason, its next page the login page saying it', async (t) => {
    const { laptop, phone } = await aliceOnTwoDevices(t);
    assert.equal((await phone.json('DELETE', `/api/sessions/${fileIdOf(laptop)}`)).status, 204);
    await assertSignedOutElsewhere(laptop);
  });

  it('after "sign out everywhere else"', async (t) => {
    const { laptop, phone } = await aliceOnTwoDevices(t);
    assert.equal((await phone.json('POST', '/api/sessions/revoke-others', { currentPassword: PASSWORD })).status, 204);
    await assertSignedOutElsewhere(laptop);
    assert.equal((await phone.get('/api/me')).status, 200, 'the session that did it carries on');
  });

  it('but signing out this device from its own list is an ordinary sign-out', async (t) => {
    const { server, phone } = await aliceOnTwoDevices(t);
    // Another tab of the same browser: it holds the same cookie, so it can be told afterwards.
    const copy = server.client();
    for (const [name, value] of phone.cookies) copy.cookies.set(name, value);
    assert.equal((await phone.json('DELETE', `/api/sessions/${fileIdOf(phone)}`)).status, 204);
    assert.equal(bodyOf(await copy.get('/api/me')).reason, 'signed-out');
  });

  it("narrates in the revoked browser's explain log how its session ended", async (t) => {
    const blocks: string[] = [];
    const logger = new Logger({ mode: 'explain', write: (text) => blocks.push(text), color: false });
    const { laptop, phone } = await aliceOnTwoDevices(t, logger);
    await phone.json('DELETE', `/api/sessions/${fileIdOf(laptop)}`);
    blocks.length = 0;
    await laptop.get('/api/me');
    assert.match(blocks.join('\n'), /session +a note in sessions\/ended\/ says how it ended: revoked/);
  });
});

describe('the explain log', () => {
  it('narrates a revocation, naming the file and never the session ID', async (t) => {
    const blocks: string[] = [];
    const logger = new Logger({ mode: 'explain', write: (text) => blocks.push(text), color: false });
    const { laptop, phone } = await aliceOnTwoDevices(t, logger);
    blocks.length = 0;
    await phone.json('DELETE', `/api/sessions/${fileIdOf(laptop)}`);
    const block = blocks.find((text) => text.startsWith('DELETE /api/sessions/')) ?? '';
    assert.match(
      block,
      new RegExp(`revoke +deleted sessions/${fileIdOf(laptop).slice(0, 16)}….json, a session of this user on Firefox on Linux`),
    );
    assert.ok(!block.includes(laptop.sid ?? '-') && !block.includes(phone.sid ?? '-'));
  });
});
