import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Logger } from '../../lib/log.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { LISTENING, serverEnv, startServerProcess } from '../support/process.ts';
import { makeDirs, startTestServer } from '../support/server.ts';

// What a newcomer meets in their first hour, beyond the pages themselves:
// error bodies they can read, a 404 page with a way back, the one-line cart
// fix, a quiet explain log, the start-up summary, `npm run reset`, and a
// `npm start` that stops when told to.

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROCESS_TIMEOUT = { timeout: 60_000 };
/** A stopped server finishes in-flight requests within SHUTDOWN_GRACE_MS (4 s); this leaves room on a busy machine. */
const STOP_DEADLINE_MS = 15_000;

describe('every error body has error and message', () => {
  it('holds for every kind of refusal the API gives', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'taken');
    const signedIn = server.client();
    await register(signedIn, 'alice');
    const guest = server.client();
    const refusals: Array<[string, () => Promise<Reply>]> = [
      ['unknown API path', () => guest.get('/api/nothing', { Accept: 'application/json' })],
      ['wrong method', () => guest.json('PUT', '/api/me', {})],
      ['not signed in', () => guest.get('/api/me')],
      ['no session', () => guest.get('/api/session')],
      ['malformed JSON', () => guest.request('POST', '/api/cart', '{', { 'Content-Type': 'application/json' })],
      [
        'unsupported type',
        () => guest.request('POST', '/api/cart', 'item=x', { 'Content-Type': 'text/plain', Accept: 'application/json' }),
      ],
      ['too large', () => guest.json('POST', '/api/cart', { item: 'x'.repeat(20_000) })],
      ['cross-origin', () => guest.json('POST', '/api/cart', { item: 'x' }, { Origin: 'http://evil.example' })],
      ['invalid username', () => guest.json('POST', '/register', { username: 'x', password: PASSWORD })],
      ['invalid password', () => guest.json('POST', '/register', { username: 'newname', password: 'short' })],
      ['taken name', () => guest.json('POST', '/register', { username: 'taken', password: PASSWORD })],
      ['wrong password', () => guest.json('POST', '/login', { username: 'alice', password: 'not it at all' })],
      [
        'wrong current password',
        () => signedIn.json('POST', '/api/password', { currentPassword: 'nope nope', newPassword: 'whatever else' }),
      ],
      ['cart item too long', () => guest.json('POST', '/api/cart', { item: 'x'.repeat(65) })],
      ['remove from no cart', () => guest.json('POST', '/api/cart/remove', { index: 0, item: 'x' })],
    ];
    // One at a time: a failed check must not leave requests in flight behind it.
    for (const [what, send] of refusals) {
      const reply = await send();
      assert.ok(reply.status >= 400, `${what}: ${reply.status}`);
      const body = reply.json as { error?: unknown; message?: unknown };
      assert.equal(typeof body.error, 'string', `${what}: ${reply.text}`);
      assert.equal(typeof body.message, 'string', `${what}: ${reply.text}`);
      assert.notEqual(body.message, '', what);
    }
  });
});

describe('a missing page', () => {
  it('is a styled HTML page with a link back for a browser, JSON under /api/, and short text for everyone else', async (t) => {
    const server = await startTestServer(t);
    const browser = await server.client().get('/no/such/page', { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    assert.equal(browser.status, 404);
    assert.match(browser.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    assert.match(browser.text, /<link rel="stylesheet" href="\/style.css">/);
    assert.match(browser.text, /<a id="not-found-home" class="button primary" href="\/">/);

    const api = await server.client().get('/api/no-such-thing', { Accept: 'text/html' });
    assert.equal(api.status, 404);
    assert.deepEqual(api.json, { error: 'not_found', message: 'There is nothing at this address.' });

    const curl = await server.client().get('/no/such/page', { Accept: '*/*' });
    assert.equal(curl.status, 404);
    assert.match(curl.headers.get('content-type') ?? '', /^text\/plain/);
  });
});

describe('removing one cart item', () => {
  it('removes the item named by its place and text, and refuses with 409 when the cart changed meanwhile', async (t) => {
    const server = await startTestServer(t);
    const guest = server.client();
    for (const item of ['umbrella', 'scarf', 'umbrella']) await guest.json('POST', '/api/cart', { item });
    const removed = await guest.json('POST', '/api/cart/remove', { index: 2, item: 'umbrella' });
    assert.equal(removed.status, 200);
    assert.deepEqual(removed.json, { cart: ['umbrella', 'scarf'] });
    const stale = await guest.json('POST', '/api/cart/remove', { index: 1, item: 'umbrella' });
    assert.equal(stale.status, 409);
    const session = (await guest.get('/api/session')).json as { data: { cart: string[] } };
    assert.deepEqual(session.data.cart, ['umbrella', 'scarf'], 'nothing else was removed');
    for (const body of [{ index: -1, item: 'scarf' }, { index: '1', item: 'scarf' }, { index: 1 }]) {
      assert.equal((await guest.json('POST', '/api/cart/remove', body)).status, 400, JSON.stringify(body));
    }
  });
});

describe('the explain log', () => {
  it('narrates requests that touch the session, and leaves out the static files a page loads', async (t) => {
    const lines: string[] = [];
    const server = await startTestServer(
      t,
      { log: 'explain' },
      { logger: new Logger({ mode: 'explain', write: (text) => lines.push(text), color: false }) },
    );
    const browser = server.client();
    await browser.get('/login');
    for (const asset of ['/style.css', '/js/login.js', '/favicon.svg']) assert.equal((await browser.get(asset)).status, 200);
    await browser.get('/favicon.ico');
    const printed = lines.join('\n');
    assert.match(printed, /^GET \/login 200 /m);
    assert.doesNotMatch(printed, /style\.css|login\.js|favicon\.svg/);
    assert.match(printed, /^GET \/favicon\.ico 404 /m, 'a missing file is worth a line');
  });

  it('prints the static files with LOG=requests', async (t) => {
    const lines: string[] = [];
    const server = await startTestServer(
      t,
      { log: 'requests' },
      { logger: new Logger({ mode: 'requests', write: (text) => lines.push(text), color: false }) },
    );
    await server.client().get('/style.css');
    assert.match(lines.join('\n'), /^GET \/style\.css 200 /m);
  });
});

describe('the start-up summary', () => {
  it('prints the URL, the sessions directory, the users file, the timeouts and the sweep interval', PROCESS_TIMEOUT, async (t) => {
    const dirs = await makeDirs(t);
    const server = await startServerProcess(t, dirs, {
      SESSION_IDLE_TIMEOUT: '20',
      GUEST_IDLE_TIMEOUT: '10',
      SWEEP_INTERVAL: '5',
      LOG: 'explain',
    });
    const summary = server.stdout();
    assert.match(summary, /^Cloakroom listening on http:\/\/127\.0\.0\.1:\d+\n/);
    assert.ok(summary.includes(`sessions  ${dirs.sessionsDir}`), summary);
    assert.ok(summary.includes(`accounts  ${dirs.usersFile}`), summary);
    assert.match(summary, /timeouts {2}idle 20 seconds \(guests 10 seconds\), absolute 8 hours; expired files swept every 5 seconds/);
    assert.match(summary, /stop {6}Ctrl-C/);
  });

  it('makes the users file directory private (0700) when it holds only what Cloakroom keeps there', async (t) => {
    const dirs = await makeDirs(t);
    const dataDir = path.dirname(dirs.usersFile);
    await mkdir(dataDir, { mode: 0o755 });
    await writeFile(path.join(dataDir, '.gitkeep'), '');
    await startTestServer(t, { usersFile: dirs.usersFile });
    // startTestServer makes its own directories; the one checked here is this test's.
    const shared = path.join(dirs.root, 'project');
    await mkdir(shared, { mode: 0o755 });
    await writeFile(path.join(shared, 'README.md'), 'not ours');
    await startTestServer(t, { usersFile: path.join(shared, 'users.json') });
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    assert.equal((await stat(shared)).mode & 0o777, 0o755, 'a folder that holds other things is left alone');
  });
});

describe('npm run reset', () => {
  it(
    'deletes the accounts, sessions (and their user index), ending notes and counters where npm start would keep them, and says what it removed',
    PROCESS_TIMEOUT,
    async (t) => {
      const dirs = await makeDirs(t);
      const server = await startTestServer(t, { sessionsDir: dirs.sessionsDir, usersFile: dirs.usersFile });
      const alice = server.client();
      await register(alice, 'alice');
      await register(server.client(), 'bob');
      await alice.json('POST', '/logout');
      await server.client().json('POST', '/login', { username: 'bob', password: 'wrong password' });
      await server.client().json('POST', '/api/cart', { item: 'umbrella' });
      await writeFile(path.join(dirs.sessionsDir, 'notes.txt'), 'not ours');

      const output = await runScript(['--import', 'tsx', 'scripts/reset.ts'], serverEnv(dirs));
      assert.equal(output.code, 0, output.stderr);
      assert.match(output.stdout, /sessions: removed 2 session files and 1 ending note/);
      assert.match(output.stdout, /users\.json: removed \(2 accounts\)/);
      assert.match(output.stdout, /users: removed 1 user index marker\n/);
      assert.match(output.stdout, /throttle: removed \d+ counter files/);
      assert.deepEqual(await readdir(dirs.sessionsDir), ['notes.txt'], 'only what is not Cloakroom’s is left');
      assert.deepEqual(await readdir(path.dirname(dirs.usersFile)), []);
      assert.equal((await alice.get('/api/me')).status, 401);

      const again = await runScript(['--import', 'tsx', 'scripts/reset.ts'], serverEnv(dirs));
      assert.match(again.stdout, /removed 0 session files and 0 ending notes/);
      assert.match(again.stdout, /no accounts file, nothing to remove/);
    },
  );

  it('stops with one line naming a bad variable', PROCESS_TIMEOUT, async (t) => {
    const dirs = await makeDirs(t);
    const output = await runScript(['--import', 'tsx', 'scripts/reset.ts'], serverEnv(dirs, { SESSIONS_DIR: ' padded ' }));
    assert.equal(output.code, 1);
    assert.match(output.stderr, /^SESSIONS_DIR: must not start or end with spaces\n$/);
  });
});

describe('npm start', () => {
  it('stops the server and frees the port when the npm process gets SIGTERM', PROCESS_TIMEOUT, async (t) => {
    const dirs = await makeDirs(t);
    // Under `npm test`, npm names itself in npm_execpath; run by hand, the npm on PATH.
    const npmCli = process.env.npm_execpath;
    const [command, args] = npmCli === undefined ? ['npm', ['start']] : [process.execPath, [npmCli, 'start']];
    // Its own process group, so whatever npm started can be cleaned up even if it outlives npm.
    const npm = spawn(command, args, { cwd: REPO_ROOT, env: serverEnv(dirs), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    t.after(() => killGroup(npm.pid));
    let stdout = '';
    npm.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      npm.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        const match = LISTENING.exec(stdout);
        if (match !== null) resolve(match[1]!);
      });
      npm.once('exit', () => reject(new Error(`npm start exited before listening: ${stdout}`)));
    });
    assert.equal((await fetch(`${url}/login`)).status, 200);
    // npm, its shell and the server all write to this pipe: it closes once the last of them has exited.
    const allExited = new Promise<boolean>((resolve) => npm.stdout.once('close', () => resolve(true)));
    npm.kill('SIGTERM');
    assert.equal(await Promise.race([allExited, deadline(STOP_DEADLINE_MS)]), true, 'the server is still running after npm stopped');
    assert.match(stdout, /SIGTERM: finishing in-flight requests, then exiting/, 'the server stopped gracefully');
    await assert.rejects(fetch(`${url}/login`), 'nothing answers on the port any more');
    await listensOn(Number(new URL(url).port));
  });
});

/** deadline resolves false after `ms`, for a race against something that must happen first. */
function deadline(ms: number): Promise<false> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms).unref());
}

/** killGroup ends a process group, leaders and orphans alike; a group already gone is fine. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** listensOn proves `port` free by listening on it and closing again. */
function listensOn(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** runScript runs node with `args` in the repository and collects what it printed. */
function runScript(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
