// Cloakroom's benchmark (issue 7): measures Cloakroom, started as a user
// starts it, against what a user would pick instead — express-session with
// its MemoryStore or with session-file-store — and against raw node:http
// (the ceiling) and raw node:http reading a session file per request (the
// floor for file-backed sessions), and, from 1 to 100 000 sessions, against
// raw node:http sending exactly Cloakroom's headers (the scale scenario).
// Prints a Markdown report and writes it to bench/results/latest.md (raw
// figures in latest.json).
//
//   npm run bench                                  (from the repo root)
//   BENCH_DURATION=3 BENCH_ROUNDS=1 node run.mjs   (a quick look)
//
// Settings (environment):
//   BENCH_DURATION        seconds per measurement (10; whole seconds, at least 1)
//   BENCH_ROUNDS          rounds of the interleaved comparisons (2)
//   BENCH_WARMUP          seconds of unmeasured load before each measurement (2)
//   BENCH_CONNECTIONS     concurrent connections (50)
//   BENCH_RETRIES         extra tries for a measurement disturbed by other work on the server's core (2)
//   BENCH_TOUCH_DURATION  seconds of load in the touch-counting scenario (10)
//   BENCH_SWEEP_FILES     session files for the sweeper scenario, and other sessions for the devices and sqlite scenarios (100000)
//   BENCH_SCALE_COUNTS    comma-separated session counts for the scale scenario (1,1000,10000,20000,100000)
//   BENCH_SCENARIOS       comma-separated subset of: me,touch,create,sweep,sign-in,workers,devices,redis,sqlite,scale (sqlite needs Node 22.13 or later)
//   BENCH_LOADGEN         "autocannon" to use the fallback even when wrk exists
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanUpNow, cleanUpOnExit, canPin, LOADGEN_CPU, pinSelf, SERVER_CPU } from './lib/processes.mjs';
import { detectLoadGenerator } from './lib/load.mjs';
import { buildReport } from './lib/report.mjs';
import { BENCH_DIR, REPO_DIR } from './lib/servers.mjs';
import * as me from './scenarios/me.mjs';
import * as touch from './scenarios/touch.mjs';
import * as create from './scenarios/create.mjs';
import * as sweep from './scenarios/sweep.mjs';
import * as signIn from './scenarios/sign-in.mjs';
import * as workers from './scenarios/workers.mjs';
import * as devices from './scenarios/devices.mjs';
import * as redis from './scenarios/redis.mjs';
import * as sqlite from './scenarios/sqlite.mjs';
import * as scale from './scenarios/scale.mjs';

const SCENARIOS = { me, touch, create, sweep, 'sign-in': signIn, workers, devices, redis, sqlite, scale };

function numberFromEnv(name, fallback, { allowZero = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    console.error(`bench: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${raw}"`);
    process.exit(1);
  }
  return value;
}

function countsFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const counts = raw.split(',').map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    console.error(`bench: ${name} must be comma-separated whole numbers from 1, got "${raw}"`);
    process.exit(1);
  }
  return counts;
}

function chosenScenarios() {
  const names = (process.env.BENCH_SCENARIOS ?? Object.keys(SCENARIOS).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0) {
    console.error(`bench: unknown scenario(s) ${unknown.join(', ')}; choose from ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(1);
  }
  return names;
}

function packageVersion(name) {
  return JSON.parse(readFileSync(path.join(BENCH_DIR, 'node_modules', name, 'package.json'), 'utf8')).version;
}

function gitDescription() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_DIR, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', ':!bench'], { cwd: REPO_DIR, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit} + uncommitted changes` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: cpuinfo.split('\n').filter((line) => line.startsWith('processor')).length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? 'unknown',
    memoryGb: os.totalmem() / 1024 ** 3,
    kernel: os.release(),
  };
}

/** The 1-minute load average: the machine is shared, and a busy one makes every figure lower. */
function loadAverage() {
  return os.loadavg()[0].toFixed(2);
}

async function main() {
  cleanUpOnExit();
  pinSelf();
  const generator = detectLoadGenerator(BENCH_DIR);
  const ctx = {
    generator,
    seconds: numberFromEnv('BENCH_DURATION', 10),
    rounds: Math.round(numberFromEnv('BENCH_ROUNDS', 2)),
    warmup: numberFromEnv('BENCH_WARMUP', 2),
    connections: Math.round(numberFromEnv('BENCH_CONNECTIONS', 50)),
    touchSeconds: numberFromEnv('BENCH_TOUCH_DURATION', 10),
    retries: Math.round(numberFromEnv('BENCH_RETRIES', 2, { allowZero: true })),
    sweepFiles: Math.round(numberFromEnv('BENCH_SWEEP_FILES', 100_000)),
    scaleCounts: countsFromEnv('BENCH_SCALE_COUNTS', [1, 1000, 10_000, 20_000, 100_000]),
    log: (message) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${message}`),
  };
  const meta = {
    date: new Date().toISOString(),
    ...machine(),
    node: process.version,
    commit: gitDescription(),
    versions: Object.fromEntries(
      ['express', 'express-session', 'session-file-store', 'connect-redis', 'redis'].map((name) => [name, packageVersion(name)]),
    ),
    loadGenerator:
      generator.name === 'wrk' ? `wrk ${generator.version}, 1 thread` : `autocannon ${generator.version} (fallback: ${generator.reason})`,
    pinning: canPin
      ? `load generator and runner on CPU ${LOADGEN_CPU}, each server on CPU ${SERVER_CPU} (taskset)`
      : 'none (taskset missing or fewer than 2 cores): figures are less reliable',
    connections: ctx.connections,
    seconds: ctx.seconds,
    warmup: ctx.warmup,
    rounds: ctx.rounds,
    retries: ctx.retries,
    loadAverageAtStart: loadAverage(),
  };
  ctx.log(`load generator: ${meta.loadGenerator}; ${meta.pinning}`);

  const results = {};
  let failed = false;
  for (const name of chosenScenarios()) {
    try {
      results[name] = await SCENARIOS[name].run(ctx);
    } catch (error) {
      failed = true;
      results[name] = { error: error.stack ?? String(error) };
      ctx.log(`scenario ${name} failed: ${error.stack ?? error}`);
    }
  }

  meta.loadAverageAtEnd = loadAverage();
  meta.minutes = (performance.now() / 60_000).toFixed(1);
  const report = buildReport(meta, results);
  const resultsDir = path.join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, 'latest.md'), `${report}\n`);
  writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify({ meta, results }, null, 2)}\n`);
  console.log(report);
  ctx.log(`report written to ${path.relative(REPO_DIR, path.join(resultsDir, 'latest.md'))}`);
  return failed ? 1 : 0;
}

main()
  .then((code) => {
    cleanUpNow();
    process.exit(code);
  })
  .catch((error) => {
    console.error(error);
    cleanUpNow();
    process.exit(1);
  });
