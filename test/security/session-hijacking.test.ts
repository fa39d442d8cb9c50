import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { startApp } from '../../lib/app.ts';
import { PasswordHasher } from '../../lib/auth/passwords.ts';
import type { PasswordHash } from '../../lib/auth/passwords.ts';
import type { UserRecord } from '../../lib/auth/users.ts';
import { Logger } from '../../lib/log.ts';
import { Client, PASSWORD, register, SESSION_ID_PATTERN, sessionCookieOf } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { filesUnder } from '../support/files.ts';
import { bodyOf } from '../support/json.ts';
import { answerOf, RawExchange } from '../support/raw-http.ts';
import { makeDirs, startTestServer, TEST_SCRYPT_COST, testConfig, silentLogger } from '../support/server.ts';

const NEW_PASSWORD = 'the victim changed it';
/** Event-loop turns to wait for a request to reach its body before the test gives up. */
const MAX_TURNS = 10_000;

/**
 * GatedHasher holds back hashing one chosen password until the test opens
 * the gate: a deterministic way to let another request run in the middle
 * of a slow hash.
 */
class GatedHasher extends PasswordHasher {
  held: string | undefined;
  #reached: () => void = () => undefined;
  #open: () => void = () => undefined;
  /** reached settles when a hash of `held` is waiting at the gate. */
  reached = new Promise<void>((resolve) => {
    this.#reached = resolve;
  });
  #gate = new Promise<void>((resolve) => {
    this.#open = resolve;
  });

  open(): void {
    this.#open();
  }

  override async hash(password: string): Promise<PasswordHash> {
    const result = await super.hash(password);
    if (password === this.held) {
      this.#reached();
      await this.#gate;
    }
    return result;
  }
}

async function storedUser(usersFile: string, username: string): Promise<UserRecord> {
  const users = JSON.parse(await readFile(usersFile, 'utf8')) as { users: UserRecord[] };
  return users.users.find((user) => user.username === username)!;
}

/** Logs may show an ID's first 6 characters; any longer run of it would be a leak. */
const LONGEST_LOGGED_RUN = 6;
const PREFIX_LENGTH = 6;

function assertSessionCookieFlags(reply: Reply, name: string, secure: boolean): string {
  const cookie = sessionCookieOf(reply);
  assert.equal(cookie.name, name);
  assert.match(cookie.value, SESSION_ID_PATTERN);
  assert.equal(cookie.attributes.get('httponly'), true, 'HttpOnly: page scripts (and so XSS) cannot read it');
  assert.equal(cookie.attributes.get('samesite'), 'Lax', 'SameSite=Lax: not sent on cross-site POSTs');
  assert.equal(cookie.attributes.get('path'), '/');
  assert.equal(cookie.attributes.has('domain'), false, 'no Domain: sibling subdomains never receive it');
  assert.equal(cookie.attributes.has('max-age'), false, 'a browser-session cookie');
  assert.equal(cookie.attributes.has('expires'), false, 'a browser-session cookie');
  assert.equal(cookie.attributes.has('secure'), secure);
  return cookie.value;
}

describe('session hijacking: the ID travels only in a locked-down cookie and leaks nowhere', () => {
  it('sets the cookie HttpOnly, SameSite=Lax, Path=/, without Domain or expiry, over plain HTTP', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().json('POST', '/register', { username: 'alice', password: PASSWORD });
    assert.equal(reply.status, 201);
    assertSessionCookieFlags(reply, 'sid', false);
  });

  it('with COOKIE_SECURE=true names it __Host-sid and marks it Secure, and reads it back under that name', async (t) => {
    const server = await startTestServer(t, { cookieSecure: 'true' });
    const browser = server.client();
    const reply = await browser.json('POST', '/register', { username: 'alice', password: PASSWORD });
    assertSessionCookieFlags(reply, '__Host-sid', true);
    assert.equal(bodyOf(await browser.get('/api/me')).username, 'alice');

    const plainName = new Client(server.url);
    plainName.cookies.set('sid', browser.sid!);
    assert.equal((await plainName.get('/api/me')).status, 401, 'a non-prefixed cookie (tossable by a subdomain) is not read');
  });

  it('with TRUST_PROXY=true and X-Forwarded-Proto: https, marks it Secure under COOKIE_SECURE=auto', async (t) => {
    const server = await startTestServer(t, { cookieSecure: 'auto', trustProxy: true });
    const reply = await server
      .client()
      .json('POST', '/register', { username: 'alice', password: PASSWORD }, { 'X-Forwarded-Proto': 'https' });
    assertSessionCookieFlags(reply, '__Host-sid', true);
    const plain = await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD });
    assertSessionCookieFlags(plain, 'sid', false);
  });

  it('without TRUST_PROXY, ignores a client-sent X-Forwarded-Proto: https', async (t) => {
    const server = await startTestServer(t, { cookieSecure: 'auto', trustProxy: false });
    const reply = await server
      .client()
      .json('POST', '/register', { username: 'alice', password: PASSWORD }, { 'X-Forwarded-Proto': 'https' });
    assertSessionCookieFlags(reply, 'sid', false);
  });

  it('with COOKIE_SECURE=false never marks it Secure, even behind a trusted HTTPS proxy', async (t) => {
    const server = await startTestServer(t, { cookieSecure: 'false', trustProxy: true });
    const reply = await server
      .client()
      .json('POST', '/register', { username: 'alice', password: PASSWORD }, { 'X-Forwarded-Proto': 'https' });
    assertSessionCookieFlags(reply, 'sid', false);
  });

  it('makes a captured ID useless after logout: the file is deleted and the cookie cleared with the same attributes', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'alice', PASSWORD);
    const captured = browser.sid!;

    const logout = await browser.form('/logout', {});
    assert.equal(logout.status, 303);
    const cleared = sessionCookieOf(logout);
    assert.equal(cleared.name, 'sid');
    assert.equal(cleared.value, '');
    assert.equal(cleared.attributes.get('max-age'), '0');
    assert.equal(cleared.attributes.get('path'), '/');
    assert.equal(cleared.attributes.get('httponly'), true);
    assert.equal(cleared.attributes.get('samesite'), 'Lax');
    assert.equal(
      cleared.attributes.has('secure'),
      false,
      'a browser keeps no Secure cookie sent over plain HTTP, so it would not clear one',
    );

    const thief = server.client();
    thief.cookies.set('sid', captured);
    assert.equal((await thief.get('/api/me')).status, 401);
    assert.equal((await thief.get('/dashboard')).status, 303);
    assert.equal((await thief.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'stolen session' })).status, 401);
  });

  it('never writes the raw ID to disk, a URL, a page body or a log line (logs show a 6-character prefix at most)', async (t) => {
    const lines: string[] = [];
    const logger = new Logger({ mode: 'explain', color: false, write: (text) => lines.push(text), writeError: (text) => lines.push(text) });
    const server = await startTestServer(t, {}, { logger });
    const ids = new Set<string>();
    const locations: string[] = [];
    const bodies: string[] = [];
    const browser = server.client();
    const otherDevice = server.client();
    const step = async (client: Client, request: Promise<Reply>): Promise<Reply> => {
      const reply = await request;
      if (client.sid !== undefined) ids.add(client.sid);
      const location = reply.headers.get('location');
      if (location !== null) locations.push(location);
      bodies.push(reply.text);
      return reply;
    };

    await step(browser, browser.get('/login'));
    await step(browser, browser.json('POST', '/api/cart', { item: 'umbrella' }));
    await step(browser, browser.json('PUT', '/api/preferences', { theme: 'dark' }));
    await step(browser, browser.get('/login'));
    await step(browser, browser.get('/api/session'));
    await step(browser, browser.form('/register', { username: 'alice', password: PASSWORD }));
    await step(browser, browser.get('/'));
    await step(browser, browser.get('/dashboard'));
    await step(browser, browser.get('/profile'));
    await step(browser, browser.get('/api/me'));
    await step(browser, browser.get('/api/session'));
    await step(browser, browser.json('PATCH', '/api/profile', { displayName: 'Alice' }));
    await step(otherDevice, otherDevice.form('/login', { username: 'alice', password: PASSWORD, next: '/profile' }));
    await step(browser, browser.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: 'another passphrase' }));
    await step(otherDevice, otherDevice.get('/dashboard'));
    await step(browser, browser.get('/api/session'));
    await step(browser, browser.form('/logout', {}));
    await step(browser, browser.form('/login', { username: 'alice', password: 'another passphrase', next: '/profile' }));
    await step(browser, browser.get('/profile'));
    assert.ok(ids.size >= 5, `the journey issued several IDs (${ids.size})`);

    const files = await filesUnder(server.dirs.root);
    assert.ok(files.length > 0);
    for (const id of ids) {
      for (const location of locations) assert.ok(!location.includes(id), `an ID appeared in Location: ${location}`);
      for (const body of bodies) assert.ok(!body.includes(id), 'an ID appeared in a response body');
      for (const file of files) {
        assert.ok(!path.basename(file).includes(id), `an ID names a file: ${file}`);
        assert.ok(!(await readFile(file, 'latin1')).includes(id), `an ID is written in ${file}`);
      }
      const log = lines.join('\n');
      for (let start = 0; start + LONGEST_LOGGED_RUN < id.length; start++) {
        const run = id.slice(start, start + LONGEST_LOGGED_RUN + 1);
        assert.ok(!log.includes(run), `the log holds ${LONGEST_LOGGED_RUN + 1} or more characters of an ID`);
      }
    }
    // The log did narrate the sessions, by prefix: the check above looked at real output.
    assert.ok([...ids].some((id) => lines.some((line) => line.includes(`${id.slice(0, PREFIX_LENGTH)}…`))));
  });

  it('keeps session files 0600 in 0700 directories, and the users file 0600, so other local users cannot read them', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await browser.json('POST', '/api/cart', { item: 'umbrella' });
    await register(browser, 'alice', PASSWORD);
    const permissions = async (file: string) => (await stat(file)).mode & 0o777;
    assert.equal(await permissions(server.dirs.sessionsDir), 0o700);
    // The user index (a folder per user, a marker per session) is held to the same modes.
    const entries = await readdir(server.dirs.sessionsDir, { recursive: true, withFileTypes: true });
    assert.ok(entries.some((entry) => entry.isDirectory()) && entries.some((entry) => entry.isFile()));
    for (const entry of entries) {
      const file = path.join(entry.parentPath, entry.name);
      assert.equal(await permissions(file), entry.isDirectory() ? 0o700 : 0o600, file);
    }
    assert.equal(await permissions(server.dirs.usersFile), 0o600);
  });

  it('does not let a stolen session outlive a password change through a slow request still in flight', async (t) => {
    const server = await startTestServer(t);
    const victim = server.client();
    await register(victim, 'alice', PASSWORD);
    const thief = server.client();
    assert.equal((await thief.json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);

    // The thief starts a profile change and trickles its body, holding the request open.
    let inFlight: IncomingMessage | undefined;
    server.app.server.once('request', (req: IncomingMessage) => {
      inFlight = req;
    });
    const body = JSON.stringify({ displayName: 'still here' });
    const { host } = new URL(server.url);
    const slow = await RawExchange.open(server.url);
    await slow.write(
      `PATCH /api/profile HTTP/1.1\r\nHost: ${host}\r\nCookie: sid=${thief.sid}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
    );
    // Wait until the handler has checked the session and is reading the body.
    for (let turn = 0; turn < MAX_TURNS && (inFlight === undefined || inFlight.listenerCount('readable') === 0); turn++) await nextTurn();
    assert.ok(inFlight !== undefined && inFlight.listenerCount('readable') > 0, 'the slow request is reading its body');

    const change = await victim.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(change.status, 200);
    await slow.write(body.slice(5));
    const slowReply = await answerOf(slow);
    assert.equal(slowReply.status, 401, 'the slow request finds its session ended by the change');
    assert.equal((await storedUser(server.dirs.usersFile, 'alice')).displayName, 'alice', "the thief's change was not saved");

    assert.equal((await thief.get('/api/me')).status, 401, "the thief's session stays ended");
    assert.equal((await victim.get('/api/me')).status, 200, "the victim's new session stays valid");
    assert.equal(
      (await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD })).status,
      401,
      'the old password stays dead',
    );
    assert.equal((await server.client().json('POST', '/login', { username: 'alice', password: NEW_PASSWORD })).status, 200);
    assert.equal((await storedUser(server.dirs.usersFile, 'alice')).generation, 1);
  });

  it('does not let a sign-in with the old password, finishing after a password change, undo the change', async (t) => {
    const dirs = await makeDirs(t);
    const silent = silentLogger();
    const first = await startApp(testConfig(dirs), { logger: silent });
    const victimBefore = new Client(first.url);
    await register(victimBefore, 'alice', PASSWORD);
    await first.close();

    // A raised cost makes the next sign-in re-hash the password: a slow step the gate holds open.
    const hasher = new GatedHasher({ cost: TEST_SCRYPT_COST * 2 });
    hasher.held = PASSWORD;
    const app = await startApp(testConfig(dirs, { scryptCost: TEST_SCRYPT_COST * 2 }), { logger: silent, hasher });
    t.after(() => app.close());
    const victim = new Client(app.url);
    victim.cookies.set('sid', victimBefore.sid!);
    assert.equal((await victim.get('/api/me')).status, 200);

    // The thief knows the old password; their sign-in stops at the gate, mid-upgrade.
    const thief = new Client(app.url);
    const thiefLogin = thief.json('POST', '/login', { username: 'alice', password: PASSWORD });
    await hasher.reached;
    const change = await victim.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(change.status, 200);
    hasher.open();
    await thiefLogin;

    assert.equal((await thief.get('/api/me')).status, 401, "the thief's sign-in does not survive the change");
    assert.equal((await victim.get('/api/me')).status, 200, 'the victim stays signed in');
    assert.equal((await new Client(app.url).json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 401);
    assert.equal((await new Client(app.url).json('POST', '/login', { username: 'alice', password: NEW_PASSWORD })).status, 200);
    assert.equal((await storedUser(dirs.usersFile, 'alice')).generation, 1);
  });
});

describe('session hijacking: over HTTPS, logout clears the Secure cookie it set', () => {
  it('clears __Host-sid with the same Secure, HttpOnly, SameSite=Lax and Path=/ it was set with', async (t) => {
    const server = await startTestServer(t, { cookieSecure: 'true' });
    const browser = server.client();
    await register(browser, 'alice', PASSWORD);

    const cleared = sessionCookieOf(await browser.form('/logout', {}));
    assert.equal(cleared.name, '__Host-sid');
    assert.equal(cleared.value, '');
    assert.equal(cleared.attributes.get('max-age'), '0');
    assert.equal(
      cleared.attributes.get('secure'),
      true,
      'a __Host- cookie without Secure is refused by the browser, which would keep the old one',
    );
    assert.equal(cleared.attributes.get('httponly'), true);
    assert.equal(cleared.attributes.get('samesite'), 'Lax');
    assert.equal(cleared.attributes.get('path'), '/');
  });
});
