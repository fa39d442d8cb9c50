import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { keyHash } from '../../lib/auth/counters.ts';
import type { PasswordHash } from '../../lib/auth/passwords.ts';
import { ACCOUNT_FAILURE_LIMIT, FAILURE_WINDOW_MS, LoginThrottle } from '../../lib/auth/throttle.ts';
import type { UserRecord } from '../../lib/auth/users.ts';
import { LockTimeoutError } from '../../lib/file-lock.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { SqliteLock } from '../../lib/storage/sqlite/lock.ts';
import type { LeasedLockOptions } from '../../lib/storage/leased-lock.ts';
import { SqliteDatabase } from '../../lib/storage/sqlite/database.ts';
import type { Storage } from '../../lib/storage/storage.ts';
import { T0 } from '../support/clock.ts';
import { raceUnderLocks } from '../support/locks.ts';
import { describeSqlite, openTestStorage, rawConnection, sqliteFile } from '../support/sqlite.ts';
import { recordOf } from './session-store-contract.ts';

const SECOND = 1000;
const HASH: PasswordHash = { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: 'c2FsdA==', hash: 'aGFzaA==' };

function user(username: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return { username, displayName: username, createdAt: '2026-11-22T03:10:00.000Z', generation: 0, password: HASH, ...overrides };
}

function guestRecord(cart: string[] = ['apple']): SessionRecord {
  return newRecord(T0, 'created as guest', { cart, theme: null });
}

/** twoHandles opens one database file twice, as two processes would. */
async function twoHandles(t: TestContext): Promise<[Storage, Storage]> {
  const file = await sqliteFile(t);
  const a = await openTestStorage(t, {}, file);
  return [a, await openTestStorage(t, {}, file)];
}

/** lockOn opens `file` once more for a SqliteLock of its own, closed when `t` ends. */
async function lockOn(t: TestContext, file: string, options: LeasedLockOptions): Promise<SqliteLock> {
  const db = await SqliteDatabase.open(file);
  t.after(() => db.close());
  return new SqliteLock(db, options);
}

/** steppedClock is a clock that moves only when waited on, for lock waits that take no real time. */
function steppedClock(start = T0): { clock: () => number; wait: (ms: number) => Promise<void> } {
  let now = start;
  return {
    clock: () => now,
    wait: async (ms) => {
      now += ms;
    },
  };
}

describeSqlite('the SQLite storage', () => {
  describe('SqliteAccountStore, beyond the shared contract', () => {
    it('refuses a row edited by hand into something that is not an account, naming the row and the field', async (t) => {
      const file = await sqliteFile(t);
      const { accounts } = await openTestStorage(t, {}, file);
      await accounts.add(user('alice'));
      (await rawConnection(t, file)).exec(`UPDATE accounts SET password = '"hunter22"'`);
      await assert.rejects(accounts.find('alice'), /accounts row of alice is not a valid account: password/);
    });
  });

  describe('SqliteCounterStore, beyond the shared contract', () => {
    it('lets exactly 5 of 20 parallel attempts through, spread over two handles on one file', async (t) => {
      const [a, b] = await twoHandles(t);
      const throttles = [new LoginThrottle({ counters: a.counters }), new LoginThrottle({ counters: b.counters })];
      const waits = await Promise.all(Array.from({ length: 20 }, (_, i) => throttles[i % 2]!.attempt('alice', `10.0.2.${i}`, T0)));
      assert.equal(waits.filter((wait) => wait === 0).length, ACCOUNT_FAILURE_LIMIT);
    });

    it('keeps a hash of each key, never the username or address itself, and drops events that left the window', async (t) => {
      const file = await sqliteFile(t);
      const { counters } = await openTestStorage(t, {}, file);
      await counters.hit('address:203.0.113.7', 5, FAILURE_WINDOW_MS, T0);
      await counters.hit('address:203.0.113.7', 5, FAILURE_WINDOW_MS, T0 + FAILURE_WINDOW_MS);
      const rows = (await rawConnection(t, file)).prepare('SELECT key, at FROM counters').all();
      assert.deepEqual(
        rows.map((row) => ({ ...row })),
        [{ key: keyHash('address:203.0.113.7'), at: T0 + FAILURE_WINDOW_MS }],
      );
    });
  });

  describe('SqliteLock, a lock row every handle on the file respects', () => {
    it('lets two handles on one file lose no update of a read-modify-write, 40 at once', async (t) => {
      const [a, b] = await twoHandles(t);
      assert.deepEqual(await raceUnderLocks([a.sessionLocks, b.sessionLocks], 40), { value: 40, mostInside: 1 });
    });

    it('leaves no row behind, whether the task succeeds or throws', async (t) => {
      const file = await sqliteFile(t);
      const { sessionLocks } = await openTestStorage(t, {}, file);
      await sessionLocks.run('tidy', async () => undefined);
      await assert.rejects(
        sessionLocks.run('tidy', async () => {
          throw new Error('task failed');
        }),
        /task failed/,
      );
      assert.deepEqual((await rawConnection(t, file)).prepare('SELECT * FROM locks').all(), []);
    });

    it("waits for a live holder's lock and gives a 503 when it stays busy past the wait, leaving the holder's row", async (t) => {
      const file = await sqliteFile(t);
      await openTestStorage(t, {}, file);
      const raw = await rawConnection(t, file);
      raw.prepare('INSERT INTO locks (key, token, expires_at) VALUES (?, ?, ?)').run('busy', 'theirs', T0 + 60 * SECOND);
      const time = steppedClock();
      const lock = await lockOn(t, file, { maxWaitMs: 1000, ...time });
      const error = await lock.run('busy', async () => 'never').catch((caught: unknown) => caught);
      assert.ok(error instanceof LockTimeoutError);
      assert.equal(error.status, 503);
      assert.equal(error.headers['Retry-After'], '1');
      assert.equal(raw.prepare('SELECT token FROM locks WHERE key = ?').get('busy')?.token, 'theirs');
    });

    it('takes the lock of a holder that never released it (killed) once its lease has run out, and not before', async (t) => {
      const file = await sqliteFile(t);
      await openTestStorage(t, {}, file);
      (await rawConnection(t, file))
        .prepare('INSERT INTO locks (key, token, expires_at) VALUES (?, ?, ?)')
        .run('dead', 'theirs', T0 + 5000);
      const time = steppedClock();
      const lock = await lockOn(t, file, { maxWaitMs: 60_000, ...time });
      await lock.run('dead', async () => undefined);
      assert.ok(time.clock() >= T0 + 5000, `took the lock at T0 + ${time.clock() - T0} ms, before the lease ran out`);
    });

    it('does not delete at release a lock that was taken by someone else after its lease', async (t) => {
      const file = await sqliteFile(t);
      const { sessionLocks } = await openTestStorage(t, {}, file);
      const raw = await rawConnection(t, file);
      await sessionLocks.run('stolen', async () => {
        raw.prepare('UPDATE locks SET token = ? WHERE key = ?').run('newer', 'stolen');
      });
      assert.equal(raw.prepare('SELECT token FROM locks WHERE key = ?').get('stolen')?.token, 'newer');
    });
  });

  describe('two handles on one file behave as one storage', () => {
    it('give exactly one of two registrations of one name at the same moment', async (t) => {
      const [a, b] = await twoHandles(t);
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all([a.accounts.add(user(`dana${round}`)), b.accounts.add(user(`DANA${round}`))]);
        assert.deepEqual(results.sort(), [false, true]);
      }
    });

    it('keep all of 40 cart additions to one session made at once, alternating between the handles under the lock', async (t) => {
      const [a, b] = await twoHandles(t);
      const id = newSessionId();
      await a.sessions.create(id, guestRecord([]));
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const storage = i % 2 === 0 ? a : b;
          return storage.sessionLocks.run(storageKey(id), async () => {
            const current = recordOf(await storage.sessions.get(id, T0));
            assert.ok(current !== null);
            await new Promise<void>((resolve) => setImmediate(resolve));
            assert.equal(
              await storage.sessions.update(id, { ...current, data: { ...current.data, cart: [...current.data.cart, `item-${i}`] } }),
              true,
            );
          });
        }),
      );
      assert.equal(recordOf(await a.sessions.get(id, T0))?.data.cart.length, 40);
    });
  });
});
