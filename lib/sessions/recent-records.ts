import { remember } from '../bounded-map.ts';
import { deepFreeze, parseRecord } from './record.ts';
import type { SessionRecord } from './record.ts';
import { storageKey } from './session-id.ts';

/** DEFAULT_RECENT_RECORDS bounds RecentRecords: the sessions used most recently, about 1.5 KiB each (text and record). */
export const DEFAULT_RECENT_RECORDS = 2_000;

interface Recent {
  fileId: string;
  text: string;
  record: SessionRecord | null;
}

/**
 * RecentRecords saves a store that fetches a session's stored text on every
 * request (a SQLite row) the work around that fetch: the ID's SHA-256, and
 * parsing and checking the text again when it has not changed. The text
 * itself is the check: a row changed by any process, or by hand, reads as
 * other text and is parsed afresh. The records are frozen, since every
 * request for the session shares one.
 */
export class RecentRecords {
  #entries = new Map<string, Recent>();
  #maxEntries: number;

  constructor(maxEntries: number = DEFAULT_RECENT_RECORDS) {
    this.#maxEntries = maxEntries;
  }

  /** fileIdOf is storageKey(id), remembered for a session read recently. */
  fileIdOf(id: string): string {
    return this.#entries.get(id)?.fileId ?? storageKey(id);
  }

  /** parse is the record stored as `text` under `id` (null when it is not one), parsed only if the text differs from the last seen. */
  parse(id: string, fileId: string, text: string): SessionRecord | null {
    const recent = this.#entries.get(id);
    if (recent?.text === text) return recent.record;
    const parsed = parseRecord(text);
    const record = parsed === null ? null : deepFreeze(parsed);
    remember(this.#entries, id, { fileId, text, record }, this.#maxEntries);
    return record;
  }

  /** forget drops what is remembered of `id`: its session was written or deleted here. */
  forget(id: string): void {
    this.#entries.delete(id);
  }
}
