import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { Client, register } from '../support/client.ts';
import { bodyOf, parseJsonObject, readSessionFile, sessionView } from '../support/json.ts';
import { LISTENING, serverEnv, spawnServer, START_DEADLINE_MS, startServerProcess } from '../support/process.ts';
import { answerOf, RawExchange } from '../support/raw-http.ts';
import { makeDirs } from '../support/server.ts';
import type { Dirs } from '../support/server.ts';

/** A stopped server exits within this long, in-flight requests answered (SHUTDOWN_GRACE_MS, and some room). */
const SHUTDOWN_DEADLINE_MS = 5_000;
/** Start-up checks run a few at a time: each is a whole Node process. */
const PARALLEL_STARTS = 3;

/**
 * answersNewConnection tells whether a request on a new connection to `url`
 * gets an answer. A stopping server may still have the kernel complete the
 * handshake of a connection it will never accept, so "refused" and "closed
 * unanswered" both count as not answered.
 */
async function answersNewConnection(url: string): Promise<boolean> {
  let exchange: RawExchange;
  try {
    exchange = await RawExchange.open(url);
  } catch {
    return false;
  }
  await exchange.write(`GET /api/me HTTP/1.1\r\nHost: ${new URL(url).host}\r\nConnection: close\r\n\r\n`).catch(() => undefined);
  return (await exchange.outcome).kind === 'answered';
}

/** Each variable of the README's Configuration table, with one value that must stop start-up. */
const BAD_VALUES: ReadonlyArray<{ variable: string; value: (dirs: Dirs) => string | Promise<string>; why: string }> = [
  { variable: 'PORT', value: () => '70000', why: 'above 65535' },
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): a well-formed address that no machine here has.
  { variable: 'HOST', value: () => '192.0.2.1', why: 'an address this machine does not have' },
  { variable: 'SESSIONS_DIR', value: (dirs) => ` ${dirs.sessionsDir} `, why: 'wrapped in spaces' },
  {
    variable: 'USERS_FILE',
    value: async (dirs) => {
      const directory = path.join(dirs.root, 'a-directory');
      await mkdir(directory);
      return directory;
    },
    why: 'a directory',
  },
  {
    variable: 'USERS_FILE',
    value: async (dirs) => {
      // A directory cannot be made below a regular file, not even by root.
      const plainFile = path.join(dirs.root, 'plain-file');
      await writeFile(plainFile, '');
      return path.join(plainFile, 'users.json');
    },
    why: 'in a place where its directory cannot be made',
  },
  { variable: 'SESSION_IDLE_TIMEOUT', value: () => '0', why: 'zero' },
  { variable: 'SESSION_ABSOLUTE_TIMEOUT', value: () => '-5', why: 'negative' },
  { variable: 'SWEEP_INTERVAL', value: () => 'soon', why: 'not a number' },
  { variable: 'COOKIE_SECURE', value: () => 'yes', why: 'not true, false or auto' },
  { variable: 'TRUST_PROXY', value: () => '1', why: 'not true or false' },
  { variable: 'SCRYPT_COST', value: () => '1000', why: 'not a power of two' },
  { variable: 'LOG', value: () => 'verbose', why: 'not a log mode' },
  { variable: 'WORKERS', value: () => 'many', why: 'not a number of processes' },
  { variable: 'GUEST_IDLE_TIMEOUT', value: () => '0', why: 'zero' },
  { variable: 'REGISTRATIONS_PER_ADDRESS', value: () => '0', why: 'zero' },
  { variable: 'GUEST_SESSIONS_PER_ADDRESS', value: () => 'lots', why: 'not a number' },
  { variable: 'MAX_SESSIONS', value: () => '-1', why: 'negative' },
  { variable: 'MAX_CONNECTIONS', value: () => '0', why: 'zero' },
  { variable: 'ALLOWED_HOSTS', value: () => 'https://app.example.org', why: 'a URL, not a host name' },
];

/** assertStopsNaming runs server.ts with `overrides` and checks it exits 1 with one stderr line naming `variable`. */
async function assertStopsNaming(t: TestContext, dirs: Dirs, variable: string, overrides: Record<string, string>): Promise<void> {
  const server = spawnServer(t, serverEnv(dirs, overrides));
  const { code } = await server.exited(START_DEADLINE_MS);
  const lines = server.stderr().trimEnd().split('\n');
  assert.equal(code, 1, `exit code; stderr: ${server.stderr()}`);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${server.stderr()}`);
  assert.ok(lines[0]!.startsWith(`${variable}: `), `the line names ${variable}: ${lines[0]}`);
  assert.doesNotMatch(server.stdout(), LISTENING);
}

describe('start-up validation', { concurrency: PARALLEL_STARTS }, () => {
  for (const { variable, value, why } of BAD_VALUES) {
    it(`exits 1 with one line naming ${variable} when it is ${why}`, async (t) => {
      const dirs = await makeDirs(t);
      await assertStopsNaming(t, dirs, variable, { [variable]: await value(dirs) });
    });
  }

  it('exits 1 naming SESSIONS_DIR when the directory cannot be created or written', async (t) => {
    const dirs = await makeDirs(t);
    // The tests may run as root, whom permissions do not stop: a path below a regular file stops everyone.
    const plainFile = path.join(dirs.root, 'plain-file');
    await writeFile(plainFile, '');
    await assertStopsNaming(t, dirs, 'SESSIONS_DIR', { SESSIONS_DIR: path.join(plainFile, 'sessions') });
  });

  it(
    'exits 1 naming SESSIONS_DIR when the directory exists but refuses files',
    { skip: process.platform !== 'linux' && 'needs /proc' },
    async (t) => {
      // /proc is a directory that not even root can create files in.
      await assertStopsNaming(t, await makeDirs(t), 'SESSIONS_DIR', { SESSIONS_DIR: '/proc' });
    },
  );
});

describe('shutdown and restart', () => {
  for (const stopSignal of ['SIGTERM', 'SIGINT'] as const) {
    it(`answers the request in flight at ${stopSignal}, writes its change, refuses new connections, and exits 0 within 5 s`, async (t) => {
      const dirs = await makeDirs(t);
      const server = await startServerProcess(t, dirs);
      const browser = new Client(server.url);
      await register(browser, 'leaving');

      const body = JSON.stringify({ item: 'during-shutdown' });
      const slow = await RawExchange.open(server.url);
      const interim = slow.interim();
      await slow.write(
        [
          'POST /api/cart HTTP/1.1',
          `Host: ${new URL(server.url).host}`,
          `Cookie: sid=${browser.sid}`,
          'Content-Type: application/json',
          `Content-Length: ${body.length}`,
          'Expect: 100-continue',
          'Connection: close',
          '',
          '',
        ].join('\r\n'),
      );
      // 100 Continue: the server has the request in hand before it is told to stop.
      assert.equal(await interim, 100);
      await slow.write(body.slice(0, 1));

      const signalled = performance.now();
      server.child.kill(stopSignal);
      await server.line(new RegExp(`${stopSignal}: finishing in-flight requests`));
      assert.equal(await answersNewConnection(server.url), false, 'no new connection is served once stopping');
      await slow.write(body.slice(1));
      const answer = await answerOf(slow);
      const { code, signal } = await server.exited(SHUTDOWN_DEADLINE_MS);
      const elapsedMs = performance.now() - signalled;

      t.diagnostic(`exited ${elapsedMs.toFixed(0)} ms after ${stopSignal}`);
      assert.equal(answer.status, 200);
      assert.deepEqual(parseJsonObject(answer.body).cart, ['during-shutdown']);
      assert.equal(code, 0);
      assert.equal(signal, null);
      assert.ok(elapsedMs < SHUTDOWN_DEADLINE_MS);
      assert.equal(server.stderr(), '');
      // The change made after the signal is on disk, whole.
      const stored = await readSessionFile(path.join(dirs.sessionsDir, `${storageKey(browser.sid!)}.json`));
      assert.deepEqual(stored.data.cart, ['during-shutdown']);
    });
  }

  it('keeps sessions across a restart: the old cookie still signs in, with its cart', async (t) => {
    const dirs = await makeDirs(t);
    const first = await startServerProcess(t, dirs);
    const before = new Client(first.url);
    await register(before, 'returning');
    await before.json('POST', '/api/cart', { item: 'kept-over-restart' });
    first.child.kill('SIGINT');
    assert.deepEqual(await first.exited(SHUTDOWN_DEADLINE_MS), { code: 0, signal: null });

    const second = await startServerProcess(t, dirs);
    const after = new Client(second.url);
    after.cookies.set('sid', before.sid!);
    const me = await after.get('/api/me');
    assert.equal(me.status, 200);
    assert.equal(bodyOf(me).username, 'returning');
    assert.deepEqual(sessionView(await after.get('/api/session')).data.cart, ['kept-over-restart']);
    second.child.kill('SIGTERM');
    assert.deepEqual(await second.exited(SHUTDOWN_DEADLINE_MS), { code: 0, signal: null });
  });
});
