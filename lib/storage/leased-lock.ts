import { randomBytes } from 'node:crypto';
import { setTimeout as pause } from 'node:timers/promises';
import { DEFAULT_LEASE_MS, DEFAULT_MAX_WAIT_MS, LockTimeoutError } from '../file-lock.ts';
import type { Lock } from '../file-lock.ts';
import { KeyedLock } from '../sessions/lock.ts';

/** How long to wait between two tries at a lock another process holds (a little jitter is added). */
const RETRY_MS = 2;
const TOKEN_BYTES = 16;

/**
 * Lease is how one storage keeps the lock record of a key: a holder's
 * random token and the end of its lease, taken only while no live holder
 * has it (Redis `SET NX PX`, a SQLite upsert with a condition).
 */
export interface Lease {
  /** take tries once to make `token` the holder of `key` for `leaseMs` from `now`; true when it did. */
  take(key: string, token: string, leaseMs: number, now: number): Promise<boolean>;
  /** release frees the lock of `key` only if `token` still holds it: a lock broken after its lease is someone else's now. */
  release(key: string, token: string): Promise<void>;
}

export interface LeasedLockOptions {
  /** leaseMs: a lock whose holder died (killed with SIGKILL, its host gone) is free again after this long (default DEFAULT_LEASE_MS). */
  leaseMs?: number;
  /** maxWaitMs: how long run() waits for a busy lock before throwing LockTimeoutError (default DEFAULT_MAX_WAIT_MS). */
  maxWaitMs?: number;
  clock?: () => number;
  /** wait pauses between tries; tests pass their own. */
  wait?: (ms: number) => Promise<void>;
}

/**
 * LeasedLock is a lock every process sharing one storage respects, kept as
 * a record with a holder's token and a lease (`Lease`). Inside one process
 * the tasks of a key first queue in a KeyedLock, so only one of them at a
 * time asks the storage. A holder that dies never releases its lock; its
 * lease runs out instead. The lease is not renewed: the lock covers only a
 * short read-modify-write, never a whole request, and a holder stalled past
 * its lease may find its lock taken (one update may then be lost, never a
 * record torn, since every write is whole).
 */
export class LeasedLock implements Lock {
  #lease: Lease;
  #leaseMs: number;
  #maxWaitMs: number;
  #clock: () => number;
  #wait: (ms: number) => Promise<void>;
  #local = new KeyedLock();

  constructor(lease: Lease, options: LeasedLockOptions = {}) {
    this.#lease = lease;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.#clock = options.clock ?? Date.now;
    this.#wait = options.wait ?? ((ms) => pause(ms));
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.#local.run(key, async () => {
      const token = await this.#acquire(key);
      try {
        return await task();
      } finally {
        await this.#lease.release(key, token);
      }
    });
  }

  /** #acquire takes the lock of `key` and returns this holder's token, or throws LockTimeoutError after maxWaitMs. */
  async #acquire(key: string): Promise<string> {
    const token = randomBytes(TOKEN_BYTES).toString('hex');
    const giveUpAt = this.#clock() + this.#maxWaitMs;
    for (;;) {
      if (await this.#lease.take(key, token, this.#leaseMs, this.#clock())) return token;
      if (this.#clock() >= giveUpAt) throw new LockTimeoutError();
      await this.#wait(RETRY_MS + Math.random() * RETRY_MS);
    }
  }
}
