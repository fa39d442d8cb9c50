import type { IncomingMessage } from 'node:http';

/**
 * What a request says about where it came from: over HTTPS or not, and from
 * which address. Behind a reverse proxy the connection is the proxy's, so
 * with TRUST_PROXY=true the proxy's X-Forwarded-Proto and X-Forwarded-For
 * are believed; without it those headers are whatever the client typed, and
 * are ignored.
 */

/**
 * isHttps tells whether the request arrived over HTTPS: on our own TLS
 * socket, or (trusting the proxy) as the last entry of X-Forwarded-Proto
 * says, the one our proxy appended. An earlier entry is the client's own:
 * `X-Forwarded-Proto: http, https` sent over plain HTTP must not pass for HTTPS,
 * nor `https, http` the other way round.
 */
export function isHttps(req: IncomingMessage, trustProxy: boolean): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
  if (!trustProxy) return false;
  return lastEntry(req.headers['x-forwarded-proto'])?.toLowerCase() === 'https';
}

/**
 * clientAddress is the peer's address, or with `trustProxy` the last entry
 * of X-Forwarded-For: the one our own proxy added. Earlier entries are
 * whatever the client chose to send, so trusting them would let an attacker
 * pick a fresh address for every guess.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!trustProxy) return peer;
  return lastEntry(req.headers['x-forwarded-for']) ?? peer;
}

/** lastEntry is the last comma-separated entry of a forwarded header, trimmed, or undefined when there is none. */
function lastEntry(header: string | string[] | undefined): string | undefined {
  const last = typeof header === 'string' ? header.split(',').at(-1)?.trim() : undefined;
  return last === '' ? undefined : last;
}
