/**
 * The driver is Node's own SQLite, `node:sqlite`: built in from Node 22.13
 * (and 23.4) without a flag, so the SQLite storage needs no dependency. It
 * is loaded only when STORE names SQLite, and only here, with a dynamic
 * import: on Node 20, which has no such module, everything else keeps
 * working, and STORE=sqlite:… is refused with SqliteUnavailableError.
 *
 * Below is the small part of its API this storage uses, typed here because
 * the Node 20 type definitions the project builds with do not describe it.
 */

/** SqlValue is what SQLite stores in a column and node:sqlite hands back. */
export type SqlValue = null | number | bigint | string | Uint8Array;

/** Row is one result row: column name to value. */
export type Row = Record<string, SqlValue>;

export interface Statement {
  /** run executes the statement and says how many rows it inserted, changed or deleted. */
  run(...params: SqlValue[]): { changes: number | bigint };
  /** get and all give rows as objects; after setReturnArrays(true), as arrays of values (RowStatement handles both). */
  get(...params: SqlValue[]): Row | undefined;
  all(...params: SqlValue[]): Row[];
  /** setReturnArrays and columns exist from Node 22.16 (and 24): rows as arrays of values, and the columns' names. */
  setReturnArrays?(enabled: boolean): void;
  columns?(): Array<{ name: string }>;
}

/** Connection is node:sqlite's DatabaseSync: every call runs to completion on the calling thread. */
export interface Connection {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

/** SqliteModule is node:sqlite itself; `new DatabaseSync(file)` opens (or creates) the database file. */
export interface SqliteModule {
  DatabaseSync: new (file: string) => Connection;
}

/** NODE_SQLITE_SINCE: the first Node release line with node:sqlite unflagged (22.13; on the 23 line, 23.4). */
export const NODE_SQLITE_SINCE = '22.13';

/** The module's name in a variable, so neither the type-checker nor a bundler goes looking for it on Node 20. */
const MODULE_NAME = 'node:sqlite';

/** SqliteUnavailableError: this Node has no node:sqlite; the message names the Node version needed and the one running. */
export class SqliteUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`SQLite storage needs Node ${NODE_SQLITE_SINCE} or later, which has node:sqlite built in; this is Node ${process.version}`, {
      cause,
    });
    this.name = 'SqliteUnavailableError';
  }
}

/** loadSqlite loads node:sqlite, or throws SqliteUnavailableError on a Node that has none. */
export async function loadSqlite(): Promise<SqliteModule> {
  try {
    return (await import(MODULE_NAME)) as SqliteModule;
  } catch (error) {
    throw new SqliteUnavailableError(error);
  }
}

/**
 * RowStatement is a prepared statement that hands back rows as plain
 * objects made here, in JavaScript.
 *
 * Why not node:sqlite's own row objects: they have no prototype, and V8
 * keeps such objects in a slow dictionary form. Under load that shows as
 * garbage collection: 50 concurrent loops of `SELECT 1` ran 33 full
 * (mark-compact) collections in 5 s on Node 22 with row objects, and none
 * with rows as arrays (measured with `--trace-gc`); a signed-in request
 * runs two statements, and each full collection pauses every request.
 * Where the Node is older than setReturnArrays, node:sqlite's objects are
 * used as they are.
 */
export class RowStatement {
  #statement: Statement;
  /** #names are the columns' names in order, when rows come as arrays; null when they come as objects. */
  #names: readonly string[] | null = null;

  constructor(statement: Statement) {
    this.#statement = statement;
    if (statement.setReturnArrays === undefined || statement.columns === undefined) return;
    const names = statement.columns().map((column) => column.name);
    // A statement that returns no columns (INSERT, PRAGMA with no result) has nothing to name.
    if (names.length === 0) return;
    statement.setReturnArrays(true);
    this.#names = names;
  }

  run(...params: SqlValue[]): number {
    return Number(this.#statement.run(...params).changes);
  }

  get(...params: SqlValue[]): Row | undefined {
    const values: Row | SqlValue[] | undefined = this.#statement.get(...params);
    return values === undefined ? undefined : this.#rowOf(values);
  }

  all(...params: SqlValue[]): Row[] {
    const rows: Array<Row | SqlValue[]> = this.#statement.all(...params);
    return rows.map((values) => this.#rowOf(values));
  }

  /** #rowOf names the values of an array row after the statement's columns; an object row is already named. */
  #rowOf(values: Row | SqlValue[]): Row {
    if (!Array.isArray(values)) return values;
    const names = this.#names ?? [];
    const row: Row = {};
    for (let index = 0; index < names.length; index++) row[names[index] ?? ''] = values[index] ?? null;
    return row;
  }
}

/** textOf reads a TEXT column of a row this storage selected; anything else there is a database edited by hand. */
export function textOf(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new TypeError(`column ${column} is not text`);
  return value;
}

/** integerOf reads an INTEGER column (a time in epoch milliseconds, a count) of a row this storage selected. */
export function integerOf(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'number') throw new TypeError(`column ${column} is not a number`);
  return value;
}
