import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PASSWORD, register, SESSION_ID_PATTERN } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { sessionFileName } from '../support/files.ts';
import { bodyOf, sessionView } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const NEW_PASSWORD = 'a brand new passphrase';

async function hasFile(server: TestServer, id: string): Promise<boolean> {
  return access(path.join(server.dirs.sessionsDir, sessionFileName(id))).then(
    () => true,
    () => false,
  );
}

/** attackerWith is a second browser that holds `id`: what an attacker who planted or saw the ID can do with it. */
function attackerWith(server: TestServer, id: string): Client {
  const attacker = server.client();
  attacker.cookies.set('sid', id);
  return attacker;
}

/** startGuest gives `browser` a guest session with a cart item and returns its ID. */
async function startGuest(browser: Client): Promise<string> {
  assert.equal((await browser.json('POST', '/api/cart', { item: 'umbrella' })).status, 200);
  const id = browser.sid;
  assert.match(id ?? '', SESSION_ID_PATTERN);
  return id!;
}

describe('session fixation: every change of privilege replaces the session ID', () => {
  it('login replaces the guest ID, keeps the cart, deletes the old file, and the old ID stops working', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'alice', PASSWORD);
    const browser = server.client();
    const guestId = await startGuest(browser);
    assert.equal(await hasFile(server, guestId), true);

    const login = await browser.form('/login', { username: 'alice', password: PASSWORD });
    assert.equal(login.status, 303);
    assert.notEqual(browser.sid, guestId);
    assert.match(browser.sid ?? '', SESSION_ID_PATTERN);
    assert.equal(await hasFile(server, guestId), false, 'the guest file is deleted');
    assert.equal(await hasFile(server, browser.sid!), true);
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['umbrella']);

    const stale = attackerWith(server, guestId);
    assert.equal((await stale.get('/api/me')).status, 401);
    assert.equal((await stale.get('/api/session')).status, 401);
  });

  it('register replaces the guest ID, keeps the cart, deletes the old file, and the old ID stops working', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    const guestId = await startGuest(browser);

    await register(browser, 'bob', PASSWORD);
    assert.notEqual(browser.sid, guestId);
    assert.equal(await hasFile(server, guestId), false);
    assert.equal(await hasFile(server, browser.sid!), true);
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, ['umbrella']);
    assert.equal((await attackerWith(server, guestId).get('/api/me')).status, 401);
  });

  it('a password change replaces the ID, deletes the old file, and ends every other session of the user', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'carol', PASSWORD);
    const before = browser.sid!;
    const otherDevice = server.client();
    assert.equal((await otherDevice.json('POST', '/login', { username: 'carol', password: PASSWORD })).status, 200);
    const otherId = otherDevice.sid!;

    const change = await browser.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(change.status, 200);
    assert.notEqual(browser.sid, before);
    assert.match(browser.sid ?? '', SESSION_ID_PATTERN);
    assert.equal(await hasFile(server, before), false);
    assert.equal(bodyOf(await browser.get('/api/me')).username, 'carol');
    assert.equal((await attackerWith(server, before).get('/api/me')).status, 401);

    // The other device's session ended with the password: refused, and its file and cookie go.
    const ended = await otherDevice.get('/api/me');
    assert.equal(ended.status, 401);
    assert.equal(otherDevice.sid, undefined, 'the ended session has its cookie cleared');
    assert.equal(await hasFile(server, otherId), false);
  });

  it("makes an attacker's own guest session, planted in the victim's browser, useless once the victim signs in", async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'victim', PASSWORD);
    const attacker = server.client();
    const plantedId = await startGuest(attacker);

    const victim = server.client();
    victim.cookies.set('sid', plantedId);
    assert.equal((await attacker.get('/api/me')).status, 401, 'before: the planted session is only a guest');
    const login = await victim.form('/login', { username: 'victim', password: PASSWORD });
    assert.equal(login.status, 303);
    assert.notEqual(victim.sid, plantedId);
    assert.equal(bodyOf(await victim.get('/api/me')).username, 'victim');

    assert.equal((await attacker.get('/api/me')).status, 401, 'after: the planted ID does not ride the sign-in');
    assert.equal((await attackerWith(server, plantedId).get('/api/session')).status, 401);
    assert.equal(await hasFile(server, plantedId), false);
  });

  it('makes a made-up ID planted before sign-in worthless before and after', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'victim', PASSWORD);
    const plantedId = randomBytes(32).toString('base64url');
    const victim = server.client();
    victim.cookies.set('sid', plantedId);

    assert.equal((await attackerWith(server, plantedId).get('/api/me')).status, 401);
    assert.equal((await victim.json('POST', '/login', { username: 'victim', password: PASSWORD })).status, 200);
    assert.notEqual(victim.sid, plantedId);
    assert.equal((await attackerWith(server, plantedId).get('/api/me')).status, 401);
    assert.equal((await attackerWith(server, plantedId).get('/dashboard')).status, 303);
    assert.equal(await hasFile(server, plantedId), false);
  });

  it('replaces even a signed-in ID when someone signs in again on top of it', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'dave', PASSWORD);
    await register(server.client(), 'erin', PASSWORD);
    const daveId = browser.sid!;

    assert.equal((await browser.json('POST', '/login', { username: 'erin', password: PASSWORD })).status, 200);
    assert.notEqual(browser.sid, daveId);
    assert.equal(await hasFile(server, daveId), false);
    assert.equal((await attackerWith(server, daveId).get('/api/me')).status, 401);
    assert.equal(bodyOf(await browser.get('/api/me')).username, 'erin');
  });
});
