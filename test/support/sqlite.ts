import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSqlite, SqliteUnavailableError } from '../../lib/storage/sqlite/driver.ts';
import type { Connection } from '../../lib/storage/sqlite/driver.ts';
import { openSqliteStorage } from '../../lib/storage/sqlite/storage.ts';
import type { SqliteStorageOptions } from '../../lib/storage/sqlite/storage.ts';
import type { Storage } from '../../lib/storage/storage.ts';
import { makeDirs } from './server.ts';
import type { Cleanup } from './server.ts';

/**
 * node:sqlite announces once per process, on Node 22, that it is
 * experimental: every SQLite test file would print those two lines. That
 * one warning is dropped here; every other warning still shows.
 */
const SQLITE_NOTICE = 'SQLite is an experimental feature';
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = (warning: unknown, ...rest: unknown[]) => {
  if (String(warning).startsWith(SQLITE_NOTICE)) return;
  emitWarning(warning, ...rest);
};

/** HAS_NODE_SQLITE: this Node has node:sqlite (22.13 and later); Node 20 has not. */
export const HAS_NODE_SQLITE = isBuiltin('node:sqlite');

const MINUTE = 60_000;
/** SQLITE_TIMEOUTS: the timeouts the SQLite tests open their storage with, the defaults of SESSION_IDLE_TIMEOUT and SESSION_ABSOLUTE_TIMEOUT. */
export const SQLITE_TIMEOUTS = { idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE };

/**
 * describeSqlite runs `body` as a suite on a Node that has node:sqlite. On
 * one that has not (Node 20), it registers one test instead, which proves
 * the refusal: opening a SQLite storage fails with SqliteUnavailableError,
 * whose message names the Node version needed and the one running, and
 * creates no file. So the suite has no skips on any Node.
 */
export function describeSqlite(name: string, body: () => void): void {
  if (HAS_NODE_SQLITE) {
    describe(name, body);
    return;
  }
  it(`${name}: refused on Node ${process.version}, which has no node:sqlite, with the version it needs and nothing created`, async (t) => {
    const file = await sqliteFile(t);
    await assert.rejects(openSqliteStorage(file, { timeouts: SQLITE_TIMEOUTS }), (error: unknown) => {
      assert.ok(error instanceof SqliteUnavailableError);
      assert.equal(
        error.message,
        `SQLite storage needs Node 22.13 or later, which has node:sqlite built in; this is Node ${process.version}`,
      );
      return true;
    });
    await assert.rejects(stat(path.dirname(file)), { code: 'ENOENT' });
  });
}

/** sqliteFile is the path of a database in a fresh temporary directory of `t`, in a folder not made yet. */
export async function sqliteFile(t: Cleanup): Promise<string> {
  return path.join((await makeDirs(t)).root, 'data', 'cloakroom.db');
}

/** openTestStorage opens a SQLite storage on `file` (a fresh one when not given), closed when `t` ends. */
export async function openTestStorage(t: Cleanup, options: Partial<SqliteStorageOptions> = {}, file?: string): Promise<Storage> {
  const storage = await openSqliteStorage(file ?? (await sqliteFile(t)), { timeouts: SQLITE_TIMEOUTS, ...options });
  t.after(() => storage.close());
  return storage;
}

/** rawConnection opens `file` with node:sqlite directly, as the `sqlite3` shell or another program would, closed when `t` ends. */
export async function rawConnection(t: Cleanup, file: string): Promise<Connection> {
  const sqlite = await loadSqlite();
  const connection = new sqlite.DatabaseSync(file);
  t.after(() => {
    try {
      connection.close();
    } catch {
      // Closed by the test already.
    }
  });
  return connection;
}

/** CHILD_SCRIPT: another process on a database (test/support/sqlite-child.ts lists its commands). */
const CHILD_SCRIPT = fileURLToPath(new URL('sqlite-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface SqliteChild {
  child: ChildProcess;
  /** lines resolves with the first `count` lines the child printed, once it has; rejects with its stderr if it exits first. */
  lines(count: number): Promise<string[]>;
}

/**
 * sqliteChild runs test/support/sqlite-child.ts with `args` in a process of
 * its own, with this same Node, and kills it when `t` ends. `as` runs it
 * as another user (for a test that needs file permissions to hold, which
 * root ignores); that process gets no coverage variable, since it could
 * not write the coverage files.
 */
export function sqliteChild(t: Cleanup, args: readonly string[], as?: { uid: number; gid: number }): SqliteChild {
  const env = {
    PATH: process.env.PATH,
    TMPDIR: process.env.TMPDIR,
    ...(as === undefined ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    lines: (count) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const lines = stdout.split('\n').slice(0, -1);
          if (lines.length < count) return;
          child.stdout.off('data', check);
          resolve(lines.slice(0, count));
        };
        child.stdout.on('data', check);
        void exited.then(() => reject(new Error(`the child exited after ${stdout.split('\n').length - 1} line(s); stderr: ${stderr}`)));
        check();
      }),
  };
}

/** killed sends SIGKILL to `child` and waits until it is gone. */
export async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exit = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exit;
}
