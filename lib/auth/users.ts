import type { Stats } from 'node:fs';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { errorCode, isSameVersion, nodeFileSystem, versionOf, writeFileAtomic } from '../file-system.ts';
import type { FileSystem, FileVersion } from '../file-system.ts';
import { FileLock } from '../file-lock.ts';
import type { Lock } from '../file-lock.ts';
import { DISPLAY_NAME_MAX, isValidText, isValidUsername } from '../validation.ts';
import { isPasswordHash } from './passwords.ts';
import type { PasswordHash } from './passwords.ts';

/** UserRecord is one account as stored in USERS_FILE. */
export interface UserRecord {
  username: string;
  displayName: string;
  createdAt: string;
  /** generation goes up with every password change; sessions signed in under an older one are over. */
  generation: number;
  password: PasswordHash;
}

/**
 * AccountStore keeps the accounts. Usernames are unique regardless of case
 * ("Alice" and "alice" are the same account), so no one can register a
 * look-alike of an existing name. Every process that shares the store sees
 * a change made by any other at its next call.
 */
export interface AccountStore {
  /** find returns the account named `username` (any case), or null. It throws only when storage fails. */
  find(username: string): Promise<UserRecord | null>;

  /**
   * add stores a new account and returns true, or stores nothing and returns
   * false when the name is taken, by this process or any other: of two
   * registrations of one name at the same moment, exactly one wins.
   */
  add(user: UserRecord): Promise<boolean>;

  /**
   * update applies `change` to the account as it is stored now, never to a
   * copy read earlier, and saves the result, so a change made meanwhile by
   * another request or process is kept. It returns the saved account, or
   * null (changing nothing) when there is no such account. When `change`
   * throws, nothing is saved and the error is passed on.
   */
  update(username: string, change: (current: UserRecord) => UserRecord): Promise<UserRecord | null>;
}

interface UsersFile {
  version: 1;
  users: UserRecord[];
}

/** UsersFileError: USERS_FILE holds something other than Cloakroom accounts; the message names the first problem found. */
export class UsersFileError extends Error {
  constructor(problem: string) {
    super(`not a Cloakroom users file: ${problem}`);
    this.name = 'UsersFileError';
  }
}

const USERS_FILE_MODE = 0o600;
/** DATA_DIR_MODE: the directory of USERS_FILE, when Cloakroom creates it, is private to the server (0700). */
export const DATA_DIR_MODE = 0o700;

/** The version of the users file that a map of accounts was read from. */
interface Loaded {
  users: Map<string, UserRecord>;
  /** version of the file that was read (null: there was no file); the same stat-validated idea as the session store's cache. */
  version: FileVersion | null;
}

/**
 * UserFileStore keeps every account in one JSON file, USERS_FILE, shared by
 * every process that is given the same path.
 *
 * Reading: each find() first stats the file (one system call, answered from
 * the kernel's inode cache) and reads it again only when its inode, size or
 * times changed, so an account registered or changed by another process is
 * seen at the very next request.
 *
 * Writing: each change takes the file's lock (a FileLock beside the file,
 * which other processes respect too), reads the file as it is on disk now,
 * applies the change and writes the whole file atomically. A process never
 * writes back a copy of the accounts it has not re-read, so no account made
 * by another process is ever lost.
 */
export class UserFileStore implements AccountStore {
  #file: string;
  #fs: FileSystem;
  #lock: Lock;
  #lockKey: string;
  #loaded: Loaded;

  private constructor(file: string, fsys: FileSystem, lock: Lock, loaded: Loaded) {
    this.#file = file;
    this.#fs = fsys;
    this.#lock = lock;
    this.#lockKey = lockKeyOf(file);
    this.#loaded = loaded;
  }

  /**
   * open loads `file`; a missing file is an empty store (it is created on
   * first registration). A file that is not a users file throws, so a
   * mistyped USERS_FILE stops start-up instead of being overwritten.
   */
  static async open(file: string, fsys: FileSystem = nodeFileSystem, lock?: Lock): Promise<UserFileStore> {
    const loaded = readUsers(file, fsys);
    return new UserFileStore(file, fsys, lock ?? new FileLock({ dir: path.dirname(file) }), loaded);
  }

  async find(username: string): Promise<UserRecord | null> {
    return this.#current().users.get(keyOf(username)) ?? null;
  }

  async add(user: UserRecord): Promise<boolean> {
    const key = keyOf(user.username);
    return this.#change((users) => {
      if (users.has(key)) return false;
      // A copy: the caller's object, changed later, must not change the account kept here.
      users.set(key, structuredClone(user));
      return true;
    });
  }

  async update(username: string, change: (current: UserRecord) => UserRecord): Promise<UserRecord | null> {
    const key = keyOf(username);
    return this.#change((users) => {
      const current = users.get(key);
      if (current === undefined) return null;
      const changed = change(current);
      users.set(key, changed);
      return changed;
    });
  }

  /** #current is the accounts as the file holds them now: re-read only when the file changed. */
  #current(): Loaded {
    if (!isCurrent(this.#loaded.version, this.#statOrNull())) this.#loaded = readUsers(this.#file, this.#fs);
    return this.#loaded;
  }

  /**
   * #change runs `apply` on a fresh copy of the accounts under the file's
   * lock and writes the file when `apply` changed it (it answers false or
   * null when it did not). Memory takes the new accounts only once they are
   * on disk: a failed write changes nothing.
   */
  async #change<T>(apply: (users: Map<string, UserRecord>) => T): Promise<T> {
    // The lock file lives beside the users file, so their directory must exist first.
    await this.#fs.mkdir(path.dirname(this.#file), { recursive: true, mode: DATA_DIR_MODE });
    return this.#lock.run(this.#lockKey, async () => {
      const users = new Map(this.#current().users);
      const result = apply(users);
      if (result === false || result === null) return result;
      const contents: UsersFile = { version: 1, users: [...users.values()] };
      await writeFileAtomic(this.#fs, this.#file, `${JSON.stringify(contents, null, 2)}\n`, USERS_FILE_MODE);
      // Under the lock no other process can replace the file, so this stat is of the file just written.
      this.#loaded = { users, version: versionOrNull(this.#statOrNull()) };
      return result;
    });
  }

  #statOrNull(): Stats | null {
    return this.#fs.statSync(this.#file, { throwIfNoEntry: false }) ?? null;
  }
}

/**
 * readUsers reads the users file as it is now: a missing file is no
 * accounts (before the first registration, or after a reset); a file that
 * is not valid accounts throws UsersFileError (see parseUsersFile).
 */
function readUsers(file: string, fsys: FileSystem): Loaded {
  const stats = fsys.statSync(file, { throwIfNoEntry: false }) ?? null;
  if (stats === null) return { users: new Map(), version: null };
  let text: string;
  try {
    // Synchronous like the stat: it runs only when the file changed, and a users file is small.
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { users: new Map(), version: null };
    throw error;
  }
  return { users: new Map(parseUsersFile(text).map((user) => [keyOf(user.username), user])), version: versionOf(stats) };
}

function versionOrNull(stats: Stats | null): FileVersion | null {
  return stats === null ? null : versionOf(stats);
}

/** isCurrent: the file is still the version that was read (both null: there was no file, and there is none). */
function isCurrent(version: FileVersion | null, stats: Stats | null): boolean {
  return version === null || stats === null ? version === stats : isSameVersion(version, stats);
}

/** lockKeyOf names the users file's lock after the file: `users.json` → `users-json.lock`, beside it. */
function lockKeyOf(file: string): string {
  return (
    path
      .basename(file)
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 64) || 'users'
  );
}

function keyOf(username: string): string {
  return username.toLowerCase();
}

/**
 * parseUsersFile reads the accounts out of USERS_FILE's text, checking each
 * field as registration and the API would have: the file is data from
 * disk, edited by hand perhaps, and a cast would let a bad field surface
 * only later, as a 500 in the middle of a sign-in. Usernames must also be
 * unique regardless of case. Throws UsersFileError naming the first problem.
 */
export function parseUsersFile(text: string): UserRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsersFileError('not JSON');
  }
  if (!isObject(value) || value.version !== 1 || !Array.isArray(value.users)) throw new UsersFileError('no version 1 list of users');
  const seen = new Set<string>();
  return value.users.map((user: unknown, index) => {
    const problem = userProblem(user);
    if (problem !== null) throw new UsersFileError(`users[${index}]: ${problem}`);
    const record = user as UserRecord;
    if (seen.has(keyOf(record.username))) throw new UsersFileError(`users[${index}]: ${record.username} appears twice`);
    seen.add(keyOf(record.username));
    return record;
  });
}

/** userProblem names the first field of `value` that is not a valid account field, or null when all are. */
export function userProblem(value: unknown): string | null {
  if (!isObject(value)) return 'not an object';
  if (!isValidUsername(value.username)) return 'username is not 3 to 32 of A-Z a-z 0-9 _ . -';
  if (!isValidText(value.displayName, 1, DISPLAY_NAME_MAX)) return `displayName is not text of 1 to ${DISPLAY_NAME_MAX} characters`;
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) return 'createdAt is not a date';
  if (!Number.isSafeInteger(value.generation) || (value.generation as number) < 0) return 'generation is not a whole number from 0';
  if (!isPasswordHash(value.password)) return 'password is not an scrypt hash with its parameters';
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
