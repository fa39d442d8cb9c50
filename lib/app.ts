import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PasswordHasher } from './auth/passwords.ts';
import { LoginThrottle } from './auth/throttle.ts';
import { declaresTooLargeBody } from './body.ts';
import { answerClientError } from './client-errors.ts';
import { ConfigError, timeoutsOf } from './config.ts';
import { errorCode } from './file-system.ts';
import type { Config } from './config.ts';
import type { FileSystem } from './file-system.ts';
import { openLab } from './lab/mode.ts';
import type { Lab } from './lab/mode.ts';
import { labRoutes } from './lab/routes.ts';
import { DEFENDED } from './lab/switches.ts';
import type { Defences } from './lab/switches.ts';
import { Logger } from './log.ts';
import { Pages } from './pages.ts';
import { requestListener } from './pipeline.ts';
import type { Endpoint } from './pipeline.ts';
import { AddressLimit } from './rate-limit.ts';
import { Router } from './router.ts';
import { apiRoutes } from './routes/api.ts';
import { authRoutes } from './routes/auth.ts';
import { deviceRoutes } from './routes/devices.ts';
import { pageRoutes } from './routes/pages.ts';
import type { Services } from './services.ts';
import { endingMessage } from './sessions/endings.ts';
import { storageKey } from './sessions/session-id.ts';
import { Sweeper } from './sessions/sweeper.ts';
import { openStorage } from './storage/open.ts';
import type { Storage } from './storage/storage.ts';
import { SessionCensus } from './sessions/census.ts';
import { GuestAdmission } from './sessions/guest-admission.ts';
import { loadStaticFiles, PUBLIC_DIR, serveStatic } from './static-files.ts';
import type { StaticFile } from './static-files.ts';

// Start-up and shutdown: everything made once per process (directories
// proved writable, stores opened, routes registered, the server listening,
// the sweeper running) and the graceful stop. What happens to each request
// is in lib/pipeline.ts.

/** Shutdown waits this long for in-flight requests before closing their connections. */
export const SHUTDOWN_GRACE_MS = 4000;

/**
 * ConnectionTimeouts bound how long a client may hold a connection without
 * finishing its request: slowloris, one header line every few seconds, or
 * a body trickled a byte at a time, would otherwise keep a connection (and
 * a place under MAX_CONNECTIONS) for minutes.
 */
export interface ConnectionTimeouts {
  /** headersMs: the whole head of a request must arrive within this (then 408). */
  headersMs: number;
  /** requestMs: the whole request, body included, must arrive within this (then 408); bodies are 16 KiB at most. */
  requestMs: number;
  /** keepAliveMs: an idle connection between two requests is closed after this. */
  keepAliveMs: number;
  /** checkEveryMs: how often Node looks for connections past the first two; a slow client may overstay by up to this. */
  checkEveryMs: number;
}

/** CONNECTION_TIMEOUTS: the README's Security figures. Node's own defaults (60 s, 300 s, checked every 30 s) held a slow client for minutes. */
export const CONNECTION_TIMEOUTS: ConnectionTimeouts = { headersMs: 15_000, requestMs: 30_000, keepAliveMs: 5_000, checkEveryMs: 1_000 };

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
  /** connectionTimeouts replace CONNECTION_TIMEOUTS (tests shrink them to seconds' fractions). */
  connectionTimeouts?: ConnectionTimeouts;
  /** lab starts lab mode, where defences can be switched off: only `npm run lab` (scripts/lab.ts) and tests pass it. */
  lab?: boolean;
}

/** RunningApp is a started Cloakroom: its URL and the means to stop it. */
export interface RunningApp {
  url: string;
  server: Server;
  storage: Storage;
  sweeper: Sweeper;
  services: Services;
  /** defences are what the app's code reads: DEFENDED (frozen, every defence on) unless this is the lab. */
  defences: Defences;
  /** lab is the lab's switches and clock in lab mode, else null. */
  lab: Lab | null;
  /** close stops accepting, lets in-flight requests finish (SHUTDOWN_GRACE_MS at most), and stops the sweeper. */
  close(): Promise<void>;
}

/**
 * startApp prepares the sessions directory, opens the users file, starts
 * listening on config.host:config.port and starts the sweeper.
 */
export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const logger = options.logger ?? new Logger({ mode: config.log });
  // Only lab mode has switches that can turn a defence off; everything else runs on DEFENDED, frozen.
  const lab = options.lab === true ? openLab(config, options.clock ?? Date.now) : null;
  const defences = lab?.switches.defences ?? DEFENDED;
  const clock = lab?.clock.now ?? options.clock ?? Date.now;
  const timeouts = timeoutsOf(config);
  const storage = await openStorage(config, {
    fs: options.fs,
    onCorrupt: (where, reason) => logger.warn(`session file ${where} is unreadable (${reason}): treated as no session`),
    log: (line) => logger.warn(line),
    defences,
  });
  const { sessions: store, counters, sessionLocks } = storage;
  const publicDir = options.publicDir ?? PUBLIC_DIR;
  const census = new SessionCensus();
  const services: Services = {
    config,
    users: storage.accounts,
    hasher: options.hasher ?? new PasswordHasher({ cost: config.scryptCost }),
    throttle: options.throttle ?? new LoginThrottle({ counters }),
    registrations: new AddressLimit({ counters, name: 'registrations', limit: config.registrationsPerAddress }),
    pages: new Pages(publicDir, { lab: lab !== null }),
    // Locks are keyed by file id, the ID's hash: revoking takes the very lock a request on that session takes.
    sessions: { store, lock: sessionLocks, endings: storage.endings },
    storage,
  };
  const admission = new GuestAdmission({
    perAddress: new AddressLimit({ counters, name: 'guests', limit: config.guestSessionsPerAddress }),
    census,
    maxSessions: config.maxSessions,
    retryAfterMs: config.sweepIntervalMs,
  });
  const onRequest = requestListener({
    router: buildRouter(services, loadStaticFiles(publicDir), lab),
    sessions: {
      store,
      admission,
      // Locks are named like session files, by the ID's hash: the raw ID never reaches the storage.
      lock: { run: (id, task) => sessionLocks.run(storageKey(id), task) },
      timeouts,
      where: (fileId, shownLength) => storage.where(fileId, shownLength),
      writeMethod: storage.writeMethod,
      endings: storage.endings,
      defences,
    },
    users: services.users,
    cookieSecure: config.cookieSecure,
    trustProxy: config.trustProxy,
    allowedHosts: config.allowedHosts,
    logger,
    clock,
    pages: services.pages,
    describeEnding: (ending) => endingMessage(ending, timeouts),
  });
  const limits = options.connectionTimeouts ?? CONNECTION_TIMEOUTS;
  const server = http.createServer(
    { headersTimeout: limits.headersMs, requestTimeout: limits.requestMs, connectionsCheckingInterval: limits.checkEveryMs },
    onRequest,
  );
  server.keepAliveTimeout = limits.keepAliveMs;
  // Beyond MAX_CONNECTIONS a new connection is closed at once: a flood of them cannot take the file descriptors every other client needs.
  server.maxConnections = config.maxConnections;
  // A client that sends `Expect: 100-continue` waits to be invited before it
  // sends the body. Invite only bodies of an allowed size: an oversized one
  // gets its 413 without ever being sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!declaresTooLargeBody(req)) res.writeContinue();
    onRequest(req, res);
  });
  server.on('clientError', answerClientError);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(listenError(error, config)));
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    await storage.close();
    throw error;
  }
  const sweeper = new Sweeper({
    sweep: (now) => storage.sweep(now),
    intervalMs: config.sweepIntervalMs,
    clock,
    onBegin: () => census.walkBegan(),
    onSweep: (report, ms) => {
      census.walked(report.live);
      if (report.expired + report.leftovers + report.failed > 0) {
        logger.info(
          `sweeper: ${report.expired} expired session(s) and ${report.leftovers} leftover(s) deleted in ${ms} ms (${report.live} live, ${report.failed} failed)`,
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
    storage,
    sweeper,
    services,
    defences,
    lab,
    close: async () => {
      await closeGracefully(server, sweeper);
      await storage.close();
    },
  };
}

/** listenError names the setting behind a failed listen, so start-up stops with one line naming HOST or PORT. */
function listenError(error: Error, config: Config): Error {
  const code = errorCode(error);
  if (code === 'EADDRINUSE' || code === 'EACCES') return new ConfigError('PORT', `cannot listen on port ${config.port} (${code})`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ConfigError('HOST', `cannot listen on ${config.host} (${code})`);
  }
  return error;
}

/**
 * buildRouter registers every route: pages, sign-in and the API, which use
 * the session, and the static files, which do not. The lab's routes exist
 * only in lab mode; anywhere else /lab and /api/lab are unknown paths (404).
 */
function buildRouter(services: Services, staticFiles: Map<string, StaticFile>, lab: Lab | null): Router<Endpoint> {
  const router = new Router<Endpoint>();
  const sessionRoutes = [
    ...pageRoutes(services),
    ...authRoutes(services),
    ...apiRoutes(services),
    ...deviceRoutes(services),
    ...(lab === null ? [] : labRoutes(lab, services)),
  ];
  for (const [method, route, handler] of sessionRoutes) {
    router.add(method, route, { handler, usesSession: true });
  }
  for (const [urlPath, file] of staticFiles) router.add('GET', urlPath, { handler: serveStatic(file), usesSession: false });
  return router;
}

/**
 * stopOnSignals closes `app` at the first SIGINT (Ctrl-C) or SIGTERM,
 * letting in-flight requests finish, then ends the process: 0, or 1 when
 * closing failed. `out` hears what is happening.
 */
export function stopOnSignals(app: RunningApp, out: (line: string) => void): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    out(`${signal}: finishing in-flight requests, then exiting`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
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
