import assert from 'node:assert/strict';
import { describe, it as test } from 'node:test';
import type { TestContext } from 'node:test';
import type { PasswordHash } from '../../lib/auth/passwords.ts';
import type { UserRecord } from '../../lib/auth/users.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import type { Timeouts } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import type { Storage, StoredSession } from '../../lib/storage/storage.ts';
import { T0 } from '../support/clock.ts';
import { CONTRACT_TIMEOUTS, recordOf, storeContract } from '../unit/session-store-contract.ts';
import type { Difference } from '../unit/session-store-contract.ts';

/**
 * OpenStorage opens a fresh, empty storage for one test, and `again` opens a
 * second handle on the very same data, as a second process would (for
 * STORE=memory, which no second process can share, `again` is null).
 */
export type OpenStorage = (t: TestContext, timeouts: Timeouts) => Promise<{ storage: Storage; again: (() => Promise<Storage>) | null }>;

const MINUTE = 60_000;
const HASH: PasswordHash = { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: 'c2FsdA==', hash: 'aGFzaA==' };

function account(username: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return { username, displayName: username, createdAt: new Date(T0).toISOString(), generation: 0, password: HASH, ...overrides };
}

/** inOrder records when each task of a lock starts and ends, to tell whether two overlapped. */
function overlapProbe() {
  let inside = 0;
  let most = 0;
  return {
    task: async (): Promise<void> => {
      inside += 1;
      most = Math.max(most, inside);
      await new Promise<void>((resolve) => setImmediate(resolve));
      inside -= 1;
    },
    most: () => most,
  };
}

/**
 * storageContract checks that a storage keeps every part of the Storage
 * contract (lib/storage/storage.ts): the session contract suite over its
 * sessions, then accounts, counters, the session lock, and the storage's
 * own walk, sweep and naming. Each backend calls it once; `differences`
 * names what one deliberately does not keep, with the reason, as
 * storeContract does: a case of either suite, skipped with its reason.
 */
export function storageContract(name: string, open: OpenStorage, differences: readonly Difference[] = []): void {
  const fresh = (t: TestContext) => open(t, CONTRACT_TIMEOUTS);
  const cases = new Set<string>();
  const it = (title: string, fn: (t: TestContext) => Promise<void>): void => {
    cases.add(title);
    const difference = differences.find((entry) => entry.case === title);
    test(title, difference === undefined ? {} : { skip: `deliberate difference: ${difference.reason}` }, fn);
  };

  describe(`${name} keeps the Storage contract`, () => {
    describe('accounts', () => {
      it('finds an added account by its name in any case, and nothing for a name never added', async (t) => {
        const { storage } = await fresh(t);
        assert.equal(await storage.accounts.add(account('Alice')), true);
        assert.equal((await storage.accounts.find('aLICE'))?.username, 'Alice');
        assert.equal(await storage.accounts.find('bob'), null);
      });

      it('refuses a name that is taken in any case, keeping the first account', async (t) => {
        const { storage } = await fresh(t);
        await storage.accounts.add(account('alice', { displayName: 'First' }));
        assert.equal(await storage.accounts.add(account('ALICE', { displayName: 'Second' })), false);
        assert.equal((await storage.accounts.find('alice'))?.displayName, 'First');
      });

      it('gives exactly one of many registrations of one name at the same moment', async (t) => {
        const { storage } = await fresh(t);
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, n) => storage.accounts.add(account('carol', { displayName: `try ${n}` }))),
        );
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('applies a change to the account as stored, so parallel changes are all kept', async (t) => {
        const { storage } = await fresh(t);
        await storage.accounts.add(account('dave'));
        await Promise.all(
          Array.from({ length: 10 }, () =>
            storage.accounts.update('DAVE', (current) => ({ ...current, generation: current.generation + 1 })),
          ),
        );
        assert.equal((await storage.accounts.find('dave'))?.generation, 10);
      });

      it('changes nothing for an unknown name, and nothing when the change throws', async (t) => {
        const { storage } = await fresh(t);
        assert.equal(await storage.accounts.update('nobody', (current) => current), null);
        await storage.accounts.add(account('erin'));
        await assert.rejects(
          storage.accounts.update('erin', () => {
            throw new Error('refused by the change');
          }),
          /refused by the change/,
        );
        assert.deepEqual(await storage.accounts.find('erin'), account('erin'));
      });

      it('keeps a stored account safe from the objects it was given and gave out', async (t) => {
        const { storage } = await fresh(t);
        const given = account('frank');
        await storage.accounts.add(given);
        given.displayName = 'changed by the caller';
        const found = await storage.accounts.find('frank');
        assert.equal(found?.displayName, 'frank');
      });
    });

    describe('counters', () => {
      it('counts up to the limit, then refuses with the time until the oldest event leaves the window', async (t) => {
        const { storage } = await fresh(t);
        for (let n = 0; n < 3; n += 1) assert.equal(await storage.counters.hit('k', 3, 10 * MINUTE, T0 + n * MINUTE), 0);
        assert.equal(await storage.counters.hit('k', 3, 10 * MINUTE, T0 + 4 * MINUTE), 6 * MINUTE);
        assert.equal(await storage.counters.hit('k', 3, 10 * MINUTE, T0 + 10 * MINUTE), 0, 'the oldest event has left the window');
      });

      it('lets exactly `limit` of many parallel hits through', async (t) => {
        const { storage } = await fresh(t);
        const waits = await Promise.all(Array.from({ length: 12 }, () => storage.counters.hit('burst', 5, MINUTE, T0)));
        assert.equal(waits.filter((wait) => wait === 0).length, 5);
      });

      it('forgets one event, or every event of a key, and a key it never saw without complaint', async (t) => {
        const { storage } = await fresh(t);
        await storage.counters.hit('k', 2, MINUTE, T0);
        await storage.counters.hit('k', 2, MINUTE, T0 + 1);
        await storage.counters.forget('k', T0 + 1);
        assert.equal(await storage.counters.hit('k', 2, MINUTE, T0 + 2), 0, 'one place freed by forgetting one event');
        await storage.counters.forget('k');
        assert.equal(await storage.counters.hit('k', 1, MINUTE, T0 + 3), 0, 'every event forgotten');
        await storage.counters.forget('never-seen');
      });

      it('keeps keys apart', async (t) => {
        const { storage } = await fresh(t);
        await storage.counters.hit('a', 1, MINUTE, T0);
        assert.equal(await storage.counters.hit('b', 1, MINUTE, T0), 0);
      });
    });

    describe('the session lock', () => {
      it('runs the tasks of one key one after another, and passes results and errors through', async (t) => {
        const { storage } = await fresh(t);
        const key = storageKey(newSessionId());
        const probe = overlapProbe();
        await Promise.all(Array.from({ length: 6 }, () => storage.sessionLocks.run(key, probe.task)));
        assert.equal(probe.most(), 1);
        assert.equal(await storage.sessionLocks.run(key, async () => 42), 42);
        await assert.rejects(
          storage.sessionLocks.run(key, async () => {
            throw new Error('task failed');
          }),
          /task failed/,
        );
        assert.equal(await storage.sessionLocks.run(key, async () => 'free again'), 'free again', 'a failed task releases the lock');
      });

      it('runs the tasks of different keys side by side', async (t) => {
        const { storage } = await fresh(t);
        // Each task waits inside its lock until all four are inside: only locks that let them run side by side get there.
        const count = 4;
        let inside = 0;
        let allInside!: () => void;
        const together = new Promise<void>((resolve) => (allInside = resolve));
        const gaveUp = new Promise<string>((resolve) => setTimeout(() => resolve('gave up'), 5000).unref());
        const task = async (): Promise<string> => {
          inside += 1;
          if (inside === count) allInside();
          return Promise.race([together.then(() => 'together'), gaveUp]);
        };
        const results = await Promise.all(Array.from({ length: count }, () => storage.sessionLocks.run(storageKey(newSessionId()), task)));
        assert.deepEqual(results, Array(count).fill('together'));
      });
    });

    describe('ending notes', () => {
      it('keeps why a session ended under its file id, and says nothing for one that never ended', async (t) => {
        const { storage } = await fresh(t);
        const fileId = storageKey(newSessionId());
        assert.equal(await storage.endings.find(fileId), null);
        assert.equal(await storage.endings.record(fileId, 'signed-out', T0), true);
        assert.equal(await storage.endings.find(fileId), 'signed-out');
        await storage.endings.record(fileId, 'revoked', T0 + 1);
        assert.equal(await storage.endings.find(fileId), 'revoked', 'a later note replaces the earlier one');
        assert.ok(storage.endings.place.length > 0);
      });

      it('notes the ending of each session its sweep finds expired', async (t) => {
        const { storage } = await fresh(t);
        const id = newSessionId();
        await storage.sessions.create(id, newRecord(T0, 'created as guest'));
        await storage.sweep(T0 + 35 * MINUTE);
        assert.equal(await storage.endings.find(storageKey(id)), 'idle-timeout');
      });
    });

    describe('the storage itself', () => {
      it('walks every stored session with its file id, size and record', async (t) => {
        const { storage } = await fresh(t);
        const id = newSessionId();
        await storage.sessions.create(id, newRecord(T0, 'created as guest', { cart: ['pear'], theme: 'light' }));
        const walked: StoredSession[] = [];
        for await (const stored of storage.all()) walked.push(stored);
        assert.equal(walked.length, 1);
        const [only] = walked;
        assert.ok(only !== undefined);
        assert.equal(only.fileId, storageKey(id));
        assert.ok(only.bytes > 0);
        assert.deepEqual(only.record?.data.cart, ['pear']);
      });

      it('sweeps expired sessions away and counts the live ones', async (t) => {
        const { storage } = await fresh(t);
        const old = newSessionId();
        await storage.sessions.create(old, newRecord(T0, 'created as guest'));
        await storage.sessions.create(newSessionId(), newRecord(T0 + 20 * MINUTE, 'created as guest'));
        const report = await storage.sweep(T0 + 35 * MINUTE);
        assert.equal(report.live, 1);
        assert.ok(report.expired <= 1, 'a storage whose records expire by themselves may have nothing left to delete');
        assert.deepEqual(await storage.sessions.get(old, T0 + 35 * MINUTE), { miss: 'not-found' });
      });

      it('names where a session lives by its file id, whole or shortened, never by its ID', async (t) => {
        const { storage } = await fresh(t);
        const id = newSessionId();
        const fileId = storageKey(id);
        assert.ok(storage.where(fileId).includes(fileId));
        assert.ok(storage.where(fileId, 8).includes(`${fileId.slice(0, 8)}…`));
        assert.ok(!storage.where(fileId, 8).includes(fileId));
        assert.ok(!storage.where(fileId).includes(id));
        assert.equal((await storage.view(fileId)).where, storage.where(fileId));
      });

      it('shares everything with a second handle on the same data, as a second process would', async (t) => {
        const { storage, again } = await fresh(t);
        if (again === null) return;
        const other = await again();
        t.after(() => other.close());
        await storage.accounts.add(account('gina'));
        assert.equal(await other.accounts.add(account('GINA')), false);
        assert.equal((await storage.accounts.find('gina'))?.displayName, 'gina');
        await other.accounts.update('gina', (current) => ({ ...current, displayName: 'Gina' }));
        assert.equal((await storage.accounts.find('gina'))?.displayName, 'Gina', 'an account changed elsewhere is read, not a copy');
        const id = newSessionId();
        await storage.sessions.create(id, { ...newRecord(T0, 'created at sign-in'), user: 'gina', generation: 0 });
        assert.equal((await other.sessions.listByUser('gina', T0 + MINUTE)).length, 1);
        assert.deepEqual(recordOf(await storage.sessions.get(id, T0 + MINUTE))?.data.cart, []);
        const changed = await other.sessions.get(id, T0 + MINUTE);
        assert.ok('record' in changed);
        await other.sessions.update(id, { ...changed.record, data: { cart: ['pear'], theme: null } });
        assert.deepEqual(
          recordOf(await storage.sessions.get(id, T0 + MINUTE))?.data.cart,
          ['pear'],
          'a change made elsewhere is read, not a copy',
        );
        await other.sessions.destroy(id);
        assert.deepEqual(await storage.sessions.get(id, T0 + MINUTE), { miss: 'not-found' });
        await storage.counters.hit('shared', 1, MINUTE, T0);
        assert.ok((await other.counters.hit('shared', 1, MINUTE, T0)) > 0, 'a limit holds in total');
        const probe = overlapProbe();
        const key = storageKey(newSessionId());
        await Promise.all([storage, other, storage, other].map((handle) => handle.sessionLocks.run(key, probe.task)));
        assert.equal(probe.most(), 1, 'the lock holds across handles');
      });
    });
  });

  // Every other difference must name a case of the session contract, which checks that it does.
  storeContract(
    `${name} sessions`,
    async (t, timeouts) => (await open(t, timeouts)).storage.sessions,
    differences.filter((entry) => !cases.has(entry.case)),
  );
}
