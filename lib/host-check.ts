import { isIPv4, isIPv6 } from 'node:net';

/**
 * The Host check, against DNS rebinding: a page on an attacker's site
 * re-points its own name at 127.0.0.1, and the browser then lets that
 * page's scripts read a local Cloakroom as if it were their own site (the
 * same name, so the same origin). The one thing such a request cannot hide
 * is the attacker's name in `Host`. So a request is answered only when its
 * Host is:
 *
 *   - an IP literal, IPv4 or bracketed IPv6, with or without a port: no
 *     DNS is involved, so nothing can be rebound;
 *   - `localhost` or a name under `.localhost`, which resolve to this
 *     machine by definition (RFC 6761) and never through anyone's DNS;
 *   - a name listed in ALLOWED_HOSTS (the server's public name behind a
 *     proxy, say).
 *
 * Anything else gets 421 Misdirected Request before routing. A request
 * without Host (HTTP/1.0; a browser always sends one) is let through.
 *
 *   Host       = uri-host [ ":" port ]                 ; RFC 9110, 7.2
 *   uri-host   = IP-literal / IPv4address / reg-name   ; RFC 3986, 3.2.2
 *   IP-literal = "[" IPv6address "]"
 */

/** HostVerdict: answer the request, or refuse it with 421. */
export type HostVerdict = 'allowed' | 'refused';

const WITH_PORT = /^(.*?)(?::\d*)?$/;
const BRACKETED = /^\[([^\]]*)\](?::\d*)?$/;

/** checkHost judges a Host header against `allowedHosts` (lower-case names, as lib/config.ts reads ALLOWED_HOSTS). */
export function checkHost(host: string | undefined, allowedHosts: readonly string[]): HostVerdict {
  if (host === undefined || host === '') return 'allowed';
  const bracketed = BRACKETED.exec(host);
  if (bracketed !== null) return isIPv6(bracketed[1] ?? '') ? 'allowed' : 'refused';
  // A trailing dot names the same host (`localhost.`); it must not slip past the list either way.
  const name = (WITH_PORT.exec(host)?.[1] ?? '').toLowerCase().replace(/\.$/, '');
  if (isIPv4(name)) return 'allowed';
  if (name === 'localhost' || name.endsWith('.localhost')) return 'allowed';
  return allowedHosts.includes(name) ? 'allowed' : 'refused';
}
