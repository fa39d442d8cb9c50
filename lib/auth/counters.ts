import { createHash } from 'node:crypto';
import { lstat, mkdir, opendir, readFile, unlink } from 'node:fs/promises';
import { errorCode, nodeFileSystem, writeFileAtomic } from '../file-system.ts';
import { FileLock } from '../file-lock.ts';
import type { Lock } from '../file-lock.ts';
import { StoreError } from '../sessions/store.ts';

/**
 * CounterStore counts events per key in a sliding window: the failed
 * sign-ins of an account or an address, the registrations of an address.
 * Every process that shares the store shares the counts, so a limit holds
 * in total, however many processes the attempts are spread over.
 */
export interface CounterStore {
  /**
   * hit counts one event for `key` at `now` and returns 0, unless `limit`
   * events already fall within the last `windowMs`: then it counts nothing
   * and returns how many milliseconds remain until the oldest of them leaves
   * the window. The check and the count are one atomic step, so parallel
   * attempts cannot all slip in under the limit. A store that cannot keep
   * one more key refuses (returns `windowMs`) rather than forget a count.
   */
  hit(key: string, limit: number, windowMs: number, now: number): Promise<number>;

  /** forget takes back the event counted at `at`, or every event of `key` when `at` is undefined. Unknown keys are a no-op. */
  forget(key: string, at?: number): Promise<void>;
}

/** DEFAULT_MAX_KEYS bounds the memory of MemoryCounterStore. */
export const DEFAULT_MAX_KEYS = 10_000;

interface Entry {
  times: number[];
  limit: number;
  windowMs: number;
}

/**
 * MemoryCounterStore keeps the counts in this process: lost at restart and
 * not shared, for a single process and for tests.
 *
 * Memory is bounded by `maxKeys`. When the table is full it first drops keys
 * whose events have all left their window, then the stalest key still under
 * its limit. A key at its limit is never dropped: forgetting it would lift
 * a lock-out, and a flood of other names must not buy that. When every key
 * is at its limit, a new key is refused instead.
 */
export class MemoryCounterStore implements CounterStore {
  #entries = new Map<string, Entry>();
  #maxKeys: number;

  constructor(options: { maxKeys?: number } = {}) {
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<number> {
    const times = recent(this.#entries.get(key)?.times ?? [], windowMs, now);
    const wait = waitFor(times, limit, windowMs, now);
    if (wait > 0) return wait;
    if (!this.#entries.has(key) && !this.#makeRoom(now)) return windowMs;
    // Re-inserting moves the key to the end of the Map's order: the stalest stay first.
    this.#entries.delete(key);
    this.#entries.set(key, { times: [...times, now], limit, windowMs });
    return 0;
  }

  async forget(key: string, at?: number): Promise<void> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    if (at === undefined) {
      this.#entries.delete(key);
      return;
    }
    const index = entry.times.lastIndexOf(at);
    if (index >= 0) entry.times.splice(index, 1);
  }

  /** size is how many keys are held (for tests of the bound). */
  get size(): number {
    return this.#entries.size;
  }

  /** #makeRoom frees one place if the table is full: expired keys first, then the stalest key under its limit. */
  #makeRoom(now: number): boolean {
    if (this.#entries.size < this.#maxKeys) return true;
    let stalestUnderLimit: string | undefined;
    for (const [key, entry] of this.#entries) {
      const times = recent(entry.times, entry.windowMs, now);
      if (times.length === 0) {
        this.#entries.delete(key);
        return true;
      }
      if (stalestUnderLimit === undefined && times.length < entry.limit) stalestUnderLimit = key;
    }
    if (stalestUnderLimit === undefined) return false;
    this.#entries.delete(stalestUnderLimit);
    return true;
  }
}

export interface FileCounterStoreOptions {
  /** dir holds one small file per counted key; created 0700 if missing. */
  dir: string;
  lock?: Lock;
  /** retainMs: sweep() deletes a key's file once it has not been hit for this long (default DEFAULT_RETAIN_MS). */
  retainMs?: number;
}

/** DEFAULT_RETAIN_MS: the longest window any limit counts over (15 minutes); an older count can hold nothing back. */
export const DEFAULT_RETAIN_MS = 15 * 60 * 1000;
/** COUNTER_FILE_PATTERN matches the files of FileCounterStore: `<64 hex>.json`. */
const COUNTER_FILE_PATTERN = /^[0-9a-f]{64}\.json$/;

const COUNTER_FILE_MODE = 0o600;
const COUNTER_DIR_MODE = 0o700;

/**
 * FileCounterStore keeps each key's event times in `<dir>/<sha256 of key>.json`,
 * changed under a FileLock, so every process on the same directory counts
 * together. The key (a username, an address) is hashed for the file name,
 * as a session ID is. A file whose events have all left the window is
 * deleted the next time it is hit or forgotten.
 */
export class FileCounterStore implements CounterStore {
  #dir: string;
  #lock: Lock;
  #retainMs: number;
  #ready: Promise<unknown> | null = null;

  constructor(options: FileCounterStoreOptions) {
    this.#dir = options.dir;
    this.#lock = options.lock ?? new FileLock({ dir: options.dir });
    this.#retainMs = options.retainMs ?? DEFAULT_RETAIN_MS;
  }

  /**
   * sweep deletes the file of every key not hit within `retainMs` of `now`,
   * so names tried once (a spray of guessed usernames) do not stay on disk.
   * It returns how many it deleted. Each file is judged again under its
   * lock, so a count made meanwhile is never swept away.
   */
  async sweep(now: number): Promise<number> {
    let deleted = 0;
    let dir;
    try {
      dir = await opendir(this.#dir);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 0;
      throw error;
    }
    for await (const entry of dir) {
      const name = entry.name.slice(0, -'.json'.length);
      if (!COUNTER_FILE_PATTERN.test(entry.name) || !(await this.#isIdle(name, now))) continue;
      await this.#lock.run(name, async () => {
        if (!(await this.#isIdle(name, now))) return;
        await this.#write(name, []);
        deleted += 1;
      });
    }
    return deleted;
  }

  async #isIdle(name: string, now: number): Promise<boolean> {
    const stats = await lstat(this.#pathOf(name)).catch(() => null);
    return stats !== null && stats.isFile() && now - stats.mtimeMs >= this.#retainMs;
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<number> {
    const name = keyHash(key);
    return this.#inDir(() =>
      this.#lock.run(name, async () => {
        const times = recent(await this.#read(name), windowMs, now);
        const wait = waitFor(times, limit, windowMs, now);
        if (wait > 0) return wait;
        await this.#write(name, [...times, now]);
        return 0;
      }),
    );
  }

  async forget(key: string, at?: number): Promise<void> {
    const name = keyHash(key);
    await this.#inDir(() =>
      this.#lock.run(name, async () => {
        const times = at === undefined ? [] : await this.#read(name);
        const index = at === undefined ? -1 : times.lastIndexOf(at);
        if (index >= 0) times.splice(index, 1);
        await this.#write(name, times);
      }),
    );
  }

  /**
   * #inDir runs `task` in the counters' directory, making it first; if the
   * directory was deleted while the server ran (a reset), it is made again
   * and the task tried once more, so sign-ins do not fail until a restart.
   */
  async #inDir<T>(task: () => Promise<T>): Promise<T> {
    await this.#ensureDir();
    try {
      return await task();
    } catch (error) {
      if (!(error instanceof StoreError) || errorCode(error.cause) !== 'ENOENT') throw error;
      this.#ready = null;
      await this.#ensureDir();
      return task();
    }
  }

  async #ensureDir(): Promise<void> {
    this.#ready ??= mkdir(this.#dir, { recursive: true, mode: COUNTER_DIR_MODE }).catch((error: unknown) => {
      this.#ready = null;
      throw new StoreError('counters', error);
    });
    await this.#ready;
  }

  /** #read gives the times stored for a key: none when there is no file, or when it is not a list of times (a hand edit). */
  async #read(name: string): Promise<number[]> {
    let text: string;
    try {
      text = await readFile(this.#pathOf(name), 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw new StoreError('counters', error);
    }
    try {
      const value: unknown = JSON.parse(text);
      return Array.isArray(value) && value.every((time) => typeof time === 'number') ? value : [];
    } catch {
      return [];
    }
  }

  /** #write stores the times, or deletes the file when there are none left. */
  async #write(name: string, times: number[]): Promise<void> {
    try {
      if (times.length > 0) await writeFileAtomic(nodeFileSystem, this.#pathOf(name), JSON.stringify(times), COUNTER_FILE_MODE);
      else await unlink(this.#pathOf(name));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw new StoreError('counters', error);
    }
  }

  #pathOf(name: string): string {
    return `${this.#dir}/${name}.json`;
  }
}

/** recent is the times still within the window at `now`, oldest first. */
function recent(times: readonly number[], windowMs: number, now: number): number[] {
  return times.filter((time) => now - time < windowMs);
}

/** waitFor is 0 while fewer than `limit` events are recent, else the time until enough old ones leave the window. */
export function waitFor(times: readonly number[], limit: number, windowMs: number, now: number): number {
  // The oldest of the last `limit` events: when it leaves the window, one more may be counted.
  const oldestCounted = times.at(-limit);
  if (times.length < limit || oldestCounted === undefined) return 0;
  return oldestCounted + windowMs - now;
}

/** keyHash is the hex SHA-256 of a counted key: what a shared store keeps instead of the username or address itself. */
export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
