import { ConfigError, timeoutsOf } from '../config.ts';
import type { Config } from '../config.ts';
import type { FileSystem } from '../file-system.ts';
import { FAILURE_WINDOW_MS } from '../auth/throttle.ts';
import { ADDRESS_LIMIT_WINDOW_MS } from '../rate-limit.ts';
import type { Timeouts } from '../sessions/record.ts';
import type { Defences } from '../lab/switches.ts';
import { FilesStorage } from './files.ts';
import { MemoryStorage } from './memory.ts';
import { openRedisStorage } from './redis/storage.ts';
import { SqliteOpenError } from './sqlite/database.ts';
import { SqliteUnavailableError } from './sqlite/driver.ts';
import { openSqliteStorage } from './sqlite/storage.ts';
import type { Storage } from './storage.ts';

export interface OpenStorageOptions {
  /** fs is the file system seam of the files storage (fault injection in tests). */
  fs?: FileSystem;
  /** onCorrupt hears of a stored session that cannot be read as one. */
  onCorrupt?: (where: string, reason: string) => void;
  /** log hears when a connection to the storage is lost and when it is back (Redis). */
  log?: (line: string) => void;
  /** defences are the lab's switches in lab mode; every defence is on otherwise (lib/lab/switches.ts). */
  defences?: Defences;
}

/**
 * openStorage opens the storage STORE names, ready to serve: directories
 * prepared, files opened, connections made. Anything that would make the
 * first request fail instead stops start-up, with a ConfigError naming
 * the variable (STORE, SESSIONS_DIR, USERS_FILE).
 */
export async function openStorage(config: Config, options: OpenStorageOptions = {}): Promise<Storage> {
  const timeouts = timeoutsOf(config);
  switch (config.store.kind) {
    case 'files':
      return FilesStorage.open({
        sessionsDir: config.sessionsDir,
        usersFile: config.usersFile,
        timeouts,
        fs: options.fs,
        onCorrupt: options.onCorrupt,
        defences: options.defences,
      });
    case 'memory':
      return new MemoryStorage(timeouts, options.defences);
    case 'redis':
      try {
        return await openRedisStorage(config.store.url, { timeouts, log: options.log });
      } catch (error) {
        // Unreachable, a wrong password, no such db: the message names the address, never the password.
        throw new ConfigError('STORE', error instanceof Error ? error.message : String(error));
      }
    case 'sqlite':
      return openSqlite(config.store.path, timeouts);
  }
}

/**
 * openSqlite opens STORE=sqlite:PATH. A Node without node:sqlite, or a file
 * that cannot serve (locked, read-only, corrupt, another program's), stops
 * start-up with one line naming STORE and what is wrong.
 */
async function openSqlite(file: string, timeouts: Timeouts): Promise<Storage> {
  try {
    // Counted events are kept for the longest window of any limit, so no clean-up lifts a limit early.
    return await openSqliteStorage(file, { timeouts, counterRetainMs: Math.max(FAILURE_WINDOW_MS, ADDRESS_LIMIT_WINDOW_MS) });
  } catch (error) {
    if (error instanceof SqliteUnavailableError || error instanceof SqliteOpenError) throw new ConfigError('STORE', error.message);
    throw error;
  }
}
