import type { Lock } from '../file-lock.ts';
import type { EndingNoteStore } from './endings.ts';
import type { SessionStore } from './store.ts';
import { FILE_ID_PATTERN } from './user-index.ts';

/**
 * Revocation ends a session from somewhere other than the session itself:
 * another of its user's devices (the devices page, "sign out everywhere
 * else") or the terminal (`npm run sessions -- revoke`). It is the best
 * demonstration of why sessions live on the server: a signed cookie cannot
 * be taken back before it expires, a file can simply be deleted.
 */

/**
 * RevocationDeps are what revoking needs: the store, the lock every process
 * takes around a session's read-modify-write, and the ending notes that
 * tell the revoked browser why its session is gone.
 */
export interface RevocationDeps {
  store: SessionStore;
  /** lock is keyed by file id: the same lock (and the same lock file) that a request on that session takes. */
  lock: Lock;
  /** endings keep, for a day, why each session ended (lib/sessions/endings.ts), named by the same file id. */
  endings: EndingNoteStore;
}

/** RevokedBy says who ended a session, for the log: the user on another device, or an operator at the terminal. */
export type RevokedBy = 'another-device' | 'terminal';

/**
 * revokeSession ends the session stored under `fileId` at `now`, at once,
 * everywhere: its file is deleted under the session's own lock, so a
 * request of that session in flight cannot write it back, and its next
 * request finds no session. A `revoked` ending note is written first, so
 * that request is told why: a 401 whose `reason` is `revoked`, or the login
 * page saying it was signed out from another device. Revoking a session
 * already gone deletes nothing.
 *
 * Every revocation goes through here, whoever asks for it: what else ending
 * a session this way must do belongs in this one function.
 */
export async function revokeSession(deps: RevocationDeps, fileId: string, by: RevokedBy, now: number): Promise<void> {
  if (!isFileId(fileId)) throw new TypeError(`revokeSession: "${fileId}" is not a file id (${by})`);
  await deps.lock.run(fileId, async () => {
    // Before the delete, as a logout does: a request that finds the file gone finds the note.
    await deps.endings.record(fileId, 'revoked', now);
    await deps.store.destroyByFileId(fileId);
  });
}

/** isFileId checks a file id from outside (a URL, the terminal) before it names anything: 64 lower-case hex, exactly. */
export function isFileId(value: string): boolean {
  return FILE_ID_PATTERN.test(value);
}
