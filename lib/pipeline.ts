import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccountStore, UserRecord } from './auth/users.ts';
import { noteResponse } from './client-errors.ts';
import type { CookieSecureMode } from './config.ts';
import { send, sendHtml, sendJson, wantsJson } from './context.ts';
import type { Context, Handler } from './context.ts';
import { readCookie } from './cookies.ts';
import { HttpError } from './http-error.ts';
import type { Logger } from './log.ts';
import type { Pages } from './pages.ts';
import type { Ending } from './sessions/endings.ts';
import { isCrossOriginRequest } from './origin-check.ts';
import { parseTarget } from './request-target.ts';
import { clientAddress, isHttps } from './forwarded.ts';
import { checkHost } from './host-check.ts';
import type { Router } from './router.ts';
import { HSTS_HEADER, SECURITY_HEADERS, setSecurityHeaders } from './security-headers.ts';
import { sessionCookieFor } from './sessions/session-cookie.ts';
import { RequestSession } from './sessions/session.ts';
import type { SessionDeps } from './sessions/session.ts';
import { withStorageTrace } from './storage/trace.ts';

/** StepLog is one request's log as Logger.begin makes it: its steps, and the lines they collected. */
type StepLog = ReturnType<Logger['begin']>;

/** Endpoint is what the router holds for a method and path: the handler, and whether it needs the session. */
export interface Endpoint {
  handler: Handler;
  /** usesSession is false for static files: they are the same for everyone, so no cookie is read and no file is looked at. */
  usesSession: boolean;
}

/** PipelineOptions are the parts the pipeline uses on every request, made once at start-up (lib/app.ts). */
export interface PipelineOptions {
  router: Router<Endpoint>;
  /** sessions carry the defences too (SessionDeps.defences): DEFENDED outside the lab, the lab's switches in it. */
  sessions: SessionDeps;
  /** users are read to check that a signed-in session's account still stands. */
  users: AccountStore;
  /** cookieSecure and trustProxy decide the cookie's flags and the client's address, per request. */
  cookieSecure: CookieSecureMode;
  trustProxy: boolean;
  /** allowedHosts are the domain names besides localhost that the Host header may carry (lib/host-check.ts). */
  allowedHosts: readonly string[];
  logger: Logger;
  /** clock gives the time in epoch milliseconds, read once per request. */
  clock: () => number;
  /** pages draws the HTML 404 page for browsers. */
  pages: Pages;
  /** describeEnding words why a session ended, with the timeouts in force (lib/sessions/endings.ts). */
  describeEnding: (ending: Ending) => string;
}

/**
 * requestListener is the server's 'request' handler: it runs handle() and,
 * should anything escape it, answers a bare 500 (the process never dies of
 * a request).
 */
export function requestListener(options: PipelineOptions): (req: IncomingMessage, res: ServerResponse) => void {
  // With LOG=explain, what the storage sends to its backend is narrated in the request's own block.
  const serve = options.logger.explains
    ? (req: IncomingMessage, res: ServerResponse, log: StepLog): Promise<void> =>
        withStorageTrace(
          (line) => log.step('storage', line),
          () => handle(req, res, options, log),
        )
    : (req: IncomingMessage, res: ServerResponse, log: StepLog): Promise<void> => handle(req, res, options, log);
  return (req, res) => {
    noteResponse(res);
    serve(req, res, options.logger.begin()).catch((error: unknown) => {
      options.logger.error('unhandled error while answering a request', error);
      if (!res.headersSent) res.writeHead(500, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end();
    });
  };
}

/**
 * handle follows one request from the cookie to the file and back:
 * security headers, route, origin check, session load, handler, and the one
 * place errors become responses.
 */
async function handle(req: IncomingMessage, res: ServerResponse, options: PipelineOptions, log: StepLog): Promise<void> {
  const started = performance.now();
  const { router, sessions, logger } = options;
  const method = req.method ?? 'GET';
  const target = parseTarget(req.url ?? '/');
  let asset = false;
  if (logger.printsRequests) {
    res.on('finish', () => logger.end(log, method, target?.path ?? '(bad target)', res.statusCode, performance.now() - started, asset));
  }
  setSecurityHeaders(res, isHttps(req, options.trustProxy));

  const now = options.clock();
  const address = clientAddress(req, options.trustProxy);
  const facts = {
    now,
    cookie: sessionCookieFor(req, options.cookieSecure, options.trustProxy, sessions.defences),
    narrate: log.step,
    address,
    userAgent: req.headers['user-agent'],
  };
  const ctx: Context = {
    req,
    res,
    method,
    path: target?.path ?? '',
    query: target?.query ?? new URLSearchParams(),
    now,
    address,
    session: RequestSession.none(sessions, facts),
    user: null,
    log,
  };
  try {
    if (checkHost(req.headers.host, options.allowedHosts) === 'refused') {
      // DNS rebinding: another site's name pointed at this server is refused before anything else.
      log.step('host', 'Host is a domain name not in ALLOWED_HOSTS: refused');
      throw new HttpError(
        421,
        'unknown_host',
        'This server answers only to localhost, IP addresses and the names listed in ALLOWED_HOSTS; add this name to ALLOWED_HOSTS to use it.',
      );
    }
    if (target === null) throw new HttpError(400, 'bad_target', 'The request target is not a path.');
    const match = router.match(method, target.path);
    if (match.kind === 'not-found') throw new HttpError(404, 'not_found', 'There is nothing at this address.');
    if (match.kind === 'method-not-allowed') {
      throw new HttpError(405, 'method_not_allowed', `Use ${match.allow}.`, { headers: { Allow: match.allow } });
    }
    asset = !match.handler.usesSession;
    const crossOrigin = isCrossOriginRequest(req);
    // CSRF: refused before the body is read or the session is touched.
    if (crossOrigin && sessions.defences['origin-check']) {
      log.step('origin', 'cross-origin request refused');
      throw new HttpError(403, 'cross_origin', 'Cross-origin requests are refused.');
    }
    if (match.handler.usesSession) {
      ctx.session = await RequestSession.load(sessions, facts, readCookie(req.headers.cookie, facts.cookie.name));
      if (crossOrigin) ctx.session.noteWeakened('origin-check');
      ctx.user = await signedInUser(ctx, options.users);
    }
    await match.handler.handler(ctx);
  } catch (error) {
    sendError(ctx, error, options);
  }
}

/** signedInUser is the account of a signed-in session, or null; a session from before a password change is ended here. */
async function signedInUser(ctx: Context, users: AccountStore): Promise<UserRecord | null> {
  const record = ctx.session.record;
  if (record?.user == null) return null;
  const user = await users.find(record.user);
  if (user !== null && user.generation === record.generation) return user;
  // The password changed since this session signed in (or the account is gone): O(1) revocation.
  await ctx.session.destroy(user === null ? 'account-removed' : 'password-changed');
  return null;
}

/**
 * sendError is the one place an error becomes a response: an HttpError
 * answers with its own status, code and safe message; anything else is a
 * plain 500 whose details go to the log only. An error after the answer
 * has started can only cut the connection.
 */
function sendError(ctx: Context, error: unknown, { logger, pages, describeEnding }: PipelineOptions): void {
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
    // A 401 says why the cookie's session ended, when that is known, so the page can tell its user (lib/sessions/endings.ts).
    const ended = httpError.status === 401 ? ctx.session.ended : null;
    const body =
      ended === null
        ? { error: httpError.code, message: httpError.message }
        : { error: httpError.code, message: describeEnding(ended), reason: ended };
    sendJson(ctx, httpError.status, body, httpError.headers);
    return;
  }
  if (httpError.status === 404 && (ctx.req.headers.accept ?? '').includes('text/html')) {
    // A browser that followed a bad link gets a page with a way back; scripts and curl keep the short text.
    sendHtml(ctx, 404, pages.render('not-found', { theme: ctx.session.record?.data.theme ?? 'light', session: ctx.session.id !== null }));
    return;
  }
  send(ctx, httpError.status, { 'Content-Type': 'text/plain; charset=utf-8', ...httpError.headers }, `${httpError.message}\n`);
}

const lowerSecurityHeaders = Object.fromEntries(
  [...Object.keys(SECURITY_HEADERS), HSTS_HEADER.name].map((name) => [name.toLowerCase(), true]),
);
