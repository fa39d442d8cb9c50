import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Config } from '../../lib/config.ts';
import { Logger } from '../../lib/log.ts';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { register } from '../support/client.ts';
import { fakeClock } from '../support/clock.ts';
import { bodyOf, sessionView } from '../support/json.ts';
import { makeDirs, startTestServer } from '../support/server.ts';
import type { Cleanup } from '../support/server.ts';

/** Starts a server whose explain log is captured into `blocks`, one entry per request. */
async function explainedServer(t: Cleanup, overrides: Partial<Config> = {}) {
  const blocks: string[] = [];
  const logger = new Logger({ mode: 'explain', write: (text) => blocks.push(text), color: false });
  const server = await startTestServer(t, overrides, { logger });
  return { server, blocks };
}

describe('the explain log narrates a sign-in', () => {
  it('tells each session step of the request, and never prints a whole ID', async (t) => {
    const { server, blocks } = await explainedServer(t);
    await register(server.client(), 'alice');
    const browser = server.client();
    await browser.json('POST', '/api/cart', { item: 'scarf' });
    const guestId = browser.sid!;
    blocks.length = 0;

    const reply = await browser.form('/login', { username: 'alice', password: 'correct horse battery' });
    assert.equal(reply.status, 303);
    const newId = browser.sid!;
    const block = blocks.find((text) => text.startsWith('POST /login'));
    assert.ok(block, `no block for POST /login in ${JSON.stringify(blocks)}`);

    const steps = [
      `cookie   sid=${guestId.slice(0, 6)}… (well formed)`,
      `session  read sessions/${storageKey(guestId).slice(0, 16)}….json: guest, not expired`,
      'password scrypt hash matches',
      `rotate   ID replaced at sign-in (was ${guestId.slice(0, 6)}…, now ${newId.slice(0, 6)}…); cart and theme carried over`,
      `file     wrote sessions/${storageKey(newId).slice(0, 16)}….json (temp file, then rename)`,
      `file     deleted sessions/${storageKey(guestId).slice(0, 16)}….json: the old ID is dead`,
      'cookie   set sid (HttpOnly; SameSite=Lax; Path=/)',
    ];
    let from = 0;
    for (const step of steps) {
      const at = block.indexOf(step, from);
      assert.ok(at >= from, `missing or out of order: "${step}" in\n${block}`);
      from = at + step.length;
    }
    for (const text of blocks) {
      assert.equal(text.includes(guestId), false, 'the guest ID appears whole in the log');
      assert.equal(text.includes(newId), false, 'the new ID appears whole in the log');
    }
  });

  it('says when a session has expired and that its file was deleted on the spot', async (t) => {
    const time = fakeClock(Date.parse('2026-11-22T10:00:00.000Z'));
    const blocks: string[] = [];
    const logger = new Logger({ mode: 'explain', write: (text) => blocks.push(text), color: false });
    const server = await startTestServer(t, { idleTimeoutMs: 20_000 }, { logger, clock: time.clock });
    const browser = server.client();
    await register(browser, 'alice');
    const file = `sessions/${storageKey(browser.sid!).slice(0, 16)}….json`;
    time.advance(21_000);
    blocks.length = 0;

    assert.equal((await browser.get('/api/me')).status, 401);
    assert.match(
      blocks.join('\n'),
      new RegExp(`session  ${file}: expired, unused for longer than SESSION_IDLE_TIMEOUT: file deleted, no session`),
    );
    blocks.length = 0;
    await browser.get('/api/me');
    assert.match(blocks.join('\n'), /no such file \(an ID this server never issued, or one that has ended\)/);
  });

  it('names the sessions directory as SESSIONS_DIR does, here and in the inspector', async (t) => {
    const { root } = await makeDirs(t);
    const { server, blocks } = await explainedServer(t, { sessionsDir: path.join(root, 'coat-racks') });
    const browser = server.client();
    await browser.json('POST', '/api/cart', { item: 'scarf' });
    const file = `coat-racks/${storageKey(browser.sid!)}.json`;
    assert.match(blocks.join('\n'), new RegExp(`created ${file.slice(0, 'coat-racks/'.length + 16)}….json for new guest session`));
    assert.equal(sessionView(await browser.get('/api/session')).file, file);
    assert.doesNotMatch(blocks.join('\n'), /sessions\//);
  });

  it('says why a malformed cookie is ignored without reading anything', async (t) => {
    const { server, blocks } = await explainedServer(t);
    await server.client().request('GET', '/api/me', undefined, { Cookie: 'sid=../../etc/passwd' });
    assert.match(blocks.join('\n'), /sid is not 43 base64url characters: ignored, nothing read/);
  });
});

describe('the session inspector (GET /api/session)', () => {
  it('shows where the session lives, its deadlines, its data and its cookie, with the ID shortened', async (t) => {
    const server = await startTestServer(
      t,
      { idleTimeoutMs: 600_000, absoluteTimeoutMs: 3_600_000 },
      { clock: fakeClock(Date.parse('2026-11-22T10:00:00.000Z')).clock },
    );
    const browser = server.client();
    await browser.json('PUT', '/api/preferences', { theme: 'dark' });
    const id = browser.sid!;

    const view = sessionView(await browser.get('/api/session'));
    assert.equal(view.id, `${id.slice(0, 6)}…`);
    assert.equal(view.file, `sessions/${storageKey(id)}.json`);
    assert.equal(view.createdAt, '2026-11-22T10:00:00.000Z');
    assert.equal(view.lastSeenAt, '2026-11-22T10:00:00.000Z');
    assert.equal(view.idleExpiresAt, '2026-11-22T10:10:00.000Z');
    assert.equal(view.absoluteExpiresAt, '2026-11-22T11:00:00.000Z');
    assert.equal(view.user, null);
    assert.deepEqual(view.data, { cart: [], theme: 'dark' });
    assert.deepEqual(view.cookie, { name: 'sid', httpOnly: true, sameSite: 'Lax', secure: false, path: '/' });
    assert.equal(view.serverTime, '2026-11-22T10:00:00.000Z');
    assert.equal(view.touchIntervalSeconds, 60);
    assert.equal(JSON.stringify(view).includes(id), false, 'the inspector must never show the whole ID');
  });

  it('answers 401 when there is no session, and creating none', async (t) => {
    const server = await startTestServer(t);
    const reply = await server.client().get('/api/session');
    assert.equal(reply.status, 401);
    assert.equal(bodyOf(reply).error, 'no_session');
  });
});

describe('the event list and the guest → sign-in carry-over', () => {
  it('keeps the cart and theme while the ID changes, and records why', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await browser.json('POST', '/api/cart', { item: 'hat' });
    await browser.json('POST', '/api/cart', { item: 'gloves' });
    await browser.json('PUT', '/api/preferences', { theme: 'dark' });
    const guestId = browser.sid!;

    await register(browser, 'bob');
    const view = sessionView(await browser.get('/api/session'));
    assert.notEqual(browser.sid, guestId);
    assert.deepEqual(view.data, { cart: ['hat', 'gloves'], theme: 'dark' });
    assert.equal(view.user, 'bob');
    assert.deepEqual(
      view.events.map((event: { event: string }) => event.event),
      [
        'created as guest',
        'theme set to dark',
        `ID replaced at registration (was ${guestId.slice(0, 6)}…, now ${browser.sid!.slice(0, 6)}…)`,
      ],
    );
    assert.deepEqual(
      view.rotations.map(({ reason, from, to }: { reason: string; from: string; to: string }) => ({ reason, from, to })),
      [{ reason: 'registration', from: `${guestId.slice(0, 6)}…`, to: `${browser.sid!.slice(0, 6)}…` }],
      'the inspector gets the replacement as data, not only as a sentence',
    );
    assert.equal((await server.client().request('GET', '/api/session', undefined, { Cookie: `sid=${guestId}` })).status, 401);
  });

  it('records a password change as another ID replacement', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'carol');
    const before = browser.sid!;
    const changed = await browser.json('POST', '/api/password', {
      currentPassword: 'correct horse battery',
      newPassword: 'another long secret',
    });
    assert.equal(changed.status, 200);
    const events = sessionView(await browser.get('/api/session')).events.map((event: { event: string }) => event.event);
    assert.equal(events.at(-1), `ID replaced at password change (was ${before.slice(0, 6)}…, now ${browser.sid!.slice(0, 6)}…)`);
    const rotations = sessionView(await browser.get('/api/session')).rotations;
    assert.deepEqual(
      rotations.map((rotation: { reason: string }) => rotation.reason),
      ['password change'],
    );
  });
});
