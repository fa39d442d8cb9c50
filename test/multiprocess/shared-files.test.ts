import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { PasswordHasher } from '../../lib/auth/passwords.ts';
import type { UserRecord } from '../../lib/auth/users.ts';
import { parseRecord } from '../../lib/sessions/record.ts';
import { Client, PASSWORD, register } from '../support/client.ts';
import { bodyOf, sessionView } from '../support/json.ts';
import { CART_ADDS, cartAddsAlternating, cartAddsInFlight, on, startServerProcess, workerPids } from '../support/process.ts';
import type { RunningProcess } from '../support/process.ts';
import { makeDirs, TEST_SCRYPT_COST } from '../support/server.ts';
import type { Dirs } from '../support/server.ts';

/** A process stopped with SIGTERM exits within this long. */
const EXIT_DEADLINE_MS = 10_000;
/** How long a request sent while its worker is killed may wait for an answer that will not come. */
const IN_FLIGHT_TIMEOUT_MS = 3000;

type Server = RunningProcess;

/** twoServers starts two Cloakroom processes, separately, on one sessions directory and one users file. */
async function twoServers(t: TestContext, dirs: Dirs): Promise<[Server, Server]> {
  return Promise.all([startServerProcess(t, dirs), startServerProcess(t, dirs)]);
}

async function usernamesOnDisk(dirs: Dirs): Promise<string[]> {
  const saved = JSON.parse(await readFile(dirs.usersFile, 'utf8')) as { users: UserRecord[] };
  return saved.users.map((user) => user.username).sort();
}

describe('two Cloakroom processes started separately on one directory pair', () => {
  it('let an account registered on one sign in on the other, and lose no account when the other registers', async (t) => {
    const dirs = await makeDirs(t);
    const [a, b] = await twoServers(t, dirs);
    await register(new Client(a.url), 'alice');
    const onB = new Client(b.url);
    assert.equal((await onB.json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
    assert.equal(bodyOf(await onB.get('/api/me')).username, 'alice');
    await register(new Client(b.url), 'bobby');
    assert.deepEqual(await usernamesOnDisk(dirs), ['alice', 'bobby']);
    assert.equal((await new Client(a.url).json('POST', '/login', { username: 'bobby', password: PASSWORD })).status, 200);
  });

  it('serve a session made on one from the other, without deleting it', async (t) => {
    const dirs = await makeDirs(t);
    const [a, b] = await twoServers(t, dirs);
    const browser = new Client(a.url);
    await register(browser, 'carol');
    assert.equal((await on(b, browser).get('/api/me')).status, 200);
    assert.equal((await browser.get('/api/me')).status, 200);
    assert.equal((await readdir(dirs.sessionsDir)).filter((name) => name.endsWith('.json')).length, 1);
  });

  it('give exactly one 201 and one 409 when both register one name at the same moment', async (t) => {
    const dirs = await makeDirs(t);
    const [a, b] = await twoServers(t, dirs);
    for (let round = 0; round < 5; round++) {
      const name = `dana${round}`;
      const replies = await Promise.all(
        [a, b].map((server) => new Client(server.url).json('POST', '/register', { username: name, password: PASSWORD })),
      );
      assert.deepEqual(replies.map((reply) => reply.status).sort(), [201, 409], `round ${round}`);
    }
    assert.equal((await usernamesOnDisk(dirs)).length, 5);
  });

  it(`keep all ${CART_ADDS} of ${CART_ADDS} concurrent cart additions to one session, alternating between them`, async (t) => {
    const dirs = await makeDirs(t);
    const [a, b] = await twoServers(t, dirs);
    const browser = new Client(a.url);
    await register(browser, 'erin');
    const statuses = await cartAddsAlternating([a, b], browser);
    assert.deepEqual(
      statuses,
      statuses.map(() => 200),
    );
    const cart = sessionView(await browser.get('/api/session')).data.cart;
    assert.equal(cart.length, CART_ADDS);
    assert.deepEqual([...cart].sort(), Array.from({ length: CART_ADDS }, (_, i) => `item-${i}`).sort());
  });

  it('end a session everywhere at a logout or a password change made on the other', async (t) => {
    const dirs = await makeDirs(t);
    const [a, b] = await twoServers(t, dirs);
    const laptop = new Client(a.url);
    await register(laptop, 'frank');
    await laptop.json('POST', '/logout');
    const stolen = new Client(b.url);
    stolen.cookies.set(
      'sid',
      await (async () => {
        const again = new Client(a.url);
        await again.json('POST', '/login', { username: 'frank', password: PASSWORD });
        const cookie = again.sid!;
        await again.json('POST', '/logout');
        return cookie;
      })(),
    );
    assert.equal((await stolen.get('/api/me')).status, 401, 'a logout on A ends the session on B');

    const phone = new Client(a.url);
    await phone.json('POST', '/login', { username: 'frank', password: PASSWORD });
    const desk = new Client(b.url);
    await desk.json('POST', '/login', { username: 'frank', password: PASSWORD });
    assert.equal((await phone.get('/api/me')).status, 200);
    const change = await desk.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new secret' });
    assert.equal(change.status, 200);
    assert.equal((await phone.get('/api/me')).status, 401, 'a password change on B ends the other sessions on A');
    assert.equal((await desk.get('/api/me')).status, 200);
  });

  it('lock an account after five failed sign-ins spread over both, on both', async (t) => {
    const dirs = await makeDirs(t);
    const [a, b] = await twoServers(t, dirs);
    await register(new Client(a.url), 'gina');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const server = i % 2 === 0 ? a : b;
      statuses.push((await new Client(server.url).json('POST', '/login', { username: 'gina', password: 'wrong guess' })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    for (const server of [a, b]) {
      const reply = await new Client(server.url).json('POST', '/login', { username: 'gina', password: PASSWORD });
      assert.equal(reply.status, 429);
      assert.ok(Number(reply.headers.get('retry-after')) > 0);
    }
  });

  it('keep working with a users file written by an earlier Cloakroom, every account intact', async (t) => {
    const dirs = await makeDirs(t);
    const hasher = new PasswordHasher({ cost: TEST_SCRYPT_COST });
    const earlier = ['hana', 'ivan'].map((username, i) => ({
      username,
      displayName: `${username} (earlier)`,
      createdAt: '2026-11-22T03:10:00.000Z',
      generation: i,
    }));
    const users = await Promise.all(earlier.map(async (user) => ({ ...user, password: await hasher.hash(PASSWORD) })));
    await mkdir(path.dirname(dirs.usersFile), { recursive: true });
    await writeFile(dirs.usersFile, `${JSON.stringify({ version: 1, users }, null, 2)}\n`);
    const [a, b] = await twoServers(t, dirs);
    for (const [server, username] of [
      [a, 'hana'],
      [b, 'ivan'],
    ] as const) {
      const client = new Client(server.url);
      assert.equal((await client.json('POST', '/login', { username, password: PASSWORD })).status, 200);
      assert.equal(bodyOf(await client.get('/api/me')).displayName, `${username} (earlier)`);
    }
    await register(new Client(b.url), 'jack');
    assert.deepEqual(await usernamesOnDisk(dirs), ['hana', 'ivan', 'jack']);
  });
});

describe('WORKERS=2: one port, two worker processes', () => {
  it(`serves from two workers, keeps all ${CART_ADDS} concurrent cart additions, and stops with exit 0 on SIGTERM`, async (t) => {
    const dirs = await makeDirs(t);
    const server = await startServerProcess(t, dirs, { WORKERS: '2' });
    assert.match(server.stdout(), /2 worker processes/);
    assert.equal(workerPids(server).length, 2);
    const browser = new Client(server.url);
    await register(browser, 'kate');
    assert.equal(bodyOf(await browser.get('/api/me')).username, 'kate');
    const statuses = await cartAddsAlternating([server], browser);
    assert.deepEqual(
      statuses,
      statuses.map(() => 200),
    );
    assert.equal(sessionView(await browser.get('/api/session')).data.cart.length, CART_ADDS);
    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited(EXIT_DEADLINE_MS), { code: 0, signal: null });
    assert.deepEqual(workerPids(server), []);
  });

  it('replaces a worker killed with SIGKILL mid-request: the replacement serves, no file is torn and no lock is stuck', async (t) => {
    const dirs = await makeDirs(t);
    const server = await startServerProcess(t, dirs, { WORKERS: '2' });
    const browser = new Client(server.url);
    await register(browser, 'liam');
    const [victim] = workerPids(server);
    // Cart additions in flight on every connection while one worker dies.
    const inFlight = cartAddsInFlight(server, browser, IN_FLIGHT_TIMEOUT_MS);
    process.kill(victim!, 'SIGKILL');
    await Promise.all(inFlight);
    await server.line(/worker \d+ died \(SIGKILL\); starting another/);
    // Every file on disk is whole, and the session takes a change at once (no lock left behind).
    for (const name of (await readdir(dirs.sessionsDir)).filter((file) => file.endsWith('.json'))) {
      assert.notEqual(parseRecord(await readFile(path.join(dirs.sessionsDir, name), 'utf8')), null, name);
    }
    const started = Date.now();
    assert.equal((await browser.json('POST', '/api/cart', { item: 'after' })).status, 200);
    assert.ok(Date.now() - started < 5000, 'a lock of the dead worker held the session for seconds');
    await waitFor(() => workerPids(server).length === 2 && !workerPids(server).includes(victim!));
    for (let i = 0; i < 6; i++) assert.equal((await new Client(server.url).get('/login')).status, 200);
  });

  it('starts no replacement after SIGTERM, even for a worker that died just before, and exits 0', async (t) => {
    const dirs = await makeDirs(t);
    const server = await startServerProcess(t, dirs, { WORKERS: '2' });
    const [victim] = workerPids(server);
    process.kill(victim!, 'SIGKILL');
    // The primary has scheduled the replacement; the stop comes inside its delay.
    await server.line(/worker \d+ died \(SIGKILL\); starting another in \d+ ms/);
    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited(EXIT_DEADLINE_MS), { code: 0, signal: null });
    assert.deepEqual(workerPids(server), []);
  });
});

/** waitFor polls `condition` (a few times a second, 10 s at most): for a process the test cannot be told about. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail('the condition never held');
}
