// Starting, watching and stopping the processes a benchmark run needs.
//
// Every server runs pinned to one core and the load generator to the other
// (issue 7: "wrk on one core and the server on the other"), so the two never
// fight over a CPU and a figure measures the server alone. Every child and
// temp directory is recorded here so that a run that ends, fails or is
// interrupted stops each process it started, by PID, and removes its files.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The core the load generator (and this runner) use. */
export const LOADGEN_CPU = '0';
/** The core each server under test uses. */
export const SERVER_CPU = '1';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const STDERR_TAIL_CHARS = 4_000;
const URL_PATTERN = /http:\/\/\S+/;

const children = new Set();
const tempDirs = new Set();

/** Whether `taskset` exists and the machine has the two cores pinning needs. */
export const canPin = spawnSync('taskset', ['--version']).status === 0 && cpuCount() >= 2;

function cpuCount() {
  return readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('processor')).length;
}

/** Returns [command, args] that run `command` on `cpu` when pinning is possible. */
export function pinned(cpu, command, args) {
  return canPin ? ['taskset', ['-c', cpu, command, ...args]] : [command, args];
}

/**
 * Pins this runner (all its threads) to the load generator's core, so its own
 * bookkeeping (polling a directory, sending sign-ins) never steals the
 * server's core.
 */
export function pinSelf() {
  if (canPin) spawnSync('taskset', ['-a', '-p', '-c', LOADGEN_CPU, String(process.pid)], { stdio: 'ignore' });
}

/** A fresh temp directory, removed when the run ends. */
export function makeTempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), `cloakroom-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Removes a temp directory now (a 100 000-file directory should not wait for the end). */
export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Spawns a child process that is stopped by `stopAll` if the run ends first. */
export function track(command, args, options) {
  const child = spawn(command, args, options);
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (error) => {
      children.delete(child);
      resolve({ code: null, signal: null, error });
    });
  });
  return child;
}

/**
 * Starts a server pinned to SERVER_CPU and waits for the line with its URL.
 * `taskset` execs the command, so `pid` is the server's own PID (its
 * /proc/<pid>/status is the server's memory).
 */
export async function startServer({ name, command, args, cwd, env, pin = true }) {
  const [cmd, cmdArgs] = pin ? pinned(SERVER_CPU, command, args) : [command, args];
  const child = track(cmd, cmdArgs, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  const startedAt = performance.now();
  const url = await new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error(`${name} printed no URL within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    function fail(error) {
      clearTimeout(timer);
      reject(new Error(`${error.message}\n--- ${name} stderr ---\n${stderrTail}`));
    }
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', function onData(chunk) {
      stdout += chunk;
      const match = URL_PATTERN.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      // Keep draining so a chatty server never blocks on a full pipe.
      child.stdout.resume();
      resolve(match[0].replace(/\/$/, ''));
    });
    child.exited.then(({ code, signal, error }) =>
      fail(error ?? new Error(`${name} exited (code ${code}, signal ${signal}) before printing its URL`)),
    );
  });
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  return {
    name,
    url,
    pid: child.pid,
    startMs: performance.now() - startedAt,
    rssAtStartMb: readRssMb(child.pid),
    stderrTail: () => stderrTail,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL if the process has not exited in time; returns how it ended. */
export async function stopChild(child) {
  if (!children.has(child)) return child.exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const result = await child.exited;
  clearTimeout(timer);
  return result;
}

/** Resident set size of a process in MB (VmRSS from /proc/<pid>/status), or null when it is gone. */
export function readRssMb(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `intervalMs` until `stop()`, which returns {peakMb, lastMb, samples}. */
export function sampleRss(pid, intervalMs = 100) {
  const samples = [];
  const take = () => {
    const mb = readRssMb(pid);
    if (mb !== null) samples.push({ at: performance.now(), mb });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return { peakMb: Math.max(...samples.map((s) => s.mb)), lastMb: samples.at(-1)?.mb ?? null, samples };
    },
  };
}

/** Stops every child still running (by PID) and removes every temp directory. Synchronous: safe in 'exit'. */
export function cleanUpNow() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Makes sure nothing outlives the runner, however it ends. */
export function cleanUpOnExit() {
  process.on('exit', cleanUpNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping every process this run started`);
      cleanUpNow();
      process.exit(130);
    });
  }
}
