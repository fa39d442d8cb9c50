import { isEnding } from '../../sessions/endings.ts';
import type { Ending, EndingNoteStore } from '../../sessions/endings.ts';
import type { SqliteDatabase } from './database.ts';

const RECORD =
  'INSERT INTO ending_notes (file_id, ending, at) VALUES (?, ?, ?) ON CONFLICT (file_id) DO UPDATE SET ending = excluded.ending, at = excluded.at';
const FIND = 'SELECT ending FROM ending_notes WHERE file_id = ?';

/**
 * SqliteEndingNotes keep why each session ended in the `ending_notes`
 * table, one row per file id; the sweep deletes rows older than a day
 * (lib/storage/sqlite/sweep.ts). A note is a courtesy: a database that
 * fails costs the browser its reason, never the request.
 */
export class SqliteEndingNotes implements EndingNoteStore {
  readonly place = 'sqlite table ending_notes';
  #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  async record(key: string, ending: Ending, now: number): Promise<boolean> {
    try {
      await this.#db.attempt('note', () => this.#db.run(RECORD, key, ending, now));
      return true;
    } catch {
      return false;
    }
  }

  async find(key: string): Promise<Ending | null> {
    try {
      const row = await this.#db.attempt('note', () => this.#db.get(FIND, key));
      const ending = row?.ending;
      return isEnding(ending) ? ending : null;
    } catch {
      return null;
    }
  }
}
