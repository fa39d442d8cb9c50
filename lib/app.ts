import { mkdir, chmod, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PasswordHasher } from './auth/passwords.ts';
import { FileCounterStore } from './auth/counters.ts';
import { LoginThrottle } from './auth/throttle.ts';
import { DATA_DIR_MODE, UserFileStore } from './auth/users.ts';
import { ConfigError } from './config.ts';
import type { Config } from './config.ts';
import { declaresTooLargeBody } from './body.ts';
import { sendJson, send, wantsJson } from './context.ts';
import type { Context, Handler } from './context.ts';
import { parseCookies } from './cookies.ts';
import { errorCode, nodeFileSystem, tempPathFor } from './file-system.ts';
import type { FileSystem } from './file-system.ts';
import { HttpError } from './http-error.ts';
import { Logger } from './log.ts';
import { isCrossOriginRequest } from './origin-check.ts';
import { Pages } from './pages.ts';
import { Router } from './router.ts';
import { apiRoutes } from './routes/api.ts';
import { authRoutes } from './routes/auth.ts';
import { pageRoutes } from './routes/pages.ts';
import { clientAddress, cookieSettings, parseTarget } from './request-info.ts';
import { SECURITY_HEADERS, setSecurityHeaders } from './security-headers.ts';
import { FileSessionStore, SESSIONS_DIR_MODE } from './sessions/file-store.ts';
import { FileLock } from './file-lock.ts';
import { storageKey } from './sessions/session-id.ts';
import { RequestSession } from './sessions/session.ts';
import type { SessionDeps } from './sessions/session.ts';
import { Sweeper } from './sessions/sweeper.ts';
import { isFresh, loadStaticFiles } from './static-files.ts';
import type { StaticFile } from './static-files.ts';
import type { Services } from './services.ts';

/** PUBLIC_DIR: the static pages and assets, beside lib/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
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

interface RouteEntry {
  handler: Handler;
  /** Static files need no session: they are the same for everyone. */
  usesSession: boolean;
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
  const sessionDeps: SessionDeps = {
    store,
    // Lock files are named like session files, by the ID's hash: the raw ID never reaches the disk.
    lock: { run: (id, task) => sessionLocks.run(storageKey(id), task) },
    idleTimeoutMs: config.idleTimeoutMs,
    fileNameFor: (id) => store.fileNameFor(id),
  };
  const router = buildRouter(services, loadStaticFiles(publicDir));
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res, { config, services, router, sessionDeps, logger, clock }).catch((error: unknown) => {
      logger.error('unhandled error while answering a request', error);
      if (!res.headersSent) res.writeHead(500, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end();
    });
  };
  const server = http.createServer(onRequest);
  // A client that sends `Expect: 100-continue` waits to be invited before it
  // sends the body. Invite only bodies of an allowed size: an oversized one
  // gets its 413 without ever being sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!declaresTooLargeBody(req)) res.writeContinue();
    onRequest(req, res);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket));
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
    alsoSweep: [(now) => counters.sweep(now)],
    onSweep: (result, ms) => {
      if (result.expired + result.temps + result.failed > 0) {
        logger.info(`sweeper: ${result.expired} expired session file(s) and ${result.temps} stale temp file(s) deleted in ${ms} ms (${result.scanned} looked at)`);
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
    await proveWritable(path.dirname(file));
  } catch (error) {
    throw new ConfigError('USERS_FILE', `${path.dirname(file)} is not a writable directory (${errorCode(error) ?? 'error'})`);
  }
  try {
    return await UserFileStore.open(file);
  } catch (error) {
    throw new ConfigError('USERS_FILE', `${file} cannot be read as a users file (${errorCode(error) ?? 'not a Cloakroom users file'})`);
  }
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

function buildRouter(services: Services, staticFiles: Map<string, StaticFile>): Router<RouteEntry> {
  const router = new Router<RouteEntry>();
  for (const [method, route, handler] of [...pageRoutes(services), ...authRoutes(services), ...apiRoutes(services)]) {
    router.add(method, route, { handler, usesSession: true });
  }
  for (const [urlPath, file] of staticFiles) router.add('GET', urlPath, { handler: serveStatic(file), usesSession: false });
  return router;
}

function serveStatic(file: StaticFile): Handler {
  return async ({ req, res }) => {
    res.setHeader('ETag', file.etag);
    // Revalidate every time: cheap with the ETag, and an edited file shows at once.
    res.setHeader('Cache-Control', 'no-cache');
    if (isFresh(req.headers['if-none-match'], file.etag)) {
      res.writeHead(304).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file.contentType, 'Content-Length': file.body.length }).end(file.body);
  };
}

interface Pipeline {
  config: Config;
  services: Services;
  router: Router<RouteEntry>;
  sessionDeps: SessionDeps;
  logger: Logger;
  clock: () => number;
}

/**
 * handle follows one request from the cookie to the file and back:
 * security headers, route, origin check, session load, handler, and the one
 * place errors become responses.
 */
async function handle(req: IncomingMessage, res: ServerResponse, pipeline: Pipeline): Promise<void> {
  const started = performance.now();
  const { config, services, router, sessionDeps, logger, clock } = pipeline;
  const log = logger.begin();
  const method = req.method ?? 'GET';
  const target = parseTarget(req.url ?? '/');
  if (logger.printsRequests) {
    res.on('finish', () => logger.end(log, method, target?.path ?? '(bad target)', res.statusCode, performance.now() - started));
  }
  setSecurityHeaders(res);

  const now = clock();
  const cookie = cookieSettings(req, config);
  const ctx: Context = {
    req,
    res,
    method,
    path: target?.path ?? '',
    query: target?.query ?? new URLSearchParams(),
    now,
    address: clientAddress(req, config),
    session: RequestSession.none(sessionDeps, now, cookie, log.step),
    user: null,
    log,
  };
  try {
    if (target === null) throw new HttpError(400, 'bad_target', 'The request target is not a path.');
    const match = router.match(method, target.path);
    if (match.kind === 'not-found') throw new HttpError(404, 'not_found', 'There is nothing at this address.');
    if (match.kind === 'method-not-allowed') {
      throw new HttpError(405, 'method_not_allowed', `Use ${match.allow}.`, { Allow: match.allow });
    }
    if (isCrossOriginRequest(req)) {
      // CSRF: refused before the body is read or the session is touched.
      log.step('origin', 'cross-origin request refused');
      throw new HttpError(403, 'cross_origin', 'Cross-origin requests are refused.');
    }
    if (match.handler.usesSession) {
      ctx.session = await RequestSession.load(sessionDeps, parseCookies(req.headers.cookie)[cookie.name], now, cookie, log.step);
      ctx.user = await signedInUser(ctx, services);
    }
    await match.handler.handler(ctx);
  } catch (error) {
    sendError(ctx, error, logger);
  }
}

/** signedInUser is the account of a signed-in session, or null; a session from before a password change is ended here. */
async function signedInUser(ctx: Context, services: Services) {
  const record = ctx.session.record;
  if (record === null || record.user === null) return null;
  const user = await services.users.find(record.user);
  if (user !== null && user.generation === record.generation) return user;
  // The password changed since this session signed in (or the account is gone): O(1) revocation.
  await ctx.session.destroy('its user changed password since it signed in');
  return null;
}

function sendError(ctx: Context, error: unknown, logger: Logger): void {
  if (ctx.res.headersSent) {
    logger.error('error after the response had started', error);
    ctx.res.destroy();
    return;
  }
  const httpError = error instanceof HttpError ? error : new HttpError(500, 'internal', 'Something went wrong on our side.');
  if (!(error instanceof HttpError)) logger.error(`${ctx.method} ${ctx.path} failed`, error);
  if (httpError.status === 503) logger.error(`${ctx.method} ${ctx.path}: ${httpError.message}`, httpError.cause);
  // An error must not leave a half-set cookie or the headers of the answer that failed.
  for (const name of ctx.res.getHeaderNames()) if (!(name in lowerSecurityHeaders)) ctx.res.removeHeader(name);
  if (ctx.path.startsWith('/api/') || wantsJson(ctx.req)) {
    sendJson(ctx, httpError.status, { error: httpError.code, message: httpError.message }, httpError.headers);
    return;
  }
  send(ctx, httpError.status, { 'Content-Type': 'text/plain; charset=utf-8', ...httpError.headers }, `${httpError.message}\n`);
}

const lowerSecurityHeaders = Object.fromEntries(Object.keys(SECURITY_HEADERS).map((name) => [name.toLowerCase(), true]));

const CLIENT_ERROR_STATUS: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/** answerClientError answers a request Node could not even parse, with the same security headers as any other. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? '400 Bad Request';
  const headers = Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status}\r\n${headers}Content-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

async function closeGracefully(server: Server, sweeper: Sweeper): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  await Promise.all([closed, sweeper.stop()]);
  clearTimeout(force);
}

