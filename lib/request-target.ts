/** RequestTarget is the path and query of a request, exactly as sent (not decoded). */
export interface RequestTarget {
  path: string;
  query: URLSearchParams;
}

/**
 * parseTarget splits the request target into path and query, without
 * decoding: routes and static files are matched on the exact raw path, so
 * `%2e%2e`, `..;/` or a NUL simply match nothing. Absolute-form targets
 * (`GET http://host/path`) are accepted as RFC 9112 requires; anything else
 * that does not start with `/` is null (400).
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
