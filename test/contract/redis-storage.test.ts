import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { newRecord } from '../../lib/sessions/record.ts';
import type { Timeouts } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { openRedisStorage } from '../../lib/storage/redis/storage.ts';
import type { RedisStorage } from '../../lib/storage/redis/storage.ts';
import { T0 } from '../support/clock.ts';
import { redisForFile, redisSkip } from '../support/redis.ts';
import { CONTRACT_TIMEOUTS } from '../unit/session-store-contract.ts';
import { storageContract } from './storage-contract.ts';

const MINUTE = 60_000;
const redis = await redisForFile();

/** openOnEmpty empties the file's Redis and opens a storage on it with a client of its own, closed when `t` ends. */
async function openOnEmpty(t: TestContext, timeouts: Timeouts): Promise<RedisStorage> {
  assert.ok(redis !== null, 'redis-server is required here');
  await redis.fresh();
  const storage = await openRedisStorage(redis.server.url, { timeouts });
  t.after(() => storage.close());
  return storage;
}

describe('Redis', { skip: redisSkip }, () => {
  storageContract(
    'redis',
    async (t, timeouts) => ({
      storage: await openOnEmpty(t, timeouts),
      again: () => openRedisStorage(redis?.server.url ?? '', { timeouts }),
    }),
    [
      {
        case: 'sweeps expired sessions away and counts the live ones',
        reason:
          "Redis deletes a session when its TTL runs out, by its own clock, which a test's clock does not move; a sweep deletes nothing and only counts what is stored (expiry on read is the session contract's)",
      },
      {
        case: 'misses from the absolute deadline on, however recently the record was seen',
        reason:
          "the record is seen 1 ms before its deadline, so Redis's own TTL is 1 ms and Redis may delete the key before the test's clock reaches the deadline: the read then finds nothing (not-found) where a store without its own clock says expired-absolute",
      },
      {
        case: 'notes the ending of each session its sweep finds expired',
        reason:
          'Redis deletes an expired session by itself and tells nobody, so no note is written for it; a browser coming back after that is told "no session" without the reason (an expiry found on read is still noted)',
      },
    ],
  );

  describe('RedisStorage', () => {
    it('sweeps by counting the stored sessions and trimming index entries past their deadline, deleting no session', async (t) => {
      const storage = await openOnEmpty(t, CONTRACT_TIMEOUTS);
      const [early, late] = [newSessionId(), newSessionId()];
      await storage.sessions.create(early, { ...newRecord(T0, 'created at sign-in'), user: 'alice', generation: 0 });
      await storage.sessions.create(late, { ...newRecord(T0 + 20 * MINUTE, 'created at sign-in'), user: 'alice', generation: 0 });
      assert.deepEqual(await storage.sweep(T0 + 35 * MINUTE), { live: 2, expired: 0, leftovers: 1, failed: 0 });
      // The key itself is Redis's to expire; a read at that time refuses it all the same.
      assert.deepEqual(await storage.sessions.get(early, T0 + 35 * MINUTE), { miss: 'expired-idle' });
    });

    it('shows the inspector the key and the TTL Redis keeps it for', async (t) => {
      const storage = await openOnEmpty(t, CONTRACT_TIMEOUTS);
      const id = newSessionId();
      const fileId = storageKey(id);
      assert.deepEqual(await storage.view(fileId), { where: `redis key cloakroom:session:${fileId}`, ttlMs: null });
      await storage.sessions.create(id, newRecord(T0, 'created as guest'));
      const view = await storage.view(fileId);
      assert.ok(view.ttlMs !== null && view.ttlMs > CONTRACT_TIMEOUTS.idleMs - MINUTE && view.ttlMs <= CONTRACT_TIMEOUTS.idleMs);
      assert.equal(storage.where(fileId, 4), `redis key cloakroom:session:${fileId.slice(0, 4)}…`);
    });

    it('keeps a note of why a session ended, for a day', async (t) => {
      const storage = await openOnEmpty(t, CONTRACT_TIMEOUTS);
      const fileId = storageKey(newSessionId());
      assert.equal(await storage.endings.find(fileId), null);
      await storage.endings.record(fileId, 'revoked');
      assert.equal(await storage.endings.find(fileId), 'revoked');
      const ttl = Number(await (await redis!.connect()).call(['PTTL', `cloakroom:ending:${fileId}`]));
      assert.ok(ttl > 24 * 60 * MINUTE - MINUTE && ttl <= 24 * 60 * MINUTE, `PTTL ${ttl}`);
    });
  });
});
