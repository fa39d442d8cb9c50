import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PasswordHash } from '../../lib/auth/passwords.ts';
import type { UserRecord } from '../../lib/auth/users.ts';
import { LockTimeoutError } from '../../lib/file-lock.ts';
import { expiryTimes, newRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { StoreError } from '../../lib/sessions/store.ts';
import { RedisAccountStore } from '../../lib/storage/redis/account-store.ts';
import { RedisLock } from '../../lib/storage/redis/lock.ts';
import { RedisSessionStore } from '../../lib/storage/redis/session-store.ts';
import { T0 } from '../support/clock.ts';
import { raceUnderLocks } from '../support/locks.ts';
import { redisForFile, redisSkip } from '../support/redis.ts';
import { CONTRACT_TIMEOUTS, recordOf } from './session-store-contract.ts';

const MINUTE = 60_000;
const HASH: PasswordHash = { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: 'c2FsdA==', hash: 'aGFzaA==' };

const redis = await redisForFile();

/** fixture is the file's Redis; only reached inside tests, which are skipped when there is none. */
function fixture(): NonNullable<typeof redis> {
  assert.ok(redis !== null, 'redis-server is required here');
  return redis;
}

/** sessionStore is a session store on an empty Redis. */
async function sessionStore(): Promise<RedisSessionStore> {
  return new RedisSessionStore(await fixture().fresh(), CONTRACT_TIMEOUTS);
}

function account(username: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return { username, displayName: username, createdAt: '2026-11-22T03:10:00.000Z', generation: 0, password: HASH, ...overrides };
}

function signedIn(user: string): SessionRecord {
  return { ...newRecord(T0, 'created at sign-in'), user, generation: 0 };
}

describe('Redis stores', { skip: redisSkip }, () => {
  describe('RedisSessionStore in Redis', () => {
    it('stores a session under its file id, never its ID, with a TTL of its earlier deadline', async () => {
      const store = await sessionStore();
      const client = await fixture().fresh();
      const id = newSessionId();
      await store.create(id, newRecord(T0, 'created as guest'));
      assert.deepEqual(await client.call(['KEYS', '*']), [`cloakroom:session:${storageKey(id)}`]);
      assert.ok(!((await client.call(['GET', `cloakroom:session:${storageKey(id)}`])) as string).includes(id));
      const ttl = Number(await client.call(['PTTL', `cloakroom:session:${storageKey(id)}`]));
      // A guest's idle deadline (30 minutes here, counted from its lastSeenAt) comes long before the absolute one.
      assert.ok(ttl > CONTRACT_TIMEOUTS.idleMs - MINUTE && ttl <= CONTRACT_TIMEOUTS.idleMs, `TTL ${ttl}`);
    });

    it('moves the TTL and the index score to the new earlier deadline on update: here the absolute one, 5 minutes after the write', async () => {
      const client = await fixture().fresh();
      const store = new RedisSessionStore(client, CONTRACT_TIMEOUTS);
      const id = newSessionId();
      await store.create(id, signedIn('alice'));
      const late = { ...signedIn('alice'), lastSeenAt: new Date(T0 + CONTRACT_TIMEOUTS.absoluteMs - 5 * MINUTE).toISOString() };
      await store.update(id, late);
      const ttl = Number(await client.call(['PTTL', `cloakroom:session:${storageKey(id)}`]));
      assert.ok(ttl > 4 * MINUTE && ttl <= 5 * MINUTE, `TTL ${ttl}`);
      const score = await client.call(['ZSCORE', 'cloakroom:user-sessions:alice', storageKey(id)]);
      assert.equal(Number(score), expiryTimes(late, CONTRACT_TIMEOUTS).absolute);
    });

    it('indexes a signed-in session in a sorted set of its user, with a TTL, and a guest nowhere', async () => {
      const store = await sessionStore();
      const client = await fixture().fresh();
      const [alice, guest] = [newSessionId(), newSessionId()];
      await store.create(guest, newRecord(T0, 'created as guest'));
      await store.create(alice, signedIn('Alice'));
      assert.deepEqual(await client.call(['ZRANGE', 'cloakroom:user-sessions:alice', '0', '-1']), [storageKey(alice)]);
      assert.ok(Number(await client.call(['PTTL', 'cloakroom:user-sessions:alice'])) > 0);
      assert.deepEqual(await client.call(['KEYS', 'cloakroom:user-sessions:*']), ['cloakroom:user-sessions:alice']);
    });

    it('deletes the key and its index entry when get finds the record expired', async () => {
      const store = await sessionStore();
      const client = await fixture().fresh();
      const id = newSessionId();
      await store.create(id, signedIn('alice'));
      assert.deepEqual(await store.get(id, T0 + CONTRACT_TIMEOUTS.idleMs), { miss: 'expired-idle' });
      assert.deepEqual(await client.call(['KEYS', '*']), []);
    });

    it('drops from the index, as it lists, a session whose key Redis has already expired', async () => {
      const store = await sessionStore();
      const client = await fixture().fresh();
      const [kept, expired] = [newSessionId(), newSessionId()];
      await store.create(kept, signedIn('alice'));
      await store.create(expired, signedIn('alice'));
      await client.call(['DEL', `cloakroom:session:${storageKey(expired)}`]);
      assert.deepEqual(
        (await store.listByUser('alice', T0)).map((listed) => listed.fileId),
        [storageKey(kept)],
      );
      assert.deepEqual(await client.call(['ZRANGE', 'cloakroom:user-sessions:alice', '0', '-1']), [storageKey(kept)]);
    });

    it('misses a value that is not a record, or not even a string, as unreadable', async () => {
      const store = await sessionStore();
      const client = await fixture().fresh();
      const [corrupt, wrongType] = [newSessionId(), newSessionId()];
      await client.call(['SET', `cloakroom:session:${storageKey(corrupt)}`, '{"version":1,']);
      await client.call(['HSET', `cloakroom:session:${storageKey(wrongType)}`, 'user', 'admin']);
      assert.deepEqual(await store.get(corrupt, T0), { miss: 'unreadable' });
      assert.deepEqual(await store.get(wrongType, T0), { miss: 'unreadable' });
    });

    it('lets create replace an unreadable leftover, but never a live record', async () => {
      const store = await sessionStore();
      const client = await fixture().fresh();
      const [leftover, live] = [newSessionId(), newSessionId()];
      await client.call(['SET', `cloakroom:session:${storageKey(leftover)}`, 'garbage']);
      await store.create(leftover, signedIn('alice'));
      assert.deepEqual(await store.get(leftover, T0), { record: signedIn('alice') });
      await store.create(live, signedIn('alice'));
      await assert.rejects(store.create(live, signedIn('mallory')), StoreError);
      assert.equal(recordOf(await store.get(live, T0))?.user, 'alice');
    });
  });

  describe('RedisAccountStore', () => {
    it('throws StoreError for a stored account that is not valid, rather than let it sign in', async () => {
      const client = await fixture().fresh();
      await client.call(['SET', 'cloakroom:account:alice', JSON.stringify({ ...account('alice'), password: 'hunter22' })]);
      await assert.rejects(new RedisAccountStore(client).find('alice'), StoreError);
    });

    it('gives exactly one of two registrations of one name on two hosts at the same moment', async () => {
      const a = new RedisAccountStore(await fixture().fresh());
      const b = new RedisAccountStore(await fixture().connect());
      const results = await Promise.all([a.add(account('dana', { displayName: 'A' })), b.add(account('DANA', { displayName: 'B' }))]);
      assert.deepEqual(results.sort(), [false, true]);
    });

    it('keeps every change when two hosts update one account at once (compare-and-set, retried)', async () => {
      const a = new RedisAccountStore(await fixture().fresh());
      const b = new RedisAccountStore(await fixture().connect());
      await a.add(account('alice'));
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? a : b).update('alice', (current) => ({ ...current, generation: current.generation + 1 })),
        ),
      );
      assert.equal((await b.find('alice'))?.generation, 20);
    });
  });

  describe('RedisLock, a lock shared through Redis', () => {
    it('lets two locks on one Redis (as two hosts would) lose no update of a read-modify-write', async () => {
      const locks = [new RedisLock(await fixture().fresh()), new RedisLock(await fixture().connect())];
      assert.deepEqual(await raceUnderLocks(locks), { value: 40, mostInside: 1 });
    });

    it('leaves no lock key behind, whether the task succeeds or throws', async () => {
      const client = await fixture().fresh();
      const lock = new RedisLock(client);
      assert.equal(await lock.run('tidy', async () => 'done'), 'done');
      await assert.rejects(
        lock.run('tidy', async () => {
          throw new Error('task failed');
        }),
        /task failed/,
      );
      assert.deepEqual(await client.call(['KEYS', '*']), []);
    });

    it("waits for another host's lock and gives a 503 when it stays busy past the wait", async () => {
      const client = await fixture().fresh();
      await client.call(['SET', 'cloakroom:lock:busy', 'theirs', 'PX', '60000']);
      let now = T0;
      const lock = new RedisLock(client, {
        maxWaitMs: 1000,
        clock: () => now,
        wait: async (ms) => {
          now += ms * 100;
        },
      });
      await assert.rejects(
        lock.run('busy', async () => 'never'),
        (error: unknown) => error instanceof LockTimeoutError && error.status === 503,
      );
      assert.equal(await client.call(['GET', 'cloakroom:lock:busy']), 'theirs');
    });

    it('holds its lock with a lease, so a holder that dies frees it after leaseMs', async () => {
      const client = await fixture().fresh();
      const lock = new RedisLock(client, { leaseMs: 5000 });
      const ttl = await lock.run('leased', async () => Number(await client.call(['PTTL', 'cloakroom:lock:leased'])));
      assert.ok(ttl > 4000 && ttl <= 5000, `PTTL ${ttl}`);
    });

    it('takes the lock as soon as the other host releases it', async () => {
      const client = await fixture().fresh();
      await client.call(['SET', 'cloakroom:lock:shared', 'theirs', 'PX', '60000']);
      let tries = 0;
      const lock = new RedisLock(client, {
        wait: async () => {
          tries += 1;
          if (tries === 3) await client.call(['DEL', 'cloakroom:lock:shared']);
        },
      });
      assert.equal(await lock.run('shared', async () => 'mine'), 'mine');
      assert.equal(tries, 3);
    });

    it('does not delete at release a lock that was taken by someone else after its lease ran out', async () => {
      const client = await fixture().fresh();
      const lock = new RedisLock(client, { leaseMs: 60_000 });
      await lock.run('stolen', async () => {
        // The lease ran out while the task was stalled, and another host took the lock.
        await client.call(['SET', 'cloakroom:lock:stolen', 'theirs']);
      });
      assert.equal(await client.call(['GET', 'cloakroom:lock:stolen']), 'theirs');
    });
  });
});
