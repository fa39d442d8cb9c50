import { DEFAULT_RETAIN_MS } from '../../auth/counters.ts';
import { parseRecord } from '../../sessions/record.ts';
import type { Timeouts } from '../../sessions/record.ts';
import type { Storage, StoredSession, StoredView, SweepReport } from '../storage.ts';
import { SqliteAccountStore } from './account-store.ts';
import { SqliteCounterStore } from './counter-store.ts';
import { SqliteDatabase } from './database.ts';
import { SqliteEndingNotes } from './ending-notes.ts';
import { textOf } from './driver.ts';
import { SqliteLock } from './lock.ts';
import { SqliteSessionStore } from './session-store.ts';
import { SWEEP_BATCH, sweepDatabase } from './sweep.ts';

/** A page of all(): rows read per statement, in file id order, so no statement stays open across an await. */
const PAGE = 'SELECT file_id, record FROM sessions WHERE file_id > ? ORDER BY file_id LIMIT ?';

export interface SqliteStorageOptions {
  timeouts: Timeouts;
  /** counterRetainMs: how long counted events are kept, at least the longest window of any limit (default DEFAULT_RETAIN_MS). */
  counterRetainMs?: number;
  /** leaseMs and maxWaitMs of the session locks (lib/storage/sqlite/lock.ts). */
  leaseMs?: number;
  maxWaitMs?: number;
  /** busyWaitMs: how long a request waits for a database another process keeps locked (lib/storage/sqlite/database.ts). */
  busyWaitMs?: number;
  /** sweepBatch: rows per statement of the sweep (default SWEEP_BATCH). */
  sweepBatch?: number;
  clock?: () => number;
}

/**
 * openSqliteStorage opens the SQLite database `file` (STORE=sqlite:PATH):
 * sessions, accounts, counters and session locks in one file that every
 * process of this host can share. The file and its tables are created on
 * first start. Throws SqliteUnavailableError on a Node without node:sqlite
 * and SqliteOpenError when the file cannot serve (lib/storage/sqlite/database.ts).
 */
export async function openSqliteStorage(file: string, options: SqliteStorageOptions): Promise<Storage> {
  const clock = options.clock ?? Date.now;
  const db = await SqliteDatabase.open(file, { clock, busyWaitMs: options.busyWaitMs });
  return new SqliteStorage(db, options, clock);
}

/**
 * SqliteStorage is the storage of STORE=sqlite: every part in one database,
 * through one connection per process. Expiry is a column the sweeper
 * deletes by; SQLite keeps no time to live of its own, so view() has none.
 */
class SqliteStorage implements Storage {
  readonly kind = 'sqlite';
  readonly sessions: SqliteSessionStore;
  readonly accounts: SqliteAccountStore;
  readonly counters: SqliteCounterStore;
  readonly sessionLocks: SqliteLock;
  readonly endings: SqliteEndingNotes;
  #db: SqliteDatabase;
  #counterRetainMs: number;
  #sweepBatch: number;

  constructor(db: SqliteDatabase, options: SqliteStorageOptions, clock: () => number) {
    this.#db = db;
    this.sessions = new SqliteSessionStore(db, options.timeouts);
    this.accounts = new SqliteAccountStore(db);
    this.counters = new SqliteCounterStore(db);
    this.sessionLocks = new SqliteLock(db, { clock, leaseMs: options.leaseMs, maxWaitMs: options.maxWaitMs });
    this.endings = new SqliteEndingNotes(db);
    this.#counterRetainMs = options.counterRetainMs ?? DEFAULT_RETAIN_MS;
    this.#sweepBatch = options.sweepBatch ?? SWEEP_BATCH;
  }

  /** writeMethod: every write of a session is one statement, which SQLite applies whole or not at all. */
  readonly writeMethod = 'one SQL statement, whole or not at all';

  /** where names the row as a query finds it: `sqlite row sessions.file_id = '3f2a…'`. */
  where(fileId: string, shownLength?: number): string {
    return `sqlite row sessions.file_id = '${shownLength === undefined ? fileId : `${fileId.slice(0, shownLength)}…`}'`;
  }

  async view(fileId: string): Promise<StoredView> {
    return { where: this.where(fileId), ttlMs: null };
  }

  async *all(): AsyncIterable<StoredSession> {
    let after = '';
    for (;;) {
      const rows = await this.#db.attempt('list', () => this.#db.all(PAGE, after, this.#sweepBatch));
      for (const row of rows) {
        // A record that is not text (a hand edit) is unreadable, like a corrupt file.
        const text = typeof row.record === 'string' ? row.record : '';
        yield { fileId: textOf(row, 'file_id'), bytes: Buffer.byteLength(text), record: parseRecord(text) };
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < this.#sweepBatch) return;
      after = textOf(last, 'file_id');
    }
  }

  async sweep(now: number): Promise<SweepReport> {
    return sweepDatabase(this.#db, now, { counterRetainMs: this.#counterRetainMs, batch: this.#sweepBatch });
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
