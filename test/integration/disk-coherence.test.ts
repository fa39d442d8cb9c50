import assert from 'node:assert/strict';
import { readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { Client, register } from '../support/client.ts';
import { sessionView } from '../support/json.ts';
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
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['umbrella']);

    await sameBrowser(second, browser).json('POST', '/api/cart', { item: 'scarf' });
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['umbrella', 'scarf']);
  });

  it('sees a file edited by hand, even an edit that keeps its size, and a file deleted by hand', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await browser.json('PUT', '/api/preferences', { theme: 'dark' });
    assert.equal(sessionView(await browser.get('/api/session')).data.theme, 'dark');
    const file = path.join(server.dirs.sessionsDir, `${storageKey(browser.sid!)}.json`);

    // "dark" → "lite" would not be a theme; swap the cart instead, four letters for four.
    await browser.json('POST', '/api/cart', { item: 'coat' });
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"coat"', '"hats"'));
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['hats']);

    await rm(file);
    assert.equal((await browser.get('/api/session')).status, 401);
  });
});

/** PINNED_MTIME is a whole second, so utimes sets it exactly and both versions of a file can share it to the nanosecond. */
const PINNED_MTIME = new Date(Date.UTC(2026, 0, 1));
/** Rewrites to try before the kernel's clock moves on, for file systems whose ctime ticks coarsely. */
const MAX_REWRITES = 10_000;

/**
 * cachedSessionFile gives a browser a cart of ['coat'] in a file whose
 * mtime is PINNED_MTIME, and has the server read (and so cache) that version.
 */
async function cachedSessionFile(t: TestContext): Promise<{ browser: Client; file: string; text: string }> {
  const server = await startTestServer(t);
  const browser = server.client();
  await browser.json('POST', '/api/cart', { item: 'coat' });
  const file = path.join(server.dirs.sessionsDir, `${storageKey(browser.sid!)}.json`);
  await utimes(file, PINNED_MTIME, PINNED_MTIME);
  assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['coat']);
  return { browser, file, text: await readFile(file, 'utf8') };
}

describe('the record cache tells file versions apart by inode and ctime too, not only size and mtime', () => {
  it('serves a file put in place by rename with the same size and mtime (rsync -t, a backup restore)', async (t) => {
    const { browser, file, text } = await cachedSessionFile(t);
    const before = await stat(file);
    const restored = `${file}.restore`;
    await writeFile(restored, text.replace('"coat"', '"hats"'));
    await utimes(restored, PINNED_MTIME, PINNED_MTIME);
    await rename(restored, file);

    const after = await stat(file);
    assert.deepEqual([after.size, after.mtimeMs], [before.size, before.mtimeMs], 'the same size and mtime: a new inode');
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['hats']);
  });

  it('serves a file rewritten in place with the same size and mtime (cp -p)', async (t) => {
    const { browser, file, text } = await cachedSessionFile(t);
    const before = await stat(file);
    const rewrite = async () => {
      await writeFile(file, text.replace('"coat"', '"hats"'));
      await utimes(file, PINNED_MTIME, PINNED_MTIME);
      return stat(file);
    };
    // A ctime can only tell the versions apart once the kernel's clock has moved on from the cached one's.
    let after = await rewrite();
    for (let i = 0; i < MAX_REWRITES && after.ctimeMs === before.ctimeMs; i++) after = await rewrite();

    assert.deepEqual(
      [after.ino, after.size, after.mtimeMs],
      [before.ino, before.size, before.mtimeMs],
      'the same inode, size and mtime: only the ctime tells',
    );
    assert.notEqual(after.ctimeMs, before.ctimeMs);
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['hats']);
  });
});
