import assert from 'node:assert/strict';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { DEFAULT_LEASE_MS } from '../../lib/file-lock.ts';
import { parseRecord } from '../../lib/sessions/record.ts';
import { Client, PASSWORD, register } from '../support/client.ts';
import { bodyOf, sessionView } from '../support/json.ts';
import {
  CART_ADDS,
  cartAddsAlternating,
  cartAddsInFlight,
  on,
  serverEnv,
  spawnServer,
  startServerProcess,
  workerPids,
} from '../support/process.ts';
import type { RunningProcess } from '../support/process.ts';
import { makeDirs } from '../support/server.ts';
import type { Dirs } from '../support/server.ts';
import { HAS_NODE_SQLITE, rawConnection, sqliteFile } from '../support/sqlite.ts';

/** A process that cannot start exits within this long. */
const EXIT_DEADLINE_MS = 10_000;
/** How long a request sent while its worker is killed may wait for an answer that will not come. */
const IN_FLIGHT_TIMEOUT_MS = 3000;

interface Shared {
  file: string;
  dirs: [Dirs, Dirs];
  servers: [RunningProcess, RunningProcess];
}

/**
 * twoServersOnOneDatabase starts two Cloakroom processes, separately, with
 * STORE=sqlite on one database file and each with SESSIONS_DIR and
 * USERS_FILE of its own: all they share is the database.
 */
async function twoServersOnOneDatabase(t: TestContext): Promise<Shared> {
  const file = await sqliteFile(t);
  const dirs: [Dirs, Dirs] = [await makeDirs(t), await makeDirs(t)];
  const servers = await Promise.all(dirs.map((own) => startServerProcess(t, own, { STORE: `sqlite:${file}` })));
  return { file, dirs, servers: servers as [RunningProcess, RunningProcess] };
}

/** usernamesIn reads the accounts table as the sqlite3 shell would. */
async function usernamesIn(t: TestContext, file: string): Promise<string[]> {
  const rows = (await rawConnection(t, file)).prepare('SELECT username FROM accounts ORDER BY username').all();
  return rows.map((row) => String(row.username));
}

if (HAS_NODE_SQLITE) {
  describe('two Cloakroom processes that share only a SQLite database', () => {
    it('let an account registered on one sign in on the other, serve each other’s sessions, and lose no account', async (t) => {
      const { file, dirs, servers } = await twoServersOnOneDatabase(t);
      const [a, b] = servers;
      const browser = new Client(a.url);
      await register(browser, 'alice');
      assert.equal(bodyOf(await on(b, browser).get('/api/me')).username, 'alice');
      const onB = new Client(b.url);
      assert.equal((await onB.json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
      await register(new Client(b.url), 'bobby');
      assert.deepEqual(await usernamesIn(t, file), ['alice', 'bobby']);
      assert.equal((await new Client(a.url).json('POST', '/login', { username: 'bobby', password: PASSWORD })).status, 200);
      // Nothing of it in the files: no session file, no users file.
      for (const own of dirs) {
        await assert.rejects(stat(own.usersFile), { code: 'ENOENT' });
        assert.deepEqual(await readdir(own.sessionsDir).catch(() => []), []);
      }
    });

    it('give exactly one 201 and one 409 when both register one name at the same moment', async (t) => {
      const { file, servers } = await twoServersOnOneDatabase(t);
      for (let round = 0; round < 5; round++) {
        const replies = await Promise.all(
          servers.map((server) => new Client(server.url).json('POST', '/register', { username: `dana${round}`, password: PASSWORD })),
        );
        assert.deepEqual(replies.map((reply) => reply.status).sort(), [201, 409], `round ${round}`);
      }
      assert.equal((await usernamesIn(t, file)).length, 5);
    });

    it(`keep all ${CART_ADDS} of ${CART_ADDS} concurrent cart additions to one session, alternating between them`, async (t) => {
      const { servers } = await twoServersOnOneDatabase(t);
      const browser = new Client(servers[0].url);
      await register(browser, 'erin');
      const statuses = await cartAddsAlternating(servers, browser);
      assert.deepEqual(
        statuses,
        statuses.map(() => 200),
      );
      const cart = sessionView(await browser.get('/api/session')).data.cart;
      assert.deepEqual([...cart].sort(), Array.from({ length: CART_ADDS }, (_, i) => `item-${i}`).sort());
    });

    it('end a session everywhere at a logout or a password change made on the other', async (t) => {
      const [a, b] = (await twoServersOnOneDatabase(t)).servers;
      const laptop = new Client(a.url);
      await register(laptop, 'frank');
      const onB = on(b, laptop);
      assert.equal((await onB.get('/api/me')).status, 200);
      await laptop.json('POST', '/logout');
      assert.equal((await onB.get('/api/me')).status, 401, 'a logout on A ends the session on B');

      const phone = new Client(a.url);
      await phone.json('POST', '/login', { username: 'frank', password: PASSWORD });
      const desk = new Client(b.url);
      await desk.json('POST', '/login', { username: 'frank', password: PASSWORD });
      assert.equal(
        (await desk.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new secret' })).status,
        200,
      );
      assert.equal((await phone.get('/api/me')).status, 401, 'a password change on B ends the other sessions on A');
      assert.equal((await desk.get('/api/me')).status, 200);
    });

    it('lock an account after five failed sign-ins spread over both, on both', async (t) => {
      const [a, b] = (await twoServersOnOneDatabase(t)).servers;
      await register(new Client(a.url), 'gina');
      for (let i = 0; i < 5; i++) {
        const reply = await new Client((i % 2 === 0 ? a : b).url).json('POST', '/login', { username: 'gina', password: 'wrong guess' });
        assert.equal(reply.status, 401);
      }
      for (const server of [a, b]) {
        const reply = await new Client(server.url).json('POST', '/login', { username: 'gina', password: PASSWORD });
        assert.equal(reply.status, 429);
        assert.ok(Number(reply.headers.get('retry-after')) > 0);
      }
    });
  });

  describe('WORKERS=2 on one SQLite database', () => {
    it('replaces a worker killed with SIGKILL mid-request: the replacement serves, every row is whole, no lock outlives its lease', async (t) => {
      const file = await sqliteFile(t);
      const server = await startServerProcess(t, await makeDirs(t), { WORKERS: '2', STORE: `sqlite:${file}` });
      const browser = new Client(server.url);
      await register(browser, 'liam');
      const [victim] = workerPids(server);
      const inFlight = cartAddsInFlight(server, browser, IN_FLIGHT_TIMEOUT_MS);
      const killedAt = Date.now();
      process.kill(victim!, 'SIGKILL');
      await Promise.all(inFlight);
      await server.line(/worker \d+ died \(SIGKILL\); starting another/);
      for (const row of (await rawConnection(t, file)).prepare('SELECT record FROM sessions').all()) {
        assert.notEqual(parseRecord(String(row.record)), null);
      }
      // A lock the dead worker held is free once its lease has run out, and not much later.
      assert.equal((await browser.json('POST', '/api/cart', { item: 'after' })).status, 200);
      assert.ok(Date.now() - killedAt < DEFAULT_LEASE_MS + IN_FLIGHT_TIMEOUT_MS, 'a lock of the dead worker outlived its lease');
    });
  });

  it('refuses a database file of garbage at start-up: exit 1, one line naming STORE and the file, and no crash loop with WORKERS=2', async (t) => {
    const file = await sqliteFile(t);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'not a database at all, just text that a typo pointed STORE at '.repeat(100));
    for (const workers of ['1', '2']) {
      const server = spawnServer(t, serverEnv(await makeDirs(t), { STORE: `sqlite:${file}`, WORKERS: workers }));
      assert.deepEqual(await server.exited(EXIT_DEADLINE_MS), { code: 1, signal: null }, `WORKERS=${workers}`);
      assert.match(
        server.stderr(),
        new RegExp(`^STORE: cannot use ${file} as the SQLite database: the file is not a SQLite database$`, 'm'),
      );
    }
  });
} else {
  it(`refuses STORE=sqlite on Node ${process.version}: exit 1, with one line naming STORE and the Node version it needs`, async (t) => {
    const file = await sqliteFile(t);
    const server = spawnServer(t, serverEnv(await makeDirs(t), { STORE: `sqlite:${file}` }));
    assert.deepEqual(await server.exited(EXIT_DEADLINE_MS), { code: 1, signal: null });
    assert.equal(
      server.stderr(),
      `STORE: SQLite storage needs Node 22.13 or later, which has node:sqlite built in; this is Node ${process.version}\n`,
    );
    await assert.rejects(stat(path.dirname(file)), { code: 'ENOENT' });
  });
}
