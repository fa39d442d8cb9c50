// Scenario 8 (issue 15): GET /api/sessions, the devices page's list, for a
// user with 20 sessions among 100 000 other session files. The list is read
// through the per-user index (SESSIONS_DIR/users/<user>/), so its cost must
// not grow with the directory: target p99 ≤ 20 ms.
//
// The other files are in Cloakroom's exact format: three in four are guests,
// one in four belongs to one of 1000 other users and has its marker in the
// index, as Cloakroom itself would have written it. Cloakroom starts on the
// full directory; its start-up sweep reads every file, so the load waits
// until that sweep has finished: the sweep's last step drops markers whose
// session file is gone, and one such marker is planted to be watched.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, removeTempDir } from '../lib/processes.mjs';
import { measure, runLoad } from '../lib/load.mjs';
import { OTHER_USERS, otherSession } from '../lib/records.mjs';
import { get, pool, startCloakroom } from '../lib/servers.mjs';

export const USER_SESSIONS = 20;
const WRITE_CONCURRENCY = 64;
const POLL_INTERVAL_MS = 250;
const MAX_SWEEP_SECONDS = 600;
const MINUTE_MS = 60_000;
/**
 * Concurrent connections for this figure. A latency target is about one
 * request, so the load is kept below the point where requests mostly queue
 * behind each other (with 50 connections, p99 would measure the queue).
 */
export const DEVICES_CONNECTIONS = 10;

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

export async function run(ctx) {
  const dir = makeTempDir('devices-sessions');
  try {
    ctx.log(`devices: writing ${ctx.sweepFiles} other session files to ${dir}`);
    const started = performance.now();
    const sentinel = await writeOtherSessions(dir, ctx.sweepFiles);
    const writeSeconds = (performance.now() - started) / 1000;
    ctx.log(`  written in ${writeSeconds.toFixed(1)} s`);

    const server = await startCloakroom({ SESSIONS_DIR: dir, SWEEP_INTERVAL: '3600' });
    try {
      const sweepSeconds = await waitForSweep(sentinel);
      ctx.log(`  start-up sweep finished after ${sweepSeconds.toFixed(1)} s`);
      // signIn registers the user once (a session too), then signs in: 20 sessions in all.
      const cookies = await server.signIn(USER_SESSIONS - 1);
      ctx.log(`  ${USER_SESSIONS} sessions signed in`);
      const answer = await get(`${server.url}/api/sessions`, cookies[0]);
      const listed = JSON.parse(answer.text).sessions?.length;
      if (answer.status !== 200 || listed !== USER_SESSIONS) {
        throw new Error(`GET /api/sessions answered ${answer.status} with ${listed} sessions: ${answer.text.slice(0, 200)}`);
      }
      const load = { url: `${server.url}/api/sessions`, cookies: [cookies[0]], connections: DEVICES_CONNECTIONS, pid: server.pid };
      await runLoad(ctx.generator, { ...load, seconds: ctx.warmup });
      const result = await measure(ctx.generator, { ...load, seconds: ctx.seconds }, ctx.retries);
      ctx.log(`  GET /api/sessions: ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}`);
      return {
        others: ctx.sweepFiles,
        userSessions: USER_SESSIONS,
        connections: DEVICES_CONNECTIONS,
        writeSeconds,
        sweepSeconds,
        load: result,
      };
    } finally {
      await server.stop();
    }
  } finally {
    removeTempDir(dir);
  }
}

/** Writes `total` live session files of guests and other users (with their markers); returns the sentinel marker's path. */
async function writeOtherSessions(dir, total) {
  const now = Date.now();
  const createdAt = new Date(now - 5 * MINUTE_MS).toISOString();
  const usersDir = path.join(dir, 'users');
  for (let user = 0; user < OTHER_USERS; user++) await mkdir(path.join(usersDir, sha256(`other${user}`)), { recursive: true, mode: 0o700 });
  await pool(total, WRITE_CONCURRENCY, async (index) => {
    const fileId = sha256(randomBytes(32).toString('base64url'));
    const { user, record } = otherSession(index, createdAt);
    await writeFile(path.join(dir, `${fileId}.json`), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    if (user !== null) await writeFile(path.join(usersDir, sha256(user.toLowerCase()), fileId), '', { mode: 0o600 });
  });
  // A marker without its session file: the start-up sweep deletes it in its very last step.
  const sentinelDir = path.join(usersDir, sha256('sweep-sentinel'));
  await mkdir(sentinelDir, { recursive: true, mode: 0o700 });
  const sentinel = path.join(sentinelDir, sha256('no such session'));
  await writeFile(sentinel, '', { mode: 0o600 });
  return sentinel;
}

/** Waits until the sentinel marker is gone, and returns how long that took. */
async function waitForSweep(sentinel) {
  const started = performance.now();
  for (;;) {
    try {
      await stat(sentinel);
    } catch {
      return (performance.now() - started) / 1000;
    }
    if (performance.now() - started > MAX_SWEEP_SECONDS * 1000) throw new Error('the start-up sweep did not finish');
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
