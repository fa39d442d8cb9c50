import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Logger } from '../../lib/log.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Client, Reply } from '../support/client.ts';
import { fakeClock, T0 } from '../support/clock.ts';
import { sessionFiles } from '../support/files.ts';
import { parseJsonObject, readSessionFile, sessionView } from '../support/json.ts';
import { makeDirs, startTestServer } from '../support/server.ts';
import type { Cleanup, TestServer } from '../support/server.ts';

const SECOND = 1000;

function fileOf(server: TestServer, id: string): string {
  return path.join(server.dirs.sessionsDir, `${storageKey(id)}.json`);
}

async function lastSeenOnDisk(server: TestServer, id: string): Promise<string> {
  return (await readSessionFile(fileOf(server, id))).lastSeenAt;
}

/** cookieAttributes splits a Set-Cookie header into its name=value and lower-cased attribute names (and values). */
function cookieAttributes(reply: Reply): { pair: string; attributes: Map<string, string> } {
  const header = reply.headers.get('set-cookie');
  assert.ok(header, 'no Set-Cookie');
  const [pair = '', ...rest] = header.split(';').map((part) => part.trim());
  return { pair, attributes: new Map(rest.map((part) => [part.split('=')[0]!.toLowerCase(), part.split('=')[1] ?? ''])) };
}

/** clockedServer starts a server whose clock the test moves by hand. */
async function clockedServer(t: Cleanup, idleSeconds: number, absoluteSeconds: number) {
  const clock = fakeClock(T0);
  const server = await startTestServer(
    t,
    { idleTimeoutMs: idleSeconds * SECOND, absoluteTimeoutMs: absoluteSeconds * SECOND },
    { clock: clock.clock },
  );
  return { server, clock };
}

describe('the session cookie', () => {
  for (const [how, sign] of [
    ['a sign-in', (client: Client) => client.json('POST', '/register', { username: 'alice', password: PASSWORD })],
    ['a guest write', (client: Client) => client.json('POST', '/api/cart', { item: 'hat' })],
  ] as const) {
    it(`set at ${how} is sid=<43 characters>; HttpOnly; SameSite=Lax; Path=/, with no Max-Age, Expires or Secure`, async (t) => {
      const server = await startTestServer(t);
      const { pair, attributes } = cookieAttributes(await sign(server.client()));
      assert.match(pair, /^sid=[A-Za-z0-9_-]{43}$/);
      assert.ok(attributes.has('httponly'));
      assert.equal(attributes.get('samesite'), 'Lax');
      assert.equal(attributes.get('path'), '/');
      assert.ok(!attributes.has('max-age'), 'a session cookie ends with the browser');
      assert.ok(!attributes.has('expires'));
      assert.ok(!attributes.has('secure'));
      assert.ok(!attributes.has('domain'));
    });
  }

  it('is __Host-sid with Secure when COOKIE_SECURE=true', async (t) => {
    const server = await startTestServer(t, { cookieSecure: 'true' });
    const client = server.client();
    const { pair, attributes } = cookieAttributes(await client.json('POST', '/api/cart', { item: 'hat' }));
    assert.match(pair, /^__Host-sid=/);
    assert.ok(attributes.has('secure'));
    assert.equal(attributes.get('path'), '/');
    assert.ok(!attributes.has('domain'));
    const view = sessionView(await client.get('/api/session'));
    assert.deepEqual(view.cookie, { name: '__Host-sid', httpOnly: true, sameSite: 'Lax', secure: true, path: '/' });
  });

  it('is Secure with COOKIE_SECURE=auto only when a trusted proxy says the request came over HTTPS', async (t) => {
    const trusting = await startTestServer(t, { cookieSecure: 'auto', trustProxy: true });
    const viaHttps = await trusting.client().json('POST', '/api/cart', { item: 'hat' }, { 'X-Forwarded-Proto': 'https' });
    assert.match(cookieAttributes(viaHttps).pair, /^__Host-sid=/);
    const viaHttp = await trusting.client().json('POST', '/api/cart', { item: 'hat' }, { 'X-Forwarded-Proto': 'http' });
    assert.match(cookieAttributes(viaHttp).pair, /^sid=/);
    const direct = await trusting.client().json('POST', '/api/cart', { item: 'hat' });
    assert.match(cookieAttributes(direct).pair, /^sid=/);

    const untrusting = await startTestServer(t, { cookieSecure: 'auto', trustProxy: false });
    const spoofed = await untrusting.client().json('POST', '/api/cart', { item: 'hat' }, { 'X-Forwarded-Proto': 'https' });
    assert.match(cookieAttributes(spoofed).pair, /^sid=/);
  });

  it('is never Secure with COOKIE_SECURE=false', async (t) => {
    const server = await startTestServer(t, { cookieSecure: 'false', trustProxy: true });
    const reply = await server.client().json('POST', '/api/cart', { item: 'hat' }, { 'X-Forwarded-Proto': 'https' });
    assert.match(cookieAttributes(reply).pair, /^sid=/);
    assert.ok(!cookieAttributes(reply).attributes.has('secure'));
  });

  it('with TRUST_PROXY, throttles by the address the proxy added, not the ones the client made up', async (t) => {
    const server = await startTestServer(t, { trustProxy: true });
    await register(server.client(), 'alice', PASSWORD);
    for (let i = 0; i < 50; i++) {
      const reply = await server
        .client()
        .json('POST', '/login', { username: `user${i}`, password: 'wrong password' }, { 'X-Forwarded-For': `10.0.0.${i}, 198.51.100.7` });
      assert.equal(reply.status, 401);
    }
    const blocked = await server
      .client()
      .json('POST', '/login', { username: 'alice', password: PASSWORD }, { 'X-Forwarded-For': '10.9.9.9, 198.51.100.7' });
    assert.equal(blocked.status, 429);
    const other = await server
      .client()
      .json('POST', '/login', { username: 'alice', password: PASSWORD }, { 'X-Forwarded-For': '198.51.100.8' });
    assert.equal(other.status, 200);
  });
});

describe('a session is created only when there is something to keep', () => {
  it('is never created by viewing pages, static files or read-only API calls', async (t) => {
    const server = await startTestServer(t);
    const visitor = server.client();
    const replies = [
      await visitor.get('/'),
      await visitor.get('/login'),
      await visitor.get('/register'),
      await visitor.get('/dashboard'),
      await visitor.get('/profile'),
      await visitor.get('/style.css'),
      await visitor.get('/api/me'),
      await visitor.get('/api/session'),
      await visitor.json('DELETE', '/api/cart'),
      await visitor.json('POST', '/logout'),
      await visitor.json('POST', '/login', { username: 'nobody', password: PASSWORD }),
      await visitor.form('/register', { username: 'x', password: PASSWORD }),
    ];
    for (const reply of replies) assert.equal(reply.headers.get('set-cookie'), null);
    assert.deepEqual(await readdir(server.dirs.sessionsDir), []);
  });

  it('is created by a guest write, as a 0600 file in a 0700 directory', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    await guest.json('PUT', '/api/preferences', { theme: 'dark' });
    assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), [`${storageKey(guest.sid!)}.json`]);
    assert.equal((await stat(fileOf(server, guest.sid!))).mode & 0o777, 0o600);
    assert.equal((await stat(server.dirs.sessionsDir)).mode & 0o777, 0o700);
  });

  it('stores pretty-printed JSON of the documented shape, without the raw ID', async (t) => {
    const { server } = await clockedServer(t, 1800, 28800);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'apple' });
    const text = await readFile(fileOf(server, guest.sid!), 'utf8');
    assert.ok(!text.includes(guest.sid!));
    const record = parseJsonObject(text);
    assert.equal(text, `${JSON.stringify(record, null, 2)}\n`);
    assert.deepEqual(Object.keys(record), ['version', 'createdAt', 'lastSeenAt', 'user', 'generation', 'data', 'events', 'device']);
    assert.deepEqual(
      { ...record, events: undefined },
      {
        version: 1,
        createdAt: new Date(T0).toISOString(),
        lastSeenAt: new Date(T0).toISOString(),
        user: null,
        generation: null,
        data: { cart: ['apple'], theme: null },
        events: undefined,
        // fetch() says `User-Agent: node`: the label is made from it, never the header itself.
        device: 'Node.js',
      },
    );
  });
});

describe('an ID the server did not issue is no session', () => {
  const planted = [
    ['a malformed value', 'not-a-session-id'],
    ['a path', '../../etc/passwd'],
    ['a well-formed ID the server never issued', newSessionId()],
  ] as const;
  for (const [what, value] of planted) {
    it(`ignores ${what} and never adopts it`, async (t) => {
      const server = await startTestServer(t);
      const client = server.client();
      client.cookies.set('sid', encodeURIComponent(value));
      assert.equal((await client.get('/api/session')).status, 401);
      await client.json('POST', '/api/cart', { item: 'hat' });
      assert.notEqual(client.sid, encodeURIComponent(value));
      assert.match(client.sid ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(await sessionFiles(server.dirs.sessionsDir), [`${storageKey(client.sid!)}.json`]);
    });
  }
});

describe('timeouts', () => {
  it('rewrites lastSeenAt only after a tenth of the idle timeout (idle 100 s: every 10 s)', async (t) => {
    const { server, clock } = await clockedServer(t, 100, 28800);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'hat' });
    const id = guest.sid!;
    const file = fileOf(server, id);
    const written = (await stat(file)).ino;

    clock.setTo(T0 + 10 * SECOND - 1);
    assert.equal((await guest.get('/api/session')).status, 200);
    assert.equal(await lastSeenOnDisk(server, id), new Date(T0).toISOString());
    assert.equal((await stat(file)).ino, written, 'the file was not rewritten');

    clock.setTo(T0 + 10 * SECOND);
    await guest.get('/dashboard');
    assert.equal(await lastSeenOnDisk(server, id), new Date(T0 + 10 * SECOND).toISOString());
  });

  it('caps the touch interval at 60 s (idle 1800 s would otherwise give 180 s)', async (t) => {
    const { server, clock } = await clockedServer(t, 1800, 28800);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'hat' });
    const id = guest.sid!;
    clock.setTo(T0 + 60 * SECOND - 1);
    await guest.get('/api/session');
    assert.equal(await lastSeenOnDisk(server, id), new Date(T0).toISOString());
    clock.setTo(T0 + 60 * SECOND);
    await guest.get('/api/session');
    assert.equal(await lastSeenOnDisk(server, id), new Date(T0 + 60 * SECOND).toISOString());
  });

  it('slides the idle timeout with use, and ends a session left unused for the idle timeout', async (t) => {
    const { server, clock } = await clockedServer(t, 100, 28800);
    const alice = server.client();
    await register(alice, 'alice');
    for (let at = 50; at <= 500; at += 50) {
      clock.setTo(T0 + at * SECOND);
      assert.equal((await alice.get('/api/me')).status, 200, `still signed in at ${at} s`);
    }
    clock.setTo(T0 + 600 * SECOND);
    assert.equal((await alice.get('/api/me')).status, 401);
  });

  it('counts idle time from the last write, so a session is at most a touch interval early', async (t) => {
    const { server, clock } = await clockedServer(t, 100, 28800);
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'hat' });
    clock.setTo(T0 + 9 * SECOND);
    await guest.get('/api/session');
    clock.setTo(T0 + 100 * SECOND);
    assert.equal((await guest.get('/api/session')).status, 401);
  });

  it('never slides the absolute timeout, however busy the session', async (t) => {
    const { server, clock } = await clockedServer(t, 100, 300);
    const alice = server.client();
    await register(alice, 'alice');
    const deadline = sessionView(await alice.get('/api/session')).absoluteExpiresAt;
    assert.equal(deadline, new Date(T0 + 300 * SECOND).toISOString());
    for (let at = 30; at < 300; at += 30) {
      clock.setTo(T0 + at * SECOND);
      await alice.json('POST', '/api/cart', { item: `at ${at}` });
      assert.equal(sessionView(await alice.get('/api/session')).absoluteExpiresAt, deadline);
    }
    clock.setTo(T0 + 300 * SECOND - 1);
    assert.equal((await alice.get('/api/me')).status, 200);
    clock.setTo(T0 + 300 * SECOND);
    assert.equal((await alice.get('/api/me')).status, 401);
  });

  it('keeps the absolute deadline across a password change', async (t) => {
    const { server, clock } = await clockedServer(t, 1800, 3600);
    const alice = server.client();
    await register(alice, 'alice', PASSWORD);
    clock.setTo(T0 + 600 * SECOND);
    await alice.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new password' });
    assert.equal(sessionView(await alice.get('/api/session')).absoluteExpiresAt, new Date(T0 + 3600 * SECOND).toISOString());
  });

  it('refuses an expired session on read, before any sweep, and deletes its file', async (t) => {
    const { server, clock } = await clockedServer(t, 100, 28800);
    const alice = server.client();
    await register(alice, 'alice');
    const id = alice.sid!;
    clock.setTo(T0 + 100 * SECOND);
    const reply = await alice.get('/api/me');
    assert.equal(reply.status, 401);
    await assert.rejects(stat(fileOf(server, id)), { code: 'ENOENT' });
    assert.equal((await alice.get('/dashboard')).status, 303);
  });

  it('sweeps expired session files once at start-up', { timeout: 10_000 }, async (t) => {
    const { sessionsDir } = await makeDirs(t);
    await mkdir(sessionsDir, { recursive: true });
    const expired = path.join(sessionsDir, `${storageKey(newSessionId())}.json`);
    const live = path.join(sessionsDir, `${storageKey(newSessionId())}.json`);
    await writeFile(expired, JSON.stringify(newRecord(T0 - 3600 * SECOND, 'created as guest')), { mode: 0o600 });
    await writeFile(live, JSON.stringify(newRecord(T0, 'created as guest')), { mode: 0o600 });
    // The sweeper reports a run that deleted something; waiting for that report starts no second run.
    let reported!: (line: string) => void;
    const report = new Promise<string>((resolve) => (reported = resolve));
    const logger = new Logger({
      mode: 'requests',
      color: false,
      write: (text) => text.startsWith('sweeper:') && reported(text),
      writeError: () => undefined,
    });
    await startTestServer(t, { sessionsDir }, { clock: () => T0 + SECOND, logger });
    assert.match(await report, /^sweeper: 1 expired session\(s\) and 0 leftover\(s\) deleted in \d+ ms \(1 live, 0 failed\)$/);
    assert.deepEqual((await readdir(sessionsDir)).sort(), [path.basename(live)]);
  });
});

describe('signing in replaces the ID and carries guest data over', () => {
  async function guestWithData(server: TestServer): Promise<Client> {
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'umbrella' });
    await guest.json('POST', '/api/cart', { item: 'scarf' });
    await guest.json('PUT', '/api/preferences', { theme: 'dark' });
    return guest;
  }

  for (const [how, signIn] of [
    ['register (JSON)', (client: Client) => client.json('POST', '/register', { username: 'bob', password: PASSWORD })],
    ['register (form)', (client: Client) => client.form('/register', { username: 'bob', password: PASSWORD })],
    ['login (JSON)', (client: Client) => client.json('POST', '/login', { username: 'alice', password: PASSWORD })],
    ['login (form)', (client: Client) => client.form('/login', { username: 'alice', password: PASSWORD })],
  ] as const) {
    it(`at ${how}: cart and theme come along, the old ID is dead and its file gone`, async (t) => {
      const server = await startTestServer(t);
      await register(server.client(), 'alice', PASSWORD);
      const guest = await guestWithData(server);
      const guestId = guest.sid!;
      const reply = await signIn(guest);
      assert.ok(reply.status === 200 || reply.status === 201 || reply.status === 303, `${reply.status}`);
      const newId = guest.sid!;
      assert.notEqual(newId, guestId);

      const view = sessionView(await guest.get('/api/session'));
      assert.deepEqual(view.data, { cart: ['umbrella', 'scarf'], theme: 'dark' });
      assert.ok(view.user === 'alice' || view.user === 'bob');
      await assert.rejects(stat(fileOf(server, guestId)), { code: 'ENOENT' });
      await stat(fileOf(server, newId));

      const replay = server.client();
      replay.cookies.set('sid', guestId);
      assert.equal((await replay.get('/api/session')).status, 401);
      assert.equal((await replay.json('POST', '/api/cart', { item: 'x' })).status, 200);
      assert.notEqual(replay.sid, guestId, 'the dead ID is not brought back');
    });
  }
});
