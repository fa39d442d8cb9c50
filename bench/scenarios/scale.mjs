// Scenario 10: signed-in GET /api/me with the requests spread evenly over N
// sessions of one user, for each N of BENCH_SCALE_COUNTS (1 to 100 000), each
// beside raw node:http sending exactly Cloakroom's headers
// (bench/peers/raw-same-headers.mjs) in the same round: "within 20 % of
// node:http, at any number of sessions". The cookies come round-robin, so
// once N is above what Cloakroom's parsed-record cache holds, no request
// finds its session there and the figure is what a read from disk costs.
//
// Signing in 100 000 times would take minutes of scrypt, so one user is
// registered for real and the other N - 1 sessions are written straight into
// SESSIONS_DIR as Cloakroom writes a sign-in's (the session file, then its
// marker in the user index), with lastSeenAt a minute ahead, so that requests
// read them and none rewrites one (a touch is due a minute after lastSeenAt;
// what touches cost is the touch scenario's figure). Before timing, every
// session is asked for once: the first read of each file is a one-time cost,
// and the figure is the steady state of sessions in use.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { measure, runLoad } from '../lib/load.mjs';
import { removeTempDir, sampleRss } from '../lib/processes.mjs';
import { signedInSession } from '../lib/records.mjs';
import { get, pool, start, startCloakroom, USERNAME } from '../lib/servers.mjs';

/** A fresh account's password generation (lib/routes/auth.ts, register): its sessions carry it. */
const FRESH_ACCOUNT_GENERATION = 0;
const WRITE_CONCURRENCY = 64;
/** Cookies checked at random before timing, besides the first and the last. */
const SPOT_CHECKS = 8;
/**
 * How long after lastSeenAt a request rewrites it, with the default idle
 * timeout (touchIntervalMs in lib/sessions/record.ts): a measurement that
 * ends later than this after the records were written also timed touches.
 */
const TOUCH_INTERVAL_SECONDS = 60;
/** How far ahead lastSeenAt is written, so that no touch falls due while the first pass and the measurement run. */
const LAST_SEEN_AHEAD_MS = 60_000;
/**
 * SWEEP_INTERVAL for these servers: the default (60 s) would start a walk
 * over all N files part-way through some measurements and not others. What
 * a sweep costs the requests beside it is the sweep scenario's figure.
 */
const SWEEP_INTERVAL = '3600';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/**
 * Returns {rows: [{round, sessions, writeSeconds, recordAgeSeconds, cloakroom, peer}], touchIntervalSeconds},
 * cloakroom and peer each {load, rss}; recordAgeSeconds is how old the records were when Cloakroom's measurement ended.
 */
export async function run(ctx) {
  const rows = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const sessions of ctx.scaleCounts) {
      ctx.log(`scale round ${round}/${ctx.rounds}, ${sessions} session(s): cloakroom`);
      const { cookies, writeSeconds, recordAgeSeconds, result: cloakroom } = await measureCloakroom(ctx, sessions);
      ctx.log(`scale round ${round}/${ctx.rounds}, ${sessions} session(s): raw-same-headers`);
      const peer = await measurePeer(ctx, cookies);
      rows.push({ round, sessions, writeSeconds, recordAgeSeconds, cloakroom, peer });
    }
  }
  return { rows, touchIntervalSeconds: TOUCH_INTERVAL_SECONDS + LAST_SEEN_AHEAD_MS / 1000 };
}

/** A fresh Cloakroom holding `sessions` sessions of one user, measured; returns the cookies too, for the peer. */
async function measureCloakroom(ctx, sessions) {
  const server = await startCloakroom({ SWEEP_INTERVAL });
  try {
    const freshSince = Date.now();
    const realCookie = await server.register();
    const started = performance.now();
    const ids = await writeUserSessions(server.sessionsDir, USERNAME, sessions - 1);
    const writeSeconds = (performance.now() - started) / 1000;
    ctx.log(`  ${sessions - 1} session files written in ${writeSeconds.toFixed(1)} s`);
    const cookieName = realCookie.slice(0, realCookie.indexOf('='));
    const cookies = [realCookie, ...ids.map((id) => `${cookieName}=${id}`)];
    await expectSignedIn(server, cookies);
    const passSeconds = await askEachOnce(server, cookies, ctx.connections);
    ctx.log(`  each session asked for once in ${passSeconds.toFixed(1)} s`);
    const result = await measureMe(ctx, server, cookies);
    const recordAgeSeconds = (Date.now() - freshSince) / 1000;
    return { cookies, writeSeconds, recordAgeSeconds, result };
  } finally {
    await server.stop();
    // Up to 100 000 files: gone now, not at the end of the run.
    removeTempDir(server.sessionsDir);
  }
}

/** The raw peer, fresh, sent the same cookies (it reads none of them). */
async function measurePeer(ctx, cookies) {
  const server = await start('raw-same-headers');
  try {
    const answer = await get(`${server.url}/api/me`, cookies[0]);
    if (answer.status !== 200) throw new Error(`raw-same-headers: GET /api/me answered ${answer.status}`);
    return await measureMe(ctx, server, cookies);
  } finally {
    await server.stop();
  }
}

/** Warms up, then measures GET /api/me over `cookies` round-robin, sampling the server's RSS meanwhile. */
async function measureMe(ctx, server, cookies) {
  const load = { url: `${server.url}/api/me`, cookies, connections: ctx.connections, pid: server.pid };
  await runLoad(ctx.generator, { ...load, seconds: ctx.warmup });
  const rss = sampleRss(server.pid);
  const result = await measure(ctx.generator, { ...load, seconds: ctx.seconds }, ctx.retries);
  const { peakMb, lastMb } = rss.stop();
  ctx.log(
    `  ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}, RSS peak ${peakMb.toFixed(1)} MB`,
  );
  return { load: result, rss: { peakMb, lastMb } };
}

/**
 * Writes `count` sessions of `user` into `dir` as a sign-in does (the file,
 * then its marker in the user index, so the directory is one Cloakroom could
 * have written) and returns their IDs.
 */
async function writeUserSessions(dir, user, count) {
  const now = Date.now();
  const record = signedInSession(user, FRESH_ACCOUNT_GENERATION, new Date(now).toISOString());
  record.lastSeenAt = new Date(now + LAST_SEEN_AHEAD_MS).toISOString();
  const contents = `${JSON.stringify(record, null, 2)}\n`;
  const markers = path.join(dir, 'users', sha256(user.toLowerCase()));
  await mkdir(markers, { recursive: true, mode: 0o700 });
  return pool(count, WRITE_CONCURRENCY, async () => {
    const id = randomBytes(32).toString('base64url');
    const fileId = sha256(id);
    await writeFile(path.join(dir, `${fileId}.json`), contents, { mode: 0o600 });
    await writeFile(path.join(markers, fileId), '', { mode: 0o600 });
    return id;
  });
}

/** askEachOnce GETs /api/me once with every cookie, `connections` at a time; returns the seconds it took. */
async function askEachOnce(server, cookies, connections) {
  const started = performance.now();
  await pool(cookies.length, connections, async (index) => {
    const answer = await get(`${server.url}/api/me`, cookies[index]);
    if (answer.status !== 200) throw new Error(`cookie ${index + 1} of ${cookies.length}: GET /api/me answered ${answer.status}`);
  });
  return (performance.now() - started) / 1000;
}

/** A load of 401s would measure nothing: the first, the last and some cookies at random must answer 200 before timing. */
async function expectSignedIn(server, cookies) {
  const picks = [0, cookies.length - 1, ...Array.from({ length: SPOT_CHECKS }, () => Math.floor(Math.random() * cookies.length))];
  for (const index of new Set(picks)) {
    const answer = await get(`${server.url}/api/me`, cookies[index]);
    if (answer.status !== 200)
      throw new Error(`cookie ${index + 1} of ${cookies.length}: GET /api/me answered ${answer.status}: ${answer.text}`);
  }
}
