import { ConfigError, timeoutsOf } from '../config.ts';
import type { Config } from '../config.ts';
import type { FileSystem } from '../file-system.ts';
import type { Defences } from '../lab/switches.ts';
import { FilesStorage } from './files.ts';
import { MemoryStorage } from './memory.ts';
import type { Storage } from './storage.ts';

export interface OpenStorageOptions {
  /** fs is the file system seam of the files storage (fault injection in tests). */
  fs?: FileSystem;
  /** onCorrupt hears of a stored session that cannot be read as one. */
  onCorrupt?: (where: string, reason: string) => void;
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
    case 'sqlite':
      throw new ConfigError('STORE', `${config.store.kind} is not available in this version`);
  }
}
