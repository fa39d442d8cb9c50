import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { errorCode } from '../../file-system.ts';
import { StoreError } from '../../sessions/store.ts';
import { traceStorage } from '../trace.ts';
import { loadSqlite, RowStatement, textOf } from './driver.ts';
import type { Connection, Row, SqlValue } from './driver.ts';
import { isBusy, isStorageFailure, problemOf } from './errors.ts';
import { migrate, SchemaError } from './schema.ts';

/**
 * BUSY_TIMEOUT_MS is how long SQLite itself waits for a lock another
 * process holds (`PRAGMA busy_timeout`). node:sqlite is synchronous, so
 * that wait blocks the whole event loop: it is kept to a few milliseconds,
 * enough for another process's write to finish, and longer waits happen
 * in #whileBusy, between turns of the event loop.
 */
export const BUSY_TIMEOUT_MS = 5;
/** DEFAULT_BUSY_WAIT_MS: a request waits this long in all for a database another process keeps locked, then gets a 503. */
export const DEFAULT_BUSY_WAIT_MS = 2000;
/** How long to pause between two tries at a locked database (a little jitter is added). */
const BUSY_RETRY_MS = 5;
/** The database holds sessions and password hashes: private to the server's user, like the session and users files. */
const DATABASE_FILE_MODE = 0o600;
const DATABASE_DIR_MODE = 0o700;

export interface SqliteDatabaseOptions {
  /** busyWaitMs: how long a statement that finds the database locked is tried again before it fails (default DEFAULT_BUSY_WAIT_MS). */
  busyWaitMs?: number;
  clock?: () => number;
  /** wait pauses between tries; tests pass their own. */
  wait?: (ms: number) => Promise<void>;
}

/** SqliteOpenError: the database cannot be used at start-up; the message names the file and what is wrong with it. */
export class SqliteOpenError extends Error {
  constructor(file: string, cause: unknown) {
    super(`cannot use ${file} as the SQLite database: ${cause instanceof SchemaError ? cause.message : problemOf(cause)}`, { cause });
    this.name = 'SqliteOpenError';
  }
}

/** A prepared statement, with the text the storage trace shows for it. */
interface Prepared {
  statement: RowStatement;
  shown: string;
}

/**
 * SqliteDatabase is one process's connection to the database file, shared
 * by every store of the SQLite storage.
 *
 * Every statement runs synchronously, so a task given to attempt() or
 * transaction() runs from start to end within one turn of the event loop:
 * no other request of this process can come in between its statements, and
 * other processes are kept out by SQLite's own locks. One connection per
 * process is therefore enough, and a transaction never spans an `await`.
 *
 * Each statement is prepared once, and traced (its SQL, never its values)
 * into the explain log of the request that ran it.
 */
export class SqliteDatabase {
  #connection: Connection;
  #prepared = new Map<string, Prepared>();
  #busyWaitMs: number;
  #clock: () => number;
  #wait: (ms: number) => Promise<void>;
  #closed = false;

  private constructor(connection: Connection, options: SqliteDatabaseOptions) {
    this.#connection = connection;
    this.#busyWaitMs = options.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS;
    this.#clock = options.clock ?? Date.now;
    this.#wait = options.wait ?? ((ms) => pause(ms));
  }

  /**
   * open opens `file` (creating it 0600, and its directory 0700, when
   * missing), puts it in WAL mode and brings its schema up to date. Throws
   * SqliteUnavailableError on a Node without node:sqlite, and
   * SqliteOpenError for a file that cannot serve: not a database, another
   * program's, corrupt, read-only, locked past the wait.
   */
  static async open(file: string, options: SqliteDatabaseOptions = {}): Promise<SqliteDatabase> {
    // First, so that a Node without node:sqlite creates nothing.
    const sqlite = await loadSqlite();
    let connection: Connection;
    try {
      await createPrivately(file);
      connection = new sqlite.DatabaseSync(file);
    } catch (error) {
      throw new SqliteOpenError(file, error);
    }
    const db = new SqliteDatabase(connection, options);
    try {
      await db.#whileBusy(() => {
        db.#configure();
        migrate(db);
      });
    } catch (error) {
      db.close();
      throw new SqliteOpenError(file, error);
    }
    return db;
  }

  /** exec runs SQL without parameters (pragmas, migrations, transaction control). */
  exec(sql: string): void {
    traceStorage(shownOf(sql));
    this.#connection.exec(sql);
  }

  /** run executes a statement and returns how many rows it inserted, changed or deleted. */
  run(sql: string, ...params: SqlValue[]): number {
    return this.#prepare(sql).run(...params);
  }

  get(sql: string, ...params: SqlValue[]): Row | undefined {
    return this.#prepare(sql).get(...params);
  }

  all(sql: string, ...params: SqlValue[]): Row[] {
    return this.#prepare(sql).all(...params);
  }

  /**
   * inTransaction runs `task` between BEGIN IMMEDIATE and COMMIT: the write
   * lock is taken before the first read, so what the task reads cannot
   * change before it writes, in any process. When the task throws, nothing
   * it did is kept.
   */
  inTransaction<T>(task: () => T): T {
    this.exec('BEGIN IMMEDIATE');
    try {
      const result = task();
      this.exec('COMMIT');
      return result;
    } catch (error) {
      this.#rollback();
      throw error;
    }
  }

  /**
   * attempt runs the statements of `task` for a request. A database locked
   * by another process is tried again until busyWaitMs has passed; a
   * failing database (locked past that, read-only, corrupt, full, …)
   * throws StoreError naming `operation`, which the app answers with 503.
   * Any other error is a bug and is passed on as it is.
   */
  async attempt<T>(operation: string, task: () => T): Promise<T> {
    try {
      return await this.#whileBusy(task);
    } catch (error) {
      if (isStorageFailure(error)) throw new StoreError(operation, error);
      throw error;
    }
  }

  /** transaction is attempt() of `task` inside one transaction (inTransaction). */
  async transaction<T>(operation: string, task: () => T): Promise<T> {
    return this.attempt(operation, () => this.inTransaction(task));
  }

  /** close lets go of the file (a second call does nothing); the database is not used afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#prepared.clear();
    this.#connection.close();
  }

  /**
   * #configure sets up the connection. WAL (write-ahead log): readers never
   * wait for a writer and a writer never waits for readers, so requests of
   * several processes read in parallel while one writes; and a commit only
   * appends to the log. synchronous=NORMAL skips the fsync at each commit:
   * a power cut may lose the last commits but never corrupts the file (the
   * file store does not fsync either).
   */
  #configure(): void {
    this.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const mode = textOf(this.get('PRAGMA journal_mode = WAL') ?? {}, 'journal_mode');
    if (mode !== 'wal') throw new Error(`it cannot be put in WAL mode (journal mode ${mode})`);
    this.exec('PRAGMA synchronous = NORMAL');
    // No table references another yet; on, so that a later migration's references are enforced.
    this.exec('PRAGMA foreign_keys = ON');
  }

  /** #whileBusy runs `task`, again and again while the database is busy, pausing between tries, until busyWaitMs has passed. */
  async #whileBusy<T>(task: () => T): Promise<T> {
    const giveUpAt = this.#clock() + this.#busyWaitMs;
    for (;;) {
      try {
        return task();
      } catch (error) {
        if (!isBusy(error) || this.#clock() >= giveUpAt) throw error;
      }
      await this.#wait(BUSY_RETRY_MS + Math.random() * BUSY_RETRY_MS);
    }
  }

  /** #rollback ends a failed transaction; SQLite may have rolled it back itself already (after a full disk or an I/O error). */
  #rollback(): void {
    try {
      this.exec('ROLLBACK');
    } catch {
      // No transaction was active any more: nothing to undo.
    }
  }

  /** #prepare gives the prepared statement of `sql`, preparing it the first time, and traces it. */
  #prepare(sql: string): RowStatement {
    let prepared = this.#prepared.get(sql);
    if (prepared === undefined) {
      prepared = { statement: new RowStatement(this.#connection.prepare(sql)), shown: shownOf(sql) };
      this.#prepared.set(sql, prepared);
    }
    traceStorage(prepared.shown);
    return prepared.statement;
  }
}

/** shownOf is how the storage trace shows `sql`: on one line, with its placeholders (`?`) and never a value. */
function shownOf(sql: string): string {
  return `sqlite: ${sql.replace(/\s+/g, ' ').trim()}`;
}

/** createPrivately makes the database's directory (0700) and an empty file (0600) when missing: SQLite itself would make the file readable by everyone. */
async function createPrivately(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: DATABASE_DIR_MODE });
  try {
    await writeFile(file, '', { flag: 'wx', mode: DATABASE_FILE_MODE });
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
  }
}
