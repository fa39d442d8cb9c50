import { randomBytes } from 'node:crypto';
import { setTimeout as pause } from 'node:timers/promises';
import { DEFAULT_LEASE_MS, DEFAULT_MAX_WAIT_MS, LockTimeoutError } from '../../file-lock.ts';
import type { Lock } from '../../file-lock.ts';
import { KeyedLock } from '../../sessions/lock.ts';
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

/** How long to wait between two tries at a lock another host holds (a little jitter is added). */
const RETRY_MS = 2;
const TOKEN_BYTES = 16;

export interface RedisLockOptions {
  /** leaseMs: a lock whose holder died is free again after this long (default DEFAULT_LEASE_MS). */
  leaseMs?: number;
  /** maxWaitMs: how long run() waits for a busy lock before throwing LockTimeoutError. */
  maxWaitMs?: number;
  clock?: () => number;
  /** wait pauses between tries; tests pass their own. */
  wait?: (ms: number) => Promise<void>;
}

/**
 * RedisLock is a lock that every host sharing one Redis respects: the lock
 * of key K is the key `cloakroom:lock:K`, taken with
 * `SET cloakroom:lock:K <random token> NX PX <lease>`, which Redis lets
 * exactly one client do while the key exists. The holder's token, checked
 * at release (RELEASE), makes sure a holder only ever frees its own lock.
 *
 * A holder that dies never releases its lock; the lease (PX) does it
 * instead. As with FileLock, the lease is not renewed: the lock covers only a
 * short read-modify-write, and a holder stalled past its lease may find
 * the lock taken by another (one update lost; no record torn). Inside one
 * process the tasks of a key first queue in a KeyedLock, so only one of
 * them at a time asks Redis.
 */
export class RedisLock implements Lock {
  #client: RedisClient;
  #leaseMs: number;
  #maxWaitMs: number;
  #clock: () => number;
  #wait: (ms: number) => Promise<void>;
  #local = new KeyedLock();

  constructor(client: RedisClient, options: RedisLockOptions = {}) {
    this.#client = client;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.#clock = options.clock ?? Date.now;
    this.#wait = options.wait ?? ((ms) => pause(ms));
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.#local.run(key, async () => {
      const lock = keys.lock(key);
      const token = await this.#acquire(lock);
      try {
        return await task();
      } finally {
        // A release that fails (Redis just went away) leaves the lock to its lease, and the task's outcome stands.
        await RELEASE.run(this.#client, [lock], [token]).catch(() => undefined);
      }
    });
  }

  async #acquire(lock: string): Promise<string> {
    const token = randomBytes(TOKEN_BYTES).toString('hex');
    const giveUpAt = this.#clock() + this.#maxWaitMs;
    for (;;) {
      if ((await this.#client.call(['SET', lock, token, 'NX', 'PX', String(this.#leaseMs)])) === 'OK') return token;
      if (this.#clock() >= giveUpAt) throw new LockTimeoutError();
      await this.#wait(RETRY_MS + Math.random() * RETRY_MS);
    }
  }
}
