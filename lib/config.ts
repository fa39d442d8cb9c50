import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Timeouts } from './sessions/record.ts';
import type { StoreSetting } from './storage/storage.ts';

/** LogMode picks how much the server narrates: see lib/log.ts. */
export type LogMode = 'explain' | 'requests' | 'silent';
export type CookieSecureMode = 'true' | 'false' | 'auto';

/**
 * Config is every setting of the README's Configuration table, read once at
 * start-up, validated and
 * then passed around as plain data. Durations are in milliseconds here even
 * though the environment gives them in seconds.
 */
export interface Config {
  port: number;
  host: string;
  sessionsDir: string;
  usersFile: string;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  sweepIntervalMs: number;
  cookieSecure: CookieSecureMode;
  trustProxy: boolean;
  scryptCost: number;
  log: LogMode;
  /** workers: how many processes serve the port (1: this process serves alone; see lib/cluster.ts). */
  workers: number;
  /** guestIdleTimeoutMs: a guest session (no user) unused this long ends; a sign-in gives it idleTimeoutMs instead. */
  guestIdleTimeoutMs: number;
  /** registrationsPerAddress: registrations one client address may make per window (lib/rate-limit.ts). */
  registrationsPerAddress: number;
  /** guestSessionsPerAddress: guest sessions one client address may start per window (lib/rate-limit.ts). */
  guestSessionsPerAddress: number;
  /** maxSessions: past this many stored sessions, no new guest session is started (lib/sessions/census.ts). */
  maxSessions: number;
  /** maxConnections: open connections per process; more are closed at once. */
  maxConnections: number;
  /** allowedHosts: domain names, lower case, that the Host header may carry besides localhost (lib/host-check.ts). */
  allowedHosts: readonly string[];
  /** store: where sessions, accounts, counters and locks live (lib/storage/open.ts). */
  store: StoreSetting;
}

/** ConfigError names the variable that is wrong; server.ts prints it and exits 1. */
export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const MAX_PORT = 65535;
const MIN_SCRYPT_COST = 1024;
// 2^20 with r = 8 needs 1 GiB per hash; anything above is a typo, not a choice.
const MAX_SCRYPT_COST = 2 ** 20;
// setTimeout cannot wait longer than 2^31 - 1 ms (about 24.8 days).
const MAX_DURATION_SECONDS = 2_147_483;
/** DEFAULT_GUEST_IDLE_SECONDS: GUEST_IDLE_TIMEOUT when unset (or SESSION_IDLE_TIMEOUT, when that is shorter). */
const DEFAULT_GUEST_IDLE_SECONDS = 600;
/** MAX_COUNT bounds the limits and caps: a billion is past anything one machine holds, so more is a typo. */
const MAX_COUNT = 1_000_000_000;

/**
 * loadConfig reads the environment variables of the README's Configuration table from `env` (defaults
 * applied, paths resolved against `cwd`) and throws ConfigError on the first
 * invalid value.
 */
export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const idleTimeoutMs = seconds(env, 'SESSION_IDLE_TIMEOUT', 1800);
  const config: Config = {
    port: integerIn(env, 'PORT', 3000, 0, MAX_PORT),
    host: nonEmpty(env, 'HOST', '127.0.0.1'),
    sessionsDir: path.resolve(cwd, nonEmpty(env, 'SESSIONS_DIR', './sessions')),
    usersFile: path.resolve(cwd, nonEmpty(env, 'USERS_FILE', './data/users.json')),
    idleTimeoutMs,
    absoluteTimeoutMs: seconds(env, 'SESSION_ABSOLUTE_TIMEOUT', 28800),
    sweepIntervalMs: seconds(env, 'SWEEP_INTERVAL', 60),
    cookieSecure: oneOf(env, 'COOKIE_SECURE', 'auto', ['true', 'false', 'auto'] as const),
    trustProxy: oneOf(env, 'TRUST_PROXY', 'false', ['true', 'false'] as const) === 'true',
    scryptCost: scryptCost(env),
    log: oneOf(env, 'LOG', 'explain', ['explain', 'requests', 'silent'] as const),
    workers: workers(env),
    // A guest keeps less worth coming back for, so its session ends sooner, yet never later than a signed-in one by default.
    guestIdleTimeoutMs: seconds(env, 'GUEST_IDLE_TIMEOUT', Math.min(DEFAULT_GUEST_IDLE_SECONDS, idleTimeoutMs / 1000)),
    registrationsPerAddress: integerIn(env, 'REGISTRATIONS_PER_ADDRESS', 50, 1, MAX_COUNT),
    guestSessionsPerAddress: integerIn(env, 'GUEST_SESSIONS_PER_ADDRESS', 100, 1, MAX_COUNT),
    maxSessions: integerIn(env, 'MAX_SESSIONS', 100_000, 1, MAX_COUNT),
    maxConnections: integerIn(env, 'MAX_CONNECTIONS', 1000, 1, MAX_COUNT),
    allowedHosts: allowedHosts(env),
    store: store(env, cwd),
  };
  // Each worker would keep its own memory: a sign-in on one would be unknown to the next.
  if (config.store.kind === 'memory' && config.workers > 1) {
    throw new ConfigError('STORE', "memory is one process's own, so it cannot serve WORKERS above 1; use files (or set WORKERS=1)");
  }
  return config;
}

/** timeoutsOf is the session timeouts of `config`, as the store, the sweeper and the inspector judge them. */
export function timeoutsOf(config: Config): Timeouts {
  return { idleMs: config.idleTimeoutMs, absoluteMs: config.absoluteTimeoutMs, guestIdleMs: config.guestIdleTimeoutMs };
}

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function nonEmpty(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  if (value.trim() !== value) throw new ConfigError(name, 'must not start or end with spaces');
  return value;
}

function integerIn(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${value}"`);
  const number = Number(value);
  if (number < min || number > max) throw new ConfigError(name, `must be from ${min} to ${max}, got ${value}`);
  return number;
}

function seconds(env: Env, name: string, fallback: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback * 1000;
  // Decimal seconds: 60, 0.5 or .5; no sign, exponent, unit or hex.
  if (!/^(\d+(\.\d+)?|\.\d+)$/.test(value)) throw new ConfigError(name, `must be a number of seconds such as 60 or 0.5, got "${value}"`);
  const number = Number(value);
  if (number <= 0) throw new ConfigError(name, 'must be more than 0 seconds');
  if (number > MAX_DURATION_SECONDS) throw new ConfigError(name, `must be at most ${MAX_DURATION_SECONDS} seconds`);
  return number * 1000;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const value = raw(env, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

/** MAX_WORKERS: more processes than this would only take turns on the cores. */
const MAX_WORKERS = 64;

/** workers reads WORKERS: a whole number from 1, or `auto` for one per core. */
function workers(env: Env): number {
  const value = raw(env, 'WORKERS');
  if (value === 'auto') return availableParallelism();
  if (value !== undefined && !/^\d+$/.test(value)) {
    throw new ConfigError('WORKERS', `must be a whole number from 1 to ${MAX_WORKERS}, or auto, got "${value}"`);
  }
  return integerIn(env, 'WORKERS', 1, 1, MAX_WORKERS);
}

function scryptCost(env: Env): number {
  const cost = integerIn(env, 'SCRYPT_COST', 131072, MIN_SCRYPT_COST, MAX_SCRYPT_COST);
  // scrypt's N must be a power of two; a bit trick tells: exactly one bit set.
  if ((cost & (cost - 1)) !== 0) throw new ConfigError('SCRYPT_COST', `must be a power of two, got ${cost}`);
  return cost;
}

/**
 * A host name as ALLOWED_HOSTS lists it: dot-separated labels of letters,
 * digits and hyphens (RFC 1123), no port, no scheme, no wildcard.
 *
 *   host-name = label *( "." label )
 *   label     = alnum [ *( alnum / "-" ) alnum ]   ; 63 characters at most
 */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** allowedHosts reads ALLOWED_HOSTS: host names separated by commas (spaces around them allowed), compared in lower case. */
function allowedHosts(env: Env): string[] {
  const value = raw(env, 'ALLOWED_HOSTS');
  if (value === undefined) return [];
  return value.split(',').map((entry) => {
    const name = entry.trim().toLowerCase();
    if (!HOST_NAME.test(name)) {
      throw new ConfigError(
        'ALLOWED_HOSTS',
        `must be host names separated by commas, such as app.example.org (no port or scheme), got "${entry.trim()}"`,
      );
    }
    return name;
  });
}

/**
 * store reads STORE:
 *
 *   STORE = "files" / "memory" / redis-url / "sqlite:" path
 *   redis-url = ( "redis://" / "rediss://" ) [ [ user ] ":" password "@" ] host [ ":" port ] [ "/" db ]
 *
 * A Redis URL is checked for its shape here; whether the server answers is
 * known only at start-up (lib/storage/open.ts). A SQLite path is resolved
 * against `cwd`, like SESSIONS_DIR.
 */
function store(env: Env, cwd: string): StoreSetting {
  const value = nonEmpty(env, 'STORE', 'files');
  if (value === 'files' || value === 'memory') return { kind: value };
  if (value.startsWith('sqlite:')) {
    const file = value.slice('sqlite:'.length);
    if (file === '') throw new ConfigError('STORE', 'sqlite: needs the path of a database file, such as sqlite:./data/cloakroom.db');
    return { kind: 'sqlite', path: path.resolve(cwd, file) };
  }
  if (value.startsWith('redis://') || value.startsWith('rediss://')) return { kind: 'redis', url: redisUrl(value) };
  throw new ConfigError('STORE', `must be files, memory, redis://host:port, rediss://host:port or sqlite:PATH, got "${value}"`);
}

const MAX_REDIS_DB = 15;

/** redisUrl checks a redis:// or rediss:// URL: a host, a port if any, a database number if any, and nothing else. */
function redisUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('STORE', 'is not a valid URL (redis://[user:password@]host:port[/db])');
  }
  if (url.hostname === '') throw new ConfigError('STORE', 'a Redis URL needs a host, such as redis://127.0.0.1:6379');
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !(/^\d+$/.test(db) && Number(db) <= MAX_REDIS_DB)) {
    throw new ConfigError('STORE', `the database after the host must be a number from 0 to ${MAX_REDIS_DB}, got "${db}"`);
  }
  if (url.search !== '' || url.hash !== '') throw new ConfigError('STORE', 'a Redis URL takes no ?query or #fragment');
  return value;
}
