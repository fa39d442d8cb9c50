// The servers a run compares, how each is started, and how to get signed-in
// cookies from it.
//
// Cloakroom is started as a user starts it (`node --import tsx server.ts` from
// the repo root) with LOG=silent and fresh temp SESSIONS_DIR and USERS_FILE;
// its cookies come from real sign-ins (POST /register once, then POST /login),
// so every session under load is one the server itself issued. The peers in
// bench/peers/ sign in without a password (they have no users), which only
// makes their set-up cheaper; it changes nothing they do per request.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, startServer } from './processes.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_DIR = path.join(HERE, '..');
export const REPO_DIR = path.join(BENCH_DIR, '..');

export const USERNAME = 'bench';
export const PASSWORD = 'correct horse battery staple';
/** The lowest scrypt cost the configuration allows (SCRYPT_COST): cheap sign-ins for scenarios that do not measure sign-in. */
export const CHEAP_SCRYPT_COST = '1024';
const SIGN_IN_CONCURRENCY = 8;
/**
 * Cloakroom counts each sign-in in flight against the account's limit of 5
 * failures until its password has matched, so one account takes at most 4
 * at once without a 429.
 */
const CLOAKROOM_SIGN_IN_CONCURRENCY = 4;
const MAX_SIGN_IN_ATTEMPTS = 50;
const RETRY_PAUSE_MS = 20;
const SID_LENGTH = 43;

/**
 * The comparison set, in the order a round runs them (A B C D E F).
 * `meOnly`: the server answers GET /api/me and nothing to measure beside it,
 * so only the /api/me comparison runs it.
 */
export const SERVERS = [
  { key: 'raw-http', label: 'raw node:http (no sessions)' },
  { key: 'raw-same-headers', label: 'raw node:http, same headers', meOnly: true },
  { key: 'raw-readfile', label: 'raw node:http + readFile + JSON.parse' },
  { key: 'express-memory', label: 'express 5 + express-session + MemoryStore' },
  { key: 'express-file', label: 'express 5 + express-session + session-file-store' },
  { key: 'cloakroom', label: 'Cloakroom' },
];

export const labelOf = (key) => SERVERS.find((s) => s.key === key).label;

/** Starts a fresh instance of a server; `env` adds to (or, for Cloakroom, overrides) the defaults. */
export async function start(key, env = {}) {
  const sessionsDir = makeTempDir(`${key}-sessions`);
  if (key === 'cloakroom') return startCloakroom({ SESSIONS_DIR: sessionsDir, ...env });
  const server = await startServer({
    name: key,
    command: process.execPath,
    args: [path.join(BENCH_DIR, 'peers', `${key}.mjs`)],
    cwd: BENCH_DIR,
    env: { PORT: '0', SESSIONS_DIR: sessionsDir, ...env },
  });
  return { ...server, key, sessionsDir, signIn: (count) => signInPeer(server.url, count) };
}

/** Starts the real Cloakroom server. SCRYPT_COST: null omits it (the default cost). */
export async function startCloakroom(env = {}, { pin = true } = {}) {
  const sessionsDir = env.SESSIONS_DIR ?? makeTempDir('cloakroom-sessions');
  const usersFile = path.join(makeTempDir('cloakroom-users'), 'users.json');
  const fullEnv = { PORT: '0', LOG: 'silent', SCRYPT_COST: CHEAP_SCRYPT_COST, USERS_FILE: usersFile, ...env, SESSIONS_DIR: sessionsDir };
  if (fullEnv.SCRYPT_COST === null) delete fullEnv.SCRYPT_COST;
  const childEnv = { ...fullEnv };
  // The runner's own environment must not leak Cloakroom settings into a run.
  for (const name of [
    'SCRYPT_COST',
    'SESSION_IDLE_TIMEOUT',
    'SESSION_ABSOLUTE_TIMEOUT',
    'SWEEP_INTERVAL',
    'COOKIE_SECURE',
    'TRUST_PROXY',
    'HOST',
    'WORKERS',
    'STORE',
  ]) {
    if (!(name in childEnv)) childEnv[name] = undefined;
  }
  const server = await startServer({
    name: 'cloakroom',
    command: process.execPath,
    args: ['--import', 'tsx', 'server.ts'],
    cwd: REPO_DIR,
    env: childEnv,
    pin,
  });
  const registered = new Set();
  /** Registers `username` (PASSWORD) and returns the cookie of the session registration signs in. */
  async function register(username = USERNAME) {
    const [cookie] = await signInCloakroom(server.url, '/register', username, 1, 201);
    registered.add(username);
    return cookie;
  }
  async function signIn(count, username = USERNAME) {
    if (!registered.has(username)) await register(username);
    return signInCloakroom(server.url, '/login', username, count, 200);
  }
  return { ...server, key: 'cloakroom', sessionsDir, usersFile, register, signIn };
}

/** POSTs JSON; returns {status, headers, cookie (name=value of the first Set-Cookie), text}. */
export async function postJson(url, body, { cookie, signal } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (cookie) headers.Cookie = cookie;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), redirect: 'manual', signal });
  const setCookie = response.headers.getSetCookie().find((c) => !/^[^=]+=;/.test(c));
  return { status: response.status, headers: response.headers, cookie: setCookie?.split(';')[0], text: await response.text() };
}

/** GETs a path with a cookie; returns {status, headers, text}. */
export async function get(url, cookie) {
  const response = await fetch(url, { headers: cookie ? { Cookie: cookie } : {}, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Runs `count` jobs with at most `limit` in flight; returns their results in order. */
export async function pool(count, limit, job) {
  const results = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const index = next++;
      results[index] = await job(index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function signInCloakroom(baseUrl, route, username, count, expected) {
  return pool(count, CLOAKROOM_SIGN_IN_CONCURRENCY, async () => {
    for (let attempt = 1; attempt <= MAX_SIGN_IN_ATTEMPTS; attempt++) {
      const result = await postJson(`${baseUrl}${route}`, { username, password: PASSWORD });
      // 503: the bounded hash queue is full. 429: Cloakroom counts a sign-in
      // as a failure until its hash has matched, so too many at once for one
      // account look like guessing. Both clear up; come back a little later.
      if (result.status === 503 || result.status === 429) {
        await pause(RETRY_PAUSE_MS * attempt);
        continue;
      }
      if (result.status !== expected) throw new Error(`Cloakroom ${route} answered ${result.status}: ${result.text}`);
      const sid = result.cookie?.split('=')[1] ?? '';
      if (sid.length !== SID_LENGTH) throw new Error(`Cloakroom ${route} set an unexpected cookie: ${result.cookie}`);
      return result.cookie;
    }
    throw new Error(`Cloakroom ${route} kept answering 503`);
  });
}

async function signInPeer(baseUrl, count) {
  return pool(count, SIGN_IN_CONCURRENCY, async () => {
    const result = await postJson(`${baseUrl}/login`, { username: USERNAME });
    if (result.status !== 200 || !result.cookie) throw new Error(`peer /login answered ${result.status}: ${result.text}`);
    return result.cookie;
  });
}
