import { LeasedLock } from '../leased-lock.ts';
import type { LeasedLockOptions } from '../leased-lock.ts';
import type { RedisClient } from './client.ts';
import { keys } from './keys.ts';
import { Script } from './script.ts';

/**
 * RELEASE deletes a lock only if it still holds this holder's token: a lock
 * whose lease ran out and that another holder took since is theirs, and a
 * plain DEL would free it under them.
 *   KEYS: the lock   ARGV: the holder's token
 */
const RELEASE = new Script(
  'release-lock',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

/**
 * RedisLock is a lock that every host sharing one Redis respects: the lock
 * of key K is the key `cloakroom:lock:K`, taken with
 * `SET cloakroom:lock:K <random token> NX PX <lease>`, which Redis lets
 * exactly one client do while the key exists; the lease (PX) frees the lock
 * of a holder that died. The holder's token, checked at release (RELEASE),
 * makes sure a holder only ever frees its own lock. The waiting is
 * LeasedLock's (lib/storage/leased-lock.ts).
 */
export class RedisLock extends LeasedLock {
  constructor(client: RedisClient, options: LeasedLockOptions = {}) {
    super(
      {
        take: async (key, token, leaseMs) => (await client.call(['SET', keys.lock(key), token, 'NX', 'PX', String(leaseMs)])) === 'OK',
        // A release that fails (Redis just went away) leaves the lock to its lease, and the task's outcome stands.
        release: async (key, token) => {
          await RELEASE.run(client, [keys.lock(key)], [token]).catch(() => undefined);
        },
      },
      options,
    );
  }
}
