import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CONNECTION_TIMEOUTS } from '../../lib/app.ts';
import type { ConnectionTimeouts } from '../../lib/app.ts';
import { RawExchange } from '../support/raw-http.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

/** Short timeouts, so a slow client is seen off in a fraction of a second rather than in 15 or 30. */
const SHORT: ConnectionTimeouts = { headersMs: 300, requestMs: 600, keepAliveMs: 100, checkEveryMs: 50 };
/** How often the slow client sends its next byte: well within every timeout, so only the total can stop it. */
const DRIP_MS = 40;
/** A slow client is cut off within its timeout and one check of Node's, with room for a busy machine. */
const SLACK_MS = 1500;

/**
 * heldFor drips `head`, then `body`, a line or a byte at a time, until the
 * server closes the connection, and says how long that took and what the
 * server answered.
 */
async function heldFor(server: TestServer, head: string[], body = ''): Promise<{ ms: number; received: string }> {
  const exchange = await RawExchange.open(server.url);
  const started = performance.now();
  let closed = false;
  void exchange.outcome.then(() => (closed = true));
  const drip = setInterval(() => {
    const next = head.shift() ?? body.slice(0, 1);
    if (head.length === 0) body = body.slice(1);
    if (next !== '') exchange.write(next).catch(() => undefined);
  }, DRIP_MS);
  await exchange.outcome;
  clearInterval(drip);
  assert.ok(closed);
  return { ms: performance.now() - started, received: exchange.received() };
}

describe('slow clients cannot hold a connection for long', () => {
  it('has the README figures by default: 15 s for the headers, 30 s for the whole request, 5 s keep-alive, MAX_CONNECTIONS', async (t) => {
    const { app } = await startTestServer(t, { maxConnections: 1000 });
    assert.deepEqual(CONNECTION_TIMEOUTS, { headersMs: 15_000, requestMs: 30_000, keepAliveMs: 5_000, checkEveryMs: 1_000 });
    assert.equal(app.server.headersTimeout, 15_000);
    assert.equal(app.server.requestTimeout, 30_000);
    assert.equal(app.server.keepAliveTimeout, 5_000);
    assert.equal(app.server.maxConnections, 1000);
  });

  it(
    'answers 408 and closes a connection whose headers come one line at a time, once the headers timeout has passed',
    { timeout: 10_000 },
    async (t) => {
      const server = await startTestServer(t, {}, { connectionTimeouts: SHORT });
      const lines = ['GET /api/me HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n', ...Array.from({ length: 1000 }, (_, i) => `X-Slow-${i}: a\r\n`)];
      const { ms, received } = await heldFor(server, lines);
      t.diagnostic(`held ${ms.toFixed(0)} ms`);
      assert.match(received, /^HTTP\/1\.1 408 /);
      assert.ok(ms >= SHORT.headersMs - DRIP_MS && ms < SHORT.headersMs + SLACK_MS, `held ${ms.toFixed(0)} ms`);
    },
  );

  it(
    'answers 408 and closes a connection whose body comes one byte at a time, once the request timeout has passed',
    { timeout: 10_000 },
    async (t) => {
      const server = await startTestServer(t, {}, { connectionTimeouts: SHORT });
      const body = JSON.stringify({ item: 'x'.repeat(200) });
      const head = [
        `POST /api/cart HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      ];
      const { ms, received } = await heldFor(server, head, body);
      t.diagnostic(`held ${ms.toFixed(0)} ms`);
      assert.match(received, /^HTTP\/1\.1 408 /);
      assert.ok(ms >= SHORT.requestMs - DRIP_MS && ms < SHORT.requestMs + SLACK_MS, `held ${ms.toFixed(0)} ms`);
    },
  );

  it('closes a new connection at once beyond MAX_CONNECTIONS, and serves again once one has gone', { timeout: 10_000 }, async (t) => {
    const server = await startTestServer(t, { maxConnections: 2 });
    const held = [await RawExchange.open(server.url), await RawExchange.open(server.url)];
    const connections = (): Promise<number> =>
      new Promise((resolve, reject) => server.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    while ((await connections()) < 2) await nextTurn();

    const third = await RawExchange.open(server.url);
    assert.deepEqual(await third.outcome, { kind: 'closed' }, 'closed without a word');

    await held[0]?.write('GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await held[0]?.outcome;
    while ((await connections()) > 1) await nextTurn();
    const fourth = await RawExchange.open(server.url);
    await fourth.write('GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    const outcome = await fourth.outcome;
    assert.equal(outcome.kind === 'answered' ? outcome.response.status : outcome.kind, 401);
    await held[1]?.write('GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await held[1]?.outcome;
  });
});
