import { HttpError } from '../http-error.ts';
import type { Expiry, SessionRecord } from './record.ts';

/**
 * MissReason says why get() found no live record, so the explain log can
 * tell a newcomer: no file at all, a file that is not a session record, or
 * a session that expired (and whose file was deleted on the way).
 */
export type MissReason = 'not-found' | 'unreadable' | `expired-${Expiry}`;

/**
 * SessionStore keeps session records by session ID. Implementations:
 * lib/sessions/file-store.ts (the real one, a JSON file per session) and
 * lib/sessions/memory-store.ts (the simplest possible, for contrast). Both
 * pass the same contract suite in test/unit/session-store-contract.ts.
 *
 * IDs given to a store are always well formed (lib/sessions/session-id.ts
 * checks them first). Callers serialise writes to one ID (lib/sessions/lock.ts);
 * a store need not.
 */
export interface SessionStore {
  /**
   * get returns the live record stored under `id`, or null when there is
   * none: never stored, deleted, unreadable as a record (corrupt, empty,
   * wrong shape, too large) or expired at `now`. An expired record is
   * deleted on the way. When it returns null it first tells `onMiss` why,
   * if given. It throws StoreError only when storage itself fails.
   */
  get(id: string, now: number, onMiss?: (reason: MissReason) => void): Promise<SessionRecord | null>;

  /**
   * create stores a record under a new `id`. Only sign-in and a guest's first
   * write call it. Throws StoreError when storage fails.
   */
  create(id: string, record: SessionRecord): Promise<void>;

  /**
   * update replaces the record under `id` and returns true, or writes nothing
   * and returns false when no record is stored there any more: a session
   * that was destroyed (logout, expiry) is never brought back by a request
   * that was still in flight. Throws StoreError when storage fails.
   */
  update(id: string, record: SessionRecord): Promise<boolean>;

  /** destroy deletes the record under `id`; when there is none it is a no-op. Throws StoreError when storage fails. */
  destroy(id: string): Promise<void>;
}

/** StoreError is a failing disk (EACCES, ENOSPC, EMFILE, …): the request gets a 503, and nothing stored is lost. */
export class StoreError extends HttpError {
  /** operation names what failed (read, create, update, destroy), for the log. */
  readonly operation: string;

  constructor(operation: string, cause: unknown) {
    super(503, 'storage_unavailable', 'Session storage is unavailable right now. Please try again shortly.', {
      'Retry-After': '5',
    });
    this.name = 'StoreError';
    this.cause = cause;
    this.operation = operation;
  }
}
