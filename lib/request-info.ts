import type { IncomingMessage } from 'node:http';
import type { Config } from './config.ts';
import type { CookieSettings } from './sessions/session.ts';

/** RequestTarget is the path and query of a request, exactly as sent (not decoded). */
export interface RequestTarget {
  path: string;
  query: URLSearchParams;
}

/**
 * parseTarget splits the request target into path and query, without
 * decoding: routes and static files are matched on the exact raw path, so
 * `%2e%2e`, `..;/` or a NUL simply match nothing. Absolute-form targets
 * (`GET http://host/path`) are accepted as RFC 9112 requires.
 */
export function parseTarget(target: string): RequestTarget | null {
  let raw = target;
  if (!raw.startsWith('/')) {
    if (!/^https?:\/\//i.test(raw)) return null;
    try {
      const url = new URL(raw);
      raw = url.pathname + url.search;
    } catch {
      return null;
    }
  }
  const question = raw.indexOf('?');
  if (question === -1) return { path: raw, query: new URLSearchParams() };
  return { path: raw.slice(0, question), query: new URLSearchParams(raw.slice(question + 1)) };
}

/**
 * cookieSettings decides, per request, whether the cookie is Secure. A
 * Secure cookie gets the `__Host-` prefix, which the browser only accepts
 * with Secure, Path=/ and no Domain: no subdomain or plain-HTTP page can
 * overwrite it (a defence against cookie tossing).
 */
export function cookieSettings(req: IncomingMessage, config: Pick<Config, 'cookieSecure' | 'trustProxy'>): CookieSettings {
  const secure = config.cookieSecure === 'true' || (config.cookieSecure === 'auto' && isHttps(req, config));
  return secure ? { name: '__Host-sid', secure: true } : { name: 'sid', secure: false };
}

function isHttps(req: IncomingMessage, config: Pick<Config, 'trustProxy'>): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
  if (!config.trustProxy) return false;
  const proto = req.headers['x-forwarded-proto'];
  return typeof proto === 'string' && proto.split(',', 1)[0]!.trim().toLowerCase() === 'https';
}

/**
 * clientAddress is the peer's address, or with TRUST_PROXY the last entry
 * of X-Forwarded-For: the one our own proxy added. Earlier entries are
 * whatever the client chose to send, so trusting them would let an attacker
 * pick a fresh address for every guess.
 */
export function clientAddress(req: IncomingMessage, config: Pick<Config, 'trustProxy'>): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!config.trustProxy) return peer;
  const forwarded = req.headers['x-forwarded-for'];
  const last = typeof forwarded === 'string' ? forwarded.split(',').at(-1)?.trim() : undefined;
  return last === undefined || last === '' ? peer : last;
}
