// The redis-server of the Redis scenario: one for the whole scenario, shared
// by Cloakroom and connect-redis in turn (emptied between them), saving
// nothing, on the load generator's core so that the server under test keeps
// its own core as in every other scenario. Stopped by PID when the run ends.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { LOADGEN_CPU, makeTempDir, pinned, stopChild, track } from './processes.mjs';

const REDIS_SERVER = process.env.REDIS_SERVER_PATH || 'redis-server';
const READY = 'Ready to accept connections';
const START_TIMEOUT_MS = 10_000;

/** Starts redis-server on a free port; returns {url, flush(), stop()}. */
export async function startRedis() {
  const port = await freePort();
  const dir = makeTempDir('redis');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const [command, commandArgs] = pinned(LOADGEN_CPU, REDIS_SERVER, args);
  const child = track(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`redis-server was not ready within ${START_TIMEOUT_MS} ms: ${output}`)),
      START_TIMEOUT_MS,
    );
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (!output.includes(READY)) return;
      clearTimeout(timer);
      resolve();
    });
    child.exited.then(({ code, signal, error }) => {
      clearTimeout(timer);
      reject(error ?? new Error(`redis-server exited (code ${code}, signal ${signal}): ${output}`));
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    flush: () => {
      const flushed = spawnSync('redis-cli', ['-p', String(port), 'FLUSHALL'], { encoding: 'utf8' });
      if (flushed.stdout.trim() !== 'OK') throw new Error(`redis-cli FLUSHALL failed: ${flushed.stderr}`);
    },
    stop: () => stopChild(child),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
