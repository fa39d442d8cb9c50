import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserRecord } from './auth/users.ts';
import type { RequestLog } from './log.ts';
import { writeSessionCookie } from './sessions/session-cookie.ts';
import type { RequestSession } from './sessions/session.ts';

/**
 * Context is everything a route handler needs about one request. The
 * pipeline (lib/pipeline.ts) builds it: the session is already loaded from the cookie,
 * and `user` is its signed-in account, if any.
 */
export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  /** now is the request's time, read once from the app's clock. */
  now: number;
  /** address is the client's IP address, for throttling (X-Forwarded-For only with TRUST_PROXY=true). */
  address: string;
  session: RequestSession;
  user: UserRecord | null;
  log: RequestLog;
}

/** Handler answers one route. It sends exactly one response with the helpers below, or throws HttpError. */
export type Handler = (ctx: Context) => Promise<void>;

type Headers = Record<string, string | number>;

/**
 * send is the one place a dynamic response is written. Before the first
 * byte it commits the session: the cookie (set for a new ID, cleared for a
 * destroyed session), `Cache-Control: no-store` whenever the answer depends
 * on a signed-in session or touches the cookie (so no shared cache or Back
 * button replays it), and `Vary: Cookie`.
 */
export function send(ctx: Context, status: number, headers: Headers, body: string | null): void {
  const { res, session } = ctx;
  const update = session.cookieUpdate();
  if (update !== null) ctx.log.step('cookie', writeSessionCookie(res, session.cookie, update));
  if (update !== null || ctx.user !== null) res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Vary', 'Cookie');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (body === null) {
    res.writeHead(status, status === 204 || status === 304 ? {} : { 'Content-Length': 0 }).end();
    return;
  }
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(body) }).end(body);
}

/** sendJson answers with JSON; API answers are never cached. */
export function sendJson(ctx: Context, status: number, value: unknown, headers: Headers = {}): void {
  send(ctx, status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers }, JSON.stringify(value));
}

/** redirect answers an HTML form with 303 See Other, so the browser follows with a GET. */
export function redirect(ctx: Context, location: string): void {
  send(ctx, 303, { Location: location }, null);
}

/** sendHtml answers with a rendered page. */
export function sendHtml(ctx: Context, status: number, html: string, headers: Headers = {}): void {
  send(ctx, status, { 'Content-Type': 'text/html; charset=utf-8', ...headers }, html);
}

/**
 * wantsJson tells whether the client speaks JSON (and so gets JSON and
 * status codes) rather than being an HTML form (which gets redirects).
 */
export function wantsJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'] ?? '';
  const accept = req.headers.accept ?? '';
  return type.toLowerCase().startsWith('application/json') || accept.includes('application/json');
}
