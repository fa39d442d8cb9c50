import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { register } from '../support/client.ts';
import type { Client, Reply } from '../support/client.ts';
import { entriesBesideNotes, gate, hookedFs } from '../support/files.ts';
import type { Gate } from '../support/files.ts';
import { bodyOf, cartOf, parseJsonObject, readSessionFile, sessionView } from '../support/json.ts';
import { answerOf, RawExchange } from '../support/raw-http.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const PARALLEL_REQUESTS = 50;
/** A request that waits on a lock it should not take would wait for ever: fail fast instead. */
const DEADLOCK_TIMEOUT_MS = 10_000;

/** clientWith is a new client holding the cookie `sid`, so parallel requests all name the same session. */
function clientWith(server: TestServer, sid: string): Client {
  const client = server.client();
  client.cookies.set('sid', sid);
  return client;
}

function sessionFile(server: TestServer, sid: string): string {
  return path.join(server.dirs.sessionsDir, `${storageKey(sid)}.json`);
}

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(
    () => true,
    () => false,
  );
}

/**
 * startSlowCartAdd sends the head of POST /api/cart and the first byte of
 * its body, then stops: the request is inside its handler, reading a body
 * that has not arrived. `finish` sends the rest.
 */
async function startSlowCartAdd(server: TestServer, sid: string, item: string) {
  const body = JSON.stringify({ item });
  const exchange = await RawExchange.open(server.url);
  const head = [
    'POST /api/cart HTTP/1.1',
    `Host: ${new URL(server.url).host}`,
    `Cookie: sid=${sid}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    // 100 Continue proves the server has parsed the head and started the request.
    'Expect: 100-continue',
    'Connection: close',
  ].join('\r\n');
  const interim = exchange.interim();
  await exchange.write(`${head}\r\n\r\n`);
  assert.equal(await interim, 100);
  await exchange.write(body.slice(0, 1));
  return { exchange, finish: () => exchange.write(body.slice(1)) };
}

describe('many requests on one session', () => {
  it('keeps every one of 50 parallel cart additions', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'parallel');
    const sid = browser.sid!;
    const items = Array.from({ length: PARALLEL_REQUESTS }, (_, index) => `item-${index}`);

    const replies = await Promise.all(items.map((item) => clientWith(server, sid).json('POST', '/api/cart', { item })));

    assert.deepEqual(
      replies.map((reply) => reply.status),
      items.map(() => 200),
    );
    // Each addition saw the one before it: the read-modify-writes ran one at a time.
    const lengths = replies.map((reply) => cartOf(reply).length).sort((a: number, b: number) => a - b);
    assert.deepEqual(
      lengths,
      items.map((_, index) => index + 1),
    );
    const stored = await readSessionFile(sessionFile(server, sid));
    assert.deepEqual([...stored.data.cart].sort(), [...items].sort());
    const session = await browser.get('/api/session');
    assert.deepEqual([...sessionView(session).data.cart].sort(), [...items].sort());
  });

  it('stays logged out when a logout races 50 cart, preference and /api/me requests', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'racer');
    await browser.json('POST', '/api/cart', { item: 'before-logout' });
    const sid = browser.sid!;

    const inFlight: Array<Promise<{ kind: string; reply: Reply }>> = [];
    let logout: Promise<Reply> | undefined;
    for (let index = 0; index < PARALLEL_REQUESTS; index += 1) {
      // The logout leaves in the middle of the stream, with requests before and after it.
      if (index === PARALLEL_REQUESTS / 2) logout = browser.json('POST', '/logout');
      const client = clientWith(server, sid);
      const kind = ['cart', 'theme', 'me'][index % 3]!;
      const reply =
        kind === 'cart'
          ? client.json('POST', '/api/cart', { item: `racing-${index}` })
          : kind === 'theme'
            ? client.json('PUT', '/api/preferences', { theme: index % 2 === 0 ? 'dark' : 'light' })
            : client.get('/api/me');
      inFlight.push(reply.then((settled) => ({ kind, reply: settled })));
    }
    const settled = await Promise.all(inFlight);

    assert.equal((await logout!).status, 204);
    for (const { kind, reply } of settled) {
      // 200 before the logout; after it a write starts a fresh guest session (200) or finds its session ended (409).
      const allowed = kind === 'me' ? [200, 401] : [200, 409];
      assert.ok(allowed.includes(reply.status), `${kind} answered ${reply.status}: ${reply.text}`);
    }
    assert.equal(await exists(sessionFile(server, sid)), false, 'the logged-out session file must stay deleted');
    const oldCookie = clientWith(server, sid);
    assert.equal((await oldCookie.get('/api/me')).status, 401);
    assert.equal((await oldCookie.get('/api/session')).status, 401);
    // Whatever the late requests created is a new guest session: nobody is signed in, and the old cart is not back.
    for (const name of await entriesBesideNotes(server.dirs.sessionsDir)) {
      const record = await readSessionFile(path.join(server.dirs.sessionsDir, name));
      assert.equal(record.user, null, `${name} must be a guest session`);
      assert.equal(record.data.cart.includes('before-logout'), false);
    }
  });

  it('refuses with 409, and writes nothing, a cart addition whose session was logged out while its body was arriving', async (t) => {
    let loaded: Gate | null = null;
    let watched = '';
    const fs = hookedFs({
      after: (operation, args) => {
        if (operation === 'statSync' && loaded !== null && String(args[0]) === watched) loaded.arrive();
      },
    });
    const server = await startTestServer(t, {}, { fs });
    const browser = server.client();
    await register(browser, 'inflight');
    await browser.json('POST', '/api/cart', { item: 'before-logout' });
    // Read once more so the record is cached and the next load is a single stat.
    await browser.get('/api/me');
    const sid = browser.sid!;
    watched = sessionFile(server, sid);
    loaded = gate();

    const slow = await startSlowCartAdd(server, sid, 'resurrected?');
    await loaded.reached;
    loaded = null;
    assert.equal((await browser.json('POST', '/logout')).status, 204);
    await slow.finish();
    const answer = await answerOf(slow.exchange);

    assert.equal(answer.status, 409);
    assert.equal(parseJsonObject(answer.body).error, 'session_ended');
    assert.equal(answer.headers.get('set-cookie'), null);
    assert.deepEqual(await entriesBesideNotes(server.dirs.sessionsDir), [], 'no session file may be written or recreated');
  });

  it(
    'answers other requests on the same session while one request is slow inside its handler',
    { timeout: DEADLOCK_TIMEOUT_MS },
    async (t) => {
      const server = await startTestServer(t);
      const browser = server.client();
      await register(browser, 'slowpoke');
      const sid = browser.sid!;

      const slow = await startSlowCartAdd(server, sid, 'slow');
      let slowAnswered = false;
      const slowAnswer = answerOf(slow.exchange).finally(() => (slowAnswered = true));

      const quick = await clientWith(server, sid).json('POST', '/api/cart', { item: 'quick' });
      const me = await clientWith(server, sid).get('/api/me');
      assert.equal(quick.status, 200);
      assert.deepEqual(cartOf(quick), ['quick']);
      assert.equal(me.status, 200);
      assert.equal(slowAnswered, false, 'the slow request must still be waiting for its body');

      await slow.finish();
      const answer = await slowAnswer;
      assert.equal(answer.status, 200);
      assert.deepEqual(parseJsonObject(answer.body).cart, ['quick', 'slow']);
    },
  );

  it(
    'answers /api/me while another request on the session is held in the middle of writing its file',
    { timeout: DEADLOCK_TIMEOUT_MS },
    async (t) => {
      let held: Gate | null = null;
      let key = '';
      const fs = hookedFs({
        before: (operation, args) => {
          // Only the temp-file write of this session's next save is held.
          if (operation !== 'writeFile' || held === null || !path.basename(String(args[0])).startsWith(`.${key}.json.`)) return;
          const write = held;
          held = null;
          return write.wait();
        },
      });
      const server = await startTestServer(t, {}, { fs });
      const browser = server.client();
      await register(browser, 'writer');
      const sid = browser.sid!;
      key = storageKey(sid);
      const write = gate();
      held = write;

      let slowAnswered = false;
      const slow = clientWith(server, sid)
        .json('POST', '/api/cart', { item: 'held' })
        .finally(() => (slowAnswered = true));
      await write.reached;
      const me = await clientWith(server, sid).get('/api/me');
      assert.equal(me.status, 200);
      assert.equal(bodyOf(me).username, 'writer');
      assert.equal(slowAnswered, false, 'the held request must still be pending when /api/me has answered');

      // A second write on the session queues behind the held one instead of overwriting it.
      const queued = clientWith(server, sid).json('POST', '/api/cart', { item: 'queued' });
      write.open();
      const [first, second] = await Promise.all([slow, queued]);
      assert.equal(first.status, 200);
      assert.deepEqual(cartOf(first), ['held']);
      assert.equal(second.status, 200);
      assert.deepEqual(cartOf(second), ['held', 'queued']);
      const stored = await readSessionFile(sessionFile(server, sid));
      assert.deepEqual(stored.data.cart, ['held', 'queued']);
    },
  );
});
