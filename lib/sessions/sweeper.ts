import path from 'node:path';
import { errorCode, nodeFileSystem, READ_NO_FOLLOW } from '../file-system.ts';
import { isLockFileStale, removeStaleLock } from '../file-lock.ts';
import type { FileSystem } from '../file-system.ts';
import { DEFENDED } from '../lab/switches.ts';
import type { Defences } from '../lab/switches.ts';
import { SESSION_FILE_PATTERN, MAX_SESSION_FILE_BYTES, RAW_ID_FILE_PATTERN, TEMP_FILE_PATTERN } from './file-store.ts';
import { expiryAt, parseRecord } from './record.ts';
import type { Expiry, Timeouts } from './record.ts';
import { UserIndex } from './user-index.ts';
import type { SweepReport } from '../storage/storage.ts';

/** SWEEP_CONCURRENCY bounds the files open at once, far below any descriptor limit. */
export const SWEEP_CONCURRENCY = 8;
/** A temporary file older than this belongs to a write that died (a live one lasts milliseconds). */
export const STALE_TEMP_MS = 60_000;
/** Directory entries read from the kernel per batch: the directory is streamed, never loaded whole. */
const DIR_BUFFER_SIZE = 256;
/** SESSION_LOCK_PATTERN matches the lock of one session (lib/file-lock.ts): `<64 hex>.lock`. */
const SESSION_LOCK_PATTERN = /^[0-9a-f]{64}\.lock$/;
/** LOCK_TEMP_PATTERN matches the holder file written before a lock is taken: `.<64 hex>.lock.<12 hex>.tmp`. */
const LOCK_TEMP_PATTERN = /^\.[0-9a-f]{64}\.lock\.[0-9a-f]{12}\.tmp$/;

export interface SweepResult {
  /** Entries of our own name patterns that were looked at. */
  scanned: number;
  /** Expired, corrupt session files deleted. */
  expired: number;
  /** Leftovers of a crash, deleted: temporary files, and session locks whose holder died. */
  staleTemps: number;
  /** Files that could not be examined or deleted (already gone, permission); the next sweep tries again. */
  failed: number;
  /** Session files kept: the live sessions (and unreadable ones not yet old enough to go), for the count of stored sessions. */
  live: number;
  /** Markers written in the user index for live signed-in sessions that had none (a crash between writing a session and its marker). */
  indexAdded: number;
  /** Markers deleted from the user index because their session file is gone (expired, revoked, or a crash between the two deletes). */
  indexDropped: number;
}

export interface SweepOptions {
  dir: string;
  now: number;
  timeouts: Timeouts;
  fs?: FileSystem;
  concurrency?: number;
  /**
   * noteExpiry hears of each expired session just before its file is
   * deleted, with the file's storage key (its name without `.json`), so the
   * reason can outlive the file (lib/sessions/endings.ts).
   */
  noteExpiry?: (key: string, expiry: Expiry, now: number) => Promise<unknown>;
  /** defences are the lab's switches in lab mode; DEFENDED otherwise (lib/lab/switches.ts). */
  defences?: Defences;
}

/**
 * sweep deletes, in `dir`, every session file that is expired at `now`, or
 * is unreadable as a record and older than the absolute timeout, every
 * temporary file older than STALE_TEMP_MS, and every session lock whose
 * lease ran out long ago (its holder died holding it).
 *
 * Several sweepers may run at once (one per process on a shared
 * directory): a file another sweeper deleted first is simply skipped.
 *
 * It also repairs the user index (lib/sessions/user-index.ts): each live
 * signed-in session without a marker gets one, and afterwards every marker
 * whose session file is gone is deleted.
 *
 * It touches only names of its own patterns, checks each with lstat (so a
 * symbolic link, a directory or a FIFO planted there is never followed or
 * opened), reads the directory as a stream and keeps at most `concurrency`
 * files in hand. Time is a parameter, so tests need no clock.
 */
export async function sweep(options: SweepOptions): Promise<SweepResult> {
  const fsys = options.fs ?? nodeFileSystem;
  const index = new UserIndex(options.dir, fsys);
  const result: SweepResult = { scanned: 0, expired: 0, staleTemps: 0, failed: 0, live: 0, indexAdded: 0, indexDropped: 0 };
  const examine = async (name: string): Promise<void> => {
    result.scanned += 1;
    try {
      const verdict = await judge(fsys, path.join(options.dir, name), name, options);
      if (typeof verdict === 'object') {
        result.live += 1;
        if (await ensureMarker(index, verdict.user, name)) result.indexAdded += 1;
        return;
      }
      if (verdict === 'keep' || verdict === 'live') {
        if (verdict === 'live') result.live += 1;
        return;
      }
      if (SESSION_LOCK_PATTERN.test(name)) {
        // Moved aside and judged again, so a lock some request took since the look above is put back, not deleted.
        if (await removeStaleLock(path.join(options.dir, name), options.now)) result[verdict] += 1;
        return;
      }
      await fsys.unlink(path.join(options.dir, name));
      result[verdict] += 1;
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') result.failed += 1;
    }
  };

  const inFlight = new Set<Promise<void>>();
  const dir = await fsys.opendir(options.dir, { bufferSize: DIR_BUFFER_SIZE });
  for await (const entry of dir) {
    if (!isOurs(entry.name)) continue;
    const task = examine(entry.name).finally(() => inFlight.delete(task));
    inFlight.add(task);
    if (inFlight.size >= (options.concurrency ?? SWEEP_CONCURRENCY)) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  // After the files: a marker written above for a session deleted meanwhile is dropped here.
  try {
    result.indexDropped = await index.dropStale((fileId) => exists(fsys, path.join(options.dir, `${fileId}.json`)));
  } catch {
    result.failed += 1;
  }
  return result;
}

/**
 * Verdict is what a sweep does with one file: keep it (counting it as a
 * stored session when `live`), or delete it and count it under that name of
 * SweepResult. A live session of a signed-in user is kept and counted too,
 * and names its user for the index.
 */
type Verdict = 'keep' | 'live' | 'expired' | 'staleTemps' | { user: string };

/** ensureMarker gives a live session of `user` its marker in the index if it has none; true when it wrote one. */
async function ensureMarker(index: UserIndex, user: string, name: string): Promise<boolean> {
  const fileId = name.slice(0, -'.json'.length);
  if (await index.has(user, fileId)) return false;
  await index.add(user, fileId);
  return true;
}

/** exists is false only when `file` is surely gone: a file that cannot be looked at is kept, with its marker. */
async function exists(fsys: FileSystem, file: string): Promise<boolean> {
  try {
    await fsys.lstat(file);
    return true;
  } catch (error) {
    return errorCode(error) !== 'ENOENT';
  }
}

async function judge(fsys: FileSystem, file: string, name: string, options: SweepOptions): Promise<Verdict> {
  const defences = options.defences ?? DEFENDED;
  const stats = await fsys.lstat(file);
  if (!stats.isFile()) return 'keep';
  // A file named by a raw ID is a ticket for whoever reads the folder: only the lab writes one, and it goes once names are hashed.
  if (RAW_ID_FILE_PATTERN.test(name) && defences['hashed-file-names']) return 'staleTemps';
  if (TEMP_FILE_PATTERN.test(name) || LOCK_TEMP_PATTERN.test(name)) return options.now - stats.mtimeMs >= STALE_TEMP_MS ? 'staleTemps' : 'keep';
  if (SESSION_LOCK_PATTERN.test(name)) {
    const text = stats.size <= MAX_SESSION_FILE_BYTES ? await fsys.readFile(file, { encoding: 'utf8', flag: READ_NO_FOLLOW }) : '';
    return isLockFileStale(text, stats.mtimeMs, options.now) ? 'staleTemps' : 'keep';
  }
  const record = stats.size <= MAX_SESSION_FILE_BYTES ? parseRecord(await fsys.readFile(file, { encoding: 'utf8', flag: READ_NO_FOLLOW })) : null;
  if (record !== null) {
    // A stolen ID that works for ever: an expired session's file goes, used or not.
    const expiry = defences.expiry ? expiryAt(record, options.now, options.timeouts) : null;
    // The index names files by their hash: a raw-named one (the lab's) gets no marker.
    if (expiry === null) return record.user === null || RAW_ID_FILE_PATTERN.test(name) ? 'live' : { user: record.user };
    await options.noteExpiry?.(name.slice(0, -'.json'.length), expiry, options.now);
    return 'expired';
  }
  // Unreadable as a session: keep it for a while for whoever wants to look,
  // but not for ever; no live session can be older than the absolute timeout.
  // Until then it takes a place on disk like a session, and is counted as one.
  return options.now - stats.mtimeMs >= options.timeouts.absoluteMs ? 'expired' : 'live';
}

function isOurs(name: string): boolean {
  return (
    SESSION_FILE_PATTERN.test(name) ||
    TEMP_FILE_PATTERN.test(name) ||
    SESSION_LOCK_PATTERN.test(name) ||
    LOCK_TEMP_PATTERN.test(name) ||
    RAW_ID_FILE_PATTERN.test(name)
  );
}

export interface SweeperOptions {
  /** sweep makes one clean-up pass at `now`: the storage's (lib/storage/storage.ts `Storage.sweep`). */
  sweep: (now: number) => Promise<SweepReport>;
  intervalMs: number;
  clock?: () => number;
  /** onBegin hears that a pass starts, before anything is read. */
  onBegin?: () => void;
  onSweep?: (report: SweepReport, durationMs: number) => void;
  onError?: (error: unknown) => void;
}

/**
 * Sweeper runs a storage's sweep once at start() and then every `intervalMs` after
 * the previous run has finished, so runs never overlap however slow the
 * disk. Its timer does not keep the process alive.
 */
export class Sweeper {
  #options: SweeperOptions;
  #clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: SweeperOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** start begins the first sweep now; it returns at once. */
  start(): void {
    this.#stopped = false;
    // Errors are reported through onError inside #run; nothing is left to catch here.
    void this.#run();
  }

  /** stop cancels the next run and waits for a running one to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** runNow sweeps once (waiting for a run already under way instead of starting a second). */
  async runNow(): Promise<void> {
    await (this.#running ?? this.#run());
  }

  #run(): Promise<void> {
    clearTimeout(this.#timer);
    const started = this.#clock();
    this.#options.onBegin?.();
    this.#running = this.#options
      .sweep(started)
      .then((report) => this.#options.onSweep?.(report, this.#clock() - started))
      .catch((error: unknown) => this.#options.onError?.(error))
      .finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#timer = setTimeout(() => void this.#run(), this.#options.intervalMs).unref();
      });
    return this.#running;
  }
}
