import { mkdir, chmod, readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FileCounterStore } from '../auth/counters.ts';
import { FAILURE_WINDOW_MS } from '../auth/throttle.ts';
import { DATA_DIR_MODE, UserFileStore, UsersFileError } from '../auth/users.ts';
import { ConfigError } from '../config.ts';
import { FileLock } from '../file-lock.ts';
import { errorCode, nodeFileSystem, READ_NO_FOLLOW, tempPathFor } from '../file-system.ts';
import type { FileSystem } from '../file-system.ts';
import type { Defences } from '../lab/switches.ts';
import { ADDRESS_LIMIT_WINDOW_MS } from '../rate-limit.ts';
import { EndingNotes, endingOfExpiry } from '../sessions/endings.ts';
import { FileSessionStore, MAX_SESSION_FILE_BYTES, SESSION_FILE_PATTERN, SESSIONS_DIR_MODE } from '../sessions/file-store.ts';
import { parseRecord } from '../sessions/record.ts';
import type { Timeouts } from '../sessions/record.ts';
import { sweep } from '../sessions/sweeper.ts';
import type { Storage, StoredSession, StoredView, SweepReport } from './storage.ts';

/** FilesStorageOptions: the directories (from SESSIONS_DIR and USERS_FILE) and the seams tests use. */
export interface FilesStorageOptions {
  sessionsDir: string;
  usersFile: string;
  timeouts: Timeouts;
  /** fs is the file system seam of the session store (fault injection in tests). */
  fs?: FileSystem;
  /** onCorrupt hears of a session file that cannot be read as a session. */
  onCorrupt?: (fileName: string, reason: string) => void;
  /** defences are the lab's switches in lab mode (`expiry`, `hashed-file-names`); every defence is on otherwise. */
  defences?: Defences;
}

/**
 * FilesStorage keeps everything in files, so every process on the same
 * directories shares it: a JSON file per session in SESSIONS_DIR (named by
 * the SHA-256 of its ID) with the per-user index in its `users/` folder,
 * the accounts in USERS_FILE, the sign-in counters in `throttle/` beside
 * it, a lock file beside a session while it is changed, and a note of why
 * each session ended in `ended/` for a day. The sweeper deletes what
 * expired and what a crash left behind.
 */
export class FilesStorage implements Storage {
  readonly kind = 'files';
  readonly sessions: FileSessionStore;
  readonly accounts: UserFileStore;
  readonly counters: FileCounterStore;
  readonly sessionLocks: FileLock;
  readonly endings: EndingNotes;
  #options: FilesStorageOptions;
  #dirLabel: string;

  private constructor(options: FilesStorageOptions, accounts: UserFileStore) {
    this.#options = options;
    this.#dirLabel = path.basename(options.sessionsDir);
    this.sessions = new FileSessionStore({
      dir: options.sessionsDir,
      timeouts: options.timeouts,
      fs: options.fs,
      onCorrupt: options.onCorrupt,
      defences: options.defences,
    });
    this.accounts = accounts;
    // A key's file goes only once it is older than the longest window, so no limit is lifted by the clean-up.
    this.counters = new FileCounterStore({
      dir: throttleDirOf(options.usersFile),
      retainMs: Math.max(FAILURE_WINDOW_MS, ADDRESS_LIMIT_WINDOW_MS),
    });
    this.sessionLocks = new FileLock({ dir: options.sessionsDir });
    this.endings = new EndingNotes({ sessionsDir: options.sessionsDir, fs: options.fs });
  }

  /**
   * open prepares the sessions directory (0700, proved writable) and opens
   * USERS_FILE; a directory that cannot be written or a file that is not a
   * users file stops start-up with a ConfigError naming its variable.
   */
  static async open(options: FilesStorageOptions): Promise<FilesStorage> {
    await prepareSessionsDir(options.sessionsDir);
    return new FilesStorage(options, await openUsers(options.usersFile));
  }

  readonly writeMethod = 'temp file, then rename';

  where(fileId: string, shownLength?: number): string {
    return shownLength === undefined ? `${this.#dirLabel}/${fileId}.json` : `${this.#dirLabel}/${fileId.slice(0, shownLength)}….json`;
  }

  async view(fileId: string): Promise<StoredView> {
    return { where: this.where(fileId), ttlMs: null };
  }

  async *all(): AsyncIterable<StoredSession> {
    const fsys = this.#options.fs ?? nodeFileSystem;
    for await (const entry of await fsys.opendir(this.#options.sessionsDir)) {
      if (!SESSION_FILE_PATTERN.test(entry.name)) continue;
      const file = path.join(this.#options.sessionsDir, entry.name);
      try {
        const stats = await fsys.lstat(file);
        if (!stats.isFile()) continue;
        const text = stats.size <= MAX_SESSION_FILE_BYTES ? await fsys.readFile(file, { encoding: 'utf8', flag: READ_NO_FOLLOW }) : '';
        yield { fileId: entry.name.slice(0, -'.json'.length), bytes: stats.size, record: parseRecord(text) };
      } catch (error) {
        // Deleted between the listing and the read (a logout, a sweeper): simply not there.
        if (errorCode(error) !== 'ENOENT') throw error;
      }
    }
  }

  async sweep(now: number): Promise<SweepReport> {
    const { sessionsDir, timeouts, fs, defences } = this.#options;
    const files = await sweep({
      dir: sessionsDir,
      now,
      timeouts,
      fs,
      defences,
      // The browser of a session deleted here is still told why at its next request.
      noteExpiry: (key, expiry, at) => this.endings.record(key, endingOfExpiry(expiry), at),
    });
    let others = 0;
    let failed = files.failed;
    // The sessions' count stands even when another part's clean-up fails; that part is tried again at the next pass.
    for (const part of await Promise.allSettled([this.counters.sweep(now), this.endings.sweep(now)])) {
      if (part.status === 'fulfilled') others += part.value;
      else failed += 1;
    }
    return {
      live: files.live,
      expired: files.expired,
      leftovers: files.staleTemps + files.indexAdded + files.indexDropped + others,
      failed,
    };
  }

  async close(): Promise<void> {
    // Files hold no connection: every write is complete when its promise settles.
  }
}

/**
 * tightenDataDir makes the directory of USERS_FILE private (0700), as a
 * fresh one is created, when it holds only what Cloakroom keeps there (a
 * clone's `data/` arrives 0755). A directory that also holds anything else
 * (USERS_FILE=./users.json in a project folder) is someone else's: left alone.
 */
async function tightenDataDir(file: string): Promise<void> {
  const dir = path.dirname(file);
  const ours = (name: string): boolean =>
    name === path.basename(file) || name === 'throttle' || name === '.gitkeep' || name === '.gitignore' || /^\..*\.tmp$|\.lock$/.test(name);
  if ((await readdir(dir)).every(ours)) await chmod(dir, DATA_DIR_MODE);
}

/** throttleDirOf is where the counters (sign-in failures, registrations, guest sessions) live: `throttle/` beside USERS_FILE. */
export function throttleDirOf(usersFile: string): string {
  return path.join(path.dirname(usersFile), 'throttle');
}

/**
 * prepareSessionsDir creates the sessions directory (0700), tightens an
 * existing one to 0700, and proves it writable by writing a probe file, so
 * a bad SESSIONS_DIR stops start-up instead of failing the first sign-in.
 */
export async function prepareSessionsDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: SESSIONS_DIR_MODE });
    await chmod(dir, SESSIONS_DIR_MODE);
    await proveWritable(dir);
  } catch (error) {
    throw new ConfigError('SESSIONS_DIR', `${dir} is not a writable directory (${errorCode(error) ?? 'error'})`);
  }
}

/** proveWritable creates and removes a file in `dir`, the one sure test that files can be written there. */
async function proveWritable(dir: string): Promise<void> {
  const probe = tempPathFor(path.join(dir, 'probe'));
  await writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  await unlink(probe);
}

/**
 * openUsers opens USERS_FILE and proves its directory writable (the file
 * itself appears at the first registration); a file that cannot be read as
 * accounts, or a place where it could never be written, stops start-up with
 * one line naming it.
 */
async function openUsers(file: string): Promise<UserFileStore> {
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: DATA_DIR_MODE });
    await tightenDataDir(file);
    await proveWritable(path.dirname(file));
  } catch (error) {
    throw new ConfigError('USERS_FILE', `${path.dirname(file)} is not a writable directory (${errorCode(error) ?? 'error'})`);
  }
  try {
    return await UserFileStore.open(file);
  } catch (error) {
    const why = error instanceof UsersFileError ? error.message : (errorCode(error) ?? 'unreadable');
    throw new ConfigError('USERS_FILE', `${file} cannot be read as a users file (${why})`);
  }
}
