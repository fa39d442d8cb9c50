import { DEFENDED } from '../lab/switches.ts';
import type { Defences } from '../lab/switches.ts';
import { expiryAt, parseRecord } from './record.ts';
import type { Expiry, SessionRecord, Timeouts } from './record.ts';
import { storageKey } from './session-id.ts';
import { byCreation } from './store.ts';
import type { ListedSession, Lookup, SessionStore } from './store.ts';

/** Stored is one session as the memory store keeps it: its user, and its record as JSON text. */
interface Stored {
  user: string | null;
  text: string;
}

/**
 * MemorySessionStore keeps sessions in a Map: the simplest store there is,
 * and what express-session uses by default. Everything is lost on restart,
 * and two server processes cannot share it; it is here to show what the
 * file store adds, and to run the same contract tests.
 *
 * Records are kept as JSON text, so a caller can never change a stored
 * record by holding on to an object it was given. They are found by file
 * id (the SHA-256 of the ID), which is also the key of the per-user index:
 * a Map from the lower-case username to that user's file ids.
 */
export class MemorySessionStore implements SessionStore {
  #timeouts: Timeouts;
  #sessions = new Map<string, Stored>();
  #byUser = new Map<string, Set<string>>();
  #defences: Defences;

  /** `defences` are the lab's switches in lab mode; DEFENDED otherwise (lib/lab/switches.ts). */
  constructor(timeouts: Timeouts, defences: Defences = DEFENDED) {
    this.#timeouts = timeouts;
    this.#defences = defences;
  }

  async get(id: string, now: number): Promise<Lookup> {
    return this.#lookup(storageKey(id), now);
  }

  async create(id: string, record: SessionRecord): Promise<void> {
    const fileId = storageKey(id);
    this.#forget(fileId);
    this.#sessions.set(fileId, { user: record.user, text: JSON.stringify(record) });
    if (record.user === null) return;
    const key = record.user.toLowerCase();
    const ids = this.#byUser.get(key) ?? new Set<string>();
    this.#byUser.set(key, ids.add(fileId));
  }

  async update(id: string, record: SessionRecord): Promise<boolean> {
    const stored = this.#sessions.get(storageKey(id));
    if (stored === undefined) return false;
    stored.text = JSON.stringify(record);
    return true;
  }

  async destroy(id: string): Promise<void> {
    this.#forget(storageKey(id));
  }

  async listByUser(username: string, now: number): Promise<ListedSession[]> {
    const listed: ListedSession[] = [];
    for (const fileId of this.#byUser.get(username.toLowerCase()) ?? []) {
      const lookup = this.#lookup(fileId, now);
      if ('record' in lookup) listed.push({ fileId, record: lookup.record });
    }
    return listed.sort(byCreation);
  }

  async destroyByFileId(fileId: string): Promise<void> {
    this.#forget(fileId);
  }

  /**
   * sweep deletes every session over at `now`, telling `onExpired` of each
   * that expired, and returns how many it deleted and how many it kept.
   */
  sweep(now: number, onExpired: (fileId: string, expiry: Expiry) => void = () => undefined): { live: number; expired: number } {
    let live = 0;
    let expired = 0;
    for (const fileId of [...this.#sessions.keys()]) {
      const lookup = this.#lookup(fileId, now);
      if ('record' in lookup) {
        live += 1;
        continue;
      }
      expired += 1;
      if (lookup.miss.startsWith('expired-')) onExpired(fileId, lookup.miss === 'expired-idle' ? 'idle' : 'absolute');
    }
    return { live, expired };
  }

  /** stored gives every session as it is kept (its file id, its JSON text), for the terminal's view. */
  *stored(): Iterable<{ fileId: string; text: string }> {
    for (const [fileId, { text }] of this.#sessions) yield { fileId, text };
  }

  #lookup(fileId: string, now: number): Lookup {
    const stored = this.#sessions.get(fileId);
    if (stored === undefined) return { miss: 'not-found' };
    const record = parseRecord(stored.text);
    if (record === null) {
      this.#forget(fileId);
      return { miss: 'unreadable' };
    }
    const expiry = expiryAt(record, now, this.#timeouts);
    // A stolen ID that works for ever: an expired session is refused and forgotten.
    if (expiry !== null && this.#defences.expiry) {
      this.#forget(fileId);
      return { miss: `expired-${expiry}` };
    }
    return { record };
  }

  /** #forget deletes a session and its entry in the index. */
  #forget(fileId: string): void {
    const stored = this.#sessions.get(fileId);
    if (stored === undefined) return;
    this.#sessions.delete(fileId);
    if (stored.user === null) return;
    const ids = this.#byUser.get(stored.user.toLowerCase());
    ids?.delete(fileId);
    if (ids?.size === 0) this.#byUser.delete(stored.user.toLowerCase());
  }
}
