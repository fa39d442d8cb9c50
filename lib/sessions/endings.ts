import path from 'node:path';
import { describeDuration } from '../duration.ts';
import { errorCode, nodeFileSystem, writeFileAtomic } from '../file-system.ts';
import type { FileSystem } from '../file-system.ts';
import type { Expiry, Timeouts } from './record.ts';

/**
 * Ending says why a session is over, so that the browser which still holds
 * its cookie can be told (a 401's `reason`, the login page's notice):
 * - `idle-timeout`, `absolute-timeout`: it expired (lib/sessions/record.ts `expiryAt`);
 * - `signed-out`: a logout, in this tab or another one holding the same cookie;
 * - `password-changed`: the account's password changed since it signed in;
 * - `revoked`: signed out from another device: another session of the same
 *   user ended it (the devices page), or whoever runs the server did
 *   (`npm run sessions -- revoke`), both through lib/sessions/revocation.ts;
 * - `account-removed`: its account no longer exists.
 *
 * To add one: name it here and give it a sentence in ENDING_MESSAGES; the
 * compiler finds every place that must say it.
 */
export type Ending = 'idle-timeout' | 'absolute-timeout' | 'signed-out' | 'password-changed' | 'revoked' | 'account-removed';

/** ENDING_NOTES_DIR is the folder inside SESSIONS_DIR where the notes live. */
export const ENDING_NOTES_DIR = 'ended';
/** ENDING_NOTE_TTL_MS: how long a note is kept; a browser that comes back later is simply told "no session". */
export const ENDING_NOTE_TTL_MS = 24 * 60 * 60 * 1000;
/** A note is one short JSON line; anything bigger is not ours. */
const MAX_NOTE_BYTES = 1024;
const NOTE_MODE = 0o600;
const NOTES_DIR_MODE = 0o700;
/** NOTE_PATTERN: a note is named like the session file it replaces, without `.json`. */
const NOTE_PATTERN = /^[0-9a-f]{64}$/;

const ENDING_MESSAGES: Readonly<Record<Ending, (timeouts: Timeouts) => string>> = {
  'idle-timeout': ({ idleMs, guestIdleMs }) =>
    `Your session expired: it was not used for ${describeDuration(idleMs)} (the idle timeout` +
    // A guest session has its own, shorter idle timeout; a note does not say whether the session was one.
    `${guestIdleMs === undefined || guestIdleMs === idleMs ? '' : `; ${describeDuration(guestIdleMs)} for a guest session`}), so the server deleted it.`,
  'absolute-timeout': ({ absoluteMs }) =>
    `Your session expired: it began more than ${describeDuration(absoluteMs)} ago (the absolute timeout), and no session lasts longer, however much it is used.`,
  'signed-out': () => 'You signed out (in this tab or another one), so the server deleted your session.',
  'password-changed': () => 'Your session ended because the password of your account was changed in another session. Sign in with the new password.',
  'revoked': () =>
    'You were signed out from another device: one of your other sessions ended this one on its devices page (or whoever runs the server did), so the server deleted it.',
  'account-removed': () => 'Your session ended because its account no longer exists, so the server deleted it.',
};

/** isEnding tells whether `value` (from a URL or a note file) names an Ending. */
export function isEnding(value: unknown): value is Ending {
  return typeof value === 'string' && Object.hasOwn(ENDING_MESSAGES, value);
}

/** endingMessage is the sentence for an ending, with the timeouts as they are set now (it is what this server enforces today). */
export function endingMessage(ending: Ending, timeouts: Timeouts): string {
  return ENDING_MESSAGES[ending](timeouts);
}

/** endingOfExpiry names an expiry as an ending. */
export function endingOfExpiry(expiry: Expiry): Ending {
  return expiry === 'idle' ? 'idle-timeout' : 'absolute-timeout';
}

/**
 * EndingNoteStore keeps, for ENDING_NOTE_TTL_MS, why each session ended,
 * under the session's file id (lib/sessions/session-id.ts `storageKey`).
 * Every storage has one (lib/storage/storage.ts). A note is a courtesy:
 * neither method throws, and a note that could not be kept or read is
 * simply "no reason known".
 */
export interface EndingNoteStore {
  /** place names where the notes are kept, for the explain log: `sessions/ended/`, `this process's memory`. */
  readonly place: string;
  /** record notes that the session stored under `key` ended at `now`, replacing an older note; true when the note was kept. */
  record(key: string, ending: Ending, now: number): Promise<boolean>;
  /** find is why the session stored under `key` ended, or null when no note says (never ended, ended long ago, or replaced). */
  find(key: string): Promise<Ending | null>;
}

/**
 * MemoryEndingNotes keep the notes in a Map of this process (STORE=memory);
 * as with the files, the sweep drops those older than ENDING_NOTE_TTL_MS.
 */
export class MemoryEndingNotes implements EndingNoteStore {
  readonly place = "this process's memory";
  #notes = new Map<string, { ending: Ending; at: number }>();

  async record(key: string, ending: Ending, now: number): Promise<boolean> {
    this.#notes.set(key, { ending, at: now });
    return true;
  }

  async find(key: string): Promise<Ending | null> {
    return this.#notes.get(key)?.ending ?? null;
  }

  /** sweep drops the notes older than ENDING_NOTE_TTL_MS at `now`; it returns how many. */
  sweep(now: number): number {
    let deleted = 0;
    for (const [key, { at }] of this.#notes) {
      if (now - at < ENDING_NOTE_TTL_MS) continue;
      this.#notes.delete(key);
      deleted += 1;
    }
    return deleted;
  }
}

export interface EndingNotesOptions {
  /** sessionsDir is SESSIONS_DIR; the notes go in its `ended/` folder. */
  sessionsDir: string;
  fs?: FileSystem;
}

/**
 * EndingNotes remember, for a day, why each session ended: a note of one
 * line, `SESSIONS_DIR/ended/<storage key>`, written when the session ends
 * (logout, expiry found on read or by the sweeper, a password change found
 * at the next request) and read only when a cookie finds no session file.
 *
 * Files, like the sessions, so every process sees every note. A note is
 * named by the same SHA-256 as the session file, so only whoever holds the
 * ID can ask for it, and it holds the ending and its time, nothing else
 * about the session. Replacing an ID (sign-in, password change) writes no
 * note: someone who planted or saw the old ID learns nothing from it.
 *
 * A note is a courtesy: failing to write or read one never fails a request
 * (the browser is then told "no session" without a reason).
 */
export class EndingNotes implements EndingNoteStore {
  readonly place: string;
  #dir: string;
  #fs: FileSystem;

  constructor(options: EndingNotesOptions) {
    this.place = `${path.basename(options.sessionsDir)}/${ENDING_NOTES_DIR}/`;
    this.#dir = path.join(options.sessionsDir, ENDING_NOTES_DIR);
    this.#fs = options.fs ?? nodeFileSystem;
  }

  async record(key: string, ending: Ending, now: number): Promise<boolean> {
    const contents = `${JSON.stringify({ ending, at: new Date(now).toISOString() })}\n`;
    try {
      await this.#fs.mkdir(this.#dir, { recursive: true, mode: NOTES_DIR_MODE });
      await writeFileAtomic(this.#fs, path.join(this.#dir, key), contents, NOTE_MODE);
      return true;
    } catch {
      return false;
    }
  }

  async find(key: string): Promise<Ending | null> {
    const note = await this.#read(path.join(this.#dir, key));
    return note?.ending ?? null;
  }

  /** sweep deletes the notes older than ENDING_NOTE_TTL_MS at `now` (and any unreadable one); it returns how many. */
  async sweep(now: number): Promise<number> {
    let deleted = 0;
    try {
      for await (const entry of await this.#fs.opendir(this.#dir)) {
        if (!NOTE_PATTERN.test(entry.name)) continue;
        const file = path.join(this.#dir, entry.name);
        const note = await this.#read(file);
        if (note !== null && now - note.at < ENDING_NOTE_TTL_MS) continue;
        if (await this.#unlink(file)) deleted += 1;
      }
    } catch (error) {
      // No folder yet: no session has ended.
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    return deleted;
  }

  /** #unlink deletes a note; false when another process's sweeper deleted it first. */
  async #unlink(file: string): Promise<boolean> {
    try {
      await this.#fs.unlink(file);
      return true;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  async #read(file: string): Promise<{ ending: Ending; at: number } | null> {
    try {
      const stats = await this.#fs.lstat(file);
      if (!stats.isFile() || stats.size > MAX_NOTE_BYTES) return null;
      const value: unknown = JSON.parse(await this.#fs.readFile(file, 'utf8'));
      if (typeof value !== 'object' || value === null) return null;
      const { ending, at } = value as { ending?: unknown; at?: unknown };
      const time = typeof at === 'string' ? Date.parse(at) : Number.NaN;
      return isEnding(ending) && !Number.isNaN(time) ? { ending, at: time } : null;
    } catch {
      return null;
    }
  }
}
