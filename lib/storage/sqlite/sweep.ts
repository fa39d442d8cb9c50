import { setImmediate as nextTurn } from 'node:timers/promises';
import type { SweepReport } from '../storage.ts';
import type { SqliteDatabase } from './database.ts';
import { integerOf } from './driver.ts';

/**
 * SWEEP_BATCH: the most rows one statement of the sweep deletes. Each
 * statement holds the database's write lock while it runs, and every other
 * writer, in this process or another, waits for it; a few hundred rows take
 * a few milliseconds.
 */
export const SWEEP_BATCH = 500;
/** ENDING_NOTE_KEEP_MS: why a session ended is kept a day for its browser's next page, then swept. */
export const ENDING_NOTE_KEEP_MS = 24 * 60 * 60 * 1000;

// Each deletes at most one batch (the second parameter) of rows older than the first, found through an index.
const EXPIRED_SESSIONS = 'DELETE FROM sessions WHERE file_id IN (SELECT file_id FROM sessions WHERE expires_at <= ? LIMIT ?)';
const OLD_COUNTS = 'DELETE FROM counters WHERE rowid IN (SELECT rowid FROM counters WHERE at <= ? LIMIT ?)';
const DEAD_LOCKS = 'DELETE FROM locks WHERE key IN (SELECT key FROM locks WHERE expires_at <= ? LIMIT ?)';
const OLD_NOTES = 'DELETE FROM ending_notes WHERE file_id IN (SELECT file_id FROM ending_notes WHERE at <= ? LIMIT ?)';
const COUNT_LIVE = 'SELECT count(*) AS live FROM sessions WHERE expires_at > ?';

export interface SqliteSweepOptions {
  /** counterRetainMs: counted events older than this are deleted; at least the longest window any limit counts over. */
  counterRetainMs: number;
  /** batch: rows per statement (default SWEEP_BATCH). */
  batch?: number;
}

/**
 * sweepDatabase makes one clean-up pass at `now`: it deletes the sessions
 * whose `expires_at` has passed, counted events older than any window, locks
 * whose lease ran out (their holder died) and ending notes older than a day,
 * each in batches, letting waiting requests in between two batches. Then it
 * counts the sessions still live.
 */
export async function sweepDatabase(db: SqliteDatabase, now: number, options: SqliteSweepOptions): Promise<SweepReport> {
  const batch = options.batch ?? SWEEP_BATCH;
  const expired = await deleteInBatches(db, EXPIRED_SESSIONS, now, batch);
  let leftovers = await deleteInBatches(db, OLD_COUNTS, now - options.counterRetainMs, batch);
  leftovers += await deleteInBatches(db, DEAD_LOCKS, now, batch);
  leftovers += await deleteInBatches(db, OLD_NOTES, now - ENDING_NOTE_KEEP_MS, batch);
  const live = await db.attempt('sweep', () => integerOf(db.get(COUNT_LIVE, now) ?? {}, 'live'));
  return { live, expired, leftovers, failed: 0 };
}

/** deleteInBatches runs `sql` until a batch deletes fewer rows than a batch, and returns how many it deleted in all. */
async function deleteInBatches(db: SqliteDatabase, sql: string, before: number, batch: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const changes = await db.attempt('sweep', () => db.run(sql, before, batch));
    deleted += changes;
    if (changes < batch) return deleted;
    // The write lock is free between two statements: whatever waits for it goes first.
    await nextTurn();
  }
}
