/**
 * The address of a Redis server, as STORE gives it:
 *
 *   redis-url = ( "redis://" / "rediss://" ) [ userinfo "@" ] host [ ":" port ] [ "/" db ]
 *   userinfo  = [ username ] ":" password    ; password only, or an ACL user and its password
 *   db        = 1*DIGIT                      ; SELECT this database (0 when absent)
 *
 * `rediss://` is Redis over TLS. The username and password may be
 * percent-encoded, as in any URL; they are never printed.
 */

/** DEFAULT_REDIS_PORT is Redis's own. */
export const DEFAULT_REDIS_PORT = 6379;
/** MAX_DB bounds the db number; Redis itself has 16 databases unless configured otherwise. */
const MAX_DB = 1_000_000;
const DB_PATH = /^(?:\/(\d{1,7})?)?$/;

export interface RedisAddress {
  tls: boolean;
  host: string;
  port: number;
  /** username is the ACL user, or null for the default user. */
  username: string | null;
  /** password is for AUTH, or null to send no AUTH at all. */
  password: string | null;
  db: number;
  /** label names the server in messages and logs, without the credentials: `127.0.0.1:6379`, `redis.example:6380 db 2 (TLS)`. */
  label: string;
}

/** RedisAddressError: STORE is not a Redis URL Cloakroom can use; the message says why, never with the password. */
export class RedisAddressError extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'RedisAddressError';
  }
}

/** parseRedisAddress reads a `redis://` or `rediss://` URL, or throws RedisAddressError naming what is wrong. */
export function parseRedisAddress(text: string): RedisAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RedisAddressError('not a URL (expected redis://[user:password@]host:port[/db])');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new RedisAddressError(`${url.protocol}// is not redis:// or rediss://`);
  if (url.hostname === '') throw new RedisAddressError('no host');
  if (url.search !== '' || url.hash !== '') throw new RedisAddressError('no query or fragment is understood');
  const path = DB_PATH.exec(url.pathname);
  if (path === null) throw new RedisAddressError(`"${url.pathname}" is not a database number`);
  const db = Number(path[1] ?? 0);
  if (db > MAX_DB) throw new RedisAddressError(`database ${db} is out of range`);
  const username = url.username === '' ? null : decoded(url.username, 'username');
  const password = url.password === '' ? null : decoded(url.password, 'password');
  if (username !== null && password === null) throw new RedisAddressError('a username needs a password (user:password@)');
  const tls = url.protocol === 'rediss:';
  // The URL keeps the brackets of an IPv6 address; connecting wants the address alone.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? DEFAULT_REDIS_PORT : Number(url.port);
  const label = `${url.hostname}:${port}${db === 0 ? '' : ` db ${db}`}${tls ? ' (TLS)' : ''}`;
  return { tls, host, port, username, password, db, label };
}

function decoded(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RedisAddressError(`the ${what} is not valid percent-encoding`);
  }
}
