import { createHash } from 'node:crypto';
import path from 'node:path';
import { errorCode } from '../file-system.ts';
import type { FileSystem } from '../file-system.ts';

/** USER_INDEX_DIR is the folder inside SESSIONS_DIR that holds the per-user index. */
export const USER_INDEX_DIR = 'users';
/** FILE_ID_PATTERN: a file id is the hex SHA-256 of a session ID, the session file's name without `.json`. */
export const FILE_ID_PATTERN = /^[0-9a-f]{64}$/;
/** The index's folders are as private as the sessions directory (0700), its markers as the session files (0600). */
const INDEX_DIR_MODE = 0o700;
const MARKER_MODE = 0o600;
/** A marker write that keeps finding its folder removed (by another process tidying up) tries again this often, then fails. */
const MAX_WRITE_ATTEMPTS = 5;

/**
 * userKey names a user's folder in the index: the hex SHA-256 of the
 * lower-case username. Usernames are unique regardless of case, so
 * "Alice" and "alice" share one folder; and hashed, a folder name is
 * always a plain name, whatever the rules for usernames become.
 */
export function userKey(username: string): string {
  return createHash('sha256').update(username.toLowerCase()).digest('hex');
}

/**
 * UserIndex is the file store's per-user index: for each user, a folder
 * `SESSIONS_DIR/users/<userKey>/` holding one empty marker file per session,
 * named by the session's file id. Listing a user's sessions reads that one
 * folder, never the whole sessions directory.
 *
 * The session files stay the truth and the index only points at them:
 * whoever reads through it checks each session file (it must exist, be
 * alive and name the user), so a marker left behind misleads no one. The
 * order of writes makes that safe: a session file is written before its
 * marker and deleted before it, so a marker without a file is always a
 * leftover, and a file without a marker (a crash between the two writes)
 * is found and given one by the sweeper.
 *
 * Every operation is idempotent and needs no lock: writing a marker that
 * exists, or deleting one that is gone, changes nothing, so any number of
 * processes may keep the index of one directory together.
 */
export class UserIndex {
  #root: string;
  #fs: FileSystem;

  constructor(sessionsDir: string, fs: FileSystem) {
    this.#root = path.join(sessionsDir, USER_INDEX_DIR);
    this.#fs = fs;
  }

  /**
   * add writes the marker of `fileId` in `username`'s folder, making the
   * folder when needed. Another process may remove an empty folder at any
   * moment (see remove), so a write that finds it gone makes it again and
   * retries. Throws only when the disk fails.
   */
  async add(username: string, fileId: string): Promise<void> {
    const dir = this.#dirOf(username);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#fs.writeFile(path.join(dir, fileId), '', { mode: MARKER_MODE });
        return;
      } catch (error) {
        if (errorCode(error) !== 'ENOENT' || attempt >= MAX_WRITE_ATTEMPTS) throw error;
        await this.#fs.mkdir(dir, { recursive: true, mode: INDEX_DIR_MODE });
      }
    }
  }

  /** has tells whether `username`'s folder holds the marker of `fileId`. */
  async has(username: string, fileId: string): Promise<boolean> {
    return this.#exists(path.join(this.#dirOf(username), fileId));
  }

  /**
   * remove deletes the marker of `fileId` (a no-op when it is gone), then
   * the user's folder and the index's own folder if they are now empty, so
   * signing out leaves no trace of the user in SESSIONS_DIR.
   */
  async remove(username: string, fileId: string): Promise<void> {
    const dir = this.#dirOf(username);
    try {
      await this.#fs.unlink(path.join(dir, fileId));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    await this.#tidy(dir);
  }

  /** fileIds lists the markers in `username`'s folder: file ids of sessions that may be alive, to be checked by the caller. */
  async fileIds(username: string): Promise<string[]> {
    return this.#markersIn(this.#dirOf(username));
  }

  /**
   * dropStale deletes every marker whose session file `exists` says is gone
   * (the file expired, was revoked, or a process died between deleting the
   * file and its marker), then the folders left empty. It reads only the
   * index, a folder per user with a session, and returns how many markers
   * it deleted.
   */
  async dropStale(exists: (fileId: string) => Promise<boolean>): Promise<number> {
    let dropped = 0;
    // No index folder, no signed-in session: nothing to open.
    if (!(await this.#exists(this.#root))) return dropped;
    for (const userDir of await this.#namesIn(this.#root)) {
      if (!FILE_ID_PATTERN.test(userDir)) continue;
      const dir = path.join(this.#root, userDir);
      for (const fileId of await this.#markersIn(dir)) {
        if (await exists(fileId)) continue;
        try {
          await this.#fs.unlink(path.join(dir, fileId));
          dropped += 1;
        } catch (error) {
          if (errorCode(error) !== 'ENOENT') throw error;
        }
      }
      await this.#tidy(dir);
    }
    return dropped;
  }

  async #exists(file: string): Promise<boolean> {
    try {
      await this.#fs.lstat(file);
      return true;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  #dirOf(username: string): string {
    return path.join(this.#root, userKey(username));
  }

  async #markersIn(dir: string): Promise<string[]> {
    return (await this.#namesIn(dir)).filter((name) => FILE_ID_PATTERN.test(name));
  }

  /** #namesIn lists a folder of the index, streamed; a folder that is not there is empty. */
  async #namesIn(dir: string): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of await this.#fs.opendir(dir)) names.push(entry.name);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    return names;
  }

  /**
   * #tidy removes the user's folder, then the index's, each only if empty
   * (rmdir refuses a folder that is not). Best effort: a folder that stays
   * (not empty, already gone, not ours to remove) harms nothing.
   */
  async #tidy(userDir: string): Promise<void> {
    for (const dir of [userDir, this.#root]) {
      try {
        await this.#fs.rmdir(dir);
      } catch {
        return;
      }
    }
  }
}
