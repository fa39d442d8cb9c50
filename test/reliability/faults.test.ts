import assert from 'node:assert/strict';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import type { AppOptions } from '../../lib/app.ts';
import { Logger } from '../../lib/log.ts';
import { MAX_SESSION_FILE_BYTES, SESSION_FILE_MODE, SESSIONS_DIR_MODE } from '../../lib/sessions/file-store.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { entriesBesideNotes, hookedFs, pathsOf, systemError } from '../support/files.ts';
import type { FsOperation } from '../support/files.ts';
import { bodyOf, cartOf, readSessionFile, sessionView } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const PERMISSION_BITS = 0o777;

/** startLoggedServer runs the app with LOG=requests into arrays the test can read. */
async function startLoggedServer(t: TestContext, options: AppOptions = {}) {
  const lines: string[] = [];
  const errors: string[] = [];
  const logger = new Logger({ mode: 'requests', color: false, write: (text) => lines.push(text), writeError: (text) => errors.push(text) });
  const server = await startTestServer(t, {}, { logger, ...options });
  return { server, lines, errors };
}

function sessionFile(server: TestServer, sid: string): string {
  return path.join(server.dirs.sessionsDir, `${storageKey(sid)}.json`);
}

async function tempFiles(server: TestServer): Promise<string[]> {
  return (await readdir(server.dirs.sessionsDir)).filter((name) => name.endsWith('.tmp'));
}

/** A session record that is valid in every way but its size. */
function oversizedRecord(): string {
  const record = newRecord(Date.now(), 'x'.repeat(MAX_SESSION_FILE_BYTES));
  return JSON.stringify(record, null, 2);
}

function validRecordText(): string {
  return JSON.stringify(newRecord(Date.now(), 'created by hand'), null, 2);
}

/** Each way a session file can be unreadable, and the reason the log gives. */
const UNREADABLE_FILES: ReadonlyArray<{ name: string; reason: RegExp; write: (file: string) => Promise<void> }> = [
  { name: 'corrupt (not JSON)', reason: /not a session record/, write: (file) => writeFile(file, '{"version": 1, "createdAt": ') },
  { name: 'empty', reason: /empty/, write: (file) => writeFile(file, '') },
  { name: 'truncated', reason: /not a session record/, write: (file) => writeFile(file, validRecordText().slice(0, 100)) },
  { name: 'wrong-shaped (a JSON array)', reason: /not a session record/, write: (file) => writeFile(file, '[1, 2, 3]') },
  {
    name: 'wrong-shaped (a record whose cart is a string)',
    reason: /not a session record/,
    write: (file) => writeFile(file, validRecordText().replace('"cart": []', '"cart": "everything"')),
  },
  {
    name: `over-large (more than ${MAX_SESSION_FILE_BYTES} bytes)`,
    reason: /larger than/,
    write: (file) => writeFile(file, oversizedRecord()),
  },
  { name: 'a directory', reason: /not a regular file/, write: (file) => mkdir(file) },
];

describe('an unreadable session file', () => {
  for (const { name, reason, write } of UNREADABLE_FILES) {
    it(`is "no session" when it is ${name}: 401, never 500, and one log line`, async (t) => {
      const { server, lines, errors } = await startLoggedServer(t);
      const sid = newSessionId();
      const file = sessionFile(server, sid);
      await write(file);
      const browser = server.client();
      browser.cookies.set('sid', sid);

      assert.equal((await browser.get('/api/me')).status, 401);
      assert.equal((await browser.get('/api/session')).status, 401);
      assert.equal((await browser.get('/dashboard')).status, 303);
      const write2 = await browser.json('POST', '/api/cart', { item: 'fresh' });
      assert.equal(write2.status, 200, 'a write starts a new guest session');
      assert.notEqual(browser.sid, sid, 'the unreadable ID is not adopted');

      const warnings = lines.filter((line) => line.includes('unreadable'));
      assert.equal(warnings.length, 1, `expected one warning, got:\n${lines.join('\n')}`);
      assert.match(warnings[0]!, reason);
      assert.ok(warnings[0]!.includes(storageKey(sid)), 'the warning names the file');
      assert.ok(!warnings[0]!.includes(sid), 'the warning never shows the ID');
      assert.deepEqual(errors, [], 'nothing unexpected is logged');
      assert.equal(lines.filter((line) => / 5\d\d /.test(line)).length, 0);
    });
  }
});

/**
 * faultyServer starts the app with a file system that throws `code` from
 * `operation` on files in the sessions directory, while `on` is set.
 * With ENOSPC a failing writeFile first writes half of its data, as a disk
 * that fills up part-way does.
 */
async function faultyServer(t: TestContext, operation: FsOperation, code: string) {
  const state = { on: false, injected: 0 };
  let sessionsDir = '';
  const fs = hookedFs({
    before: (called, args) => {
      if (!state.on || called !== operation || !pathsOf(called, args).some((file) => file.startsWith(sessionsDir))) return;
      state.injected += 1;
      const error = systemError(code, called);
      if (called !== 'writeFile' || code !== 'ENOSPC') throw error;
      const contents = String(args[1]);
      return writeFile(String(args[0]), contents.slice(0, contents.length / 2)).then(() => {
        throw error;
      });
    },
  });
  const { server, lines, errors } = await startLoggedServer(t, { fs });
  sessionsDir = server.dirs.sessionsDir;
  return { server, lines, errors, state };
}

/** assertUnavailable checks a 503 that tells the client to retry, in JSON, without leaking what failed. */
function assertUnavailable(reply: Reply, server: TestServer, code: string): void {
  assert.equal(reply.status, 503, reply.text);
  assert.match(reply.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
  const { error, message } = bodyOf(reply);
  assert.equal(error, 'storage_unavailable');
  assert.ok(typeof message === 'string', reply.text);
  assert.match(message, /unavailable/i);
  assert.equal(reply.headers.get('set-cookie'), null, 'a failed request changes no cookie');
  for (const secret of [code, 'injected', server.dirs.sessionsDir, 'Error']) {
    assert.ok(!reply.text.includes(secret), `the answer leaks "${secret}": ${reply.text}`);
  }
}

describe('a failing disk', () => {
  // Every store call a cart addition makes on an existing session, failing each way a disk fails.
  const FAILURES = ['EACCES', 'ENOSPC', 'EMFILE'].flatMap((code) =>
    (['statSync', 'readFile', 'writeFile', 'rename'] as const).map((operation) => [operation, code] as const),
  );

  for (const [operation, code] of FAILURES) {
    it(`answers 503 with Retry-After when ${operation} fails with ${code}, and loses nothing already stored`, async (t) => {
      const { server, errors, state } = await faultyServer(t, operation, code);
      const browser = server.client();
      assert.equal((await browser.json('POST', '/api/cart', { item: 'kept' })).status, 200);
      const sid = browser.sid!;

      state.on = true;
      const failed = await browser.json('POST', '/api/cart', { item: 'lost' });
      state.on = false;

      assert.ok(state.injected > 0, `${operation} was never called`);
      assertUnavailable(failed, server, code);
      assert.ok(
        errors.some((line) => line.includes(code)),
        'the server log says what failed',
      );
      assert.deepEqual(await tempFiles(server), [], 'no temp file is left behind');
      const stored = await readSessionFile(sessionFile(server, sid));
      assert.deepEqual(stored.data.cart, ['kept']);

      assert.equal(browser.sid, sid);
      const session = await browser.get('/api/session');
      assert.equal(session.status, 200);
      assert.deepEqual(sessionView(session).data.cart, ['kept']);
      const after = await browser.json('POST', '/api/cart', { item: 'after' });
      assert.equal(after.status, 200);
      assert.deepEqual(cartOf(after), ['kept', 'after']);
    });
  }

  it("answers 503 and creates nothing when a guest's first write fails", async (t) => {
    const { server, state } = await faultyServer(t, 'writeFile', 'ENOSPC');
    const browser = server.client();
    state.on = true;
    assertUnavailable(await browser.json('POST', '/api/cart', { item: 'first' }), server, 'ENOSPC');
    state.on = false;
    assert.equal(browser.sid, undefined);
    assert.deepEqual(await readdir(server.dirs.sessionsDir), []);
  });

  it('keeps the guest session when sign-in cannot write the new one', async (t) => {
    const { server, state } = await faultyServer(t, 'rename', 'EACCES');
    const owner = server.client();
    await register(owner, 'faulty');
    await owner.json('POST', '/logout');
    const browser = server.client();
    await browser.json('POST', '/api/cart', { item: 'guest-item' });
    const guestId = browser.sid!;

    state.on = true;
    assertUnavailable(await browser.json('POST', '/login', { username: 'faulty', password: 'correct horse battery' }), server, 'EACCES');
    state.on = false;

    assert.equal(browser.sid, guestId);
    assert.deepEqual(await entriesBesideNotes(server.dirs.sessionsDir), [`${storageKey(guestId)}.json`]);
    const login = await browser.json('POST', '/login', { username: 'faulty', password: 'correct horse battery' });
    assert.equal(login.status, 200);
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['guest-item']);
  });

  it('keeps the session usable when logout cannot delete its file, and logs out once the disk recovers', async (t) => {
    const { server, state } = await faultyServer(t, 'unlink', 'EACCES');
    const browser = server.client();
    await register(browser, 'stuck');
    const sid = browser.sid!;

    state.on = true;
    assertUnavailable(await browser.json('POST', '/logout'), server, 'EACCES');
    state.on = false;

    assert.equal(browser.sid, sid, 'the cookie is not cleared while the session still exists');
    assert.equal((await browser.get('/api/me')).status, 200);
    assert.equal((await browser.json('POST', '/logout')).status, 204);
    assert.deepEqual(await entriesBesideNotes(server.dirs.sessionsDir), []);
  });
});

describe('the sessions directory deleted while the server runs', () => {
  it('is recreated, 0700, at the next write', async (t) => {
    const { server, errors } = await startLoggedServer(t);
    const earlier = server.client();
    await earlier.json('POST', '/api/cart', { item: 'gone-with-the-dir' });

    await rm(server.dirs.sessionsDir, { recursive: true, force: true });
    // A sweep of a missing directory is logged and survived, not fatal.
    await server.app.sweeper.runNow();
    assert.equal(errors.filter((line) => line.startsWith('sweeper failed')).length, 1);
    assert.equal((await earlier.get('/api/session')).status, 401);

    const browser = server.client();
    const reply = await browser.json('POST', '/api/cart', { item: 'new-dir' });
    assert.equal(reply.status, 200);
    assert.equal((await stat(server.dirs.sessionsDir)).mode & PERMISSION_BITS, SESSIONS_DIR_MODE);
    assert.equal((await stat(sessionFile(server, browser.sid!))).mode & PERMISSION_BITS, SESSION_FILE_MODE);
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['new-dir']);
  });
});
