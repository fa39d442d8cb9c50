import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { USER_INDEX_DIR } from '../../lib/sessions/user-index.ts';
import { PASSWORD, register, SESSION_ID_PATTERN } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { sessionFileName, snapshotDir } from '../support/files.ts';
import { cartOf } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';

const SIGN_INS = 200;
const ID_BYTES = 32;
const BASE64URL_ALPHABET = 64;
const ANONYMOUS_REQUESTS = 1000;
const FAILED_LOGINS = 50;
/** Five failures per account stay just under the per-account lock, and fifty in all just under the per-address lock. */
const FAILURES_PER_ACCOUNT = 5;
const PARALLEL = 50;

function unknownId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

describe('session IDs cannot be guessed, planted or farmed', () => {
  it('gives 200 sign-ins 200 distinct IDs of 32 random bytes in base64url, stored only under their SHA-256', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'alice', PASSWORD);
    const ids = new Set<string>();
    for (let i = 0; i < SIGN_INS; i++) {
      const browser = server.client();
      const reply = await browser.json('POST', '/login', { username: 'alice', password: PASSWORD });
      assert.equal(reply.status, 200);
      const id = browser.sid ?? '';
      assert.match(id, SESSION_ID_PATTERN);
      // Canonical base64url of exactly 32 bytes: 256 bits, no padding, nothing appended.
      assert.equal(Buffer.from(id, 'base64url').length, ID_BYTES);
      assert.equal(Buffer.from(id, 'base64url').toString('base64url'), id);
      ids.add(id);
    }
    assert.equal(ids.size, SIGN_INS);
    // 8,600 characters drawn uniformly use every one of the 64 symbols; hex, a counter or a timestamp would not.
    assert.equal(new Set([...ids].join('')).size, BASE64URL_ALPHABET);

    const files = new Set(await readdir(server.dirs.sessionsDir));
    for (const id of ids) {
      assert.ok(files.has(sessionFileName(id)), 'each session is stored under the hash of its ID');
      assert.ok(![...files].some((name) => name.includes(id)), 'no file is named after a raw ID');
    }
  });

  it('never adopts a well-formed ID it did not issue: no session, no file, and any write gets a fresh ID', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'alice', PASSWORD);
    const planted = unknownId();
    const browser = server.client();
    browser.cookies.set('sid', planted);

    assert.equal((await browser.get('/api/session')).status, 401);
    assert.equal((await browser.get('/api/me')).status, 401);
    assert.equal((await browser.get('/dashboard')).status, 303);

    const cart = await browser.json('POST', '/api/cart', { item: 'umbrella' });
    assert.equal(cart.status, 200);
    assert.deepEqual(cartOf(cart), ['umbrella'], 'a guest session starts empty: nothing was inherited');
    assert.notEqual(browser.sid, planted);
    assert.match(browser.sid ?? '', SESSION_ID_PATTERN);
    assert.equal(await exists(path.join(server.dirs.sessionsDir, sessionFileName(planted))), false);

    const victim = server.client();
    const plantedBeforeLogin = unknownId();
    victim.cookies.set('sid', plantedBeforeLogin);
    assert.equal((await victim.json('PUT', '/api/preferences', { theme: 'dark' })).status, 200);
    assert.notEqual(victim.sid, plantedBeforeLogin);
    const signer = server.client();
    const plantedAtLogin = unknownId();
    signer.cookies.set('sid', plantedAtLogin);
    assert.equal((await signer.json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
    assert.notEqual(signer.sid, plantedAtLogin);
    for (const id of [plantedBeforeLogin, plantedAtLogin]) {
      assert.equal(await exists(path.join(server.dirs.sessionsDir, sessionFileName(id))), false);
    }
  });

  it('leaves sessions/ untouched by 1000 anonymous requests and 50 failed logins', async (t) => {
    const server = await startTestServer(t);
    const alice = server.client();
    await register(alice, 'alice', PASSWORD);
    const before = await snapshotDir(server.dirs.sessionsDir);
    assert.deepEqual(
      Object.keys(before),
      [sessionFileName(alice.sid ?? ''), USER_INDEX_DIR],
      "only alice's own session exists, and its index",
    );

    const requests: Array<(browser: Client) => Promise<unknown>> = [
      (b) => b.get('/'),
      (b) => b.get('/login'),
      (b) => b.get('/register'),
      (b) => b.get('/dashboard'),
      (b) => b.get('/profile'),
      (b) => b.get('/login?next=/profile&error=invalid'),
      (b) => b.request('HEAD', '/login'),
      (b) => b.get('/style.css'),
      (b) => b.get('/js/api.js'),
      (b) => b.get('/favicon.svg'),
      (b) => b.get('/api/me'),
      (b) => b.get('/api/session'),
      (b) => b.get('/no/such/page'),
      (b) => b.get('/api/nothing-here'),
      (b) => b.get('/.env'),
      (b) => b.get('/logout'),
      (b) => b.json('DELETE', '/api/cart'),
      (b) => b.json('POST', '/logout'),
    ];
    const cookies = [undefined, 'not-an-id', unknownId(), '../../etc/passwd', 'x'.repeat(43)];
    const jobs = Array.from({ length: ANONYMOUS_REQUESTS }, (_, i) => async () => {
      const browser = server.client();
      const cookie = cookies[i % cookies.length];
      if (cookie !== undefined) browser.cookies.set('sid', cookie);
      await requests[i % requests.length]!(browser);
    });
    for (let i = 0; i < jobs.length; i += PARALLEL) await Promise.all(jobs.slice(i, i + PARALLEL).map((job) => job()));

    for (let i = 0; i < FAILED_LOGINS; i++) {
      const username = i < FAILURES_PER_ACCOUNT ? 'alice' : `nobody${Math.floor(i / FAILURES_PER_ACCOUNT)}`;
      const browser = server.client();
      const reply =
        i % 2 === 0
          ? await browser.json('POST', '/login', { username, password: 'wrong password' })
          : await browser.form('/login', { username, password: 'wrong password' });
      assert.ok(reply.status === 401 || reply.status === 303, `failed login ${i} answered ${reply.status}`);
      assert.deepEqual(reply.headers.getSetCookie(), []);
    }

    assert.deepEqual(await snapshotDir(server.dirs.sessionsDir), before);
  });
});
