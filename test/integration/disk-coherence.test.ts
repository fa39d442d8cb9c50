import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { Client, register } from '../support/client.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

// The files are the truth; the store's cache only saves re-reading a file
// that has not changed. Whatever changes a session file (a person with an
// editor, or a second Cloakroom process on the same directory) counts from
// the next request that starts after the change.

/** twoServers starts two Cloakroom apps on one sessions directory and one users file, as two processes would share them. */
async function twoServers(t: TestContext): Promise<{ first: TestServer; second: TestServer }> {
  const first = await startTestServer(t);
  await register(first.client(), 'alice');
  // The second starts after the account exists: each process reads the users file at start-up.
  const second = await startTestServer(t, { sessionsDir: first.dirs.sessionsDir, usersFile: first.dirs.usersFile });
  return { first, second };
}

/** sameBrowser is a client of `server` holding the cookie `other` holds. */
function sameBrowser(server: TestServer, other: Client): Client {
  const client = server.client();
  client.cookies.set('sid', other.sid!);
  return client;
}

describe('the session files are the truth, on every request', () => {
  it('sees a logout made by another process at the very next request', async (t) => {
    const { first, second } = await twoServers(t);
    const browser = first.client();
    await browser.json('POST', '/login', { username: 'alice', password: 'correct horse battery' });
    assert.equal((await browser.get('/api/me')).status, 200, 'the session is in the first process cache now');

    assert.equal((await sameBrowser(second, browser).json('POST', '/logout')).status, 204);
    assert.equal((await browser.get('/api/me')).status, 401);
  });

  it('sees a change written by another process at the very next request', async (t) => {
    const { first, second } = await twoServers(t);
    const browser = first.client();
    await browser.json('POST', '/api/cart', { item: 'umbrella' });
    assert.deepEqual((await browser.get('/api/session')).json.data.cart, ['umbrella']);

    await sameBrowser(second, browser).json('POST', '/api/cart', { item: 'scarf' });
    assert.deepEqual((await browser.get('/api/session')).json.data.cart, ['umbrella', 'scarf']);
  });

  it('sees a file edited by hand, even an edit that keeps its size, and a file deleted by hand', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await browser.json('PUT', '/api/preferences', { theme: 'dark' });
    assert.equal((await browser.get('/api/session')).json.data.theme, 'dark');
    const file = path.join(server.dirs.sessionsDir, `${storageKey(browser.sid!)}.json`);

    // "dark" → "lite" would not be a theme; swap the cart instead, four letters for four.
    await browser.json('POST', '/api/cart', { item: 'coat' });
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"coat"', '"hats"'));
    assert.deepEqual((await browser.get('/api/session')).json.data.cart, ['hats']);

    await rm(file);
    assert.equal((await browser.get('/api/session')).status, 401);
  });
});
