import { HttpError } from '../http-error.ts';
import type { Expiry, SessionRecord } from './record.ts';

/**
 * MissReason says why get() found no live record, so the explain log can
 * tell a newcomer: no record at all, a stored value that is not a session
 * record, or a session that expired (and was deleted on the way).
 */
export type MissReason = 'not-found' | 'unreadable' | `expired-${Expiry}`;

/**
 * Lookup is what get() found: the live record, or the reason there is
 * none. Switch on `'record' in lookup`, as on the router's RouteMatch.
 */
export type Lookup = { record: SessionRecord } | { miss: MissReason };

/**
 * ListedSession is one live session of a user, as listByUser finds it:
 * its file id (the hex SHA-256 of its ID, lib/sessions/session-id.ts
 * `storageKey`) and its record. The file id names the session without
 * being able to use it: the ID itself cannot be recovered from it.
 */
export interface ListedSession {
  fileId: string;
  record: SessionRecord;
}

/**
 * SessionStore keeps session records by session ID. Implementations:
 * lib/sessions/file-store.ts (the real one, a JSON file per session) and
 * lib/sessions/memory-store.ts (the simplest possible, for contrast). Both
 * pass the same contract suite, test/unit/session-store-contract.ts, which
 * lists any deliberate difference of a store with its reason.
 *
 * What every store may rely on, and must not do:
 * - IDs given to a store are always well formed (43 base64url characters,
 *   checked by lib/sessions/session-id.ts first), so no ID can name
 *   anything outside the store.
 * - Callers serialise writes to one ID (lib/sessions/lock.ts, in one
 *   process); a store need not, but it must not lose or tear a record when
 *   two reads and a write of one ID overlap.
 * - A store never holds or writes the raw ID where others can read it
 *   (the file store names files after its SHA-256).
 * - Not there is an answer, not an error: `{ miss }`, false, or a no-op.
 *   Only a failure of the storage itself (a disk error, a lost connection)
 *   throws, and then always StoreError, which the app answers with 503.
 * - A record handed to create or update belongs to the store afterwards in
 *   value only: changing the caller's object later changes nothing stored,
 *   and a record returned by get may be frozen.
 * - The user of a session is set when it is created and never changes:
 *   signing in always makes a new ID (lib/sessions/session.ts), so update
 *   is never given a record of another user than the one stored. A store
 *   may rely on this to keep its per-user index (listByUser).
 * - File ids given to a store are always well formed (64 lower-case hex,
 *   checked by the caller), like IDs.
 */
export interface SessionStore {
  /**
   * get returns `{ record }`, the live record stored under `id`, or
   * `{ miss }` saying why there is none: `not-found` (never stored,
   * destroyed, or deleted by hand between two looks), `unreadable` (stored
   * but not a valid record: corrupt, empty, wrong shape, too large), or
   * `expired-idle` / `expired-absolute` at `now`, in which case the record
   * is deleted on the way, even before any sweeper comes by. Throws
   * StoreError only when storage itself fails.
   */
  get(id: string, now: number): Promise<Lookup>;

  /**
   * create stores a record under a new `id`, replacing whatever unreadable
   * leftover may sit there. Only sign-in and a guest's first write call it.
   * Throws StoreError when storage fails, and then nothing is stored.
   */
  create(id: string, record: SessionRecord): Promise<void>;

  /**
   * update replaces the record under `id` and returns true, or writes nothing
   * and returns false when no record is stored there any more: a session
   * that was destroyed (logout, expiry) is never brought back by a request
   * that was still in flight. Throws StoreError when storage fails, and then
   * the previous record is still stored, whole.
   */
  update(id: string, record: SessionRecord): Promise<boolean>;

  /**
   * destroy deletes the record under `id`; when there is none it is a no-op,
   * however often it is called. Throws StoreError when storage fails.
   */
  destroy(id: string): Promise<void>;

  /**
   * listByUser returns every live session of `username` (in any case) at
   * `now`, oldest first, each with its file id. Guests and other users'
   * sessions are never in it, nor expired ones. It must not read every
   * session there is: a store keeps an index per user, maintained by
   * create, destroy and destroyByFileId (and by its sweeper, if it has one,
   * which repairs what a crash left half done). Throws StoreError only when
   * storage fails.
   */
  listByUser(username: string, now: number): Promise<ListedSession[]>;

  /**
   * destroyByFileId deletes the session whose file id is `fileId`, as
   * destroy does its ID (the session ends everywhere at its next request),
   * and drops it from its user's index. When there is none it is a no-op.
   * Throws StoreError when storage fails.
   */
  destroyByFileId(fileId: string): Promise<void>;
}

/** byCreation orders listed sessions oldest first, and by file id when two began in the same millisecond. */
export function byCreation(a: ListedSession, b: ListedSession): number {
  return Date.parse(a.record.createdAt) - Date.parse(b.record.createdAt) || (a.fileId < b.fileId ? -1 : 1);
}

/** StoreError is a failing storage (EACCES, ENOSPC, EMFILE, …): the request gets a 503, and nothing stored is lost. */
export class StoreError extends HttpError {
  /** operation names what failed (read, create, update, destroy), for the log. */
  readonly operation: string;

  constructor(operation: string, cause: unknown) {
    super(503, 'storage_unavailable', 'Session storage is unavailable right now. Please try again shortly.', {
      headers: { 'Retry-After': '5' },
      cause,
    });
    this.name = 'StoreError';
    this.operation = operation;
  }
}
