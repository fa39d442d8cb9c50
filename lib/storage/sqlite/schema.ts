import type { SqliteDatabase } from './database.ts';
import { integerOf } from './driver.ts';

/**
 * The schema of Cloakroom's SQLite database, as a list of migrations.
 * MIGRATIONS[n] takes a database from version n to n + 1; the version is
 * kept in the file itself (`PRAGMA user_version`), so a later Cloakroom
 * adds a migration at the end and every database catches up on its next
 * start. A migration, once released, is never edited.
 *
 * Version 1, every table of the storage:
 * - sessions: one row per session, found by file id (the hex SHA-256 of
 *   the session ID; the ID itself is never stored). `username` is the
 *   per-user index (NULL for a guest), `expires_at` the earlier of the idle
 *   and absolute deadlines, so the sweeper finds expired rows by an index
 *   without reading a record.
 * - accounts: one row per user. COLLATE NOCASE makes the primary key
 *   ignore case (usernames are ASCII), so "Alice" and "alice" are one
 *   account, enforced by the database itself.
 * - counters: one row per counted event (a failed sign-in, a
 *   registration), under the SHA-256 of its key, so no username or address
 *   is kept by the throttle.
 * - locks: the per-session locks of every process that shares the file.
 * - ending_notes: why a session ended, kept a day for the page its browser
 *   asks for next.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sessions (
    file_id    TEXT PRIMARY KEY,
    username   TEXT COLLATE NOCASE,
    expires_at INTEGER NOT NULL,
    record     TEXT NOT NULL
  );
  CREATE INDEX sessions_by_username ON sessions (username) WHERE username IS NOT NULL;
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);

  CREATE TABLE accounts (
    username     TEXT PRIMARY KEY COLLATE NOCASE,
    display_name TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    generation   INTEGER NOT NULL,
    password     TEXT NOT NULL
  );

  CREATE TABLE counters (
    key TEXT NOT NULL,
    at  INTEGER NOT NULL
  );
  CREATE INDEX counters_by_key ON counters (key, at);
  CREATE INDEX counters_by_time ON counters (at);

  CREATE TABLE locks (
    key        TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );

  CREATE TABLE ending_notes (
    file_id TEXT PRIMARY KEY,
    ending  TEXT NOT NULL,
    at      INTEGER NOT NULL
  );
  CREATE INDEX ending_notes_by_time ON ending_notes (at);
  `,
];

/** SCHEMA_VERSION is the version this Cloakroom writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** APPLICATION_ID marks the file as Cloakroom's (`PRAGMA application_id`; the bytes of "Clok"), so another program's database is not mistaken for one. */
export const APPLICATION_ID = 0x436c6f6b;

/** SchemaError: the file is a SQLite database, but not one this Cloakroom can use. */
export class SchemaError extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'SchemaError';
  }
}

/**
 * migrate brings the database to SCHEMA_VERSION in one transaction, so a
 * crash half way leaves it at the version it had. It takes the write lock
 * (BEGIN IMMEDIATE) first: of two processes starting at once, the second
 * waits and then finds nothing left to do. It always writes the version,
 * even an unchanged one, so a database that cannot be written is found
 * here, at start-up, rather than by the first request.
 */
export function migrate(db: SqliteDatabase): void {
  db.inTransaction(() => {
    const version = pragma(db, 'user_version');
    checkOwnership(db, version);
    if (version > SCHEMA_VERSION) {
      throw new SchemaError(`its schema version is ${version}, made by a newer Cloakroom; this one knows versions up to ${SCHEMA_VERSION}`);
    }
    for (const migration of MIGRATIONS.slice(version)) db.exec(migration);
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
}

/** checkOwnership refuses a database that another program made: it has another application id, or tables but no version of ours. */
function checkOwnership(db: SqliteDatabase, version: number): void {
  const applicationId = pragma(db, 'application_id');
  if (applicationId === APPLICATION_ID) return;
  const tables = integerOf(db.get('SELECT count(*) AS n FROM sqlite_schema') ?? {}, 'n');
  if (applicationId !== 0 || version !== 0 || tables > 0)
    throw new SchemaError('it is a SQLite database of another program, not of Cloakroom');
}

function pragma(db: SqliteDatabase, name: 'user_version' | 'application_id'): number {
  return integerOf(db.get(`PRAGMA ${name}`) ?? {}, name);
}
