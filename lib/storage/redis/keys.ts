/**
 * The key layout of Cloakroom in Redis (docs/redis.md draws it). Every key
 * starts with KEY_PREFIX, so one Redis can hold other data beside it, and
 * `redis-cli --scan --pattern 'cloakroom:*'` shows all of Cloakroom's.
 *
 *   cloakroom:session:<file id>         string  the record's JSON; TTL = its earlier deadline
 *   cloakroom:user-sessions:<username>  zset    the user's file ids, scored by their deadlines
 *   cloakroom:account:<username>        string  the account's JSON; no TTL
 *   cloakroom:counter:<key>             zset    one member per counted event, scored by its time
 *   cloakroom:lock:<key>                string  the holder's random token; TTL = the lease
 *   cloakroom:ending:<file id>          string  why a session ended; TTL 24 h
 *
 * A session is named by its file id (the SHA-256 of its ID), never by the
 * ID: whoever can read Redis (a backup, `MONITOR`, a replica) gets nothing
 * to replay. Usernames are lower-cased: "Alice" and "alice" are one account.
 */
export const KEY_PREFIX = 'cloakroom:';

/** How many characters of a key's last part the explain log shows: enough to tell keys apart, not enough to matter. */
const SHOWN_CHARS = 4;

export const keys = {
  session: (fileId: string): string => `${KEY_PREFIX}session:${fileId}`,
  userSessions: (username: string): string => `${KEY_PREFIX}user-sessions:${username.toLowerCase()}`,
  account: (username: string): string => `${KEY_PREFIX}account:${username.toLowerCase()}`,
  counter: (key: string): string => `${KEY_PREFIX}counter:${key}`,
  lock: (key: string): string => `${KEY_PREFIX}lock:${key}`,
  ending: (fileId: string): string => `${KEY_PREFIX}ending:${fileId}`,
};

/** SESSION_KEYS is the SCAN pattern of every session key. */
export const SESSION_KEYS = `${keys.session('')}*`;
/** USER_SESSIONS_KEYS is the SCAN pattern of every user's index. */
export const USER_SESSIONS_KEYS = `${keys.userSessions('')}*`;

/** fileIdOf is the file id a session key names. */
export function fileIdOf(sessionKey: string): string {
  return sessionKey.slice(keys.session('').length);
}

/**
 * shortKey is a key as the explain log and the inspector show it: its kind
 * in full, then the first few characters of what it names
 * (`cloakroom:session:3f2a…`), so no whole file id, username or address
 * ends up in a log.
 */
export function shortKey(key: string): string {
  const kindEnd = key.indexOf(':', KEY_PREFIX.length);
  const named = key.slice(kindEnd + 1);
  return named.length <= SHOWN_CHARS ? key : `${key.slice(0, kindEnd + 1)}${named.slice(0, SHOWN_CHARS)}…`;
}

/** isKey tells a key from any other argument of a command. */
export function isKey(arg: string): boolean {
  return arg.startsWith(KEY_PREFIX) && arg.indexOf(':', KEY_PREFIX.length) > 0;
}
