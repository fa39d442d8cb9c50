import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { LISTENING, serverEnv, spawnServer } from '../support/process.ts';
import type { ServerProcess } from '../support/process.ts';
import { makeDirs } from '../support/server.ts';

/** A server that has not stopped in this long is stuck. */
const EXIT_DEADLINE_MS = 20_000;

/** startServer runs server.ts over fresh test directories with `env` on top; it does not wait for it to listen. */
async function startServer(t: TestContext, env: Record<string, string>): Promise<ServerProcess> {
  return spawnServer(t, serverEnv(await makeDirs(t), env));
}

/** exitCodeOf waits for the process to exit and returns its code. */
async function exitCodeOf(server: ServerProcess): Promise<number | null> {
  return (await server.exited(EXIT_DEADLINE_MS)).code;
}

/** urlOf waits for the start-up line and returns the URL in it (or fails if the process exits first). */
async function urlOf(server: ServerProcess): Promise<string> {
  return (await server.line(LISTENING))[1]!;
}

describe('server.ts', () => {
  it('prints its URL, serves, logs one line per request with LOG=requests, and exits 0 on SIGTERM', { timeout: 30_000 }, async (t) => {
    const started = await startServer(t, { LOG: 'requests' });
    const url = await urlOf(started);
    assert.match(started.stdout(), /^Cloakroom listening on http:\/\/127\.0\.0\.1:\d+\n/);
    const reply = await fetch(`${url}/login`);
    assert.equal(reply.status, 200);
    await reply.text();
    const cart = await fetch(`${url}/api/cart`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"item":"hat"}',
    });
    assert.equal(cart.status, 200);
    await cart.text();
    started.child.kill('SIGTERM');
    assert.equal(await exitCodeOf(started), 0);
    assert.match(started.stdout(), /^GET \/login 200 [\d.]+ ms$/m);
    assert.match(started.stdout(), /^POST \/api\/cart 200 [\d.]+ ms$/m);
    assert.match(started.stdout(), /SIGTERM/);
    assert.equal(started.stderr(), '');
  });

  it('creates the sessions directory 0700 and exits 0 on SIGINT', { timeout: 30_000 }, async (t) => {
    const dirs = await makeDirs(t);
    const started = await startServer(t, { SESSIONS_DIR: path.join(dirs.root, 'deep', 'sessions') });
    await urlOf(started);
    assert.equal((await stat(path.join(dirs.root, 'deep', 'sessions'))).mode & 0o777, 0o700);
    started.child.kill('SIGINT');
    assert.equal(await exitCodeOf(started), 0);
  });

  const badValues: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['SCRYPT_COST', '1000'],
    ['SESSION_IDLE_TIMEOUT', '0'],
    ['LOG', 'loud'],
  ];
  for (const [variable, value] of badValues) {
    it(`exits 1 with one line naming ${variable} when it is ${JSON.stringify(value)}`, { timeout: 30_000 }, async (t) => {
      const started = await startServer(t, { [variable]: value });
      assert.equal(await exitCodeOf(started), 1);
      const lines = started.stderr().trimEnd().split('\n');
      assert.equal(lines.length, 1, started.stderr());
      assert.match(lines[0]!, new RegExp(`^${variable}: `));
      assert.equal(started.stdout(), '');
    });
  }

  it('exits 1 naming SESSIONS_DIR when it lies under a regular file', { timeout: 30_000 }, async (t) => {
    const dirs = await makeDirs(t);
    const file = path.join(dirs.root, 'a-file');
    await writeFile(file, '');
    const started = await startServer(t, { SESSIONS_DIR: path.join(file, 'sessions') });
    assert.equal(await exitCodeOf(started), 1);
    const lines = started.stderr().trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^SESSIONS_DIR: /);
  });

  it('exits 1 with one line naming PORT when the port is taken', { timeout: 30_000 }, async (t) => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const started = await startServer(t, { PORT: String((blocker.address() as AddressInfo).port) });
    assert.equal(await exitCodeOf(started), 1);
    assert.match(started.stderr(), /^PORT: .*EADDRINUSE.*\n$/);
  });

  it('exits 1 with one line naming USERS_FILE when it is not a users file', { timeout: 30_000 }, async (t) => {
    const dirs = await makeDirs(t);
    const file = path.join(dirs.root, 'users.json');
    await writeFile(file, '{ not json');
    const started = await startServer(t, { USERS_FILE: file });
    assert.equal(await exitCodeOf(started), 1);
    assert.match(started.stderr(), /^USERS_FILE: [^\n]*\n$/);
  });
});
