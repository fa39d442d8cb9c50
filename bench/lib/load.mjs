// Load generation: wrk when it is installed (issue 7 prefers it: a C client
// on its own core measures the server, not the client), autocannon from npm
// otherwise. Both report the same shape, so a scenario never knows which ran.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSnapshot, cpuUsage } from './cpu.mjs';
import { LOADGEN_CPU, SERVER_CPU, makeTempDir, pinned, stopChild, track } from './processes.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WRK_SCRIPT = path.join(HERE, '..', 'wrk', 'load.lua');
const AUTOCANNON_WORKER = path.join(HERE, 'autocannon-worker.mjs');
const RESULT_PREFIX = 'BENCH_JSON ';
const REQUEST_TIMEOUT_S = 10;
/** A load run may overrun its duration by this much before it is killed. */
const OVERRUN_MS = 30_000;

/** Which load generator this run uses: {name, version}. BENCH_LOADGEN=autocannon forces the fallback. */
export function detectLoadGenerator(benchDir) {
  const wrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (process.env.BENCH_LOADGEN !== 'autocannon' && !wrk.error) {
    const version = /wrk (\S+)/.exec(`${wrk.stdout}${wrk.stderr}`)?.[1] ?? 'unknown';
    return { name: 'wrk', version, threads: 1 };
  }
  const pkg = JSON.parse(readFileSync(path.join(benchDir, 'node_modules', 'autocannon', 'package.json'), 'utf8'));
  const reason = wrk.error ? 'wrk is not installed' : 'BENCH_LOADGEN=autocannon';
  return { name: 'autocannon', version: pkg.version, reason };
}

let cookieDir;

/** Writes cookies (one `name=value` per line) to a file the load generator reads. */
function cookieFile(cookies) {
  cookieDir ??= makeTempDir('cookies');
  const file = path.join(cookieDir, `cookies-${cookies.length}-${Date.now()}-${Math.random().toString(16).slice(2)}.txt`);
  writeFileSync(file, `${cookies.join('\n')}\n`);
  return file;
}

/**
 * Runs `connections` keep-alive connections against `url` for `seconds` and
 * returns {requests, seconds, rps, p50Ms, p99Ms, maxMs, non2xx, socketErrors}.
 * `cookies`: none, one (sent on every request) or many (round-robin).
 * `body`: a JSON string sent with Content-Type: application/json.
 * `spreadAddresses`: each request carries another `X-Forwarded-For` address
 * (10.0.0.0/8, in turn), as if every request came from a client of its own
 * behind a proxy; only a server with TRUST_PROXY=true reads it.
 * `pid`: the server's PID, for `cpu` (see lib/cpu.mjs) in the result.
 */
export async function runLoad(generator, { url, method = 'GET', body, cookies = [], spreadAddresses = false, seconds, connections, pid }) {
  const file = cookies.length > 0 ? cookieFile(cookies) : '';
  // wrk takes whole seconds only.
  seconds = Math.max(1, Math.round(seconds));
  const [command, args, env] =
    generator.name === 'wrk'
      ? [
          'wrk',
          ['-t1', `-c${connections}`, `-d${seconds}s`, `--timeout`, `${REQUEST_TIMEOUT_S}s`, '-s', WRK_SCRIPT, url],
          { WRK_COOKIES: file, WRK_METHOD: method, WRK_BODY: body ?? '', WRK_SPREAD_ADDRESSES: spreadAddresses ? '1' : '' },
        ]
      : [
          process.execPath,
          [
            AUTOCANNON_WORKER,
            JSON.stringify({ url, method, body, cookieFile: file, spreadAddresses, seconds, connections, timeout: REQUEST_TIMEOUT_S }),
          ],
          {},
        ];
  const [cmd, cmdArgs] = pinned(LOADGEN_CPU, command, args);
  const child = track(cmd, cmdArgs, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => stopChild(child), seconds * 1000 + OVERRUN_MS);
  const cpuBefore = cpuSnapshot(pid);
  const { code } = await child.exited;
  const cpu = cpuUsage(cpuBefore, cpuSnapshot(pid), SERVER_CPU, LOADGEN_CPU);
  clearTimeout(killer);
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) throw new Error(`${generator.name} failed (exit ${code}): ${stderr || stdout}`);
  const raw = JSON.parse(line.slice(RESULT_PREFIX.length));
  return { ...(generator.name === 'wrk' ? fromWrk(raw) : raw), cpu };
}

/** Work by others (other processes, interrupts, the hypervisor) on the server's core above this share disturbs a figure. */
export const DISTURBED_PCT = 10;

const disturbance = (cpu) => (cpu.othersPct ?? 0) + (cpu.stealPct ?? 0);

/**
 * Runs a measurement and, while other work took more than DISTURBED_PCT of
 * the server's core (the machine is shared), runs it again, up to `retries`
 * more times; returns the least disturbed run with `tries` set.
 */
export async function measure(generator, load, retries) {
  let best = null;
  let tries = 0;
  while (tries <= retries) {
    tries++;
    const result = await runLoad(generator, load);
    if (best === null || disturbance(result.cpu) < disturbance(best.cpu)) best = result;
    if (disturbance(result.cpu) <= DISTURBED_PCT) break;
  }
  return { ...best, tries };
}

function fromWrk(raw) {
  const seconds = raw.duration_us / 1e6;
  const { connect, read, write, status, timeout } = raw.errors;
  return {
    requests: raw.requests,
    seconds,
    rps: raw.requests / seconds,
    p50Ms: raw.latency_us.p50 / 1000,
    p99Ms: raw.latency_us.p99 / 1000,
    maxMs: raw.latency_us.max / 1000,
    // wrk counts a status >= 400 as an error; none of the routes measured redirects.
    non2xx: status,
    socketErrors: connect + read + write + timeout,
  };
}
