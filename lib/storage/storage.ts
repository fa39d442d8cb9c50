import type { CounterStore } from '../auth/counters.ts';
import type { AccountStore } from '../auth/users.ts';
import type { Lock } from '../file-lock.ts';
import type { SessionRecord } from '../sessions/record.ts';
import type { SessionStore } from '../sessions/store.ts';

/**
 * StoreSetting is STORE, parsed (lib/config.ts): where everything that
 * every process must share lives.
 * - `files`: JSON files in SESSIONS_DIR and beside USERS_FILE (the default);
 * - `memory`: this process only, lost at restart (for contrast and tests);
 * - `redis`: a Redis or Valkey server, shared by every host that reaches it;
 * - `sqlite`: one SQLite database file, shared by the processes of one host.
 */
export type StoreSetting = { kind: 'files' } | { kind: 'memory' } | { kind: 'redis'; url: string } | { kind: 'sqlite'; path: string };

export type StoreKind = StoreSetting['kind'];

/**
 * SweepReport is what one clean-up pass of a storage did, for the log and
 * for the count of stored sessions (MAX_SESSIONS, lib/sessions/census.ts).
 */
export interface SweepReport {
  /** live: the sessions kept, so the number stored when the pass ended (give or take what changed meanwhile). */
  live: number;
  /** expired: sessions deleted because they were over, or unreadable and old. */
  expired: number;
  /** leftovers: what a crash left behind and the pass removed (temp files, dead locks, stale counters, index entries). */
  leftovers: number;
  /** failed: entries that could not be examined or removed; the next pass tries again. */
  failed: number;
}

/**
 * StoredView is how the inspector shows one session "on the server": where
 * its record lives and, when the storage has one, its time to live.
 */
export interface StoredView {
  /** where names the place as a student would look it up: `sessions/3f2a….json`, `redis key cloakroom:session:3f2a…`, `sqlite row sessions.file_id = '3f2a…'`. */
  where: string;
  /** ttlMs is how long the storage itself will keep the record (Redis's TTL), or null when only the sweeper removes it. */
  ttlMs: number | null;
}

/** StoredSession is one stored session as the terminal sees it (`npm run sessions`): its file id, its size as stored, and its record, or null when unreadable. */
export interface StoredSession {
  fileId: string;
  bytes: number;
  record: SessionRecord | null;
}

/**
 * Storage is every part of Cloakroom's state that all processes must
 * share, opened together from one STORE setting, so the app never knows
 * which backend it runs on. Each backend is one module (lib/storage/files.ts,
 * memory.ts, redis/, sqlite/) and passes one contract suite
 * (test/contract/), which lists each deliberate difference with its reason.
 */
export interface Storage {
  readonly kind: StoreKind;
  /** sessions: the records, with the per-user index behind listByUser. */
  readonly sessions: SessionStore;
  /** accounts: usernames, display names, password hashes, generations. */
  readonly accounts: AccountStore;
  /** counters: the sign-in throttle and the per-address limits, counted in total over every process. */
  readonly counters: CounterStore;
  /**
   * sessionLocks: the lock around one session's read-modify-write, keyed
   * by its file id (lib/sessions/session-id.ts `storageKey`), exclusive
   * across every process that shares this storage.
   */
  readonly sessionLocks: Lock;
  /**
   * writeMethod says in a few words how a write is made whole, for the
   * explain log: "temp file, then rename", "SET … XX KEEPTTL", ….
   */
  readonly writeMethod: string;
  /**
   * where names the place the session with this file id lives, as a student
   * would look it up (`sessions/3f2a….json`, `redis key cloakroom:session:3f2a…`);
   * with `shownLength`, the file id is cut to that many characters and
   * followed by an ellipsis. It reads nothing.
   */
  where(fileId: string, shownLength?: number): string;
  /** view tells the inspector where the session with this file id lives and, when the storage keeps one, its time to live. */
  view(fileId: string): Promise<StoredView>;
  /**
   * all walks every stored session, live, expired or unreadable, in no
   * particular order, for `npm run sessions`. It never changes anything.
   */
  all(): AsyncIterable<StoredSession>;
  /**
   * sweep makes one clean-up pass at `now`: deletes expired sessions and
   * what a crash left behind. A storage that expires records by itself
   * (Redis keys have a TTL) only counts what it holds. Throws only when
   * the storage cannot be reached at all; a pass that fails is retried at
   * the next interval.
   */
  sweep(now: number): Promise<SweepReport>;
  /** close lets go of connections and handles; the storage is not used afterwards. */
  close(): Promise<void>;
}
