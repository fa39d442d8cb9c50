import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { nodeFileSystem } from '../../lib/file-system.ts';
import type { FileSystem } from '../../lib/file-system.ts';
import { ENDING_NOTES_DIR } from '../../lib/sessions/endings.ts';
import { SESSION_FILE_PATTERN } from '../../lib/sessions/file-store.ts';

/** sessionFileName is where the server keeps `id`: the hex SHA-256 of the ID, never the ID. */
export function sessionFileName(id: string): string {
  return `${createHash('sha256').update(id).digest('hex')}.json`;
}

/**
 * snapshotDir records every entry of `dir` with its contents and mtime, so
 * a test can prove that an attack wrote, touched or deleted nothing.
 */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const info = await stat(file);
    result[name] = info.isFile() ? `${info.mtimeMs} ${await readFile(file, 'utf8')}` : `${info.mtimeMs} (not a file)`;
  }
  return result;
}

/** filesUnder lists every regular file below `root`, dot files included. */
export async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  // Node 20.0–20.11 name the folder `path`; `parentPath` came in 20.12, when `path` was deprecated.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition, @typescript-eslint/no-deprecated -- both, for Node 20 before 20.12
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

/** FsOperation names one call of the FileSystem seam (lib/file-system.ts). */
export type FsOperation = keyof FileSystem;

/**
 * How each call of the seam is made. A Record over every key of FileSystem,
 * so the compiler points here when the seam gains or loses a call.
 */
const OPERATIONS: Readonly<Record<FsOperation, 'sync' | 'async'>> = {
  statSync: 'sync',
  lstat: 'async',
  readFile: 'async',
  writeFile: 'async',
  rename: 'async',
  unlink: 'async',
  mkdir: 'async',
  rmdir: 'async',
  opendir: 'async',
};

export interface FsHooks {
  /**
   * before runs ahead of every call with its arguments. Throwing injects a
   * fault (the real call never happens). For an asynchronous call, returning
   * a promise holds the call until the promise settles; a synchronous call
   * (statSync) cannot be held, only observed, failed, or preceded by a
   * synchronous change to the disk.
   */
  before?: (operation: FsOperation, args: readonly unknown[]) => void | Promise<void>;
  /** after runs once a real call has settled, whether it succeeded or not. */
  after?: (operation: FsOperation, args: readonly unknown[]) => void;
}

/**
 * hookedFs is the real file system with `hooks` around every call: the seam
 * that lets a test make one particular write slow, or make the disk fail,
 * without a test-only route or a mock of the store.
 */
export function hookedFs(hooks: FsHooks): FileSystem {
  const wrapped: Partial<Record<FsOperation, unknown>> = {};
  for (const [operation, kind] of Object.entries(OPERATIONS) as Array<[FsOperation, 'sync' | 'async']>) {
    const real = nodeFileSystem[operation] as (...args: unknown[]) => unknown;
    wrapped[operation] =
      kind === 'sync'
        ? (...args: unknown[]): unknown => {
            if (hooks.before?.(operation, args) instanceof Promise) throw new Error(`${operation} is synchronous and cannot be held`);
            try {
              return real.apply(nodeFileSystem, args);
            } finally {
              hooks.after?.(operation, args);
            }
          }
        : async (...args: unknown[]): Promise<unknown> => {
            await hooks.before?.(operation, args);
            try {
              return await real.apply(nodeFileSystem, args);
            } finally {
              hooks.after?.(operation, args);
            }
          };
  }
  return wrapped as unknown as FileSystem;
}

/** failingFs is the real file system except that every `operation` call fails with `code`. */
export function failingFs(operation: FsOperation, code: string): FileSystem {
  return hookedFs({
    before: (called) => {
      if (called === operation) throw systemError(code, operation);
    },
  });
}

/** systemError is what Node throws for a failing system call: an Error with a `code` such as ENOSPC. */
export function systemError(code: string, operation: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${operation}`), { code, syscall: operation });
}

/** Gate is a promise a test opens by hand: `reached` settles when something arrives at it, `open()` lets it through. */
export interface Gate {
  reached: Promise<void>;
  /** arrive marks the gate reached without waiting at it. */
  arrive(): void;
  /** wait is what a held call awaits: it marks the gate reached, then waits for open(). */
  wait(): Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const opened = new Promise<void>((resolve) => (release = resolve));
  return {
    reached,
    arrive: () => arrive(),
    wait: () => {
      arrive();
      return opened;
    },
    open: () => release(),
  };
}

/** pathsOf are the paths a call works on: its first argument, and for a rename its target too. */
export function pathsOf(operation: FsOperation, args: readonly unknown[]): string[] {
  const count = operation === 'rename' ? 2 : 1;
  return args.slice(0, count).map((arg) => String(arg));
}

/** sessionFiles lists the session files in `dir` (`<64 hex>.json`), leaving out temp files and anything else. */
export async function sessionFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => SESSION_FILE_PATTERN.test(name)).sort();
}

/**
 * entriesBesideNotes lists every entry of a sessions directory, sorted (temp
 * files and strays included), except the `ended/` folder where the notes of
 * ended sessions are kept (lib/sessions/endings.ts).
 */
export async function entriesBesideNotes(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== ENDING_NOTES_DIR).sort();
}

/** dirEntries lists every entry of `dir`, sorted: temp files and strays included. */
export async function dirEntries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
