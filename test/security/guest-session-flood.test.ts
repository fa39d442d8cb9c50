import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startApp } from '../../lib/app.ts';
import { Client, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { fakeClock } from '../support/clock.ts';
import { sessionFiles } from '../support/files.ts';
import { silentLogger, startTestServer, testConfig } from '../support/server.ts';

const SECOND = 1000;

/** addItem is a cookieless guest's first write, unless `client` already has a session. */
function addItem(client: Client, item = 'umbrella'): Promise<Reply> {
  return client.json('POST', '/api/cart', { item });
}

function assertRetryAfter(reply: Reply): void {
  assert.match(reply.headers.get('retry-after') ?? '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
}

describe('a cookieless flood cannot fill the disk with guest sessions', () => {
  it('refuses new guest sessions past GUEST_SESSIONS_PER_ADDRESS with 429 and Retry-After, and writes no file for them', async (t) => {
    const server = await startTestServer(t, { guestSessionsPerAddress: 5 });
    const statuses: number[] = [];
    let refused: Reply | undefined;
    for (let i = 0; i < 8; i++) {
      const reply = await addItem(server.client());
      statuses.push(reply.status);
      if (reply.status === 429) refused = reply;
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.ok(refused !== undefined);
    assertRetryAfter(refused);
    assert.equal((refused.json as { error: unknown }).error, 'too_many_sessions');
    assert.equal(refused.headers.get('set-cookie'), null);
    assert.equal((await sessionFiles(server.dirs.sessionsDir)).length, 5);
  });

  it('still lets a guest who has a session use it, and anyone sign in, once the address is at its limit', async (t) => {
    const server = await startTestServer(t, { guestSessionsPerAddress: 1 });
    const guest = server.client();
    assert.equal((await addItem(guest)).status, 200);
    assert.equal((await addItem(server.client())).status, 429);
    assert.equal((await addItem(guest, 'scarf')).status, 200);
    await register(server.client(), 'alice');
  });

  it('holds GUEST_SESSIONS_PER_ADDRESS in total across two processes on the same files', async (t) => {
    const first = await startTestServer(t, { guestSessionsPerAddress: 3 });
    const second = await startApp(testConfig(first.dirs, { guestSessionsPerAddress: 3 }), { logger: silentLogger() });
    t.after(() => second.close());
    const statuses = [];
    for (const url of [first.url, second.url, first.url, second.url]) statuses.push((await addItem(new Client(url))).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
  });

  it('refuses new guest sessions with 503 and Retry-After at MAX_SESSIONS, still signs people in, and admits guests again once the sweeper has cleared room', async (t) => {
    const time = fakeClock();
    const server = await startTestServer(t, { maxSessions: 3, sweepIntervalMs: 30 * SECOND }, { clock: time.clock });
    for (let i = 0; i < 3; i++) assert.equal((await addItem(server.client())).status, 200);
    const full = await addItem(server.client());
    assert.equal(full.status, 503);
    assert.equal((full.json as { error: unknown }).error, 'sessions_full');
    assert.equal(full.headers.get('retry-after'), '30');
    assert.equal((await sessionFiles(server.dirs.sessionsDir)).length, 3);

    const alice = server.client();
    await register(alice, 'alice');
    assert.equal((await alice.get('/api/me')).status, 200);

    // The guests' idle timeout passes; the sweeper deletes their files and counts what is left.
    time.advance(server.app.services.config.guestIdleTimeoutMs);
    await server.app.sweeper.runNow();
    assert.equal((await sessionFiles(server.dirs.sessionsDir)).length, 1);
    assert.equal((await addItem(server.client())).status, 200);
  });
});

describe('GUEST_IDLE_TIMEOUT: a guest session ends sooner than a signed-in one', () => {
  const GUEST_IDLE = 60 * SECOND;
  const USER_IDLE = 1800 * SECOND;

  it('ends a guest session after GUEST_IDLE_TIMEOUT, while a user session idle as long lives on', async (t) => {
    const time = fakeClock();
    const server = await startTestServer(t, { guestIdleTimeoutMs: GUEST_IDLE, idleTimeoutMs: USER_IDLE }, { clock: time.clock });
    const guest = server.client();
    await addItem(guest);
    const alice = server.client();
    await register(alice, 'alice');
    time.advance(GUEST_IDLE - 1);
    assert.equal((await guest.get('/api/session')).status, 200, 'alive until its deadline');
    time.advance(GUEST_IDLE);
    assert.equal((await guest.get('/api/session')).status, 401, 'the guest session ended');
    assert.equal((await alice.get('/api/me')).status, 200, 'the user session lives on');
  });

  it('shows the guest deadline in the inspector, and the user one once the guest signs in', async (t) => {
    const time = fakeClock();
    const server = await startTestServer(t, { guestIdleTimeoutMs: GUEST_IDLE, idleTimeoutMs: USER_IDLE }, { clock: time.clock });
    const browser = server.client();
    await addItem(browser);
    const asGuest = (await browser.get('/api/session')).json as { idleExpiresAt: string; idleTimeoutSeconds: number };
    assert.equal(asGuest.idleExpiresAt, new Date(time.clock() + GUEST_IDLE).toISOString());
    assert.equal(asGuest.idleTimeoutSeconds, GUEST_IDLE / SECOND);
    await register(browser, 'alice');
    const asUser = (await browser.get('/api/session')).json as { idleExpiresAt: string; idleTimeoutSeconds: number };
    assert.equal(asUser.idleExpiresAt, new Date(time.clock() + USER_IDLE).toISOString());
    assert.equal(asUser.idleTimeoutSeconds, USER_IDLE / SECOND);
  });

  it('lets the sweeper delete a guest file after GUEST_IDLE_TIMEOUT, and keeps a user file', async (t) => {
    const time = fakeClock();
    const server = await startTestServer(t, { guestIdleTimeoutMs: GUEST_IDLE, idleTimeoutMs: USER_IDLE }, { clock: time.clock });
    await addItem(server.client());
    await register(server.client(), 'alice');
    time.advance(GUEST_IDLE);
    await server.app.sweeper.runNow();
    assert.equal((await sessionFiles(server.dirs.sessionsDir)).length, 1);
  });

  it('slides a guest session with use, even when GUEST_IDLE_TIMEOUT is shorter than the touch interval of SESSION_IDLE_TIMEOUT', async (t) => {
    const time = fakeClock();
    const server = await startTestServer(t, { guestIdleTimeoutMs: 20 * SECOND, idleTimeoutMs: USER_IDLE }, { clock: time.clock });
    const guest = server.client();
    await addItem(guest);
    for (let i = 0; i < 10; i++) {
      time.advance(10 * SECOND);
      assert.equal((await guest.get('/api/session')).status, 200, `still alive after ${(i + 1) * 10} s of steady use`);
    }
  });
});
