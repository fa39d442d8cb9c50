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

/**
 * HSTS tells a browser that reached us over HTTPS to use nothing but HTTPS
 * for this host for a year, so a later `http://` link or typed address
 * cannot be caught in plain text by someone on the network (SSL
 * stripping). It is sent only on HTTPS answers: over plain HTTP it would be
 * ignored at best, and a local server on http://127.0.0.1 must not pin
 * itself to a TLS it does not have. No includeSubDomains: this app does not
 * know what else runs under its name.
 */
export const HSTS_HEADER = { name: 'Strict-Transport-Security', value: 'max-age=31536000' } as const;

/**
 * setSecurityHeaders adds SECURITY_HEADERS to `res`, and HSTS_HEADER when
 * the request came over HTTPS; call it before anything else is written.
 */
export function setSecurityHeaders(res: ServerResponse, https: boolean): void {
  for (const [name, value] of HEADER_ENTRIES) res.setHeader(name, value);
  if (https) res.setHeader(HSTS_HEADER.name, HSTS_HEADER.value);
}

/** HEADER_ENTRIES: SECURITY_HEADERS as pairs, made once rather than on every response. */
const HEADER_ENTRIES = Object.entries(SECURITY_HEADERS);
