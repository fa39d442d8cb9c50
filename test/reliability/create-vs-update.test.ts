import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { USER_INDEX_DIR } from '../../lib/sessions/user-index.ts';
import { register } from '../support/client.ts';
import { hookedFs, dirEntries } from '../support/files.ts';
import { bodyOf, cartOf, readSessionFile } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

function sessionFile(server: TestServer, sid: string): string {
  return path.join(server.dirs.sessionsDir, `${storageKey(sid)}.json`);
}

describe('which requests create a session file', () => {
  it('creates none for page views, reads, an empty-cart request or a refused write', async (t) => {
    const server = await startTestServer(t);
    const visitor = server.client();
    for (const page of ['/', '/login', '/register', '/dashboard', '/style.css']) await visitor.get(page);
    assert.equal((await visitor.get('/api/me')).status, 401);
    assert.equal((await visitor.get('/api/session')).status, 401);
    assert.equal((await visitor.json('DELETE', '/api/cart')).status, 200);
    assert.equal((await visitor.json('PUT', '/api/preferences', { theme: 'purple' })).status, 400);
    assert.equal((await visitor.json('POST', '/api/cart', { item: '' })).status, 400);
    assert.equal((await visitor.json('POST', '/logout')).status, 204);

    assert.deepEqual(await dirEntries(server.dirs.sessionsDir), []);
    assert.equal(visitor.sid, undefined);
  });

  it("creates one file at a guest's first write, updates that same file after, and replaces it at sign-in", async (t) => {
    const server = await startTestServer(t);
    const visitor = server.client();
    await visitor.json('POST', '/api/cart', { item: 'first' });
    const guestId = visitor.sid!;
    assert.deepEqual(await dirEntries(server.dirs.sessionsDir), [`${storageKey(guestId)}.json`]);

    await visitor.json('POST', '/api/cart', { item: 'second' });
    await visitor.json('PUT', '/api/preferences', { theme: 'dark' });
    assert.equal(visitor.sid, guestId, 'an update keeps the ID');
    assert.deepEqual(await dirEntries(server.dirs.sessionsDir), [`${storageKey(guestId)}.json`]);

    await register(visitor, 'settler');
    assert.notEqual(visitor.sid, guestId);
    assert.deepEqual(
      await dirEntries(server.dirs.sessionsDir),
      [`${storageKey(visitor.sid)}.json`, USER_INDEX_DIR],
      'sign-in creates the new file (and its marker in the user index) and removes the old one',
    );
    const record = await readSessionFile(sessionFile(server, visitor.sid));
    assert.deepEqual(record.data, { cart: ['first', 'second'], theme: 'dark' });
  });
});

describe('an update never recreates a deleted session file', () => {
  it('treats a cookie whose file was deleted by hand as no session: a write starts a new guest session, the old file stays gone', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'deleted');
    await browser.json('POST', '/api/cart', { item: 'old-item' });
    const oldId = browser.sid!;
    await rm(sessionFile(server, oldId));

    assert.equal((await browser.get('/api/me')).status, 401);
    const write = await browser.json('POST', '/api/cart', { item: 'new-item' });

    assert.equal(write.status, 200);
    assert.deepEqual(cartOf(write), ['new-item'], 'nothing of the deleted session comes back');
    assert.notEqual(browser.sid, oldId, 'the unknown ID is never adopted');
    // The user index keeps its marker of the deleted file until a list or the sweeper drops it; it lists nothing.
    assert.deepEqual(await dirEntries(server.dirs.sessionsDir), [`${storageKey(browser.sid!)}.json`, USER_INDEX_DIR]);
    const record = await readSessionFile(sessionFile(server, browser.sid!));
    assert.equal(record.user, null, 'the new session is a guest: the sign-in is not restored');
  });

  // The store stats a session file when a request loads it, again when the
  // change re-reads it under the lock, and once more right before writing.
  // Deleting the file just ahead of the second or third stat is a logout or
  // a sweep landing while the request is in flight.
  for (const [moment, statNumber] of [
    ['before the change re-reads it', 2],
    ['between the re-read and the write', 3],
  ] as const) {
    it(`answers 409 and recreates nothing when the file vanishes ${moment}`, async (t) => {
      let armed = false;
      let stats = 0;
      let target = '';
      const fs = hookedFs({
        before: (operation, args) => {
          if (!armed || operation !== 'statSync' || String(args[0]) !== target) return;
          stats += 1;
          if (stats === statNumber) unlinkSync(target);
        },
      });
      const server = await startTestServer(t, {}, { fs });
      const browser = server.client();
      await browser.json('POST', '/api/cart', { item: 'kept-until-deleted' });
      const sid = browser.sid!;
      target = sessionFile(server, sid);
      armed = true;

      const reply = await browser.json('POST', '/api/cart', { item: 'must-not-land' });

      assert.equal(stats >= statNumber, true, `the store statted the file ${stats} times`);
      assert.equal(reply.status, 409);
      assert.equal(bodyOf(reply).error, 'session_ended');
      assert.equal(reply.headers.get('set-cookie'), null);
      assert.deepEqual(await dirEntries(server.dirs.sessionsDir), [], 'no file is written or recreated');
    });
  }
});
