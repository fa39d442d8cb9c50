import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register } from '../support/client.ts';
import { sessionView } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';

describe('the guest → sign-in → sign-out journey', () => {
  it('keeps the cart across sign-in, replaces the ID, and ends the session at logout', async (t) => {
    const server = await startTestServer(t);
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
