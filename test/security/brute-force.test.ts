import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { PasswordHasher } from '../../lib/auth/passwords.ts';
import type { PasswordHash } from '../../lib/auth/passwords.ts';
import { ACCOUNT_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT, FAILURE_WINDOW_MS, LoginThrottle } from '../../lib/auth/throttle.ts';
import { headersWithoutDate, PASSWORD, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { fakeClock } from '../support/clock.ts';
import { snapshotDir } from '../support/files.ts';
import { bodyOf } from '../support/json.ts';
import { startTestServer, TEST_SCRYPT_COST } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const WRONG = 'not the password';
const MS_PER_SECOND = 1000;
const WINDOW_SECONDS = FAILURE_WINDOW_MS / MS_PER_SECOND;
const PARALLEL_LOGINS = 50;
/** scrypt at 2^14 takes tens of milliseconds, so fifty parallel sign-ins really pile up behind one slot. */
const FLOOD_SCRYPT_COST = 2 ** 14;
const FLOOD_QUEUE = 2;
const MIB = 1024 * 1024;
/** Generous: without a bound, fifty 16 MiB hashes could ask for 800 MiB. */
const MAX_RSS_GROWTH = 256 * MIB;

function login(server: TestServer, username: string, password: string, headers: Record<string, string> = {}): Promise<Reply> {
  return server.client().json('POST', '/login', { username, password }, headers);
}

function retryAfterSeconds(reply: Reply): number {
  const value = reply.headers.get('retry-after') ?? '';
  assert.match(value, /^\d+$/, 'Retry-After is a whole number of seconds');
  return Number(value);
}

/** failAcrossAccounts makes `count` failed logins, at most ACCOUNT_FAILURE_LIMIT per account, so only the address limit can trip. */
async function failAcrossAccounts(server: TestServer, count: number, headers: (i: number) => Record<string, string> = () => ({})) {
  for (let i = 0; i < count; i++) {
    const reply = await login(server, `guess${Math.floor(i / ACCOUNT_FAILURE_LIMIT)}`, WRONG, headers(i));
    assert.equal(reply.status, 401, `failure ${i + 1} of ${count}`);
  }
}

describe('brute force: guessing is throttled per account and per address, and hashing cannot be flooded', () => {
  it('locks an account after 5 failures: the next attempt gets 429 and Retry-After even with the right password', async (t) => {
    const clock = fakeClock();
    const server = await startTestServer(t, {}, { clock: clock.clock });
    await register(server.client(), 'alice', PASSWORD);
    const sessions = await snapshotDir(server.dirs.sessionsDir);
    for (let i = 0; i < ACCOUNT_FAILURE_LIMIT; i++) assert.equal((await login(server, 'alice', WRONG)).status, 401);

    const locked = await login(server, 'alice', PASSWORD);
    assert.equal(locked.status, 429);
    assert.equal(retryAfterSeconds(locked), WINDOW_SECONDS);
    assert.deepEqual(locked.json, { error: 'throttled', message: 'Too many failed sign-in attempts. Please try again in 15 minutes.' });
    assert.deepEqual(locked.headers.getSetCookie(), [], 'no session for a locked account');
    const form = await server.client().form('/login', { username: 'alice', password: PASSWORD });
    assert.equal(form.status, 429, 'an HTML form is locked out too');
    assert.equal(retryAfterSeconds(form), WINDOW_SECONDS);
    assert.equal((await login(server, 'ALICE', PASSWORD)).status, 429, 'a change of case is the same account');
    assert.deepEqual(await snapshotDir(server.dirs.sessionsDir), sessions);
  });

  it('counts unknown usernames exactly like real ones, so a lock-out tells nothing about who exists', async (t) => {
    const clock = fakeClock();
    const server = await startTestServer(t, {}, { clock: clock.clock });
    await register(server.client(), 'alice', PASSWORD);
    for (let i = 0; i < ACCOUNT_FAILURE_LIMIT; i++) {
      assert.equal((await login(server, 'alice', WRONG)).status, 401);
      assert.equal((await login(server, 'ghost', WRONG)).status, 401);
    }
    const real = await login(server, 'alice', WRONG);
    const unknown = await login(server, 'ghost', WRONG);
    assert.equal(unknown.status, 429);
    assert.equal(real.status, unknown.status);
    assert.deepEqual(headersWithoutDate(real.headers), headersWithoutDate(unknown.headers));
    assert.equal(real.text, unknown.text);
  });

  it('locks an address after 50 failures spread over many accounts', async (t) => {
    const clock = fakeClock();
    const server = await startTestServer(t, {}, { clock: clock.clock });
    await register(server.client(), 'alice', PASSWORD);
    await failAcrossAccounts(server, ADDRESS_FAILURE_LIMIT);
    const next = await login(server, 'alice', PASSWORD);
    assert.equal(next.status, 429, 'a fresh account from the same address is refused');
    assert.ok(retryAfterSeconds(next) > 0);
  });

  it('lifts the lock by itself once the 15-minute window has passed', async (t) => {
    const clock = fakeClock();
    const server = await startTestServer(t, {}, { clock: clock.clock });
    await register(server.client(), 'alice', PASSWORD);
    for (let i = 0; i < ACCOUNT_FAILURE_LIMIT; i++) assert.equal((await login(server, 'alice', WRONG)).status, 401);

    clock.advance(FAILURE_WINDOW_MS - MS_PER_SECOND);
    const almost = await login(server, 'alice', PASSWORD);
    assert.equal(almost.status, 429);
    assert.equal(retryAfterSeconds(almost), 1);
    clock.advance(MS_PER_SECOND);
    const lifted = await login(server, 'alice', PASSWORD);
    assert.equal(lifted.status, 200);
    assert.equal(bodyOf(lifted).username, 'alice');
  });

  it('with TRUST_PROXY, counts the last X-Forwarded-For entry, so a forged first entry escapes nothing', async (t) => {
    const clock = fakeClock();
    const server = await startTestServer(t, { trustProxy: true }, { clock: clock.clock });
    await register(server.client(), 'alice', PASSWORD);
    const proxied = (i: number) => ({ 'X-Forwarded-For': `198.51.100.${i % 250}, 203.0.113.7` });
    await failAcrossAccounts(server, ADDRESS_FAILURE_LIMIT, proxied);

    const forged = await login(server, 'alice', PASSWORD, { 'X-Forwarded-For': '192.0.2.1, 203.0.113.7' });
    assert.equal(forged.status, 429);
    const otherClient = await login(server, 'alice', PASSWORD, { 'X-Forwarded-For': '203.0.113.8' });
    assert.equal(otherClient.status, 200, 'another real client address is not locked');
  });

  it('without TRUST_PROXY, ignores X-Forwarded-For and counts the peer address', async (t) => {
    const clock = fakeClock();
    const server = await startTestServer(t, { trustProxy: false }, { clock: clock.clock });
    await register(server.client(), 'alice', PASSWORD);
    await failAcrossAccounts(server, ADDRESS_FAILURE_LIMIT, (i) => ({ 'X-Forwarded-For': `198.51.100.${i % 250}` }));
    assert.equal((await login(server, 'alice', PASSWORD, { 'X-Forwarded-For': '203.0.113.99' })).status, 429);
  });

  it('throttles the current-password check of a password change like a login, and changes nothing while locked', async (t) => {
    const clock = fakeClock();
    const server = await startTestServer(t, {}, { clock: clock.clock });
    const browser = server.client();
    await register(browser, 'alice', PASSWORD);
    const change = (currentPassword: string) => browser.json('POST', '/api/password', { currentPassword, newPassword: 'a new passphrase' });
    for (let i = 0; i < ACCOUNT_FAILURE_LIMIT; i++) assert.equal((await change(WRONG)).status, 403);
    const users = await readFile(server.dirs.usersFile, 'utf8');
    const locked = await change(PASSWORD);
    assert.equal(locked.status, 429);
    assert.ok(retryAfterSeconds(locked) > 0);
    assert.equal(await readFile(server.dirs.usersFile, 'utf8'), users);
  });

  it('answers all of 50 parallel logins, refuses the overflow with 503 and Retry-After, keeps serving, and stays within memory', async (t) => {
    const hasher = new PasswordHasher({ cost: FLOOD_SCRYPT_COST, concurrency: 1, maxWaiting: FLOOD_QUEUE });
    // A lenient throttle, so that only the hashing queue decides.
    const throttle = new LoginThrottle({ accountLimit: 1000, addressLimit: 1000 });
    const server = await startTestServer(t, { scryptCost: FLOOD_SCRYPT_COST }, { hasher, throttle });
    await register(server.client(), 'alice', PASSWORD);
    const rssBefore = process.memoryUsage().rss;

    const replies = await Promise.all(
      Array.from({ length: PARALLEL_LOGINS }, (_, i) =>
        login(server, i % 2 === 0 ? 'alice' : `nobody${i}`, i % 5 === 0 ? PASSWORD : WRONG),
      ),
    );
    assert.equal(replies.length, PARALLEL_LOGINS);
    for (const reply of replies) assert.ok([200, 401, 429, 503].includes(reply.status), `answered ${reply.status}`);
    const busy = replies.filter((reply) => reply.status === 503);
    assert.ok(busy.length > 0, 'the queue overflowed');
    for (const reply of busy) {
      assert.ok(retryAfterSeconds(reply) > 0);
      assert.equal(bodyOf(reply).error, 'busy');
    }
    assert.ok(
      replies.some((reply) => reply.status === 200 || reply.status === 401),
      'the queue still served some',
    );

    const after = await login(server, 'alice', PASSWORD);
    assert.equal(after.status, 200, 'the server signs people in again once the flood has passed');
    assert.ok(process.memoryUsage().rss - rssBefore < MAX_RSS_GROWTH);
  });
});

/**
 * HeldVerifier holds every password check at a gate until the test opens
 * it, so parallel guesses are all in flight at once however fast the
 * machine hashes: no guess can finish, and be counted late, before the
 * others have been let in or turned away.
 */
class HeldVerifier extends PasswordHasher {
  /** held is how many checks have reached the gate. */
  held = 0;
  /** onHold runs each time a check reaches the gate. */
  onHold: () => void = () => undefined;
  #open: () => void = () => undefined;
  #gate = new Promise<void>((resolve) => {
    this.#open = resolve;
  });

  open(): void {
    this.#open();
  }

  override async verify(password: string, stored: PasswordHash | null): Promise<boolean> {
    this.held += 1;
    this.onHold();
    await this.#gate;
    return super.verify(password, stored);
  }
}

const PARALLEL_GUESSES = 20;

/**
 * guessAllAtOnce starts every attempt, waits until each one is either held
 * at the hasher's gate or already answered, then opens the gate and
 * returns the answers, tallied by status.
 */
async function guessAllAtOnce(
  hasher: HeldVerifier,
  attempt: () => Promise<Reply>,
): Promise<{ replies: Reply[]; tally: Record<number, number> }> {
  let answered = 0;
  let allPlaced: () => void = () => undefined;
  const placed = new Promise<void>((resolve) => {
    allPlaced = resolve;
  });
  const check = (): void => {
    if (hasher.held + answered === PARALLEL_GUESSES) allPlaced();
  };
  hasher.onHold = check;
  const pending = Array.from({ length: PARALLEL_GUESSES }, () =>
    attempt().finally(() => {
      answered += 1;
      check();
    }),
  );
  await placed;
  hasher.open();
  const replies = await Promise.all(pending);
  const tally: Record<number, number> = {};
  for (const reply of replies) tally[reply.status] = (tally[reply.status] ?? 0) + 1;
  return { replies, tally };
}

describe('brute force: parallel guesses are counted before hashing, so none slip past the limit', () => {
  it(`answers ${PARALLEL_GUESSES} parallel wrong sign-ins for one account with exactly 5 × 401 and the rest 429`, async (t) => {
    const hasher = new HeldVerifier({ cost: TEST_SCRYPT_COST });
    const server = await startTestServer(t, {}, { clock: fakeClock().clock, hasher });
    await register(server.client(), 'alice', PASSWORD);

    const { replies, tally } = await guessAllAtOnce(hasher, () => login(server, 'alice', WRONG));
    assert.deepEqual(tally, { 401: ACCOUNT_FAILURE_LIMIT, 429: PARALLEL_GUESSES - ACCOUNT_FAILURE_LIMIT });
    assert.equal(hasher.held, ACCOUNT_FAILURE_LIMIT, 'only the counted guesses were hashed');
    for (const reply of replies.filter((r) => r.status === 429)) assert.equal(retryAfterSeconds(reply), WINDOW_SECONDS);
  });

  it(`answers ${PARALLEL_GUESSES} parallel password changes with a wrong current password with exactly 5 × 403 and the rest 429`, async (t) => {
    const hasher = new HeldVerifier({ cost: TEST_SCRYPT_COST });
    const server = await startTestServer(t, {}, { clock: fakeClock().clock, hasher });
    const browser = server.client();
    await register(browser, 'alice', PASSWORD);
    const users = await readFile(server.dirs.usersFile, 'utf8');

    const { replies, tally } = await guessAllAtOnce(hasher, () =>
      browser.json('POST', '/api/password', { currentPassword: WRONG, newPassword: 'a new passphrase' }),
    );
    assert.deepEqual(tally, { 403: ACCOUNT_FAILURE_LIMIT, 429: PARALLEL_GUESSES - ACCOUNT_FAILURE_LIMIT });
    assert.equal(hasher.held, ACCOUNT_FAILURE_LIMIT, 'only the counted guesses were hashed');
    for (const reply of replies.filter((r) => r.status === 429)) assert.equal(retryAfterSeconds(reply), WINDOW_SECONDS);
    assert.equal(await readFile(server.dirs.usersFile, 'utf8'), users, 'the password stays as it was');
  });
});
