import path from 'node:path';
import { errorCode, nodeFileSystem, writeFileAtomic } from '../file-system.ts';
import type { FileSystem } from '../file-system.ts';
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

/**
 * UserStore holds the accounts in memory and writes the whole USERS_FILE
 * atomically after each change, one write at a time. Usernames are unique
 * regardless of case ("Alice" and "alice" are the same account), so no one
 * can register a look-alike of an existing name.
 *
 * USERS_FILE belongs to this process: it is read once at open(), not
 * watched for changes by other processes.
 */
export class UserStore {
  #file: string;
  #fs: FileSystem;
  #users: Map<string, UserRecord>;
  #writes: Promise<void> = Promise.resolve();

  private constructor(file: string, fsys: FileSystem, users: Map<string, UserRecord>) {
    this.#file = file;
    this.#fs = fsys;
    this.#users = users;
  }

  /**
   * open loads `file`; a missing file is an empty store (it is created on
   * first registration). A file that is not valid accounts throws
   * UsersFileError (see parseUsersFile); any other read error is passed on.
   */
  static async open(file: string, fsys: FileSystem = nodeFileSystem): Promise<UserStore> {
    let text: string;
    try {
      text = await fsys.readFile(file, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return new UserStore(file, fsys, new Map());
      throw error;
    }
    const users = new Map<string, UserRecord>();
    for (const user of parseUsersFile(text)) users.set(keyOf(user.username), user);
    return new UserStore(file, fsys, users);
  }

  /** find returns the account named `username` (any case), or null. */
  find(username: string): UserRecord | null {
    return this.#users.get(keyOf(username)) ?? null;
  }

  /** add stores a new account and returns true, or returns false (storing nothing) when the name is taken. */
  async add(user: UserRecord): Promise<boolean> {
    const key = keyOf(user.username);
    if (this.#users.has(key)) return false;
    this.#users.set(key, user);
    await this.#save().catch((error: unknown) => {
      // Not on disk, so not an account: give the name back and report the failure.
      if (this.#users.get(key) === user) this.#users.delete(key);
      throw error;
    });
    return true;
  }

  /** replace swaps in a changed copy of an existing account and saves it. */
  async replace(user: UserRecord): Promise<void> {
    const key = keyOf(user.username);
    const previous = this.#users.get(key);
    this.#users.set(key, user);
    await this.#save().catch((error: unknown) => {
      // The change never reached the disk: memory goes back to what the disk holds.
      if (previous !== undefined && this.#users.get(key) === user) this.#users.set(key, previous);
      throw error;
    });
  }

  /**
   * #save queues a write of the whole file. Each write snapshots the map when
   * it starts, so the last write always holds every change before it.
   */
  #save(): Promise<void> {
    const write = this.#writes.then(async () => {
      const contents: UsersFile = { version: 1, users: [...this.#users.values()] };
      await this.#fs.mkdir(path.dirname(this.#file), { recursive: true, mode: DATA_DIR_MODE });
      await writeFileAtomic(this.#fs, this.#file, `${JSON.stringify(contents, null, 2)}\n`, USERS_FILE_MODE);
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }
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
function userProblem(value: unknown): string | null {
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
