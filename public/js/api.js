// One small helper for talking to Cloakroom's JSON API.
//
// Notice what is missing: this code never touches the session ID. The
// browser attaches the cookie by itself (`credentials: 'same-origin'`), and
// because the cookie is HttpOnly no script could read it even if it tried.

/**
 * @typedef {object} ApiResult
 * @property {number} status  HTTP status, or 0 when the server could not be reached.
 * @property {unknown} body  The parsed JSON body, or null when there was none;
 *   the caller that knows the route names its shape (one of the typedefs below).
 * @property {number | null} retryAfter  Seconds from a Retry-After header (429, 503).
 */

/**
 * The account, from GET /api/me and PATCH /api/profile.
 * @typedef {object} Account
 * @property {string} username
 * @property {string} displayName
 * @property {string} createdAt  ISO 8601.
 */

/**
 * The session, from GET /api/session: both halves of it, for the inspector.
 * @typedef {object} SessionView
 * @property {string} id  The first 6 characters of the ID and an ellipsis.
 * @property {string} file
 * @property {string | null} user
 * @property {number | null} generation  The account's password generation the session signed in under; null for a guest.
 * @property {string} serverTime
 * @property {string} createdAt
 * @property {string} lastSeenAt
 * @property {string} idleExpiresAt
 * @property {string} absoluteExpiresAt
 * @property {number} idleTimeoutSeconds
 * @property {number} absoluteTimeoutSeconds
 * @property {number} touchIntervalSeconds
 * @property {SessionData} data
 * @property {SessionCookie} cookie
 * @property {unknown} stored  The record as it is stored (the file, the Redis value, the SQLite row's JSON).
 * @property {{kind: string, ttlSeconds: number | null}} storage  Which STORE, and the time to live it keeps for this session (Redis), or null.
 * @property {{at: string, event: string}[]} [events]
 * @property {{at: string, reason: string, from: string, to: string}[]} [rotations]
 */

/**
 * @typedef {object} SessionData
 * @property {string[]} cart
 * @property {import('./theme.js').Theme | null} [theme]
 */

/**
 * @typedef {object} SessionCookie
 * @property {string} name
 * @property {boolean} httpOnly
 * @property {string} sameSite
 * @property {boolean} secure
 * @property {string} path
 */

/**
 * api sends one request and resolves with its outcome. It never throws, so
 * callers handle every failure in one place by looking at `status`.
 * @param {string} path  A path on this site, e.g. '/api/me'.
 * @param {{method?: string, body?: unknown}} [options]  `body` is sent as JSON.
 * @returns {Promise<ApiResult>}
 */
export async function api(path, { method = 'GET', body } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  /** @type {RequestInit} */
  const init = { method, headers, credentials: 'same-origin' };
  // Only requests that carry a body announce one; an empty body labelled
  // JSON would be malformed JSON to the server.
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch(path, init);
  } catch {
    return { status: 0, body: null, retryAfter: null };
  }
  return {
    status: response.status,
    body: await readJson(response),
    retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
  };
}

/**
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
async function readJson(response) {
  const type = response.headers.get('Content-Type') ?? '';
  if (!type.includes('application/json')) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * Retry-After is either a number of seconds or an HTTP date.
 * @param {string | null} value
 * @returns {number | null}
 */
function parseRetryAfter(value) {
  if (value === null) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** @type {Record<number, string>} */
const GENERIC_MESSAGES = {
  0: 'Could not reach the server. Is it still running?',
  401: 'You are signed out: your session has ended. Sign in again to continue.',
  403: 'The server refused this request.',
  413: 'That is more data than the server accepts in one request.',
};

/**
 * describeFailure turns a failed ApiResult into a sentence for the page.
 * @param {ApiResult} result
 * @param {Record<number, string>} [messages]  Wording for this form, by status;
 *   it wins over the server's own `message`, which wins over a generic one.
 * @returns {string}
 */
export function describeFailure(result, messages = {}) {
  if (result.status === 429 || result.status === 503) {
    const when = result.retryAfter === null ? 'later' : `in ${waitInWords(result.retryAfter)}`;
    const why = result.status === 429 ? 'Too many attempts.' : 'The server is busy.';
    return `${why} Please try again ${when}.`;
  }
  const own = messages[result.status];
  if (own !== undefined) return own;
  const body = /** @type {{message?: unknown} | null} */ (result.body);
  if (typeof body?.message === 'string' && body.message !== '') return body.message;
  return GENERIC_MESSAGES[result.status] ?? `Something went wrong (HTTP ${result.status}).`;
}

const SECONDS_PER_MINUTE = 60;

/** @param {number} seconds */
function waitInWords(seconds) {
  if (seconds < SECONDS_PER_MINUTE) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / SECONDS_PER_MINUTE);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
