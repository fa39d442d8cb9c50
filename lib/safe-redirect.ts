/** DEFAULT_AFTER_LOGIN is where a sign-in lands when `next` is absent or refused. */
export const DEFAULT_AFTER_LOGIN = '/dashboard';

const MAX_NEXT_LENGTH = 512;

/**
 * safeNext returns `next` when it is a path on this site, else `fallback`:
 * the defence against open redirects (a link to our login page that sends
 * the freshly signed-in user on to a phishing site).
 *
 * A local path starts with exactly one `/`, followed by something other
 * than `/` or `\` (browsers read `//evil` and `/\evil` as another host), and
 * holds no control characters (CR/LF would split the Location header) and
 * no backslash at all. As a last check it must resolve to our own origin.
 */
export function safeNext(next: unknown, fallback: string = DEFAULT_AFTER_LOGIN): string {
  if (typeof next !== 'string' || next.length === 0 || next.length > MAX_NEXT_LENGTH) return fallback;
  if (!next.startsWith('/') || next[1] === '/' || next.includes('\\')) return fallback;
  // Visible ASCII only: control characters, spaces, DEL and non-ASCII are refused outright.
  if (!/^[\x21-\x7e]*$/.test(next)) return fallback;
  const base = 'http://cloakroom.invalid';
  const resolved = new URL(next, base);
  if (resolved.origin !== base) return fallback;
  // Dot segments can collapse into a scheme-relative URL (`/..//evil` → `//evil`): check the result too.
  const local = resolved.pathname + resolved.search + resolved.hash;
  return local.startsWith('//') ? fallback : local;
}
