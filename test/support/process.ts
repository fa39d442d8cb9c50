import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from './client.ts';
import { TEST_SCRYPT_COST } from './server.ts';
import type { Cleanup, Dirs } from './server.ts';

/** The repository root, where server.ts and node_modules/tsx live. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** LISTENING is server.ts's start-up line; its first group is the URL. */
export const LISTENING = /Cloakroom listening on (http:\/\/\S+)/;
/** A server that has not started or failed in this long is stuck. */
export const START_DEADLINE_MS = 20_000;

/**
 * serverEnv is a complete environment for server.ts over `dirs`: port 0,
 * silent, cheap scrypt, `overrides` on top. Nothing leaks in from the test
 * runner's own variables.
 */
export function serverEnv(dirs: Dirs, overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    // NODE_V8_COVERAGE lets c8 measure the child as well.
    ['PATH', 'HOME', 'TMPDIR', 'NODE_V8_COVERAGE'].flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])),
  );
  return {
    ...inherited,
    PORT: '0',
    LOG: 'silent',
    SESSIONS_DIR: dirs.sessionsDir,
    USERS_FILE: dirs.usersFile,
    SCRYPT_COST: String(TEST_SCRYPT_COST),
    ...overrides,
  };
}

/** ServerProcess is server.ts running as a process of its own, as `npm start` runs it. */
export interface ServerProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** exited settles with the exit code and signal, or rejects when `deadlineMs` passes first (and kills the process). */
  exited(deadlineMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** line waits for stdout to show `pattern`, and returns its match. */
  line(pattern: RegExp): Promise<RegExpMatchArray>;
}

/**
 * spawnServer runs `node --import tsx server.ts` (or another script of the
 * project, with its arguments: `['scripts/lab.ts']`) with `env`, and kills
 * it when `t` ends if it is still running.
 */
export function spawnServer(t: Cleanup, env: NodeJS.ProcessEnv, script: readonly string[] = ['server.ts']): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...script], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: (deadlineMs) => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the server did not exit within ${deadlineMs} ms; stderr: ${stderr}`));
        }, deadlineMs);
      });
      return Promise.race([exit, deadline]).finally(() => clearTimeout(timer));
    },
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(stdout);
          if (match === null) return;
          child.stdout.off('data', check);
          resolve(match);
        };
        child.stdout.on('data', check);
        // Not awaited on purpose: it only matters if the process ends first, and `exit` never rejects.
        void exit.then(() => reject(new Error(`the server exited before printing ${pattern}; stderr: ${stderr}`)));
        check();
      }),
  };
}

/** RunningProcess is a server process that has printed its start-up line, with the URL it printed. */
export type RunningProcess = ServerProcess & { url: string };

/** startServerProcess spawns server.ts over `dirs` (with `overrides`) and waits for its start-up line. */
export async function startServerProcess(t: Cleanup, dirs: Dirs, overrides: Record<string, string> = {}): Promise<RunningProcess> {
  const spawned = spawnServer(t, serverEnv(dirs, overrides));
  const [, url] = await spawned.line(LISTENING);
  return { ...spawned, url: url! };
}

/** CART_ADDS: how many cart additions the multi-process suites send at once to one session. */
export const CART_ADDS = 40;

/** on is a client of `server` that carries `from`'s cookies: the same browser, answered by another process. */
export function on(server: RunningProcess, from: Client): Client {
  const client = new Client(server.url);
  for (const [name, value] of from.cookies) client.cookies.set(name, value);
  return client;
}

/** cartAddsAlternating sends CART_ADDS cart additions at once on one session, alternating between `servers`, and gives their statuses. */
export async function cartAddsAlternating(servers: readonly RunningProcess[], browser: Client): Promise<number[]> {
  const replies = await Promise.all(
    Array.from({ length: CART_ADDS }, (_, i) => on(servers[i % servers.length]!, browser).json('POST', '/api/cart', { item: `item-${i}` })),
  );
  return replies.map((reply) => reply.status);
}

/**
 * cartAddsInFlight sends 30 cart additions at once on `browser`'s session,
 * for a test that kills a worker meanwhile. A connection handed to the
 * worker as it died is never answered: each request gives up after
 * `timeoutMs`, and the promises never reject.
 */
export function cartAddsInFlight(server: RunningProcess, browser: Client, timeoutMs: number): Array<Promise<unknown>> {
  return Array.from({ length: 30 }, (_, i) =>
    fetch(new URL('/api/cart', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: `sid=${browser.sid}` },
      body: JSON.stringify({ item: `x${i}` }),
      signal: AbortSignal.timeout(timeoutMs),
    }).then(
      (reply) => reply.arrayBuffer(),
      () => null,
    ),
  );
}

/** workerPids lists the worker processes of a WORKERS>1 server (the children of its primary). */
export function workerPids(primary: RunningProcess): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(primary.child.pid)], { encoding: 'utf8' });
  } catch {
    // ps exits 1 when it lists nothing: the primary has no children (left).
    return [];
  }
  return out
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => pid > 0);
}
