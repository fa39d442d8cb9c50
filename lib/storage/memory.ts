import { MemoryCounterStore } from '../auth/counters.ts';
import { MemoryAccountStore } from '../auth/memory-accounts.ts';
import { MemoryEndingNotes, endingOfExpiry } from '../sessions/endings.ts';
import { DEFENDED } from '../lab/switches.ts';
import type { Defences } from '../lab/switches.ts';
import { KeyedLock } from '../sessions/lock.ts';
import { MemorySessionStore } from '../sessions/memory-store.ts';
import { parseRecord } from '../sessions/record.ts';
import type { Timeouts } from '../sessions/record.ts';
import type { Storage, StoredSession, StoredView, SweepReport } from './storage.ts';

/**
 * MemoryStorage keeps everything in this process's memory (STORE=memory):
 * the fastest storage, and the one that shows what the others are for.
 * A restart forgets every session and every account, and a second process
 * (WORKERS above 1, another terminal) has its own, so this storage is for
 * one process only.
 */
export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  readonly sessions: MemorySessionStore;
  readonly accounts = new MemoryAccountStore();
  readonly counters = new MemoryCounterStore();
  readonly sessionLocks = new KeyedLock();
  readonly endings = new MemoryEndingNotes();

  /** `defences` are the lab's switches in lab mode (`expiry`); every defence is on otherwise. */
  constructor(timeouts: Timeouts, defences: Defences = DEFENDED) {
    this.sessions = new MemorySessionStore(timeouts, defences);
  }

  readonly writeMethod = 'replaced in a Map';

  where(fileId: string, shownLength?: number): string {
    return `memory of process ${process.pid}, key ${shownLength === undefined ? fileId : `${fileId.slice(0, shownLength)}…`}`;
  }

  async view(fileId: string): Promise<StoredView> {
    return { where: this.where(fileId), ttlMs: null };
  }

  async *all(): AsyncIterable<StoredSession> {
    for (const { fileId, text } of this.sessions.stored()) yield { fileId, bytes: Buffer.byteLength(text), record: parseRecord(text) };
  }

  async sweep(now: number): Promise<SweepReport> {
    const { live, expired } = this.sessions.sweep(now, (fileId, expiry) => void this.endings.record(fileId, endingOfExpiry(expiry), now));
    return { live, expired, leftovers: this.endings.sweep(now), failed: 0 };
  }

  async close(): Promise<void> {
    // Nothing to let go of: the memory goes with the process.
  }
}
