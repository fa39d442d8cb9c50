import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { answerClientError, noteResponse } from '../../lib/client-errors.ts';
import { RawExchange } from '../support/raw-http.ts';

const HALF_A_BODY = 'first half';

/**
 * heldServer is a plain node:http server with Cloakroom's client-error
 * handling, whose every answer sends its headers and half its body, then
 * waits: an answer that has started and not finished.
 */
async function heldServer(t: TestContext): Promise<{ url: string; started: Promise<void> }> {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const server = http.createServer((_req, res) => {
    noteResponse(res);
    res.writeHead(200, { 'Content-Length': HALF_A_BODY.length * 2 });
    res.write(HALF_A_BODY, () => markStarted());
  });
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, started };
}

describe('answers to requests Node cannot parse', () => {
  it('answers 400 with the security headers on a connection whose earlier answer has finished', async (t) => {
    let markFinished!: () => void;
    const finished = new Promise<void>((resolve) => (markFinished = resolve));
    const server = http.createServer((_req, res) => {
      noteResponse(res);
      res.end('done', () => markFinished());
    });
    server.on('clientError', answerClientError);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const exchange = await RawExchange.open(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { untilClose: true });
    await exchange.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await finished;
    await exchange.write('NOT A REQUEST\r\n\r\n');
    await exchange.outcome;
    assert.match(exchange.received(), /\r\n\r\ndoneHTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(exchange.received(), /\r\nContent-Security-Policy: default-src 'self'/);
  });

  it('never writes into an answer that has started: the connection is closed instead', async (t) => {
    const { url, started } = await heldServer(t);
    const exchange = await RawExchange.open(url, { untilClose: true });
    await exchange.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await started;
    await exchange.write('NOT A REQUEST\r\n\r\n');
    assert.equal((await exchange.outcome).kind, 'closed');
    // The held answer is cut short, and nothing follows its first half.
    assert.ok(exchange.received().endsWith(`\r\n\r\n${HALF_A_BODY}`), exchange.received());
    assert.doesNotMatch(exchange.received(), /400 Bad Request/);
  });
});
