import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as pause } from 'node:timers/promises';
import { errorCode, tempPathFor } from './file-system.ts';
import { HttpError } from './http-error.ts';
import { KeyedLock } from './sessions/lock.ts';
import { StoreError } from './sessions/store.ts';

/**
 * Lock runs a task while holding the lock of one key: tasks for one key run
 * one after another, tasks for different keys side by side.
 */
export interface Lock {
  /** run waits for the lock of `key`, runs `task`, and releases the lock however the task ends. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
}

/** DEFAULT_LEASE_MS: a lock whose holder neither released it nor can be seen alive is broken after this long. */
export const DEFAULT_LEASE_MS = 5000;
/** DEFAULT_MAX_WAIT_MS: a request waits this long for a busy lock before it gets a 503. */
export const DEFAULT_MAX_WAIT_MS = 10_000;
/** How long to wait between two tries at a lock another process holds (a little jitter is added). */
const RETRY_MS = 2;
const TOKEN_BYTES = 12;
/** A waiting holder rewrites its holder file after a tenth of the lease, so a lock it takes has at least 90 % of its lease left. */
const LEASE_REFRESH_PARTS = 10;
const LOCK_FILE_MODE = 0o600;

/** LOCK_KEY_PATTERN: a key is used as a file name, so it is a plain name (a session's storage key, "users", …). */
const LOCK_KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** LOCK_FILE_PATTERN matches the lock files this module creates: `<key>.lock`. */
export const LOCK_FILE_PATTERN = /^[A-Za-z0-9_-]{1,64}\.lock$/;

/** LockHolder is what a lock file says about its holder, for others to judge whether it is still alive. */
interface LockHolder {
  pid: number;
  host: string;
  token: string;
  /** expiresAt (epoch ms): after this the lock may be broken even if the holder seems alive. */
  expiresAt: number;
}

/** LockTimeoutError: the lock stayed busy for longer than the wait allowed; the request gets a 503. */
export class LockTimeoutError extends HttpError {
  constructor() {
    super(503, 'busy', 'This session is busy with another request. Please try again in a moment.', {
      headers: { 'Retry-After': '1' },
    });
    this.name = 'LockTimeoutError';
  }
}

export interface FileLockOptions {
  /** dir holds the lock files; it must exist (it is the sessions or data directory). */
  dir: string;
  /** leaseMs: how long a lock counts as held when its holder cannot be seen (default DEFAULT_LEASE_MS). */
  leaseMs?: number;
  /** maxWaitMs: how long run() waits for a busy lock before throwing LockTimeoutError. */
  maxWaitMs?: number;
  clock?: () => number;
  /** isAlive tells whether a process of this host is running; tests pass their own. */
  isAlive?: (pid: number) => boolean;
  /** wait pauses between tries; tests pass one that returns at once. */
  wait?: (ms: number) => Promise<void>;
}

/**
 * FileLock is a lock that every process sharing one directory respects:
 * the lock of key K is the file `<dir>/K.lock`, created with O_EXCL (`wx`),
 * which the kernel lets exactly one process do. Without it two processes on
 * one sessions directory would each read a session, change it and write it
 * back, and one of the two changes would be lost.
 *
 * Inside one process the tasks of a key first queue in a KeyedLock, so only
 * one of them at a time polls the file.
 *
 * A holder that died (killed with SIGKILL, a crash) cannot release its lock.
 * The next process that wants it reads the holder's pid and host: a dead
 * process of this host is seen at once, and any other holder's lock is
 * broken when its lease has run out. The lease is not renewed: the lock
 * covers only a short read-modify-write, never a whole request.
 *
 * Limits, said plainly: a holder stalled past its lease may find its lock
 * broken, and three processes meeting at one dead lock within microseconds
 * could leave two holders (see #break). Either way two writers may each
 * write a whole file over the other: one change is lost (of a session, the
 * users file or a counter), but no file is ever torn, since every write is
 * an atomic rename.
 */
export class FileLock implements Lock {
  #prefix: string;
  #leaseMs: number;
  #maxWaitMs: number;
  #clock: () => number;
  #isAlive: (pid: number) => boolean;
  #wait: (ms: number) => Promise<void>;
  #local = new KeyedLock();
  #host = hostname();

  constructor(options: FileLockOptions) {
    this.#prefix = options.dir.endsWith('/') ? options.dir : `${options.dir}/`;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.#clock = options.clock ?? Date.now;
    this.#isAlive = options.isAlive ?? isProcessAlive;
    this.#wait = options.wait ?? ((ms) => pause(ms));
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    if (!LOCK_KEY_PATTERN.test(key)) throw new TypeError(`FileLock: "${key}" is not a plain lock key`);
    return this.#local.run(key, async () => {
      const token = await this.#acquire(key);
      try {
        return await task();
      } finally {
        await this.#release(key, token);
      }
    });
  }

  /**
   * #acquire takes the lock file and returns this holder's token. The
   * holder's details are written to a temporary file first and then linked
   * to the lock's name: link, like O_EXCL, fails when the name exists, and a
   * lock file is never seen half-written.
   */
  async #acquire(key: string): Promise<string> {
    const file = this.#fileOf(key);
    const temp = tempPathFor(file);
    const token = randomBytes(TOKEN_BYTES).toString('hex');
    const giveUpAt = this.#clock() + this.#maxWaitMs;
    try {
      let writtenAt = Number.NEGATIVE_INFINITY;
      for (;;) {
        // A lease is counted from the moment the lock is taken, so a long wait rewrites it.
        if (this.#clock() - writtenAt > this.#leaseMs / LEASE_REFRESH_PARTS) writtenAt = await this.#writeHolder(temp, token);
        if (await this.#tryLink(temp, file)) return token;
        const other = await this.#readHolder(file);
        if (other !== GONE && this.#isDead(other)) await this.#break(file, other);
        else if (this.#clock() >= giveUpAt) throw new LockTimeoutError();
        else await this.#wait(RETRY_MS + Math.random() * RETRY_MS);
      }
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async #writeHolder(temp: string, token: string): Promise<number> {
    const now = this.#clock();
    const holder: LockHolder = { pid: process.pid, host: this.#host, token, expiresAt: now + this.#leaseMs };
    await writeFile(temp, JSON.stringify(holder), { mode: LOCK_FILE_MODE }).catch(storageFailure);
    return now;
  }

  /** #tryLink gives the lock's name to the holder file: true when it was free. */
  async #tryLink(temp: string, file: string): Promise<boolean> {
    try {
      await link(temp, file);
      return true;
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      return storageFailure(error);
    }
  }

  /** #release deletes the lock file if it is still this holder's (a lock broken after its lease is someone else's now). */
  async #release(key: string, token: string): Promise<void> {
    const file = this.#fileOf(key);
    const holder = await this.#readHolder(file);
    if (holder === GONE || holder?.token !== token) return;
    await removeFile(file);
  }

  /**
   * #readHolder reads a lock file: GONE when it was released meanwhile, or
   * null when it cannot be read as a holder (only a hand edit does that).
   */
  async #readHolder(file: string): Promise<LockHolder | null | typeof GONE> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return GONE;
      return storageFailure(error);
    }
    return parseHolder(text);
  }

  /** #isDead: the holder is a process of this host that is gone, or its lease has run out; a lock file that says nothing is dead. */
  #isDead(holder: LockHolder | null): boolean {
    if (holder === null) return true;
    if (holder.expiresAt <= this.#clock()) return true;
    return holder.host === this.#host && !this.#isAlive(holder.pid);
  }

  /**
   * #break removes a dead holder's lock. It first renames the lock file to a
   * name of its own, which is atomic: of two processes breaking the same
   * lock, only one moves it. If what it moved is not the dead holder's lock
   * after all (another process broke that one and took the lock in
   * between), it links it back under the lock's name at once.
   */
  async #break(file: string, holder: LockHolder | null): Promise<void> {
    const aside = tempPathFor(file);
    try {
      await rename(file, aside);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      storageFailure(error);
    }
    const moved = await this.#readHolder(aside);
    const wasDead = moved === GONE || moved === null || moved.token === holder?.token;
    if (!wasDead) await link(aside, file).catch(() => undefined);
    await removeFile(aside);
  }

  #fileOf(key: string): string {
    return `${this.#prefix}${key}.lock`;
  }
}

/**
 * removeStaleLock deletes the lock file `file` if, read once more after it
 * is moved aside (so no holder can take it meanwhile), it is still stale at
 * `now`; a lock taken again since the sweeper looked is put back. It
 * returns true when it deleted one.
 */
export async function removeStaleLock(file: string, now: number, leaseMs = DEFAULT_LEASE_MS): Promise<boolean> {
  const aside = tempPathFor(file);
  try {
    await rename(file, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
  const text = await readFile(aside, 'utf8').catch(() => '');
  const stale = isLockFileStale(text, 0, now, leaseMs);
  if (!stale) await link(aside, file).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return stale;
}

/**
 * isLockFileStale tells the sweeper whether a lock file left behind may be
 * deleted: its lease ran out long ago. An unreadable one counts by its age.
 */
export function isLockFileStale(text: string, modifiedAtMs: number, now: number, leaseMs = DEFAULT_LEASE_MS): boolean {
  const holder = parseHolder(text);
  const expiresAt = holder === null ? modifiedAtMs + leaseMs : holder.expiresAt;
  return expiresAt + leaseMs <= now;
}

/** removeFile deletes a file that may already be gone. */
async function removeFile(file: string): Promise<void> {
  await unlink(file).catch((error: unknown) => {
    if (errorCode(error) !== 'ENOENT') storageFailure(error);
  });
}

/** storageFailure turns a failing disk under a lock into the store's 503, like any other failed session write. */
function storageFailure(error: unknown): never {
  throw new StoreError('lock', error);
}

/** GONE: the lock file was deleted between two looks at it. */
const GONE = Symbol('gone');

function parseHolder(text: string): LockHolder | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return null;
    const { pid, host, token, expiresAt } = value as Record<string, unknown>;
    if (typeof pid !== 'number' || typeof host !== 'string' || typeof token !== 'string' || typeof expiresAt !== 'number') {
      return null;
    }
    return { pid, host, token, expiresAt };
  } catch {
    return null;
  }
}

/** isProcessAlive: signal 0 checks that a process exists without touching it (EPERM means it exists, owned by another user). */
function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}
