import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { StoreSetting } from '../../lib/storage/storage.ts';
import { register } from '../support/client.ts';
import { sessionView } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';

const STORES: ReadonlyArray<[string, StoreSetting]> = [
  ['files', { kind: 'files' }],
  ['memory', { kind: 'memory' }],
];

for (const [name, store] of STORES)
  describe(`the guest → sign-in → sign-out journey, STORE=${name}`, () => {
    it('keeps the cart across sign-in, replaces the ID, and ends the session at logout', async (t) => {
      const server = await startTestServer(t, { store });
      const browser = server.client();
      const added = await browser.json('POST', '/api/cart', { item: 'umbrella' });
      assert.equal(added.status, 200);
      const guestId = browser.sid;
      assert.match(guestId ?? '', /^[A-Za-z0-9_-]{43}$/);

      await register(browser, 'alice');
      assert.notEqual(browser.sid, guestId);
      const session = await browser.get('/api/session');
      assert.deepEqual(sessionView(session).data.cart, ['umbrella']);
      assert.equal(sessionView(session).user, 'alice');

      const out = await browser.json('POST', '/logout');
      assert.equal(out.status, 204);
      assert.equal(browser.sid, undefined);
      assert.equal((await browser.get('/api/me')).status, 401);
    });
  });

describe('STORE=memory', () => {
  it('keeps every session and account in the process: nothing is written to SESSIONS_DIR or USERS_FILE', async (t) => {
    const server = await startTestServer(t, { store: { kind: 'memory' } });
    const browser = server.client();
    await register(browser, 'alice');
    await browser.json('POST', '/api/cart', { item: 'umbrella' });
    assert.match(
      String(sessionView(await browser.get('/api/session')).file),
      new RegExp(`^memory of process ${process.pid}, key [0-9a-f]{64}$`),
    );
    assert.equal(existsSync(server.dirs.sessionsDir), false);
    assert.equal(existsSync(server.dirs.usersFile), false);
  });
});
