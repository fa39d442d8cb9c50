import { mkdir, chmod, readdir, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PasswordHasher } from './auth/passwords.ts';
import { FileCounterStore } from './auth/counters.ts';
import { LoginThrottle } from './auth/throttle.ts';
import { DATA_DIR_MODE, UserFileStore, UsersFileError } from './auth/users.ts';
import { declaresTooLargeBody } from './body.ts';
import { answerClientError } from './client-errors.ts';
import { ConfigError } from './config.ts';
import type { Config } from './config.ts';
import { errorCode, nodeFileSystem, tempPathFor } from './file-system.ts';
import type { FileSystem } from './file-system.ts';
import { Logger } from './log.ts';
import { Pages } from './pages.ts';
import { requestListener } from './pipeline.ts';
import type { Endpoint } from './pipeline.ts';
import { Router } from './router.ts';
import { apiRoutes } from './routes/api.ts';
import { authRoutes } from './routes/auth.ts';
import { pageRoutes } from './routes/pages.ts';
import type { Services } from './services.ts';
import { EndingNotes, endingMessage, endingOfExpiry } from './sessions/endings.ts';
import { FileSessionStore, SESSIONS_DIR_MODE } from './sessions/file-store.ts';
import { FileLock } from './file-lock.ts';
import { storageKey } from './sessions/session-id.ts';
import { Sweeper } from './sessions/sweeper.ts';
import { loadStaticFiles, PUBLIC_DIR, serveStatic } from './static-files.ts';
import type { StaticFile } from './static-files.ts';

// Start-up and shutdown: everything made once per process (directories
// proved writable, stores opened, routes registered, the server listening,
// the sweeper running) and the graceful stop. What happens to each request
// is in lib/pipeline.ts.

/** Shutdown waits this long for in-flight requests before closing their connections. */
export const SHUTDOWN_GRACE_MS = 4000;

export interface AppOptions {
  /** clock gives the time in epoch milliseconds; tests pass a fake one. */
  clock?: () => number;
  /** fs is the file system seam of the session store (fault injection in tests). */
  fs?: FileSystem;
  logger?: Logger;
  publicDir?: string;
  /** hasher replaces the default password hasher (tests shrink its queue). */
  hasher?: PasswordHasher;
  /** throttle replaces the default login throttle. */
  throttle?: LoginThrottle;
}

/** RunningApp is a started Cloakroom: its URL and the means to stop it. */
export interface RunningApp {
  url: string;
  server: Server;
  store: FileSessionStore;
  sweeper: Sweeper;
  services: Services;
  /** close stops accepting, lets in-flight requests finish (SHUTDOWN_GRACE_MS at most), and stops the sweeper. */
  close(): Promise<void>;
}

/**
 * startApp prepares the sessions directory, opens the users file, starts
 * listening on config.host:config.port and starts the sweeper.
 */
export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  await prepareSessionsDir(config.sessionsDir);
  const logger = options.logger ?? new Logger({ mode: config.log });
  const clock = options.clock ?? Date.now;
  const fsys = options.fs ?? nodeFileSystem;
  const timeouts = { idleMs: config.idleTimeoutMs, absoluteMs: config.absoluteTimeoutMs };
  const store = new FileSessionStore({
    dir: config.sessionsDir,
    timeouts,
    fs: fsys,
    onCorrupt: (file, reason) => logger.warn(`session file ${file} is unreadable (${reason}): treated as no session`),
  });
  const publicDir = options.publicDir ?? PUBLIC_DIR;
  const counters = new FileCounterStore({ dir: throttleDirOf(config) });
  const services: Services = {
    config,
    users: await openUsers(config.usersFile),
    hasher: options.hasher ?? new PasswordHasher({ cost: config.scryptCost }),
    // Counted in files beside USERS_FILE, so every process on the same files counts together.
    throttle: options.throttle ?? new LoginThrottle({ counters }),
    pages: new Pages(publicDir),
  };
  const sessionLocks = new FileLock({ dir: config.sessionsDir });
  const endings = new EndingNotes({ sessionsDir: config.sessionsDir, fs: fsys });
  const onRequest = requestListener({
    router: buildRouter(services, loadStaticFiles(publicDir)),
    sessions: {
      store,
      // Lock files are named like session files, by the ID's hash: the raw ID never reaches the disk.
      lock: { run: (id, task) => sessionLocks.run(storageKey(id), task) },
      idleTimeoutMs: config.idleTimeoutMs,
      fileNameFor: (id) => store.fileNameFor(id),
      dirLabel: path.basename(config.sessionsDir),
      endings,
    },
    users: services.users,
    cookieSecure: config.cookieSecure,
    trustProxy: config.trustProxy,
    logger,
    clock,
    pages: services.pages,
    describeEnding: (ending) => endingMessage(ending, timeouts),
  });
  const server = http.createServer(onRequest);
  // A client that sends `Expect: 100-continue` waits to be invited before it
  // sends the body. Invite only bodies of an allowed size: an oversized one
  // gets its 413 without ever being sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!declaresTooLargeBody(req)) res.writeContinue();
    onRequest(req, res);
  });
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(error, config)));
    server.listen(config.port, config.host, () => resolve());
  });
  const sweeper = new Sweeper({
    dir: config.sessionsDir,
    timeouts,
    fs: fsys,
    intervalMs: config.sweepIntervalMs,
    clock,
    noteExpiry: (key, expiry, now) => endings.record(key, endingOfExpiry(expiry), now),
    alsoSweep: [(now) => counters.sweep(now), (now) => endings.sweep(now)],
    onSweep: (result, ms) => {
      if (result.expired + result.staleTemps + result.failed > 0) {
        logger.info(
          `sweeper: ${result.expired} expired session file(s) and ${result.staleTemps} stale temp file(s) deleted in ${ms} ms (${result.scanned} looked at)`,
        );
      }
    },
    onError: (error) => logger.error('sweeper failed; it will try again at the next interval', error),
  });
  sweeper.start();
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    store,
    sweeper,
    services,
    close: () => closeGracefully(server, sweeper),
  };
}

/**
 * prepareSessionsDir creates the sessions directory (0700), tightens an
 * existing one to 0700, and proves it writable by writing a probe file, so
 * a bad SESSIONS_DIR stops start-up instead of failing the first sign-in.
 */
export async function prepareSessionsDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: SESSIONS_DIR_MODE });
    await chmod(dir, SESSIONS_DIR_MODE);
    await proveWritable(dir);
  } catch (error) {
    throw new ConfigError('SESSIONS_DIR', `${dir} is not a writable directory (${errorCode(error) ?? 'error'})`);
  }
}

/** proveWritable creates and removes a file in `dir`, the one sure test that files can be written there. */
async function proveWritable(dir: string): Promise<void> {
  const probe = tempPathFor(path.join(dir, 'probe'));
  await writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  await unlink(probe);
}

/**
 * openUsers opens USERS_FILE and proves its directory writable (the file
 * itself appears at the first registration); a file that cannot be read as
 * accounts, or a place where it could never be written, stops start-up with
 * one line naming it.
 */
async function openUsers(file: string): Promise<UserFileStore> {
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: DATA_DIR_MODE });
    await tightenDataDir(file);
    await proveWritable(path.dirname(file));
  } catch (error) {
    throw new ConfigError('USERS_FILE', `${path.dirname(file)} is not a writable directory (${errorCode(error) ?? 'error'})`);
  }
  try {
    return await UserFileStore.open(file);
  } catch (error) {
    const why = error instanceof UsersFileError ? error.message : (errorCode(error) ?? 'unreadable');
    throw new ConfigError('USERS_FILE', `${file} cannot be read as a users file (${why})`);
  }
}

/**
 * tightenDataDir makes the directory of USERS_FILE private (0700), as a
 * fresh one is created, when it holds only what Cloakroom keeps there (a
 * clone's `data/` arrives 0755). A directory that also holds anything else
 * (USERS_FILE=./users.json in a project folder) is someone else's: left alone.
 */
async function tightenDataDir(file: string): Promise<void> {
  const dir = path.dirname(file);
  const ours = (name: string): boolean =>
    name === path.basename(file) || name === 'throttle' || name === '.gitkeep' || name === '.gitignore' || /^\..*\.tmp$|\.lock$/.test(name);
  if ((await readdir(dir)).every(ours)) await chmod(dir, DATA_DIR_MODE);
}

/** throttleDirOf is where the sign-in counters live: `throttle/` beside USERS_FILE. */
export function throttleDirOf(config: Config): string {
  return path.join(path.dirname(config.usersFile), 'throttle');
}

/** listenError names the setting behind a failed listen, so start-up stops with one line naming HOST or PORT. */
function listenError(error: unknown, config: Config): unknown {
  const code = errorCode(error);
  if (code === 'EADDRINUSE' || code === 'EACCES') return new ConfigError('PORT', `cannot listen on port ${config.port} (${code})`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ConfigError('HOST', `cannot listen on ${config.host} (${code})`);
  }
  return error;
}

/** buildRouter registers every route: pages, sign-in and the API, which use the session, and the static files, which do not. */
function buildRouter(services: Services, staticFiles: Map<string, StaticFile>): Router<Endpoint> {
  const router = new Router<Endpoint>();
  for (const [method, route, handler] of [...pageRoutes(services), ...authRoutes(services), ...apiRoutes(services)]) {
    router.add(method, route, { handler, usesSession: true });
  }
  for (const [urlPath, file] of staticFiles) router.add('GET', urlPath, { handler: serveStatic(file), usesSession: false });
  return router;
}

/**
 * closeGracefully stops accepting connections, closes idle ones, lets
 * requests in flight finish (cutting them after SHUTDOWN_GRACE_MS), and
 * waits for a sweep under way.
 */
async function closeGracefully(server: Server, sweeper: Sweeper): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  await Promise.all([closed, sweeper.stop()]);
  clearTimeout(force);
}
