import { randomBytes } from 'node:crypto';
import { setTimeout as pause } from 'node:timers/promises';
import { DEFAULT_LEASE_MS, DEFAULT_MAX_WAIT_MS, LockTimeoutError } from '../../file-lock.ts';
import type { Lock } from '../../file-lock.ts';
import { KeyedLock } from '../../sessions/lock.ts';
import type { SqliteDatabase } from './database.ts';

/**
 * TAKE takes the lock of a key that is free, or whose holder's lease has
 * run out, in one statement: while a live holder's row is there the
 * upsert's condition is false and nothing changes.
 */
const TAKE = `INSERT INTO locks (key, token, expires_at) VALUES (?, ?, ?)
  ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
  WHERE locks.expires_at <= ?`;
/** RELEASE deletes the lock only if it is still this holder's: one broken after its lease belongs to someone else now. */
const RELEASE = 'DELETE FROM locks WHERE key = ? AND token = ?';
/** How long to wait between two tries at a lock another process holds (a little jitter is added). */
const RETRY_MS = 2;
const TOKEN_BYTES = 12;

export interface SqliteLockOptions {
  /** leaseMs: a lock whose holder never released it (killed with SIGKILL) is free after this long (default DEFAULT_LEASE_MS). */
  leaseMs?: number;
  /** maxWaitMs: how long run() waits for a busy lock before throwing LockTimeoutError (default DEFAULT_MAX_WAIT_MS). */
  maxWaitMs?: number;
  clock?: () => number;
  /** wait pauses between tries; tests pass their own. */
  wait?: (ms: number) => Promise<void>;
}

/**
 * SqliteLock is a lock that every process on the database respects: the
 * lock of key K is the row of K in the `locks` table, holding a random
 * token and the end of its lease. It guards a session's read-modify-write,
 * as FileLock does with a lock file.
 *
 * Inside one process the tasks of a key first queue in a KeyedLock, so only
 * one of them at a time polls the table. The row is released by its token.
 * A holder that died cannot release it; its lease runs out, and the next
 * process takes the lock then. The lease is not renewed: the lock covers
 * only a short read-modify-write, never a whole request, and a holder
 * stalled past its lease may find its lock taken (one change may then be
 * lost, never a record torn, since every write is one statement).
 */
export class SqliteLock implements Lock {
  #db: SqliteDatabase;
  #leaseMs: number;
  #maxWaitMs: number;
  #clock: () => number;
  #wait: (ms: number) => Promise<void>;
  #local = new KeyedLock();

  constructor(db: SqliteDatabase, options: SqliteLockOptions = {}) {
    this.#db = db;
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
        await this.#db.attempt('lock', () => this.#db.run(RELEASE, key, token));
      }
    });
  }

  /** #acquire takes the lock's row and returns this holder's token, or throws LockTimeoutError after maxWaitMs. */
  async #acquire(key: string): Promise<string> {
    const token = randomBytes(TOKEN_BYTES).toString('hex');
    const giveUpAt = this.#clock() + this.#maxWaitMs;
    for (;;) {
      const now = this.#clock();
      if ((await this.#db.attempt('lock', () => this.#db.run(TAKE, key, token, now + this.#leaseMs, now))) === 1) return token;
      if (this.#clock() >= giveUpAt) throw new LockTimeoutError();
      await this.#wait(RETRY_MS + Math.random() * RETRY_MS);
    }
  }
}
