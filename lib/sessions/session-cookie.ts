import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CookieSecureMode } from '../config.ts';
import { serializeCookie } from '../cookies.ts';
import { isHttps } from '../forwarded.ts';
import type { Defences } from '../lab/switches.ts';

/**
 * The session cookie, declared once: its name, its attributes, and the one
 * function that writes its Set-Cookie header. The cookie carries only the
 * session ID; everything else stays on the server.
 *
 *   set-cookie = cookie-name "=" session-id "; Path=/; HttpOnly" [ "; Secure" ] "; SameSite=Lax"
 *   cookie-name = "sid" / "__Host-sid"                         ; __Host- exactly when Secure
 *   clearing    = cookie-name "=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly" [ "; Secure" ] "; SameSite=Lax"
 */

/** SESSION_COOKIE_NAME is the cookie's name when it is not Secure (plain HTTP, as on 127.0.0.1). */
export const SESSION_COOKIE_NAME = 'sid';
/**
 * SECURE_SESSION_COOKIE_NAME is its name when Secure. Browsers accept a
 * `__Host-` cookie only with Secure, Path=/ and no Domain, so no subdomain
 * and no plain-HTTP page can set or shadow it (cookie tossing, a route to
 * session fixation; OWASP Session Management Cheat Sheet, "Cookie prefixes").
 */
export const SECURE_SESSION_COOKIE_NAME = '__Host-sid';

/**
 * SESSION_COOKIE_ATTRIBUTES are the same on every session cookie:
 * - httpOnly (true): page scripts cannot read it through document.cookie,
 *   so an injected script cannot steal the session.
 * - sameSite (Lax): other sites' form posts, images and background requests
 *   go without it (defence in depth beside lib/origin-check.ts); following
 *   a link here still sends it, so arriving from elsewhere keeps you signed in.
 * - path (/): sent with every request to the site, as `__Host-` requires.
 * There is deliberately no Domain (this host only) and no Max-Age or
 * Expires: the cookie ends when the browser closes, while the server
 * enforces the real idle and absolute timeouts.
 */
export const SESSION_COOKIE_ATTRIBUTES = { httpOnly: true, sameSite: 'Lax', path: '/' } as const;

/** What the explain log says the attributes are, spelled from SESSION_COOKIE_ATTRIBUTES (HttpOnly left out only by the lab). */
function attributeSummary(httpOnly: boolean): string {
  return `${httpOnly ? 'HttpOnly; ' : ''}SameSite=${SESSION_COOKIE_ATTRIBUTES.sameSite}; Path=${SESSION_COOKIE_ATTRIBUTES.path}`;
}

/** SessionCookie is how one request's session cookie is named, whether it is Secure, and whether it is HttpOnly; see sessionCookieFor. */
export interface SessionCookie {
  name: typeof SESSION_COOKIE_NAME | typeof SECURE_SESSION_COOKIE_NAME;
  secure: boolean;
  /** httpOnly is SESSION_COOKIE_ATTRIBUTES.httpOnly, always, except in the lab with `http-only` switched off. */
  httpOnly: boolean;
}

/**
 * sessionCookieFor decides, per request, whether the cookie is Secure:
 * always (`COOKIE_SECURE=true`), never (`false`), or when the request
 * arrived over HTTPS (`auto`; behind a proxy only with `trustProxy`).
 */
export function sessionCookieFor(
  req: IncomingMessage,
  cookieSecure: CookieSecureMode,
  trustProxy: boolean,
  defences: Defences,
): SessionCookie {
  const secure = cookieSecure === 'true' || (cookieSecure === 'auto' && isHttps(req, trustProxy));
  // Cookie theft by an injected script: an HttpOnly cookie is left out of document.cookie.
  const httpOnly = defences['http-only'] && SESSION_COOKIE_ATTRIBUTES.httpOnly;
  return secure ? { name: SECURE_SESSION_COOKIE_NAME, secure: true, httpOnly } : { name: SESSION_COOKIE_NAME, secure: false, httpOnly };
}

/** CookieUpdate is what a response must do to the cookie: send a session ID (new or renewed), or clear it. */
export type CookieUpdate = { kind: 'set'; id: string } | { kind: 'clear' };

/**
 * writeSessionCookie is the one place the session's Set-Cookie header is
 * written. Clearing sends an empty value that expires at once (Max-Age=0,
 * and an Expires in 1970 for old browsers), with the same name, path and
 * flags, so the browser replaces the cookie rather than adding another.
 * It returns what the explain log says about it.
 */
export function writeSessionCookie(res: ServerResponse, cookie: SessionCookie, update: CookieUpdate): string {
  const attributes = { ...SESSION_COOKIE_ATTRIBUTES, secure: cookie.secure, httpOnly: cookie.httpOnly };
  if (update.kind === 'set') {
    res.setHeader('Set-Cookie', serializeCookie(cookie.name, update.id, attributes));
    return `set ${cookie.name} (${attributeSummary(cookie.httpOnly)})`;
  }
  res.setHeader('Set-Cookie', serializeCookie(cookie.name, '', { ...attributes, maxAge: 0, expires: new Date(0) }));
  return 'cleared (Max-Age=0)';
}

/** SessionCookieView is the cookie as the session inspector shows it: its name and every attribute. */
export interface SessionCookieView {
  name: SessionCookie['name'];
  httpOnly: boolean;
  sameSite: string;
  secure: boolean;
  path: string;
}

/** describeSessionCookie is what the inspector (GET /api/session) tells about the cookie. */
export function describeSessionCookie(cookie: SessionCookie): SessionCookieView {
  const { sameSite, path } = SESSION_COOKIE_ATTRIBUTES;
  return { name: cookie.name, httpOnly: cookie.httpOnly, sameSite, secure: cookie.secure, path };
}
