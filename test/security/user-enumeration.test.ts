import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScryptOptions } from 'node:crypto';
import { HashPool } from '../../lib/auth/hash-pool.ts';
import { PasswordHasher } from '../../lib/auth/passwords.ts';
import { LoginThrottle } from '../../lib/auth/throttle.ts';
import { headersWithoutDate, PASSWORD, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { startTestServer, TEST_SCRYPT_COST } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const WRONG = 'not the password';
/** A cost at which one scrypt hash (tens of milliseconds) dwarfs everything else a login does. */
const TIMING_SCRYPT_COST = 2 ** 14;
const TIMING_ROUNDS = 15;
const MIN_RATIO = 0.5;
const MAX_RATIO = 2;

/** A throttle that never trips, so every attempt reaches the password check. */
function lenientThrottle(): LoginThrottle {
  return new LoginThrottle({ accountLimit: 1000, addressLimit: 1000 });
}

function assertIdentical(a: Reply, b: Reply): void {
  assert.equal(a.status, b.status);
  assert.deepEqual(headersWithoutDate(a.headers), headersWithoutDate(b.headers));
  assert.equal(a.text, b.text);
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function timed(server: TestServer, username: string): Promise<number> {
  const started = performance.now();
  const reply = await server.client().json('POST', '/login', { username, password: WRONG });
  const elapsed = performance.now() - started;
  assert.equal(reply.status, 401);
  return elapsed;
}

describe('user enumeration: a failed login does not tell whether the username exists', () => {
  it('gives an unknown username and a wrong password byte-identical JSON answers', async (t) => {
    const server = await startTestServer(t, {}, { throttle: lenientThrottle() });
    await register(server.client(), 'alice', PASSWORD);
    const wrongPassword = await server.client().json('POST', '/login', { username: 'alice', password: WRONG });
    const unknownUser = await server.client().json('POST', '/login', { username: 'nobody', password: WRONG });
    assert.equal(wrongPassword.status, 401);
    assertIdentical(wrongPassword, unknownUser);
  });

  it('gives an unknown username and a wrong password byte-identical form answers, with and without next', async (t) => {
    const server = await startTestServer(t, {}, { throttle: lenientThrottle() });
    await register(server.client(), 'alice', PASSWORD);
    const extras: Array<Record<string, string>> = [{}, { next: '/profile' }];
    for (const extra of extras) {
      const wrongPassword = await server.client().form('/login', { username: 'alice', password: WRONG, ...extra });
      const unknownUser = await server.client().form('/login', { username: 'nobody', password: WRONG, ...extra });
      assert.equal(wrongPassword.status, 303);
      assertIdentical(wrongPassword, unknownUser);
    }
  });

  it('takes as long for an unknown username as for a wrong password (medians within 0.5–2×)', async (t) => {
    const server = await startTestServer(t, { scryptCost: TIMING_SCRYPT_COST }, { throttle: lenientThrottle() });
    await register(server.client(), 'alice', PASSWORD);
    // Warm-up: the first unknown name also prepares the dummy hash.
    await timed(server, 'nobody');
    await timed(server, 'alice');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < TIMING_ROUNDS; i++) {
      known.push(await timed(server, 'alice'));
      unknown.push(await timed(server, `nobody${i}`));
    }
    const ratio = median(unknown) / median(known);
    assert.ok(ratio > MIN_RATIO && ratio < MAX_RATIO, `unknown/known median ratio ${ratio.toFixed(2)}`);
  });

  it('makes a wrong password for an account hashed before SCRYPT_COST was raised cost as much scrypt work as an unknown name', async (t) => {
    // scrypt's work is linear in N, so the work of a check is the sum of the N of its derives: counted, not timed.
    class CountingPool extends HashPool {
      work = 0;
      override derive(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
        this.work += options.N ?? 0;
        return super.derive(password, salt, keyLength, options);
      }
    }
    const before = await startTestServer(t, { scryptCost: TEST_SCRYPT_COST });
    await register(before.client(), 'oldtimer');
    const raised = TEST_SCRYPT_COST * 8;
    const pool = new CountingPool();
    const hasher = new PasswordHasher({ cost: raised, pool });
    const after = await startTestServer(
      t,
      { scryptCost: raised, usersFile: before.dirs.usersFile },
      { hasher, throttle: lenientThrottle() },
    );
    const workOf = async (username: string): Promise<number> => {
      pool.work = 0;
      assert.equal((await after.client().json('POST', '/login', { username, password: WRONG })).status, 401);
      return pool.work;
    };
    assert.equal(await workOf('oldtimer'), raised, 'the old account, checked at its own cost, spends the difference');
    assert.equal(await workOf('nobody'), raised);
    assert.equal((await after.client().json('POST', '/login', { username: 'oldtimer', password: PASSWORD })).status, 200);
  });
});
