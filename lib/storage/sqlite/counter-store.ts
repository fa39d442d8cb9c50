import { keyHash, waitFor } from '../../auth/counters.ts';
import type { CounterStore } from '../../auth/counters.ts';
import type { SqliteDatabase } from './database.ts';
import { integerOf } from './driver.ts';

const RECENT = 'SELECT at FROM counters WHERE key = ? AND at > ? ORDER BY at';
const DROP_OLD = 'DELETE FROM counters WHERE key = ? AND at <= ?';
const COUNT = 'INSERT INTO counters (key, at) VALUES (?, ?)';
const FORGET_ALL = 'DELETE FROM counters WHERE key = ?';
const FORGET_ONE = 'DELETE FROM counters WHERE rowid = (SELECT rowid FROM counters WHERE key = ? AND at = ? LIMIT 1)';

/**
 * SqliteCounterStore keeps one row per counted event in the `counters`
 * table, under the SHA-256 of its key (as the counter files are named), so
 * every process on the database counts together.
 *
 * hit is a read-modify-write (read the recent events, judge, count one
 * more), so it runs in a transaction that takes the write lock before it
 * reads (BEGIN IMMEDIATE): of parallel attempts in any processes, no more
 * than the limit get through. Events that left the window are deleted as
 * their key is hit, and the sweeper deletes the rest once older than the
 * longest window (lib/storage/sqlite/sweep.ts).
 */
export class SqliteCounterStore implements CounterStore {
  #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<number> {
    const hashed = keyHash(key);
    return this.#db.transaction('counters', () => {
      const times = this.#db.all(RECENT, hashed, now - windowMs).map((row) => integerOf(row, 'at'));
      const wait = waitFor(times, limit, windowMs, now);
      if (wait > 0) return wait;
      this.#db.run(DROP_OLD, hashed, now - windowMs);
      this.#db.run(COUNT, hashed, now);
      return 0;
    });
  }

  async forget(key: string, at?: number): Promise<void> {
    const hashed = keyHash(key);
    await this.#db.attempt('counters', () => (at === undefined ? this.#db.run(FORGET_ALL, hashed) : this.#db.run(FORGET_ONE, hashed, at)));
  }
}
