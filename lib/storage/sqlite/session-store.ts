import { expiryAt, expiryTimes, parseRecord } from '../../sessions/record.ts';
import type { SessionRecord, Timeouts } from '../../sessions/record.ts';
import { RecentRecords } from '../../sessions/recent-records.ts';
import { storageKey } from '../../sessions/session-id.ts';
import { byCreation } from '../../sessions/store.ts';
import type { ListedSession, Lookup, SessionStore } from '../../sessions/store.ts';
import type { SqliteDatabase } from './database.ts';
import { textOf } from './driver.ts';
import type { Row } from './driver.ts';

const SELECT_RECORD = 'SELECT record FROM sessions WHERE file_id = ?';
/**
 * CREATE inserts a row, or takes over the row of an ID whose session is
 * over by the time the new record was made. A live row is left alone (no
 * change), so create never overwrites a live session, in one statement.
 */
const CREATE = `INSERT INTO sessions (file_id, username, expires_at, record) VALUES (?, ?, ?, ?)
  ON CONFLICT (file_id) DO UPDATE SET username = excluded.username, expires_at = excluded.expires_at, record = excluded.record
  WHERE sessions.expires_at <= ?`;
/** UPDATE changes only a row that is there: a destroyed session stays destroyed (no row, no change). */
const UPDATE = 'UPDATE sessions SET expires_at = ?, record = ? WHERE file_id = ?';
const DELETE = 'DELETE FROM sessions WHERE file_id = ?';
/** LIST_BY_USER reads one user's rows through the username index, never the whole table. */
const LIST_BY_USER = 'SELECT file_id, record FROM sessions WHERE username = ? AND expires_at > ?';

/**
 * SqliteSessionStore keeps each session as one row of the `sessions` table
 * (lib/storage/sqlite/schema.ts), found by its file id, the hex SHA-256 of
 * its ID, as the file store names its files: the ID itself is never stored.
 *
 * Every operation is a single statement, so SQLite makes each atomic on
 * its own, across every process on the database: create never overwrites a
 * live row and update never brings back a deleted one, without a lock.
 * The per-user index is the `username` column and its index, written in
 * the same row as the record, so it can never disagree with it and needs
 * no repair.
 */
export class SqliteSessionStore implements SessionStore {
  #db: SqliteDatabase;
  #timeouts: Timeouts;
  /** #recent spares a session read again and again its ID's hash and the parse of an unchanged row. */
  #recent = new RecentRecords();

  constructor(db: SqliteDatabase, timeouts: Timeouts) {
    this.#db = db;
    this.#timeouts = timeouts;
  }

  async get(id: string, now: number): Promise<Lookup> {
    const fileId = this.#recent.fileIdOf(id);
    const row = await this.#db.attempt('read', () => this.#db.get(SELECT_RECORD, fileId));
    if (row === undefined) {
      this.#recent.forget(id);
      return { miss: 'not-found' };
    }
    const record = typeof row.record === 'string' ? this.#recent.parse(id, fileId, row.record) : null;
    if (record === null) return { miss: 'unreadable' };
    const expiry = expiryAt(record, now, this.#timeouts);
    if (expiry === null) return { record };
    // Refused on read, even before the sweeper has come by.
    await this.#db.attempt('destroy', () => this.#db.run(DELETE, fileId));
    return { miss: `expired-${expiry}` };
  }

  async create(id: string, record: SessionRecord): Promise<void> {
    this.#recent.forget(id);
    const fileId = storageKey(id);
    const madeAt = Date.parse(record.lastSeenAt);
    const changes = await this.#db.attempt('create', () =>
      this.#db.run(CREATE, fileId, record.user, this.#expiresAt(record), JSON.stringify(record), madeAt),
    );
    // IDs are 256 random bits: only a bug could make a live session's ID again.
    if (changes === 0) throw new Error('create: a live session is already stored under this ID; nothing was written');
  }

  async update(id: string, record: SessionRecord): Promise<boolean> {
    this.#recent.forget(id);
    const changes = await this.#db.attempt('update', () =>
      this.#db.run(UPDATE, this.#expiresAt(record), JSON.stringify(record), storageKey(id)),
    );
    return changes === 1;
  }

  async destroy(id: string): Promise<void> {
    this.#recent.forget(id);
    await this.destroyByFileId(storageKey(id));
  }

  async destroyByFileId(fileId: string): Promise<void> {
    await this.#db.attempt('destroy', () => this.#db.run(DELETE, fileId));
  }

  async listByUser(username: string, now: number): Promise<ListedSession[]> {
    const rows = await this.#db.attempt('list', () => this.#db.all(LIST_BY_USER, username, now));
    const listed: ListedSession[] = [];
    for (const row of rows) {
      const record = recordOf(row);
      // The record is the truth: the columns only say where to look.
      if (record?.user?.toLowerCase() !== username.toLowerCase() || expiryAt(record, now, this.#timeouts) !== null) continue;
      listed.push({ fileId: textOf(row, 'file_id'), record });
    }
    return listed.sort(byCreation);
  }

  /** #expiresAt is the `expires_at` column of a record: the earlier of its two deadlines, which the sweeper goes by. */
  #expiresAt(record: SessionRecord): number {
    const { idle, absolute } = expiryTimes(record, this.#timeouts);
    return Math.min(idle, absolute);
  }
}

/** recordOf parses a row's `record` column: null when it is not a session record (a hand edit). */
function recordOf(row: Row): SessionRecord | null {
  const text = row.record;
  return typeof text === 'string' ? parseRecord(text) : null;
}
