/**
 * What SQLite's errors mean for Cloakroom. node:sqlite throws an Error
 * with `errcode`, SQLite's extended result code; its low byte is the
 * primary code (https://sqlite.org/rescode.html). Three kinds matter:
 * - busy: another connection holds the lock this statement needs; nothing
 *   was done, so the statement may be tried again;
 * - a failing storage (read-only, corrupt, full, an I/O error, …): like a
 *   failing disk under the file store, the request gets a 503 and nothing
 *   stored is lost;
 * - anything else (an SQL mistake, a broken constraint) is a bug, passed on
 *   as it is.
 */

const SQLITE_PERM = 3;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_NOMEM = 7;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_PROTOCOL = 15;
const SQLITE_NOTADB = 26;
const PRIMARY_CODE_MASK = 0xff;

/** What a student or an operator should hear about each failing storage, at start-up and in the log. */
const PROBLEMS = new Map<number, string>([
  [SQLITE_PERM, 'access is denied'],
  [SQLITE_BUSY, 'another process holds it locked'],
  [SQLITE_LOCKED, 'another process holds it locked'],
  [SQLITE_NOMEM, 'SQLite ran out of memory'],
  [SQLITE_READONLY, 'it cannot be written (check the permissions of the file and of its directory)'],
  [SQLITE_IOERR, 'the disk failed to read or write it'],
  [SQLITE_CORRUPT, 'the database is corrupt'],
  [SQLITE_FULL, 'the disk is full'],
  [SQLITE_CANTOPEN, 'it cannot be opened (check the path and the permissions of its directory)'],
  [SQLITE_PROTOCOL, 'the locking protocol failed (is the file on a network file system?)'],
  [SQLITE_NOTADB, 'the file is not a SQLite database'],
]);

/** primaryCode is SQLite's primary result code of `error`, or null when it is not an error from SQLite. */
function primaryCode(error: unknown): number | null {
  if (typeof error !== 'object' || error === null || !('errcode' in error)) return null;
  const { errcode } = error;
  return typeof errcode === 'number' ? errcode & PRIMARY_CODE_MASK : null;
}

/** isBusy: the statement found the database locked by another connection and did nothing. */
export function isBusy(error: unknown): boolean {
  const code = primaryCode(error);
  return code === SQLITE_BUSY || code === SQLITE_LOCKED;
}

/** isStorageFailure: the database cannot be used as it is (503), as opposed to a bug in a statement. */
export function isStorageFailure(error: unknown): boolean {
  const code = primaryCode(error);
  return code !== null && PROBLEMS.has(code);
}

/** problemOf says in words what is wrong with the database, for the start-up error and the log. */
export function problemOf(error: unknown): string {
  const code = primaryCode(error);
  const problem = code === null ? undefined : PROBLEMS.get(code);
  if (problem !== undefined) return problem;
  return error instanceof Error ? error.message : String(error);
}
