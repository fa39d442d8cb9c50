import type { IncomingMessage } from 'node:http';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * isCrossOriginRequest tells whether an unsafe request (POST, PUT, PATCH,
 * DELETE) came from another site and must be refused: the CSRF defence,
 * following Go 1.25's http.CrossOriginProtection.
 *
 * 1. Safe methods are never refused: they must not change anything anyway.
 * 2. `Sec-Fetch-Site` (sent by every current browser) is trusted when
 *    present: only `same-origin` and `none` (typed URL, bookmark) pass.
 * 3. Otherwise `Origin`, when present, must name this host:port exactly;
 *    `Origin: null` (sandboxed frames, some redirects) is refused.
 * 4. With neither header the request did not come from a browser page
 *    (curl, scripts), which cannot ride on a victim's cookies: allowed.
 */
export function isCrossOriginRequest(req: IncomingMessage): boolean {
  if (SAFE_METHODS.has(req.method ?? 'GET')) return false;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  return originHost(origin) !== req.headers.host?.toLowerCase();
}

/** originHost is the host:port of an Origin header, or null when it is `null` or not a URL. */
function originHost(origin: string): string | null {
  if (origin === 'null') return null;
  try {
    const url = new URL(origin);
    return url.host.toLowerCase();
  } catch {
    return null;
  }
}
