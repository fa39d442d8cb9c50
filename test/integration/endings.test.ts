import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startApp } from '../../lib/app.ts';
import { ENDING_NOTE_TTL_MS, ENDING_NOTES_DIR } from '../../lib/sessions/endings.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { Client, PASSWORD, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { fakeClock, T0 } from '../support/clock.ts';
import { silentLogger, startTestServer, testConfig } from '../support/server.ts';
import type { Cleanup, TestServer } from '../support/server.ts';

// How a browser that still holds the cookie of an ended session is told
// which ending it was: the 401's `reason`, the write that had to start a
// guest session, and the login page. The reason is remembered as a note in
// SESSIONS_DIR/ended/, named by the ID's hash (lib/sessions/endings.ts).

const SECOND = 1000;
const IDLE_SECONDS = 60;
const ABSOLUTE_SECONDS = 3600;

interface ErrorBody {
  error?: unknown;
  message?: unknown;
  reason?: unknown;
}

function errorBody(reply: Reply): ErrorBody {
  return reply.json as ErrorBody;
}

async function clockedServer(t: Cleanup): Promise<{ server: TestServer; advance: (ms: number) => void }> {
  const clock = fakeClock(T0);
  const server = await startTestServer(
    t,
    { idleTimeoutMs: IDLE_SECONDS * SECOND, absoluteTimeoutMs: ABSOLUTE_SECONDS * SECOND },
    { clock: clock.clock },
  );
  return { server, advance: (ms: number) => clock.advance(ms) };
}

/** holder is a second client holding the same session cookie as `client`: another tab, or a thief. */
function holder(server: TestServer, client: Client): Client {
  const copy = server.client();
  for (const [name, value] of client.cookies) copy.cookies.set(name, value);
  return copy;
}

/** assertEnded checks a 401 that names `reason` and explains it in `message`. */
function assertEnded(reply: Reply, reason: string, wording: RegExp): void {
  assert.equal(reply.status, 401, reply.text);
  const body = errorBody(reply);
  assert.ok(body.error === 'not_signed_in' || body.error === 'no_session', String(body.error));
  assert.equal(body.reason, reason);
  assert.match(String(body.message), wording);
}

describe('a 401 says why the session ended', () => {
  it('idle-timeout: on the read that finds it expired, and on every request after', async (t) => {
    const { server, advance } = await clockedServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    advance(IDLE_SECONDS * SECOND);
    assertEnded(await alice.get('/api/me'), 'idle-timeout', /not used for 1 minute \(the idle timeout\)/);
    assertEnded(await alice.get('/api/session'), 'idle-timeout', /idle timeout/);
  });

  it('absolute-timeout: however much the session was used', async (t) => {
    const { server, advance } = await clockedServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    // Used every half minute: never idle for the minute the idle timeout allows.
    const uses = (2 * ABSOLUTE_SECONDS) / IDLE_SECONDS;
    for (let use = 1; use < uses; use += 1) {
      advance((IDLE_SECONDS / 2) * SECOND);
      assert.equal((await alice.get('/api/me')).status, 200);
    }
    advance((IDLE_SECONDS / 2) * SECOND);
    assertEnded(await alice.get('/api/me'), 'absolute-timeout', /began more than 1 hour ago \(the absolute timeout\)/);
  });

  it('signed-out: another tab holding the same cookie is told it signed out', async (t) => {
    const server = await startTestServer(t);
    const tab = server.client();
    await register(tab, 'alice');
    const otherTab = holder(server, tab);
    assert.equal((await tab.form('/logout', {})).headers.get('location'), '/login?reason=signed-out');
    assertEnded(await otherTab.get('/api/me'), 'signed-out', /You signed out/);
  });

  it('password-changed: every other session of the user, at its next request', async (t) => {
    const server = await startTestServer(t);
    const laptop = server.client();
    await register(laptop, 'alice');
    const phone = server.client();
    await phone.json('POST', '/login', { username: 'alice', password: PASSWORD });
    const changed = await laptop.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'a brand new password' });
    assert.equal(changed.status, 200);
    assertEnded(await phone.get('/api/session'), 'password-changed', /password of your account was changed/);
    assert.equal(phone.sid, undefined, 'the answer that tells also clears the dead cookie');
    assert.equal((await laptop.get('/api/me')).status, 200, 'the session that changed it carries on');
  });

  it('account-removed: a session whose account no longer exists', async (t) => {
    const server = await startTestServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    await register(server.client(), 'bob');
    // The account is removed by hand, as an administrator would.
    const file = JSON.parse(await readFile(server.dirs.usersFile, 'utf8')) as { version: 1; users: Array<{ username: string }> };
    await writeFile(server.dirs.usersFile, JSON.stringify({ ...file, users: file.users.filter((user) => user.username !== 'alice') }));
    assertEnded(await alice.get('/api/me'), 'account-removed', /its account no longer exists/);
  });

  it('gives no reason for a cookie that never named a session, or one replaced at sign-in', async (t) => {
    const server = await startTestServer(t);
    const stranger = server.client();
    stranger.cookies.set('sid', newSessionId());
    const unknown = await stranger.get('/api/me');
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.json, { error: 'not_signed_in', message: 'Sign in first.' });

    // A planted or seen guest ID learns nothing when its victim signs in: rotation leaves no note.
    const victim = server.client();
    await victim.json('POST', '/api/cart', { item: 'umbrella' });
    const planted = holder(server, victim);
    await register(victim, 'alice');
    const after = await planted.get('/api/session');
    assert.equal(after.status, 401);
    assert.equal(errorBody(after).reason, undefined);
  });

  it('tells another process the reason too: the note is a file', async (t) => {
    const server = await startTestServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    const otherTab = holder(server, alice);
    await alice.json('POST', '/logout');
    const second = await startApp(testConfig(server.dirs), { logger: silentLogger() });
    t.after(() => second.close());
    const elsewhere = new Client(second.url);
    for (const [name, value] of otherTab.cookies) elsewhere.cookies.set(name, value);
    assertEnded(await elsewhere.get('/api/me'), 'signed-out', /signed out/);
  });

  it('keeps the note under the hash of the ID, holding only the ending and its time', async (t) => {
    const server = await startTestServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    const id = alice.sid!;
    await alice.json('POST', '/logout');
    const notesDir = path.join(server.dirs.sessionsDir, ENDING_NOTES_DIR);
    assert.deepEqual(await readdir(notesDir), [storageKey(id)]);
    const note = JSON.parse(await readFile(path.join(notesDir, storageKey(id)), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(note).sort(), ['at', 'ending']);
    assert.equal(note.ending, 'signed-out');
  });
});

describe('the sweeper and the notes', () => {
  it('notes the sessions it expires, and deletes notes older than a day', async (t) => {
    const { server, advance } = await clockedServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    advance(IDLE_SECONDS * SECOND);
    await server.app.sweeper.runNow();
    assert.deepEqual(await readdir(server.dirs.sessionsDir).then((names) => names.filter((name) => name.endsWith('.json'))), []);
    assertEnded(await alice.get('/api/me'), 'idle-timeout', /idle timeout/);

    advance(ENDING_NOTE_TTL_MS);
    await server.app.sweeper.runNow();
    assert.deepEqual(await readdir(path.join(server.dirs.sessionsDir, ENDING_NOTES_DIR)), []);
    const forgotten = await alice.get('/api/me');
    assert.equal(forgotten.status, 401);
    assert.equal(errorBody(forgotten).reason, undefined, 'a day later the browser is simply told "no session"');
  });
});

describe('a write that had to start a guest session says so', () => {
  it('answers the cart item with the ending of the session it found', async (t) => {
    const { server, advance } = await clockedServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    advance(IDLE_SECONDS * SECOND);
    const reply = await alice.json('POST', '/api/cart', { item: 'umbrella' });
    assert.equal(reply.status, 200);
    const body = reply.json as { cart: string[]; ended: { reason: string; message: string } | undefined };
    assert.deepEqual(body.cart, ['umbrella']);
    assert.ok(body.ended, reply.text);
    assert.equal(body.ended.reason, 'idle-timeout');
    assert.match(body.ended.message, /idle timeout/);
    const theme = await alice.json('PUT', '/api/preferences', { theme: 'dark' });
    assert.deepEqual(theme.json, { theme: 'dark' }, 'the guest session is live now: nothing more to say');
  });

  it("names a guest's own idle timeout when it is shorter", async (t) => {
    const clock = fakeClock(T0);
    const server = await startTestServer(
      t,
      { idleTimeoutMs: IDLE_SECONDS * SECOND, guestIdleTimeoutMs: 30 * SECOND },
      { clock: clock.clock },
    );
    const guest = server.client();
    await guest.json('POST', '/api/cart', { item: 'umbrella' });
    clock.advance(30 * SECOND);
    const reply = await guest.json('POST', '/api/cart', { item: 'scarf' });
    const { ended } = reply.json as { ended?: { reason: string; message: string } };
    assert.equal(ended?.reason, 'idle-timeout', reply.text);
    assert.match(ended.message, /not used for 1 minute \(the idle timeout; 30 seconds for a guest session\)/);
  });
});

describe('the login page says why you are there', () => {
  it('names the ending from ?reason=, worded with the timeouts in force', async (t) => {
    const { server } = await clockedServer(t);
    const page = await server.client().get('/login?reason=idle-timeout');
    assert.match(page.text, /<p id="page-notice" class="notice" role="status">Your session expired: it was not used for 1 minute/);
    const signedOut = await server.client().get('/login?reason=signed-out');
    assert.match(signedOut.text, /id="page-notice"[^>]*>You signed out/);
  });

  it('says which page needs signing in, and shows nothing for an unknown reason', async (t) => {
    const server = await startTestServer(t);
    assert.match((await server.client().get('/login?next=%2Fprofile')).text, /id="page-notice"[^>]*>Sign in to see \/profile\.</);
    for (const reason of ['toString', '__proto__', '%3Cscript%3E']) {
      assert.doesNotMatch((await server.client().get(`/login?reason=${reason}`)).text, /page-notice/, reason);
    }
  });

  it('is sent there with the reason when an ended session asks for a protected page', async (t) => {
    const { server, advance } = await clockedServer(t);
    const alice = server.client();
    await register(alice, 'alice');
    advance(IDLE_SECONDS * SECOND);
    const reply = await alice.get('/profile');
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/login?next=%2Fprofile&reason=idle-timeout');
    assert.equal((await server.client().get('/profile')).headers.get('location'), '/login?next=%2Fprofile');
  });

  it('says how long to wait once sign-in is throttled (Retry-After in minutes)', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'carol');
    let last: Reply | undefined;
    for (let attempt = 0; attempt < 6; attempt += 1)
      last = await server.client().form('/login', { username: 'carol', password: 'wrong guess' });
    assert.equal(last?.status, 429);
    assert.equal(last.headers.get('retry-after'), '900');
    assert.match(
      last.text,
      /id="page-error" class="form-error" role="alert">Too many failed sign-in attempts\. Please try again in 15 minutes\./,
    );
  });
});
