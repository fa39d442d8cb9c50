import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FileCounterStore, MemoryCounterStore } from '../../lib/auth/counters.ts';
import type { CounterStore } from '../../lib/auth/counters.ts';
import { ACCOUNT_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT, FAILURE_WINDOW_MS, LoginThrottle } from '../../lib/auth/throttle.ts';
import { RedisCounterStore } from '../../lib/storage/redis/counter-store.ts';
import { T0 } from '../support/clock.ts';
import { redisForFile, redisSkip } from '../support/redis.ts';

const SECOND = 1000;
const IP = '203.0.113.7';
const OTHER_IP = '198.51.100.1';

const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cloakroom-counters-'));
  tempDirs.push(dir);
  return dir;
}

const redis = await redisForFile();

/** redisCounters counts in an empty Redis, through the file's client or, with `another`, a client of its own (another host). */
async function redisCounters(another = false): Promise<CounterStore> {
  assert.ok(redis !== null, 'redis-server is required here');
  const fresh = await redis.fresh();
  return new RedisCounterStore(another ? await redis.connect() : fresh);
}

/** Each store the throttle can count with, all held to the same behaviour; a store that needs a server is skipped without it. */
const STORES: ReadonlyArray<[string, () => Promise<CounterStore>, string | false]> = [
  ['in memory', async () => new MemoryCounterStore(), false],
  ['in files', async () => new FileCounterStore({ dir: await tempDir() }), false],
  ['in Redis', () => redisCounters(), redisSkip],
];

/** attempts lets `count` attempts through, one a second from `start`, and says how many were let through. */
async function attempts(throttle: LoginThrottle, username: string, address: string, count: number, start = T0): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < count; i++) if ((await throttle.attempt(username, address, start + i * SECOND)) === 0) allowed += 1;
  return allowed;
}

describe('LoginThrottle', () => {
  it('has the limits the README promises: 5 per account, 50 per address, in 15 minutes', () => {
    assert.deepEqual([ACCOUNT_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT, FAILURE_WINDOW_MS], [5, 50, 15 * 60 * SECOND]);
  });

  for (const [name, makeStore, skip] of STORES) {
    describe(`counting ${name}`, { skip }, () => {
      const throttle = async (options: { accountLimit?: number; addressLimit?: number } = {}): Promise<LoginThrottle> =>
        new LoginThrottle({ counters: await makeStore(), ...options });

      it('lets 5 attempts for one account through, then refuses the 6th from any address', async () => {
        const t = await throttle();
        assert.equal(await attempts(t, 'alice', IP, ACCOUNT_FAILURE_LIMIT), ACCOUNT_FAILURE_LIMIT);
        assert.ok((await t.attempt('alice', IP, T0 + 10 * SECOND)) > 0);
        assert.ok((await t.attempt('alice', OTHER_IP, T0 + 10 * SECOND)) > 0);
        assert.equal(await t.attempt('bob', OTHER_IP, T0 + 10 * SECOND), 0);
      });

      it('counts an account regardless of the case of its name, and unknown names like real ones', async () => {
        const t = await throttle();
        for (const [i, username] of ['alice', 'Alice', 'ALICE', 'aLiCe', 'alicE'].entries()) await t.attempt(username, `10.0.0.${i}`, T0);
        assert.ok((await t.attempt('alice', '10.0.0.99', T0)) > 0);
      });

      it('says how long until the lock lifts: when the oldest counted failure leaves the window', async () => {
        const t = await throttle();
        await attempts(t, 'alice', IP, ACCOUNT_FAILURE_LIMIT);
        assert.equal(await t.attempt('alice', IP, T0 + 4 * SECOND), FAILURE_WINDOW_MS - 4 * SECOND);
      });

      it('slides: the lock lifts once a failure has left the window, and a refused attempt counts nothing', async () => {
        const t = await throttle();
        await attempts(t, 'alice', IP, ACCOUNT_FAILURE_LIMIT);
        assert.ok((await t.attempt('alice', IP, T0 + FAILURE_WINDOW_MS - 1)) > 0);
        // At T0 + window the first failure is out: 4 remain, so one more goes through.
        assert.equal(await t.attempt('alice', IP, T0 + FAILURE_WINDOW_MS), 0);
        assert.equal(await t.attempt('alice', IP, T0 + FAILURE_WINDOW_MS), SECOND);
      });

      it('locks an address after 50 failures across many accounts, and only that address', async () => {
        const t = await throttle();
        for (let i = 0; i < ADDRESS_FAILURE_LIMIT; i++) assert.equal(await t.attempt(`user${i}`, IP, T0 + i), 0);
        assert.ok((await t.attempt('fresh-account', IP, T0 + ADDRESS_FAILURE_LIMIT)) > 0);
        assert.equal(await t.attempt('fresh-account', OTHER_IP, T0 + ADDRESS_FAILURE_LIMIT), 0);
      });

      it("does not count against the account an attempt its address's limit refused", async () => {
        const t = await throttle({ addressLimit: 1 });
        await t.attempt('bob', IP, T0);
        for (let i = 0; i < 10; i++) assert.ok((await t.attempt('alice', IP, T0 + i)) > 0);
        // Had they counted, alice would be locked; from fresh addresses she still has all 5 attempts.
        for (let i = 0; i < ACCOUNT_FAILURE_LIMIT; i++) assert.equal(await t.attempt('alice', `10.0.3.${i}`, T0 + 20), 0);
        assert.ok((await t.attempt('alice', '10.0.3.99', T0 + 20)) > 0);
      });

      it("on success forgets the account's failures and this attempt's count at the address, and no other", async () => {
        const t = await throttle({ addressLimit: ACCOUNT_FAILURE_LIMIT });
        await attempts(t, 'alice', IP, ACCOUNT_FAILURE_LIMIT - 1);
        const now = T0 + 10 * SECOND;
        assert.equal(await t.attempt('alice', IP, now), 0);
        await t.succeeded('alice', IP, now);
        assert.equal(await attempts(t, 'alice', OTHER_IP, ACCOUNT_FAILURE_LIMIT, now), ACCOUNT_FAILURE_LIMIT);
        // One address may try many accounts: its 4 earlier failures stay counted, so one more fills it.
        assert.equal(await t.attempt('bob', IP, now), 0);
        assert.ok((await t.attempt('carol', IP, now)) > 0);
      });

      it('lets exactly 5 of 20 parallel attempts for one account through', async () => {
        const t = await throttle();
        const waits = await Promise.all(Array.from({ length: 20 }, (_, i) => t.attempt('alice', `10.0.1.${i}`, T0)));
        assert.equal(waits.filter((wait) => wait === 0).length, ACCOUNT_FAILURE_LIMIT);
      });
    });
  }

  it('counts in total across two processes sharing one counters directory', async () => {
    const dir = await tempDir();
    const a = new LoginThrottle({ counters: new FileCounterStore({ dir }) });
    const b = new LoginThrottle({ counters: new FileCounterStore({ dir }) });
    const waits = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).attempt('alice', `10.0.2.${i}`, T0 + i)));
    assert.equal(waits.filter((wait) => wait === 0).length, ACCOUNT_FAILURE_LIMIT);
    assert.ok((await a.attempt('alice', IP, T0 + 20)) > 0);
    assert.ok((await b.attempt('alice', IP, T0 + 20)) > 0);
  });

  it('counts in total across two hosts sharing one Redis', { skip: redisSkip }, async () => {
    const a = new LoginThrottle({ counters: await redisCounters() });
    const b = new LoginThrottle({ counters: await redisCounters(true) });
    const waits = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).attempt('alice', `10.0.2.${i}`, T0 + i)));
    assert.equal(waits.filter((wait) => wait === 0).length, ACCOUNT_FAILURE_LIMIT);
    assert.ok((await a.attempt('alice', IP, T0 + 20)) > 0);
    assert.ok((await b.attempt('alice', IP, T0 + 20)) > 0);
  });
});

describe('RedisCounterStore', { skip: redisSkip }, () => {
  const KEY = 'cloakroom:counter:account:alice';

  it('keeps a key as a sorted set of event times, which Redis deletes a window after the last hit', async () => {
    assert.ok(redis !== null);
    const client = await redis.fresh();
    const store = new RedisCounterStore(client);
    await store.hit('account:alice', 5, FAILURE_WINDOW_MS, T0);
    await store.hit('account:alice', 5, FAILURE_WINDOW_MS, T0 + SECOND);
    const events = (await client.call(['ZRANGE', KEY, '0', '-1', 'WITHSCORES'])) as string[];
    assert.deepEqual(
      events.filter((_, i) => i % 2 === 1),
      [String(T0), String(T0 + SECOND)],
    );
    const ttl = Number(await client.call(['PTTL', KEY]));
    assert.ok(ttl > FAILURE_WINDOW_MS - SECOND && ttl <= FAILURE_WINDOW_MS, `PTTL ${ttl}`);
  });

  it('forgets one event by its time, or every event of the key', async () => {
    assert.ok(redis !== null);
    const client = await redis.fresh();
    const store = new RedisCounterStore(client);
    for (const at of [T0, T0, T0 + SECOND]) await store.hit('account:alice', 5, FAILURE_WINDOW_MS, at);
    await store.forget('account:alice', T0);
    assert.equal(await client.call(['ZCARD', KEY]), 2);
    await store.forget('account:alice');
    assert.equal(await client.call(['EXISTS', KEY]), 0);
    await store.forget('account:nobody', T0);
  });
});

describe('MemoryCounterStore, bounded', () => {
  const WINDOW = FAILURE_WINDOW_MS;

  it('never drops a key at its limit to make room: a flood of other names cannot lift a lock-out', async () => {
    const store = new MemoryCounterStore({ maxKeys: 3 });
    assert.equal(await store.hit('victim', 1, WINDOW, T0), 0);
    for (let i = 0; i < 100; i++) await store.hit(`flood${i}`, 5, WINDOW, T0 + i);
    assert.ok((await store.hit('victim', 1, WINDOW, T0 + 200)) > 0);
    assert.ok(store.size <= 3);
  });

  it('drops keys whose events have left the window first', async () => {
    const store = new MemoryCounterStore({ maxKeys: 2 });
    await store.hit('old', 1, SECOND, T0);
    await store.hit('locked', 1, WINDOW, T0);
    assert.equal(await store.hit('new', 1, WINDOW, T0 + 2 * SECOND), 0);
    assert.ok((await store.hit('locked', 1, WINDOW, T0 + 2 * SECOND)) > 0);
  });

  it('refuses a new key rather than forget one when every key is at its limit', async () => {
    const store = new MemoryCounterStore({ maxKeys: 2 });
    await store.hit('a', 1, WINDOW, T0);
    await store.hit('b', 1, WINDOW, T0);
    assert.equal(await store.hit('c', 1, WINDOW, T0), WINDOW);
    assert.ok((await store.hit('a', 1, WINDOW, T0)) > 0);
    assert.ok((await store.hit('b', 1, WINDOW, T0)) > 0);
  });
});

describe('FileCounterStore', () => {
  it('deletes the file of a key that has nothing left to count', async () => {
    const dir = await tempDir();
    const store = new FileCounterStore({ dir });
    await store.hit('account:alice', 5, FAILURE_WINDOW_MS, T0);
    assert.equal((await readdir(dir)).length, 1);
    await store.forget('account:alice');
    assert.deepEqual(await readdir(dir), []);
  });

  it('names files by a hash of the key, never the username or address itself', async () => {
    const dir = await tempDir();
    await new FileCounterStore({ dir }).hit('account:alice', 5, FAILURE_WINDOW_MS, T0);
    const [name] = await readdir(dir);
    assert.match(name ?? '', /^[0-9a-f]{64}\.json$/);
  });
});

describe('FileCounterStore.sweep', () => {
  it('deletes the files of keys not hit within the window, and keeps the others', async () => {
    const dir = await tempDir();
    const store = new FileCounterStore({ dir, retainMs: FAILURE_WINDOW_MS });
    await store.hit('account:once', 5, FAILURE_WINDOW_MS, T0);
    const [oldFile] = await readdir(dir);
    await utimes(path.join(dir, oldFile!), new Date(T0), new Date(T0));
    await store.hit('account:recent', 5, FAILURE_WINDOW_MS, T0 + FAILURE_WINDOW_MS);
    assert.equal(await store.sweep(T0 + FAILURE_WINDOW_MS + SECOND), 1);
    assert.deepEqual((await readdir(dir)).includes(oldFile!), false);
    assert.equal((await readdir(dir)).length, 1);
    assert.equal(await new FileCounterStore({ dir: path.join(dir, 'missing') }).sweep(T0), 0);
  });
});

describe('FileCounterStore, its directory deleted while running', () => {
  it('makes the directory again and counts on, instead of failing every sign-in until a restart', async () => {
    const dir = path.join(await tempDir(), 'throttle');
    const store = new FileCounterStore({ dir });
    assert.equal(await store.hit('account:alice', 5, FAILURE_WINDOW_MS, T0), 0);
    await rm(dir, { recursive: true });
    assert.equal(await store.hit('account:alice', 5, FAILURE_WINDOW_MS, T0), 0);
    await store.forget('account:alice');
    assert.deepEqual(await readdir(dir), []);
  });
});
