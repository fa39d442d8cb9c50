import type { Stats } from 'node:fs';
import path from 'node:path';
import { remember } from '../bounded-map.ts';
import { errorCode, isSameVersion, nodeFileSystem, READ_NO_FOLLOW, versionOf, writeFileAtomic } from '../file-system.ts';
import type { FileSystem, FileVersion } from '../file-system.ts';
import { DEFENDED } from '../lab/switches.ts';
import type { Defences } from '../lab/switches.ts';
import { deepFreeze, expiryAt, parseRecord } from './record.ts';
import type { SessionRecord, Timeouts } from './record.ts';
import { fileKey, storageKey } from './session-id.ts';
import { byCreation, StoreError } from './store.ts';
import type { ListedSession, Lookup, SessionStore } from './store.ts';
import { UserIndex } from './user-index.ts';

/** SESSION_FILE_MODE: only the server's user may read a session (0600). */
export const SESSION_FILE_MODE = 0o600;
/** SESSIONS_DIR_MODE: only the server's user may list the directory (0700). */
export const SESSIONS_DIR_MODE = 0o700;
/** A real record is a few KiB at most (100 cart items, 20 events); anything bigger is not ours. */
export const MAX_SESSION_FILE_BYTES = 64 * 1024;
/**
 * DEFAULT_CACHE_ENTRIES bounds the record cache: sessions whose file need
 * not be read again while it is unchanged. Each entry keeps its record as
 * compact JSON text; with the ID and the file's name and version, about
 * 650 bytes (measured with 100 000 signed-in sessions: 65 MB of heap).
 */
export const DEFAULT_CACHE_ENTRIES = 100_000;
/**
 * DEFAULT_PARSED_ENTRIES bounds how many of those also keep the record
 * parsed (about 1 KiB each), the ones used most recently: a request for
 * any other parses the text again, a few microseconds, instead of reading
 * the file, tens of them. Kept small on purpose: with requests spread over
 * many sessions, a parsed record let go soon dies young, which the garbage
 * collector reclaims cheaply; a larger set made every such request slower.
 */
export const DEFAULT_PARSED_ENTRIES = 2_000;

/** SESSION_FILE_PATTERN matches the files this store writes: `<64 hex>.json`. */
export const SESSION_FILE_PATTERN = /^[0-9a-f]{64}\.json$/;
/** TEMP_FILE_PATTERN matches the temporary files of an atomic write: `.<64 hex>.json.<12 hex>.tmp`. */
export const TEMP_FILE_PATTERN = /^\.[0-9a-f]{64}\.json\.[0-9a-f]{12}\.tmp$/;
/** RAW_ID_FILE_PATTERN matches a file named after a raw session ID, `<43 base64url>.json`: only the lab writes them (`hashed-file-names` off). */
export const RAW_ID_FILE_PATTERN = /^[A-Za-z0-9_-]{43}\.json$/;

export interface FileStoreOptions {
  dir: string;
  timeouts: Timeouts;
  fs?: FileSystem;
  maxCacheEntries?: number;
  maxParsedEntries?: number;
  /** onCorrupt hears about each unreadable file once (per version of the file), for the log. */
  onCorrupt?: (fileName: string, reason: string) => void;
  /** defences are the lab's switches in lab mode; DEFENDED otherwise (lib/lab/switches.ts). */
  defences?: Defences;
}

/** A record remembered with the version of the file it came from, for listByUser. */
interface ListedEntry extends FileVersion {
  record: SessionRecord | null;
}

/**
 * A session remembered with the version of the file it came from: its
 * record as compact JSON, and parsed while it is among the recently used.
 */
interface CacheEntry extends FileVersion {
  fileName: string;
  /** user is the record's user: destroy needs it for the user index, and an ID's user never changes. */
  user: string | null;
  /** text is the record as compact JSON, or null when the file is not a record (unreadable). */
  text: string | null;
  /** parsed is the record, or null for an unreadable file; undefined once let go (parse `text` again). */
  parsed: SessionRecord | null | undefined;
}

/**
 * FileSessionStore keeps each session in `<dir>/<sha256 of ID>.json`.
 *
 * The files are the source of truth; the cache only saves re-reading and
 * re-parsing a file that has not changed. Every get() first stats the file
 * (one system call, no read): if the file is gone, it is gone; if its inode,
 * size or times differ from the cached version (an atomic write makes a new
 * inode; a hand edit changes mtime), it is read again. So a file deleted or
 * edited by hand, or by another process, counts from the next request on.
 *
 * The cache holds up to DEFAULT_CACHE_ENTRIES sessions as compact JSON
 * and the DEFAULT_PARSED_ENTRIES most recently used of them parsed, so a
 * server with a hundred thousand sessions in use reads no file it has read
 * before, unless the file changed (the README's Performance section shows
 * what that is worth).
 *
 * The cache is keyed by session ID and remembers the file name, so a
 * session in the cache costs no SHA-256 per request. That puts raw IDs in
 * this process's memory, where every request's cookie is anyway; they are
 * still never written to disk.
 *
 * Signed-in sessions are also indexed by user (lib/sessions/user-index.ts):
 * create writes the session file, then its marker; destroy deletes the
 * file, then the marker. The sweeper repairs what a crash between the two
 * leaves behind.
 */
export class FileSessionStore implements SessionStore {
  #dir: string;
  /** #prefix is the directory with its separator: names are joined by concatenation, on the hot path. */
  #prefix: string;
  #timeouts: Timeouts;
  #fs: FileSystem;
  #maxCacheEntries: number;
  #maxParsedEntries: number;
  #onCorrupt: (fileName: string, reason: string) => void;
  #cache = new Map<string, CacheEntry>();
  /** #parsed are the entries of #cache that hold their record parsed, oldest first; at most #maxParsedEntries. */
  #parsed = new Map<string, CacheEntry>();
  /**
   * #listed caches the records listByUser reads, by file name and checked
   * the same way: a user's list is asked for again and again (the devices
   * page), and re-reading files that have not changed would cost most of it.
   */
  #listed = new Map<string, ListedEntry>();
  #index: UserIndex;
  #defences: Defences;

  constructor(options: FileStoreOptions) {
    this.#dir = options.dir;
    this.#prefix = path.join(options.dir, path.sep);
    this.#timeouts = options.timeouts;
    this.#fs = options.fs ?? nodeFileSystem;
    this.#maxCacheEntries = options.maxCacheEntries ?? DEFAULT_CACHE_ENTRIES;
    this.#maxParsedEntries = Math.min(options.maxParsedEntries ?? DEFAULT_PARSED_ENTRIES, this.#maxCacheEntries);
    this.#onCorrupt = options.onCorrupt ?? (() => undefined);
    this.#index = new UserIndex(options.dir, this.#fs);
    this.#defences = options.defences ?? DEFENDED;
  }

  /**
   * fileNameFor is where `id` lives, relative to the sessions directory:
   * what the inspector shows. The cache keeps only hashed names (a raw
   * one, the lab's, is never cached), so a cached name is always right.
   */
  fileNameFor(id: string): string {
    return this.#cache.get(id)?.fileName ?? `${fileKey(id, this.#defences)}.json`;
  }

  async get(id: string, now: number): Promise<Lookup> {
    const fileName = this.fileNameFor(id);
    const file = this.#pathOf(fileName);
    const stats = this.#statOrNull(file, 'read');
    if (stats === null) {
      this.#forget(id);
      return { miss: 'not-found' };
    }
    // The common case, a file unchanged since it was last read, costs no read and no wait.
    const cached = this.#cache.get(id);
    const record = cached !== undefined && isSameVersion(cached, stats) ? this.#recordOf(id, cached) : await this.#reread(id, fileName, file, stats);
    if (record === GONE) return { miss: 'not-found' };
    if (record === null) return { miss: 'unreadable' };
    const expiry = expiryAt(record, now, this.#timeouts);
    // A stolen ID that works for ever: an expired session is refused on read (and deleted), even before the sweeper has come by.
    if (expiry !== null && this.#defences.expiry) {
      await this.destroy(id);
      return { miss: `expired-${expiry}` };
    }
    return { record };
  }

  async create(id: string, record: SessionRecord): Promise<void> {
    await this.#write(id, record, 'create');
    if (record.user === null) return;
    try {
      await this.#index.add(record.user, storageKey(id));
    } catch (error) {
      // A session its user cannot see on the devices page is not created: nothing stored, as a failed write promises.
      await this.destroy(id).catch(() => undefined);
      throw new StoreError('create', error);
    }
  }

  async update(id: string, record: SessionRecord): Promise<boolean> {
    const fileName = this.fileNameFor(id);
    // Update, never resurrect: if the file is gone (logout, sweeper), stay gone.
    // Writers of one ID, logout included, are serialised by the caller, so no
    // logout can slip in between this check and the rename below. The
    // sweeper does not take that lock: a session that expires in the very
    // milliseconds of an update can be written back, but only by a request
    // that found it alive, never after a logout.
    if (this.#statOrNull(this.#pathOf(fileName), 'update') === null) return false;
    await this.#write(id, record, 'update');
    return true;
  }

  async destroy(id: string): Promise<void> {
    const fileName = this.fileNameFor(id);
    // The user of an ID never changes, so a cached record names it even if the file changed since.
    const user = this.#cache.get(id)?.user;
    this.#forget(id);
    await this.#delete(fileName, user);
  }

  async destroyByFileId(fileId: string): Promise<void> {
    await this.#delete(`${fileId}.json`, undefined);
  }

  async listByUser(username: string, now: number): Promise<ListedSession[]> {
    let fileIds: string[];
    try {
      fileIds = await this.#index.fileIds(username);
    } catch (error) {
      throw new StoreError('list', error);
    }
    const listed: ListedSession[] = [];
    for (const fileId of fileIds) {
      const record = await this.#listedRecord(`${fileId}.json`);
      if (record === GONE) {
        // A marker left by a crash between deleting the file and the marker: drop it now.
        await this.#index.remove(username, fileId).catch(() => undefined);
        continue;
      }
      // The file is the truth: a marker only says where to look.
      if (record?.user?.toLowerCase() !== username.toLowerCase() || expiryAt(record, now, this.#timeouts) !== null) continue;
      listed.push({ fileId, record });
    }
    return listed.sort(byCreation);
  }

  /**
   * #delete deletes a session file, then its marker in the user index. The
   * user is read from the file first when the caller does not know it
   * (undefined). Once the file is gone the session is over, so a marker
   * that cannot be deleted fails nothing: the sweeper drops it later.
   */
  async #delete(fileName: string, knownUser: string | null | undefined): Promise<void> {
    let user = knownUser;
    if (user === undefined) {
      const record = await this.#readByName(fileName, 'destroy');
      user = record === GONE ? null : (record?.user ?? null);
    }
    try {
      await this.#fs.unlink(this.#pathOf(fileName));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw new StoreError('destroy', error);
    }
    if (user !== null) await this.#index.remove(user, fileName.slice(0, -'.json'.length)).catch(() => undefined);
  }

  /** #listedRecord is the record in `fileName` for listByUser: from #listed while the file is unchanged, else read. */
  async #listedRecord(fileName: string): Promise<SessionRecord | null | typeof GONE> {
    const file = this.#pathOf(fileName);
    const stats = this.#statOrNull(file, 'list');
    if (stats === null) {
      this.#listed.delete(fileName);
      return GONE;
    }
    const cached = this.#listed.get(fileName);
    if (cached !== undefined && isSameVersion(cached, stats)) return cached.record;
    const record = await this.#read(fileName, file, stats);
    if (record === GONE) this.#listed.delete(fileName);
    else remember(this.#listed, fileName, { ...versionOf(stats), record }, this.#maxParsedEntries);
    return record;
  }

  /** #readByName reads the record in `fileName`, uncached: null when it is not a record, GONE when there is no such file. */
  async #readByName(fileName: string, operation: string): Promise<SessionRecord | null | typeof GONE> {
    const file = this.#pathOf(fileName);
    const stats = this.#statOrNull(file, operation);
    return stats === null ? GONE : this.#read(fileName, file, stats);
  }

  /** #pathOf is where `fileName` lives; file names are always our own `<64 hex>.json`, never input. */
  #pathOf(fileName: string): string {
    return this.#prefix + fileName;
  }

  /** #statOrNull is the coherence check: synchronous on purpose, see FileSystem.statSync. */
  #statOrNull(file: string, operation: string): Stats | null {
    try {
      return this.#fs.statSync(file, { throwIfNoEntry: false }) ?? null;
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return null;
      throw new StoreError(operation, error);
    }
  }

  /** #reread reads `fileName` for `id` again, its cached version being stale or absent, and caches what it finds. */
  async #reread(id: string, fileName: string, file: string, stats: Stats): Promise<SessionRecord | null | typeof GONE> {
    const record = await this.#read(fileName, file, stats);
    // A raw name is never remembered: with the lab's switch back on, the ID must be looked up under its hash again.
    if (RAW_ID_FILE_PATTERN.test(fileName)) return record;
    if (record === GONE) {
      this.#forget(id);
      return GONE;
    }
    const entry: CacheEntry = {
      fileName,
      ...versionOf(stats),
      user: record?.user ?? null,
      text: record === null ? null : JSON.stringify(record),
      parsed: record,
    };
    this.#forget(id);
    if (this.#cache.size >= this.#maxCacheEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#forget(oldest);
    }
    this.#cache.set(id, entry);
    this.#holdParsed(id, entry);
    return record;
  }

  /** #recordOf is the record of an entry whose file is unchanged: parsed already, or parsed again from its text. */
  #recordOf(id: string, entry: CacheEntry): SessionRecord | null {
    if (entry.parsed !== undefined) return entry.parsed;
    // The text is this store's own JSON of a record that was checked when its file was read.
    const record = entry.text === null ? null : deepFreeze(JSON.parse(entry.text) as SessionRecord);
    entry.parsed = record;
    this.#holdParsed(id, entry);
    return record;
  }

  /** #holdParsed counts `entry` among the parsed ones, letting the oldest go back to text when there are too many. */
  #holdParsed(id: string, entry: CacheEntry): void {
    this.#parsed.delete(id);
    if (this.#parsed.size >= this.#maxParsedEntries) {
      const [oldestId, oldest] = this.#parsed.entries().next().value ?? [];
      if (oldestId !== undefined && oldest !== undefined) {
        oldest.parsed = undefined;
        this.#parsed.delete(oldestId);
      }
    }
    this.#parsed.set(id, entry);
  }

  #forget(id: string): void {
    this.#cache.delete(id);
    this.#parsed.delete(id);
  }

  /**
   * #read parses the file that `stats` describes: a record, null when it is
   * not one, or GONE when it was deleted meanwhile. The stat above follows a
   * link, so the read must not: it opens without following one and without
   * waiting (READ_NO_FOLLOW), and Node sizes the read by an fstat of that
   * open descriptor. So whatever was swapped in after the stat, a link (even
   * to a valid copy elsewhere) is never followed, a FIFO cannot hang the
   * request (it reads as empty), and a socket cannot be opened: each is
   * unreadable, like a file too large to be a record.
   */
  async #read(fileName: string, file: string, stats: Stats): Promise<SessionRecord | null | typeof GONE> {
    if (!stats.isFile()) return this.#corrupt(fileName, 'not a regular file');
    if (stats.size > MAX_SESSION_FILE_BYTES) return this.#corrupt(fileName, `larger than ${MAX_SESSION_FILE_BYTES} bytes`);
    let text: string;
    try {
      text = await this.#fs.readFile(file, { encoding: 'utf8', flag: READ_NO_FOLLOW });
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') return GONE;
      if (code === 'ELOOP') return this.#corrupt(fileName, 'a symbolic link, not followed');
      if (code === 'ENXIO') return this.#corrupt(fileName, 'not a regular file');
      throw new StoreError('read', error);
    }
    if (Buffer.byteLength(text) > MAX_SESSION_FILE_BYTES) return this.#corrupt(fileName, `larger than ${MAX_SESSION_FILE_BYTES} bytes`);
    const record = parseRecord(text);
    return record === null ? this.#corrupt(fileName, text.length === 0 ? 'empty' : 'not a session record') : deepFreeze(record);
  }

  #corrupt(fileName: string, reason: string): null {
    this.#onCorrupt(fileName, reason);
    return null;
  }


  async #write(id: string, record: SessionRecord, operation: string): Promise<void> {
    const file = this.#pathOf(this.fileNameFor(id));
    const contents = `${JSON.stringify(record, null, 2)}\n`;
    this.#forget(id);
    try {
      await writeFileAtomic(this.#fs, file, contents, SESSION_FILE_MODE);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw new StoreError(operation, error);
      // The directory itself was deleted while we ran: make it again, once.
      await this.#recreateDir(operation);
      await writeFileAtomic(this.#fs, file, contents, SESSION_FILE_MODE).catch((retryError: unknown) => {
        throw new StoreError(operation, retryError);
      });
    }
  }

  async #recreateDir(operation: string): Promise<void> {
    try {
      await this.#fs.mkdir(this.#dir, { recursive: true, mode: SESSIONS_DIR_MODE });
    } catch (error) {
      throw new StoreError(operation, error);
    }
  }
}

/** GONE: the file was deleted between its stat and its read (a logout, the sweeper): not found, not corrupt. */
const GONE = Symbol('gone');
