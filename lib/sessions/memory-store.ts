import { expiryAt, parseRecord } from './record.ts';
import type { SessionRecord, Timeouts } from './record.ts';
import type { Lookup, SessionStore } from './store.ts';

/**
 * MemorySessionStore keeps sessions in a Map: the simplest store there is,
 * and what express-session uses by default. Everything is lost on restart,
 * and two server processes cannot share it; it is here to show what the
 * file store adds, and to run the same contract tests.
 *
 * Records are kept as JSON text, so a caller can never change a stored
 * record by holding on to an object it was given.
 */
export class MemorySessionStore implements SessionStore {
  #timeouts: Timeouts;
  #records = new Map<string, string>();

  constructor(timeouts: Timeouts) {
    this.#timeouts = timeouts;
  }

  async get(id: string, now: number): Promise<Lookup> {
    const text = this.#records.get(id);
    if (text === undefined) return { miss: 'not-found' };
    const record = parseRecord(text);
    if (record === null) {
      this.#records.delete(id);
      return { miss: 'unreadable' };
    }
    const expiry = expiryAt(record, now, this.#timeouts);
    if (expiry !== null) {
      this.#records.delete(id);
      return { miss: `expired-${expiry}` };
    }
    return { record };
  }

  async create(id: string, record: SessionRecord): Promise<void> {
    this.#records.set(id, JSON.stringify(record));
  }

  async update(id: string, record: SessionRecord): Promise<boolean> {
    if (!this.#records.has(id)) return false;
    this.#records.set(id, JSON.stringify(record));
    return true;
  }

  async destroy(id: string): Promise<void> {
    this.#records.delete(id);
  }
}
