import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as pause } from 'node:timers/promises';
import { HashPool, HashThreadError, IDLE_THREAD_MS, HASH_THREAD_NICE } from '../../lib/auth/hash-pool.ts';
import { HasherBusyError, PasswordHasher } from '../../lib/auth/passwords.ts';
import { TEST_SCRYPT_COST } from '../support/server.ts';

const OPTIONS = { N: TEST_SCRYPT_COST, r: 8, p: 1 };
const SALT = Buffer.from('0123456789abcdef');
/** Threads of the pools here outlive this file, so no count of threads changes under a test by itself. */
const LONG_IDLE = { idleMs: 600_000 };
/** How long a stopping thread may take to report its exit on a loaded machine, and how often to look. */
const EXIT_PATIENCE_MS = 10_000;
const EXIT_POLL_MS = 10;
// In /proc/<pid>/task/<tid>/stat, after the ")" that ends the thread's name, the nice value is the 17th field.
const NICE_FIELD_AFTER_NAME = 16;

/** niceOf reads the scheduling priority of thread `tid` of this process (Linux). */
function niceOf(tid: string): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[NICE_FIELD_AFTER_NAME]);
}

/** untilNoThreads waits, polling in real time for at most EXIT_PATIENCE_MS, until `pool` has no thread left. */
async function untilNoThreads(pool: HashPool): Promise<void> {
  const deadline = Date.now() + EXIT_PATIENCE_MS;
  while (pool.threads > 0 && Date.now() < deadline) await pause(EXIT_POLL_MS);
}

/** niceValues lists the scheduling priority of every thread of this process. */
function niceValues(): number[] {
  return readdirSync('/proc/self/task').map(niceOf);
}

describe('HashPool', () => {
  it('derives the same key as crypto.scryptSync', async () => {
    const key = await new HashPool(LONG_IDLE).derive('correct horse battery', SALT, 32, OPTIONS);
    assert.deepEqual(key, scryptSync('correct horse battery', SALT, 32, OPTIONS));
  });

  it('rejects what scrypt refuses, and keeps working after', async () => {
    const pool = new HashPool(LONG_IDLE);
    await assert.rejects(pool.derive('x', SALT, 32, { ...OPTIONS, N: 1000 }), /scrypt/);
    assert.equal((await pool.derive('x', SALT, 32, OPTIONS)).length, 32);
  });

  it('reuses an idle thread, and lets it go once it has been idle for IDLE_THREAD_MS', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const pool = new HashPool();
    await pool.derive('a', SALT, 32, OPTIONS);
    await pool.derive('b', SALT, 32, OPTIONS);
    assert.equal(pool.threads, 1);
    t.mock.timers.tick(IDLE_THREAD_MS - 1);
    await nextTurn();
    assert.equal(pool.threads, 1);
    t.mock.timers.tick(1);
    // The thread now stops on its own; wait (real time, bounded) for its exit event to arrive.
    t.mock.timers.reset();
    await untilNoThreads(pool);
    assert.equal(pool.threads, 0);
    assert.equal((await pool.derive('c', SALT, 32, OPTIONS)).length, 32, 'a new thread is started when needed');
  });

  it('never hands a hash to a thread that is being retired', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const pool = new HashPool();
    await pool.derive('a', SALT, 32, OPTIONS);
    // The retire timer fires; the thread's exit is still on its way when the next hash arrives.
    t.mock.timers.tick(IDLE_THREAD_MS);
    const key = await pool.derive('b', SALT, 32, OPTIONS);
    assert.deepEqual(key, scryptSync('b', SALT, 32, OPTIONS));
  });

  it('rejects with HashThreadError, naming the cause, when the thread dies under a hash', async () => {
    const crashing = `require('node:worker_threads').parentPort.on('message', () => { throw new Error('out of memory, say'); });`;
    const pool = new HashPool({ ...LONG_IDLE, source: crashing });
    await assert.rejects(pool.derive('x', SALT, 32, OPTIONS), (error: unknown) => {
      assert.ok(error instanceof HashThreadError);
      assert.match(error.message, /out of memory, say/);
      return true;
    });
    assert.equal(pool.threads, 0, 'the dead thread is gone from the pool');
  });

  it('turns a dead hashing thread into a 503 for the request, not a 500', async () => {
    const exiting = `require('node:worker_threads').parentPort.on('message', () => process.exit(3));`;
    const hasher = new PasswordHasher({ cost: TEST_SCRYPT_COST, pool: new HashPool({ ...LONG_IDLE, source: exiting }) });
    await assert.rejects(hasher.hash('correct horse battery'), (error: unknown) => {
      assert.ok(error instanceof HasherBusyError);
      assert.ok(error.cause instanceof HashThreadError, 'the dead thread is kept as the cause, for the log');
      return true;
    });
    assert.equal(hasher.running, 0, 'its slot is free again');
  });

  it(
    'hashes on threads of low priority (nice 10), so the event loop runs first',
    { skip: process.platform !== 'linux' && 'thread priorities are read from /proc' },
    async () => {
      const before = niceValues().filter((nice) => nice === HASH_THREAD_NICE).length;
      const pool = new HashPool(LONG_IDLE);
      await Promise.all([pool.derive('a', SALT, 32, OPTIONS), pool.derive('b', SALT, 32, OPTIONS)]);
      assert.equal(niceValues().filter((nice) => nice === HASH_THREAD_NICE).length - before, 2);
      assert.equal(niceOf(String(process.pid)), 0, 'the main thread keeps its priority');
    },
  );
});

/** CountingPool is a real pool that records every derive it is asked for, and how many run at once. */
class CountingPool extends HashPool {
  readonly stats = { calls: 0, running: 0, most: 0 };

  override async derive(...args: Parameters<HashPool['derive']>): Promise<Buffer> {
    this.stats.calls += 1;
    this.stats.running += 1;
    this.stats.most = Math.max(this.stats.most, this.stats.running);
    try {
      return await super.derive(...args);
    } finally {
      this.stats.running -= 1;
    }
  }
}

function countingPool(): { pool: CountingPool; stats: CountingPool['stats'] } {
  const pool = new CountingPool(LONG_IDLE);
  return { pool, stats: pool.stats };
}

describe('PasswordHasher on a pool', () => {
  it('checks an unknown user with exactly one scrypt, from the very first attempt, like a wrong password', async () => {
    const { pool, stats } = countingPool();
    const hasher = new PasswordHasher({ cost: TEST_SCRYPT_COST, pool });
    assert.equal(await hasher.verify('a guess', null), false);
    assert.equal(stats.calls, 1);
    const stored = await hasher.hash('the real one');
    stats.calls = 0;
    assert.equal(await hasher.verify('a wrong one', stored), false);
    assert.equal(stats.calls, 1);
  });

  it('never runs more hashes at once than its concurrency, however many are asked for', async () => {
    const { pool, stats } = countingPool();
    const hasher = new PasswordHasher({ cost: TEST_SCRYPT_COST, concurrency: 2, maxWaiting: 20, pool });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => hasher.hash(`password ${i}`)));
    assert.equal(results.length, 12);
    assert.equal(stats.most, 2);
    assert.equal(hasher.running, 0);
  });
});
