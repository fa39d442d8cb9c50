import { LeasedLock } from '../leased-lock.ts';
import type { LeasedLockOptions } from '../leased-lock.ts';
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
/**
 * SqliteLock is a lock that every process on the database respects: the
 * lock of key K is the row of K in the `locks` table, holding a random
 * token and the end of its lease, taken by TAKE and released by its token
 * (RELEASE). It guards a session's read-modify-write, as FileLock does
 * with a lock file; a holder that died is outlived by its lease. The
 * waiting is LeasedLock's (lib/storage/leased-lock.ts).
 */
export class SqliteLock extends LeasedLock {
  constructor(db: SqliteDatabase, options: LeasedLockOptions = {}) {
    super(
      {
        take: async (key, token, leaseMs, now) => (await db.attempt('lock', () => db.run(TAKE, key, token, now + leaseMs, now))) === 1,
        release: async (key, token) => {
          await db.attempt('lock', () => db.run(RELEASE, key, token));
        },
      },
      options,
    );
  }
}
