import type { ServerResponse } from 'node:http';

/**
 * SECURITY_HEADERS go on every response, errors and static files included.
 * - Content-Security-Policy: only our own scripts and styles run, no plugins,
 *   no <base> hijack, no framing (clickjacking), forms post only to us.
 * - X-Content-Type-Options: the browser must not guess a script out of text.
 * - Referrer-Policy: URLs never leak to other sites through Referer.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** setSecurityHeaders adds SECURITY_HEADERS to `res`; call it before anything else is written. */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of HEADER_ENTRIES) res.setHeader(name, value);
}

/** HEADER_ENTRIES: SECURITY_HEADERS as pairs, made once rather than on every response. */
const HEADER_ENTRIES = Object.entries(SECURITY_HEADERS);
