import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_COMMAND_TIMEOUT_MS } from '../../lib/storage/redis/client.ts';
import { Client, PASSWORD, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { bodyOf, sessionView } from '../support/json.ts';
import { serverEnv, spawnServer, startServerProcess } from '../support/process.ts';
import type { ServerProcess } from '../support/process.ts';
import { redisSkip, startRedis } from '../support/redis.ts';
import type { RedisServer } from '../support/redis.ts';
import { makeDirs } from '../support/server.ts';
import type { Dirs } from '../support/server.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CART_ADDS = 40;
/** How long a process given a Redis it cannot use takes, at most, to give up and exit. */
const EXIT_DEADLINE_MS = 10_000;

type Server = ServerProcess & { url: string };

interface Hosts {
  redis: RedisServer;
  a: Server;
  b: Server;
  /** dirs are each host's own SESSIONS_DIR and USERS_FILE: nothing on disk is shared. */
  dirs: [Dirs, Dirs];
}

/** twoHosts starts a Redis and two Cloakroom processes that share only it: each has a directory pair of its own. */
async function twoHosts(t: TestContext): Promise<Hosts> {
  const redis = await startRedis(t);
  const dirs: [Dirs, Dirs] = [await makeDirs(t), await makeDirs(t)];
  const [a, b] = await Promise.all(dirs.map((pair) => startServerProcess(t, pair, { STORE: redis.url })));
  return { redis, a: a!, b: b!, dirs };
}

/** asBrowserOf is a client of `server` carrying `browser`'s cookies: the same browser, answered by the other host. */
function asBrowserOf(browser: Client, server: Server): Client {
  const client = new Client(server.url);
  for (const [name, value] of browser.cookies) client.cookies.set(name, value);
  return client;
}

/** untilAnswered sends `request` again and again until its status is `status`, and gives that reply; each try paces the next. */
async function untilAnswered(request: () => Promise<Reply>, status: number, deadlineMs = 15_000): Promise<Reply> {
  const giveUpAt = performance.now() + deadlineMs;
  for (;;) {
    const reply = await request();
    if (reply.status === status) return reply;
    assert.ok(performance.now() < giveUpAt, `still ${reply.status} after ${deadlineMs} ms: ${reply.text}`);
  }
}

/** assertServiceUnavailable checks a reply is the storage's 503: Retry-After, and nothing of the failure in the body. */
function assertServiceUnavailable(reply: Reply): void {
  assert.equal(reply.status, 503, reply.text);
  assert.ok(Number(reply.headers.get('retry-after')) > 0, 'a 503 says when to come back');
  assert.doesNotMatch(reply.text, /redis|127\.0\.0\.1|ECONNREFUSED/i);
}

/** alive is true while the process has neither exited nor been killed. */
function alive(server: Server): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}

describe('two hosts sharing only a Redis (STORE=redis://…, separate SESSIONS_DIR and USERS_FILE)', { skip: redisSkip }, () => {
  it('let an account registered on one sign in on the other, and serve a session of one from the other', async (t) => {
    const { a, b, dirs } = await twoHosts(t);
    const browser = new Client(a.url);
    await register(browser, 'alice');
    assert.equal(bodyOf(await asBrowserOf(browser, b).get('/api/me')).username, 'alice');
    const onB = new Client(b.url);
    assert.equal((await onB.json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
    await register(onB, 'bobby');
    assert.equal((await new Client(a.url).json('POST', '/login', { username: 'bobby', password: PASSWORD })).status, 200);
    // Everything lives in Redis: neither host wrote a session, an account or a counter to disk.
    for (const pair of dirs) assert.deepEqual(await readdir(pair.root), []);
  });

  it('give exactly one 201 and one 409 when both register one name at the same moment', async (t) => {
    const { a, b } = await twoHosts(t);
    for (let round = 0; round < 5; round++) {
      const replies = await Promise.all(
        [a, b].map((server) => new Client(server.url).json('POST', '/register', { username: `dana${round}`, password: PASSWORD })),
      );
      assert.deepEqual(replies.map((reply) => reply.status).sort(), [201, 409], `round ${round}`);
    }
  });

  it(`keep all ${CART_ADDS} of ${CART_ADDS} concurrent cart additions to one session, alternating between them`, async (t) => {
    const { a, b } = await twoHosts(t);
    const browser = new Client(a.url);
    await register(browser, 'erin');
    const replies = await Promise.all(
      Array.from({ length: CART_ADDS }, (_, i) =>
        asBrowserOf(browser, i % 2 === 0 ? a : b).json('POST', '/api/cart', { item: `item-${i}` }),
      ),
    );
    assert.deepEqual(
      replies.map((reply) => reply.status),
      replies.map(() => 200),
    );
    const cart = sessionView(await browser.get('/api/session')).data.cart;
    assert.deepEqual([...cart].sort(), Array.from({ length: CART_ADDS }, (_, i) => `item-${i}`).sort());
  });

  it('end a session everywhere at a logout or a password change made on the other', async (t) => {
    const { a, b } = await twoHosts(t);
    const laptop = new Client(a.url);
    await register(laptop, 'frank');
    const sameLaptopOnB = asBrowserOf(laptop, b);
    assert.equal((await laptop.json('POST', '/logout')).status, 204);
    assert.equal((await sameLaptopOnB.get('/api/me')).status, 401, 'a logout on A ends the session on B');

    const phone = new Client(a.url);
    await phone.json('POST', '/login', { username: 'frank', password: PASSWORD });
    const desk = new Client(b.url);
    await desk.json('POST', '/login', { username: 'frank', password: PASSWORD });
    assert.equal((await phone.get('/api/me')).status, 200);
    assert.equal((await desk.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new secret' })).status, 200);
    assert.equal((await phone.get('/api/me')).status, 401, 'a password change on B ends the other sessions on A');
    assert.equal((await desk.get('/api/me')).status, 200);
    assert.equal((await new Client(a.url).json('POST', '/login', { username: 'frank', password: 'a brand new secret' })).status, 200);
  });

  it('lock an account after five failed sign-ins spread over both, on both', async (t) => {
    const { a, b } = await twoHosts(t);
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

  it('answer 503 with Retry-After while Redis is killed under load, never crash, and serve again once it is back', async (t) => {
    const { redis, a, b } = await twoHosts(t);
    const browser = new Client(a.url);
    await register(browser, 'hana');
    // Load on both hosts while Redis dies: every answer is a 200 or the storage's 503.
    const load = Array.from({ length: 40 }, async (_, i) => {
      const replies: Reply[] = [];
      for (let n = 0; n < 3; n++) replies.push(await asBrowserOf(browser, i % 2 === 0 ? a : b).get('/api/me'));
      return replies;
    });
    await redis.kill();
    const replies = (await Promise.all(load)).flat();
    for (const reply of replies.filter((each) => each.status !== 200)) assertServiceUnavailable(reply);
    assert.ok(
      replies.some((reply) => reply.status === 503),
      'some requests met the dead Redis',
    );
    for (const server of [a, b]) assertServiceUnavailable(await asBrowserOf(browser, server).get('/api/me'));

    await redis.restart();
    // The Redis came back empty (it saves nothing here): the old session is gone, and a new account works on both.
    const again = new Client(b.url);
    await untilAnswered(() => again.json('POST', '/register', { username: 'hana', password: PASSWORD }), 201);
    assert.equal(bodyOf(await asBrowserOf(again, a).get('/api/me')).username, 'hana');
    assert.ok(alive(a) && alive(b), 'neither host died');
  });

  it('answer 503 within the command timeout while Redis is paused (SIGSTOP), then serve the same session again', async (t) => {
    const { redis, a, b } = await twoHosts(t);
    const browser = new Client(a.url);
    await register(browser, 'ivan');
    await browser.json('POST', '/api/cart', { item: 'umbrella' });
    redis.pause();
    const paused = performance.now();
    // One request on each host, one after the other, each waiting out the command timeout: Redis stays paused over three seconds.
    for (const server of [a, b]) {
      const started = performance.now();
      assertServiceUnavailable(await asBrowserOf(browser, server).get('/api/me'));
      assert.ok(performance.now() - started < DEFAULT_COMMAND_TIMEOUT_MS + 1000, 'the 503 came within the command timeout');
    }
    assert.ok(performance.now() - paused >= 3000, 'Redis was paused for three seconds');
    redis.resume();
    const reply = await untilAnswered(() => asBrowserOf(browser, b).get('/api/session'), 200);
    assert.deepEqual(sessionView(reply).data.cart, ['umbrella']);
    assert.ok(alive(a) && alive(b), 'neither host died');
  });

  it('stop start-up with one line naming STORE and the address when Redis cannot be reached', async (t) => {
    const redis = await startRedis(t);
    await redis.kill();
    const server = spawnServer(t, serverEnv(await makeDirs(t), { STORE: `${redis.url}/2` }));
    assert.deepEqual(await server.exited(EXIT_DEADLINE_MS), { code: 1, signal: null });
    assert.match(
      server.stderr(),
      new RegExp(`^STORE: cannot reach Redis at 127\\.0\\.0\\.1:${redis.port} db 2: connect ECONNREFUSED`, 'm'),
    );
  });

  it('stop start-up with a clear line for a wrong password and a database that does not exist, never printing the password', async (t) => {
    const redis = await startRedis(t, { args: ['--requirepass', 'right-secret', '--databases', '4'] });
    const dirs = await makeDirs(t);
    const wrongPassword = spawnServer(t, serverEnv(dirs, { STORE: redis.url.replace('//', '//:wrong-secret@') }));
    assert.deepEqual(await wrongPassword.exited(EXIT_DEADLINE_MS), { code: 1, signal: null });
    assert.match(wrongPassword.stderr(), /^STORE: Redis at 127\.0\.0\.1:\d+ refused AUTH: WRONGPASS/m);
    assert.doesNotMatch(wrongPassword.stderr(), /wrong-secret/);
    const noSuchDb = spawnServer(t, serverEnv(dirs, { STORE: `${redis.url.replace('//', '//:right-secret@')}/15` }));
    assert.deepEqual(await noSuchDb.exited(EXIT_DEADLINE_MS), { code: 1, signal: null });
    assert.match(noSuchDb.stderr(), /^STORE: Redis at 127\.0\.0\.1:\d+ db 15 refused SELECT 15: ERR DB index is out of range/m);
    assert.doesNotMatch(noSuchDb.stderr(), /right-secret/);
  });

  it('let npm run sessions list, count and revoke the sessions kept in Redis, beside the running hosts', async (t) => {
    const { redis, a, b, dirs } = await twoHosts(t);
    const alice = new Client(a.url);
    await register(alice, 'alice');
    await new Client(b.url).json('POST', '/api/cart', { item: 'umbrella' });
    const exec = promisify(execFile);
    const sessions = (...args: string[]) =>
      exec(process.execPath, ['--import', 'tsx', 'scripts/sessions.ts', ...args], {
        cwd: REPO_ROOT,
        env: serverEnv(dirs[0], { STORE: redis.url }),
      });
    assert.match((await sessions('stats')).stdout, /^sessions: 2 live \(1 guest, 1 signed in\)$/m);
    assert.match((await sessions('list')).stdout, /alice/);
    await sessions('revoke-user', 'alice');
    assert.equal((await asBrowserOf(alice, b).get('/api/me')).status, 401, 'revoked from the terminal, ended on every host');
  });
});
