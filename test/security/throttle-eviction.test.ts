import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCounterStore } from '../../lib/auth/counters.ts';
import { ACCOUNT_FAILURE_LIMIT, FAILURE_WINDOW_MS, LoginThrottle } from '../../lib/auth/throttle.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { fakeClock } from '../support/clock.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const WRONG = 'not the password';
const MINUTE = 60_000;

function login(server: TestServer, username: string, password: string, from: string): Promise<Reply> {
  return server.client().json('POST', '/login', { username, password }, { 'X-Forwarded-For': from });
}

/** lockOut fails alice's password until her account is locked, from one address. */
async function lockOut(server: TestServer): Promise<void> {
  for (let i = 0; i < ACCOUNT_FAILURE_LIMIT; i++) assert.equal((await login(server, 'alice', WRONG, '192.0.2.1')).status, 401);
  assert.equal((await login(server, 'alice', PASSWORD, '192.0.2.1')).status, 429);
}

/** sprayOtherNames fails `count` sign-ins under other names, each from an address of its own (spoofed, or many machines). */
async function sprayOtherNames(server: TestServer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) assert.equal((await login(server, `other${i}`, WRONG, `198.51.100.${i % 250}`)).status, 401);
}

describe('a lock-out cannot be lifted by crowding it out of the throttle', () => {
  it('keeps the lock when failures under other names fill an in-memory table', async (t) => {
    const counters = new MemoryCounterStore({ maxKeys: 20 });
    const server = await startTestServer(t, { trustProxy: true }, { throttle: new LoginThrottle({ counters }) });
    await register(server.client(), 'alice');
    await lockOut(server);
    await sprayOtherNames(server, 30);
    assert.equal(counters.size, 20, 'the table stayed within its bound');
    assert.equal((await login(server, 'alice', PASSWORD, '203.0.113.7')).status, 429, 'still locked, from any address');
  });

  it('keeps the lock in the shared files through the sweeper, and lifts it only when the window has passed', async (t) => {
    const time = fakeClock(Date.now());
    const server = await startTestServer(t, { trustProxy: true }, { clock: time.clock });
    await register(server.client(), 'alice');
    await lockOut(server);
    await sprayOtherNames(server, 30);
    time.advance(FAILURE_WINDOW_MS - MINUTE);
    await server.app.sweeper.runNow();
    assert.equal((await login(server, 'alice', PASSWORD, '203.0.113.7')).status, 429, 'the clean-up forgot no live count');
    time.advance(MINUTE);
    assert.equal((await login(server, 'alice', PASSWORD, '203.0.113.7')).status, 200, 'the lock lifts by itself');
  });
});
