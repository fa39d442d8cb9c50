// Scenario 4 (issue 7, target 4): the sweeper must never get in the way of
// serving. 100 000 session files (half expired) are written in Cloakroom's
// exact format, Cloakroom starts on them (its sweeper runs once at start-up;
// SWEEP_INTERVAL=3600 keeps it to that one run) and GET /api/me load runs
// at once, while the sweep deletes 50 000 files.
//
// The sweep's end is found by polling the directory (readdir every
// POLL_INTERVAL_MS) until none of the expired files' names is left; the poll
// keeps running after that too, so the load with and without a sweep sees
// the same polling. The load runs in back-to-back slices of SLICE_SECONDS,
// because a sweep's length is not known in advance: slices that ended while
// the sweep was still running measure "during", a slice the sweep ended in
// is dropped, and as many slices as a normal measurement lasts measure
// "after" on the same server. The first slice also warms up a cold process,
// so it is left out of "during" when there are two or more.
//
// RSS is sampled every RSS_SAMPLE_MS. A control run — a fresh Cloakroom on an
// empty directory under the same load — shows how much RSS the load alone
// adds, so the sweep's share is visible. Finally the same sweep runs once more
// on a freshly written directory with no load at all, which shows how long
// the sweep itself takes and what it alone does to RSS.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, removeTempDir, sampleRss } from '../lib/processes.mjs';
import { runLoad } from '../lib/load.mjs';
import { get, pool, startCloakroom } from '../lib/servers.mjs';

const WRITE_CONCURRENCY = 64;
const POLL_INTERVAL_MS = 250;
const RSS_SAMPLE_MS = 50;
const SLICE_SECONDS = 1;
/** A sweep still running after this long is reported as unfinished. */
const MAX_SWEEP_SECONDS = 600;
const KEPT_IDS = 3;
const HOUR_MS = 3600_000;
const MINUTE_MS = 60_000;

export async function run(ctx) {
  const total = ctx.sweepFiles;
  const control = await controlRun(ctx);
  ctx.log(
    `sweeper control (empty dir): ${control.rps.toFixed(0)} req/s, RSS ${control.rssAtStartMb.toFixed(1)} -> peak ${control.peakMb.toFixed(1)} MB`,
  );

  const { dir, files, writeSeconds } = await freshDirectory(ctx, total);
  let result;
  try {
    result = await sweepRun(ctx, dir, files);
  } finally {
    removeTempDir(dir);
  }

  const second = await freshDirectory(ctx, total);
  try {
    const alone = await sweepAlone(ctx, second.dir, second.files);
    return { total, expired: files.expiredNames.size, live: files.liveCount, writeSeconds, control, ...result, alone };
  } finally {
    removeTempDir(second.dir);
  }
}

async function freshDirectory(ctx, total) {
  const dir = makeTempDir('sweep-sessions');
  ctx.log(`sweeper: writing ${total} session files (half expired) to ${dir}`);
  const writeStarted = performance.now();
  const files = await writeSessionFiles(dir, total);
  const writeSeconds = (performance.now() - writeStarted) / 1000;
  ctx.log(`  written in ${writeSeconds.toFixed(1)} s`);
  return { dir, files, writeSeconds };
}

/** Writes `total` session files, alternating expired and live; returns the expired names and a few IDs of each kind. */
async function writeSessionFiles(dir, total) {
  const now = Date.now();
  const expiredNames = new Set();
  const liveIds = [];
  const expiredIds = [];
  await pool(total, WRITE_CONCURRENCY, async (index) => {
    const expired = index % 2 === 0;
    const id = randomBytes(32).toString('base64url');
    const name = `${createHash('sha256').update(id).digest('hex')}.json`;
    // Expired by the idle timeout (1800 s): last seen two hours ago.
    const createdAt = new Date(now - (expired ? 3 * HOUR_MS : 20 * MINUTE_MS));
    const lastSeenAt = new Date(now - (expired ? 2 * HOUR_MS : 5 * MINUTE_MS));
    const record = {
      version: 1,
      createdAt: createdAt.toISOString(),
      lastSeenAt: lastSeenAt.toISOString(),
      user: null,
      generation: null,
      data: { cart: ['apple'], theme: null },
      events: [
        { at: createdAt.toISOString(), event: 'created as guest' },
        { at: lastSeenAt.toISOString(), event: 'added apple to the cart' },
      ],
    };
    const file = path.join(dir, name);
    await writeFile(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    // An old session's file is old too: its mtime is when it was last written.
    await utimes(file, lastSeenAt, lastSeenAt);
    if (expired) {
      expiredNames.add(name);
      if (expiredIds.length < KEPT_IDS) expiredIds.push(id);
    } else if (liveIds.length < KEPT_IDS) {
      liveIds.push(id);
    }
  });
  return { expiredNames, liveCount: total - expiredNames.size, liveIds, expiredIds };
}

/** The same load on a fresh Cloakroom with no sessions on disk: what the load alone does to RSS. */
async function controlRun(ctx) {
  const server = await startCloakroom({ SWEEP_INTERVAL: '3600' });
  try {
    const rss = sampleRss(server.pid, RSS_SAMPLE_MS);
    const [cookie] = await server.signIn(1);
    const slices = await runSlices(ctx, server, cookie, Math.ceil(ctx.seconds / SLICE_SECONDS));
    const { peakMb } = rss.stop();
    return { rssAtStartMb: server.rssAtStartMb, peakMb, startMs: server.startMs, ...combine(slices) };
  } finally {
    await server.stop();
  }
}

/**
 * Starts Cloakroom on a full directory (its start-up sweep begins at once),
 * with RSS sampling and a poll for the expired files from the moment it listens.
 */
async function startSweeping(dir, files) {
  const server = await startCloakroom({ SESSIONS_DIR: dir, SWEEP_INTERVAL: '3600' });
  return {
    server,
    listeningAt: performance.now(),
    rss: sampleRss(server.pid, RSS_SAMPLE_MS),
    poller: pollExpired(dir, files.expiredNames),
  };
}

async function sweepRun(ctx, dir, files) {
  ctx.log('  starting Cloakroom on the full directory; load runs during the sweep');
  const { server, listeningAt, rss, poller } = await startSweeping(dir, files);
  try {
    const [cookie] = await server.signIn(1);
    const duringSlices = [];
    let mixedSlice = null;
    while (poller.doneAt === null && performance.now() - listeningAt < MAX_SWEEP_SECONDS * 1000) {
      const begin = performance.now();
      const [slice] = await runSlices(ctx, server, cookie, 1);
      if (poller.doneAt === null) duringSlices.push(slice);
      else if (poller.doneAt > begin) mixedSlice = slice;
    }
    const sweepDone = poller.doneAt !== null;
    const sweepSeconds = sweepDone ? (poller.doneAt - listeningAt) / 1000 : null;
    const rssDuring = rss.samples.filter((s) => !sweepDone || s.at <= poller.doneAt);
    const peakDuringMb = Math.max(...rssDuring.map((s) => s.mb));
    ctx.log(
      `  sweep ${sweepDone ? `done ${sweepSeconds.toFixed(2)} s after listening` : 'NOT finished'}; ${duringSlices.length} full slice(s) during it`,
    );

    const afterSlices = await runSlices(ctx, server, cookie, Math.ceil(ctx.seconds / SLICE_SECONDS));
    const { lastMb } = rss.stop();
    const expiredAtListen = poller.firstRemaining;

    // A cold process's first slice includes JIT warm-up; "after" never does.
    const counted = duringSlices.length >= 2 ? duringSlices.slice(1) : duringSlices;
    const during = counted.length > 0 ? combine(counted) : mixedSlice ? combine([mixedSlice]) : null;
    const after = combine(afterSlices);
    const checks = await checkSurvivors(server.url, files);
    const left = await readdir(dir);
    return {
      sweepDone,
      sweepSeconds,
      pollIntervalMs: POLL_INTERVAL_MS,
      startMs: server.startMs,
      expiredAtListen,
      duringSource:
        counted.length > 0
          ? `${counted.length} slice(s) of ${SLICE_SECONDS} s`
          : mixedSlice
            ? 'the one slice the sweep ended in (the sweep was shorter than a slice)'
            : 'none',
      during,
      after,
      rssAtStartMb: server.rssAtStartMb,
      peakDuringMb,
      rssAfterMb: lastMb,
      jsonFilesLeft: left.filter((n) => n.endsWith('.json')).length,
      tempFilesLeft: left.filter((n) => n.endsWith('.tmp')).length,
      checks,
    };
  } finally {
    poller.stop();
    rss.stop();
    await server.stop();
  }
}

/** The same start-up sweep with no load: its own duration and RSS growth. */
async function sweepAlone(ctx, dir, files) {
  ctx.log('  starting Cloakroom on a fresh full directory; no load this time');
  const { server, listeningAt, rss, poller } = await startSweeping(dir, files);
  try {
    while (poller.doneAt === null && performance.now() - listeningAt < MAX_SWEEP_SECONDS * 1000) {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    const { peakMb, samples } = rss.stop();
    const sweepDone = poller.doneAt !== null;
    const sweepSeconds = sweepDone ? (poller.doneAt - listeningAt) / 1000 : null;
    ctx.log(`  sweep without load ${sweepDone ? `done ${sweepSeconds.toFixed(2)} s after listening` : 'NOT finished'}`);
    return {
      sweepDone,
      sweepSeconds,
      expiredAtListen: poller.firstRemaining,
      rssAtStartMb: server.rssAtStartMb,
      peakMb,
      samples: samples.length,
    };
  } finally {
    poller.stop();
    rss.stop();
    await server.stop();
  }
}

/** Runs `count` back-to-back load slices of SLICE_SECONDS; returns their results. */
async function runSlices(ctx, server, cookie, count) {
  const slices = [];
  for (let i = 0; i < count; i++) {
    const load = { url: `${server.url}/api/me`, cookies: [cookie], connections: ctx.connections, seconds: SLICE_SECONDS, pid: server.pid };
    slices.push(await runLoad(ctx.generator, load));
  }
  return slices;
}

/** Adds slices up: total requests over total time, median and worst p99, summed errors, time-weighted CPU shares. */
function combine(slices) {
  const requests = slices.reduce((sum, s) => sum + s.requests, 0);
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  const cpu = {};
  for (const field of Object.keys(slices[0].cpu)) {
    cpu[field] = slices.reduce((sum, s) => sum + (s.cpu[field] ?? 0) * s.seconds, 0) / seconds;
  }
  return {
    cpu,
    requests,
    seconds,
    rps: requests / seconds,
    // Percentiles of separate runs cannot be merged: report the median slice's p99 and the worst.
    p99Ms: median(slices.map((s) => s.p99Ms)),
    worstP99Ms: Math.max(...slices.map((s) => s.p99Ms)),
    non2xx: slices.reduce((sum, s) => sum + s.non2xx, 0),
    socketErrors: slices.reduce((sum, s) => sum + s.socketErrors, 0),
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Polls the directory until no expired file is left; `doneAt` is the first poll that found none. */
function pollExpired(dir, expiredNames) {
  const state = {
    doneAt: null,
    firstRemaining: null,
    polls: 0,
    stop: () => {
      state.running = false;
    },
    running: true,
  };
  (async () => {
    while (state.running) {
      const names = await readdir(dir);
      let remaining = 0;
      for (const name of names) if (expiredNames.has(name)) remaining++;
      state.firstRemaining ??= remaining;
      state.polls++;
      if (remaining === 0 && state.doneAt === null) state.doneAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  })().catch((error) => {
    state.error = error;
  });
  return state;
}

/** After the sweep: live sessions still work, expired ones are gone (checks our file format too). */
async function checkSurvivors(url, files) {
  const statusOf = async (id) => (await get(`${url}/api/session`, `sid=${id}`)).status;
  return {
    live: await Promise.all(files.liveIds.map(statusOf)),
    expired: await Promise.all(files.expiredIds.map(statusOf)),
  };
}
