import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { parseRedisAddress } from '../../lib/storage/redis/address.ts';
import { RedisClient } from '../../lib/storage/redis/client.ts';
import type { RedisClientOptions } from '../../lib/storage/redis/client.ts';

/** DEFAULT_REDIS_SERVER_PATH is where Debian's `redis-server` package puts the server. */
const DEFAULT_REDIS_SERVER_PATH = '/usr/bin/redis-server';

/** REDIS_SERVER_PATH is the server the tests start: the REDIS_SERVER_PATH variable when set (Redis or Valkey, anywhere), else Debian's. */
export const REDIS_SERVER_PATH = nonEmpty(process.env.REDIS_SERVER_PATH) ?? DEFAULT_REDIS_SERVER_PATH;

/** REQUIRE_REDIS_VARIABLE: set to 1 (as .ci/run does) and a missing redis-server fails the tests instead of skipping them. */
export const REQUIRE_REDIS_VARIABLE = 'CLOAKROOM_REQUIRE_REDIS';

const SKIP_REASON = `${REDIS_SERVER_PATH} not found: install Redis (apt-get install -y redis-server) or name a server with REDIS_SERVER_PATH`;

/**
 * redisSkip is the `skip` option of every test that needs a real Redis:
 * false when the tests must run, else the reason they cannot. Without
 * redis-server they are skipped and counted as skipped, unless
 * CLOAKROOM_REQUIRE_REDIS=1, when they run and fail in startRedis, so CI
 * can never pass without them.
 */
export const redisSkip: string | false = existsSync(REDIS_SERVER_PATH) || process.env[REQUIRE_REDIS_VARIABLE] === '1' ? false : SKIP_REASON;

/** READY is what redis-server prints once it accepts connections. */
const READY = 'Ready to accept connections';
/** A server that has not said it is ready in this long will not. */
const START_DEADLINE_MS = 10_000;

/** Teardown is where a server is stopped: a test context, or node:test's file-level `after`. */
export interface Teardown {
  after(fn: () => unknown): void;
}

export interface RedisOptions {
  /** args are added to the command line: `--requirepass`, `--user …` (an ACL user), any other setting. */
  args?: string[];
  /** tls makes the server speak only TLS, with this certificate and key (PEM files); its url is then `rediss://`. */
  tls?: { certFile: string; keyFile: string };
}

/** RedisServer is a redis-server of one test, on 127.0.0.1 at a free port, with faults to order. */
export interface RedisServer {
  port: number;
  /** url is `redis://127.0.0.1:<port>` (`rediss://` with TLS), without credentials. */
  url: string;
  pid(): number;
  /** kill ends the server with SIGKILL, as a crash would, and waits until it is gone. */
  kill(): Promise<void>;
  /** pause stops the server with SIGSTOP: connections stay open, and nothing answers. */
  pause(): void;
  /** resume continues a paused server with SIGCONT. */
  resume(): void;
  /** restart starts a killed server again on the same port, empty (nothing is saved). */
  restart(): Promise<void>;
}

/**
 * startRedis starts redis-server for `t` on a free port, in a temp
 * directory, saving nothing (`--save '' --appendonly no`), and stops it by
 * its PID when `t` ends, paused or not.
 */
export async function startRedis(t: Teardown, options: RedisOptions = {}): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER_PATH)) throw new Error(`${SKIP_REASON} (Redis is required here)`);
  const dir = await mkdtemp(path.join(tmpdir(), 'cloakroom-redis-'));
  const port = await freePort();
  const listen =
    options.tls === undefined
      ? ['--port', String(port)]
      : [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          options.tls.certFile,
          '--tls-key-file',
          options.tls.keyFile,
          '--tls-auth-clients',
          'no',
        ];
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])];
  let child = await launch(args);
  t.after(async () => {
    await stop(child);
    await rm(dir, { recursive: true, force: true });
  });
  return {
    port,
    url: `${options.tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${port}`,
    pid: () => child.pid ?? -1,
    kill: () => stop(child),
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    restart: async () => {
      child = await launch(args);
    },
  };
}

/** RedisFixture is one redis-server shared by the tests of a file, with clients on it. */
export interface RedisFixture {
  server: RedisServer;
  /** fresh empties the database and gives the file's client: each test starts from nothing. */
  fresh(): Promise<RedisClient>;
  /** connect opens another client on the same server (another host, as far as Redis can tell), closed when the file ends. */
  connect(options?: RedisClientOptions): Promise<RedisClient>;
}

/**
 * redisForFile starts one redis-server for the whole test file (stopped
 * when the file ends), or gives null when the tests are skipped
 * (redisSkip). Called at the top level of a file, before its tests.
 */
export async function redisForFile(): Promise<RedisFixture | null> {
  if (redisSkip !== false) return null;
  const clients: RedisClient[] = [];
  // Clients close before the server stops, so none of them sees it go.
  after(() => Promise.all(clients.map((client) => client.close())));
  const server = await startRedis({ after });
  const connect = async (options: RedisClientOptions = {}): Promise<RedisClient> => {
    const client = await RedisClient.open(parseRedisAddress(server.url), options);
    clients.push(client);
    return client;
  };
  const main = await connect();
  return {
    server,
    fresh: async () => {
      await main.call(['FLUSHDB']);
      return main;
    },
    connect,
  };
}

/** launch spawns redis-server with `args` and resolves once it is ready for connections. */
function launch(args: string[]): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER_PATH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server was not ready within ${START_DEADLINE_MS} ms: ${output}`));
    }, START_DEADLINE_MS);
    const onOutput = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (!output.includes(READY)) return;
      clearTimeout(deadline);
      child.stdout.off('data', onOutput);
      // Drained from now on, so a chatty server never blocks on a full pipe.
      child.stdout.resume();
      resolve(child);
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      reject(new Error(`redis-server exited (${code ?? signal}) before it was ready: ${output}`));
    });
  });
}

/** stop kills the server by its PID and waits for its exit; SIGKILL ends a paused process too. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** freePort asks the system for a port nobody listens on, and lets it go for the server to take. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}
