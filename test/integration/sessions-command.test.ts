import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { newRecord } from '../../lib/sessions/record.ts';
import { runSessionsCommand } from '../../lib/sessions/admin.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { fakeClock, T0 } from '../support/clock.ts';
import type { FakeClock } from '../support/clock.ts';
import { bodyOf } from '../support/json.ts';
import { serverEnv } from '../support/process.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const MINUTE = 60_000;
const IDLE_MS = 30 * MINUTE;

interface Scene {
  server: TestServer;
  clock: FakeClock;
  alice: Client;
  aliceAgain: Client;
  bob: Client;
  guest: Client;
}

/** scene: alice signed in twice (one on Firefox), bob once, and a guest with a cart, a minute apart each. */
async function scene(t: TestContext): Promise<Scene> {
  const clock = fakeClock(T0);
  const server = await startTestServer(t, { idleTimeoutMs: IDLE_MS }, { clock: clock.clock });
  const [alice, aliceAgain, bob, guest] = [server.client(), server.client(), server.client(), server.client()];
  assert.equal(
    (await alice.json('POST', '/register', { username: 'alice', password: PASSWORD }, { 'User-Agent': FIREFOX_LINUX })).status,
    201,
  );
  clock.advance(MINUTE);
  assert.equal((await aliceAgain.json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
  clock.advance(MINUTE);
  assert.equal((await bob.json('POST', '/register', { username: 'bob', password: PASSWORD })).status, 201);
  clock.advance(MINUTE);
  assert.equal((await guest.json('POST', '/api/cart', { item: 'umbrella' })).status, 200);
  return { server, clock, alice, aliceAgain, bob, guest };
}

/** run runs one command against the scene's directories at the scene's time, and collects what it printed. */
async function run(s: Scene, ...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSessionsCommand(
    args,
    s.server.app.services.config,
    { out: (line) => out.push(line), err: (line) => err.push(line) },
    s.clock.clock(),
  );
  return { code, out, err };
}

function fileIdOf(client: Client): string {
  return storageKey(client.sid ?? '');
}

describe('npm run sessions -- list', () => {
  it('prints one line per live session: user or guest, file id prefix, device, created, last seen, time left', async (t) => {
    const s = await scene(t);
    const { code, out } = await run(s, 'list');
    assert.equal(code, 0);
    assert.match(out[0] ?? '', /^USER +ID +DEVICE +CREATED +LAST SEEN +TIME LEFT$/);
    assert.equal(out.length, 5);
    const iso = (minutes: number): string => new Date(T0 + minutes * MINUTE).toISOString();
    assert.match(out[1] ?? '', new RegExp(`^alice +${fileIdOf(s.alice).slice(0, 12)}… +Firefox on Linux +${iso(0)} +${iso(0)} +27m 0s$`));
    assert.match(out[2] ?? '', new RegExp(`^alice +${fileIdOf(s.aliceAgain).slice(0, 12)}… +Node\\.js +${iso(1)} +${iso(1)} +28m 0s$`));
    assert.match(out[3] ?? '', new RegExp(`^bob +${fileIdOf(s.bob).slice(0, 12)}… `));
    assert.match(out[4] ?? '', new RegExp(`^guest +${fileIdOf(s.guest).slice(0, 12)}… `));
  });

  it('leaves out expired sessions, and says so when none is left', async (t) => {
    const s = await scene(t);
    s.clock.advance(IDLE_MS - 2 * MINUTE);
    assert.deepEqual(
      (await run(s, 'list')).out.slice(1).map((line) => line.split(/ +/)[0]),
      // The guest went after GUEST_IDLE_TIMEOUT (10 minutes here), long before the users' 30.
      ['bob'],
    );
    s.clock.advance(IDLE_MS);
    assert.deepEqual((await run(s, 'list')).out, [`no live sessions in ${s.server.dirs.sessionsDir}`]);
  });
});

describe('npm run sessions -- list, for guests', () => {
  it('judges a guest by GUEST_IDLE_TIMEOUT, as the server does', async (t) => {
    const clock = fakeClock(T0);
    const server = await startTestServer(t, { idleTimeoutMs: IDLE_MS, guestIdleTimeoutMs: 10 * MINUTE }, { clock: clock.clock });
    const [user, guest] = [server.client(), server.client()];
    assert.equal((await user.json('POST', '/register', { username: 'carol', password: PASSWORD })).status, 201);
    assert.equal((await guest.json('POST', '/api/cart', { item: 'umbrella' })).status, 200);
    clock.advance(11 * MINUTE);
    const out: string[] = [];
    await runSessionsCommand(['list'], server.app.services.config, { out: (line) => out.push(line), err: () => undefined }, clock.clock());
    assert.deepEqual(
      out.slice(1).map((line) => line.split(/ +/)[0]),
      ['carol'],
    );
  });
});

describe('npm run sessions -- show', () => {
  it('prints the stored JSON of the session an id prefix names', async (t) => {
    const s = await scene(t);
    const { code, out } = await run(s, 'show', fileIdOf(s.bob).slice(0, 10));
    assert.equal(code, 0);
    const stored = await readFile(path.join(s.server.dirs.sessionsDir, `${fileIdOf(s.bob)}.json`), 'utf8');
    assert.equal(`${out.join('\n')}\n`, stored);
  });

  it('refuses an ambiguous prefix, a prefix that names nothing, and one that is not hex, with exit code 1', async (t) => {
    const s = await scene(t);
    // 40 files over 16 hex digits: some digit starts at least two of them (pigeonhole), and that one is ambiguous for sure.
    const ids = Array.from({ length: 40 }, () => storageKey(newSessionId()));
    for (const fileId of ids)
      await writeFile(path.join(s.server.dirs.sessionsDir, `${fileId}.json`), JSON.stringify(newRecord(T0, 'by hand')));
    const digit =
      Array.from({ length: 16 }, (_, value) => value.toString(16)).find((first) => ids.filter((id) => id.startsWith(first)).length >= 2) ??
      '0';
    const ambiguous = await run(s, 'show', digit);
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.err[0] ?? '', new RegExp(`^sessions: ${digit} is ambiguous: \\d+ sessions start with it`));

    const free = 'f'.repeat(64);
    const none = await run(s, 'revoke', free);
    assert.deepEqual([none.code, none.err], [1, [`sessions: no session file id starts with ${free}`]]);
    const notHex = await run(s, 'show', '../etc');
    assert.deepEqual([notHex.code, notHex.err], [1, ['sessions: "../etc" is not the start of a file id (hex digits)']]);
    assert.deepEqual([(await run(s, 'show')).code, (await run(s, 'show')).err], [1, ['sessions: show needs an ID-PREFIX']]);
  });
});

describe('npm run sessions -- revoke and revoke-user', () => {
  it('revoke ends one session: its next request finds none, the others go on', async (t) => {
    const s = await scene(t);
    const { code, out } = await run(s, 'revoke', `${fileIdOf(s.alice).slice(0, 12)}…`);
    assert.equal(code, 0);
    assert.deepEqual(out, [`revoked ${fileIdOf(s.alice).slice(0, 12)}…: its next request finds no session`]);
    const next = await s.alice.get('/api/me');
    assert.equal(next.status, 401);
    assert.equal(bodyOf(next).reason, 'revoked', 'the revoked browser is told it was signed out from elsewhere');
    assert.equal((await s.aliceAgain.get('/api/me')).status, 200);
  });

  it("revoke-user ends every session of one user, in any case of the name, and no one else's", async (t) => {
    const s = await scene(t);
    const { code, out } = await run(s, 'revoke-user', 'ALICE');
    assert.deepEqual([code, out], [0, ['revoked 2 session(s) of ALICE']]);
    for (const client of [s.alice, s.aliceAgain]) assert.equal((await client.get('/api/me')).status, 401);
    assert.equal((await s.bob.get('/api/me')).status, 200);
    assert.equal((await s.guest.get('/api/session')).status, 200, 'the guest session goes on');
  });
});

describe('npm run sessions -- sweep and stats', () => {
  it('sweep runs one sweep now and prints its counts, index repairs included', async (t) => {
    const s = await scene(t);
    const orphan = storageKey(newSessionId());
    const record = { ...newRecord(s.clock.clock(), 'created at sign-in'), user: 'bob', generation: 0 };
    await writeFile(path.join(s.server.dirs.sessionsDir, `${orphan}.json`), JSON.stringify(record), { mode: 0o600 });
    s.clock.advance(IDLE_MS - 2 * MINUTE);
    const { code, out } = await run(s, 'sweep');
    assert.equal(code, 0);
    // Expired: alice's two sessions (idle 30 minutes) and the guest (idle past GUEST_IDLE_TIMEOUT, 10 minutes here).
    // Leftovers: the orphan's missing index entry added, and alice's two entries dropped with her sessions.
    assert.match(out[0] ?? '', /: 2 live kept, 3 expired deleted, 3 leftovers \(.*\) cleaned, 0 failed$/);
    assert.equal(bodyOf(await s.alice.get('/api/me')).reason, 'idle-timeout', 'each expiry swept here is noted, as the server does');
  });

  it('stats counts sessions, guests and users, their size, and names the oldest', async (t) => {
    const s = await scene(t);
    await s.bob.json('POST', '/logout');
    const { code, out } = await run(s, 'stats');
    assert.equal(code, 0);
    assert.equal(out[0], 'sessions: 3 live (1 guest, 2 signed in)');
    assert.equal(out[1], 'users:    1 signed in');
    assert.equal(out[2], 'waiting:  0 expired or unreadable, for the sweeper');
    assert.match(out[3] ?? '', /^size: +\d+ bytes in 3 stored sessions$/);
    assert.equal(out[4], `oldest:   ${fileIdOf(s.alice).slice(0, 12)}… (alice), created ${new Date(T0).toISOString()}`);
  });
});

describe('npm run sessions, the command itself', () => {
  it('refuses an unknown command and no command with the usage and exit code 1', async (t) => {
    const s = await scene(t);
    for (const args of [['bogus'], []]) {
      const { code, err } = await run(s, ...args);
      assert.equal(code, 1);
      assert.match(err[0] ?? '', /^sessions: (unknown command "bogus"|no command given)$/);
      assert.match(err[1] ?? '', /^usage: npm run sessions -- COMMAND/);
    }
  });

  it('runs as a process with the variables of npm start, beside a running server', async (t) => {
    // The real clock here: the process reads the time itself.
    const server = await startTestServer(t);
    await register(server.client(), 'alice');
    await server.client().json('POST', '/api/cart', { item: 'umbrella' });
    const exec = promisify(execFile);
    const env = serverEnv(server.dirs);
    const stats = await exec(process.execPath, ['--import', 'tsx', 'scripts/sessions.ts', 'stats'], { cwd: REPO_ROOT, env });
    assert.match(stats.stdout, /^sessions: 2 live \(1 guest, 1 signed in\)$/m);
    const failed = await exec(process.execPath, ['--import', 'tsx', 'scripts/sessions.ts', 'list'], {
      cwd: REPO_ROOT,
      env: { ...env, SESSION_IDLE_TIMEOUT: 'soon' },
    }).catch((error: unknown) => error as { code: number; stderr: string });
    assert.equal('code' in failed ? failed.code : 0, 1);
    assert.match('stderr' in failed ? failed.stderr : '', /^SESSION_IDLE_TIMEOUT: /);
  });
});
