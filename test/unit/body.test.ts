import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MAX_BODY_BYTES, readBody } from '../../lib/body.ts';
import { HttpError } from '../../lib/http-error.ts';
import { parseJsonObject } from '../support/json.ts';

interface Answer {
  status: number;
  /** What readBody returned (status 200) or the HttpError's code. */
  result: { kind?: string; fields?: Record<string, unknown>; code?: string };
}

/** answerOf is what the test server sent back: its status and the JSON object it wrote. */
function answerOf(res: http.IncomingMessage, parts: Buffer[]): Answer {
  const result = parseJsonObject(Buffer.concat(parts).toString('utf8'), 'the answer');
  return { status: res.statusCode ?? 0, result };
}

let server: http.Server;
let port: number;

// A real server on port 0: readBody runs on real IncomingMessages, chunked encoding included.
before(async () => {
  server = http.createServer((req, res) => {
    readBody(req).then(
      ({ kind, fields }) => res.writeHead(200).end(JSON.stringify({ kind, fields: { ...fields } })),
      (error: unknown) => {
        const httpError = error instanceof HttpError ? error : new HttpError(500, 'unexpected', String(error));
        res.writeHead(httpError.status, { Connection: 'close' }).end(JSON.stringify({ code: httpError.code }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** post sends `chunks` in order; without a Content-Length header Node sends them chunked. */
function post(headers: Record<string, string | number>, ...chunks: Array<string | Buffer>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve(answerOf(res, parts)));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

interface Case {
  it: string;
  headers: Record<string, string>;
  body: string | Buffer;
  status: number;
  result: Answer['result'];
}

describe('readBody', () => {
  describe('parses forms and JSON', () => {
    const cases: Case[] = [
      {
        it: 'reads a urlencoded form',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'username=alice&password=p%40ss+word',
        status: 200,
        result: { kind: 'form', fields: { username: 'alice', password: 'p@ss word' } },
      },
      {
        it: 'keeps the first of two fields with one name',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'a=1&a=2',
        status: 200,
        result: { kind: 'form', fields: { a: '1' } },
      },
      {
        it: 'reads a body without Content-Type as a form',
        headers: {},
        body: 'a=1',
        status: 200,
        result: { kind: 'form', fields: { a: '1' } },
      },
      {
        it: 'reads a JSON object, keeping non-string values',
        headers: { 'Content-Type': 'application/json' },
        body: '{"item":"apple","count":2,"ok":true}',
        status: 200,
        result: { kind: 'json', fields: { item: 'apple', count: 2, ok: true } },
      },
      {
        it: 'accepts a charset parameter and any case in the media type',
        headers: { 'Content-Type': 'Application/JSON; charset=UTF-8' },
        body: '{"theme":"dark"}',
        status: 200,
        result: { kind: 'json', fields: { theme: 'dark' } },
      },
      {
        it: 'accepts a charset parameter on a form',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' },
        body: 'item=caf%C3%A9',
        status: 200,
        result: { kind: 'form', fields: { item: 'café' } },
      },
      {
        it: 'reads an empty JSON body as an empty object',
        headers: { 'Content-Type': 'application/json' },
        body: '',
        status: 200,
        result: { kind: 'json', fields: {} },
      },
      {
        it: 'reads multi-byte UTF-8 JSON',
        headers: { 'Content-Type': 'application/json' },
        body: '{"displayName":"Zoë 🧥"}',
        status: 200,
        result: { kind: 'json', fields: { displayName: 'Zoë 🧥' } },
      },
    ];
    for (const c of cases) {
      it(c.it, async () => assert.deepEqual(await post(c.headers, c.body), { status: c.status, result: c.result }));
    }
  });

  describe('refuses what it cannot read', () => {
    const cases: Case[] = [
      {
        it: 'gives 415 for text/plain',
        headers: { 'Content-Type': 'text/plain' },
        body: 'hi',
        status: 415,
        result: { code: 'unsupported_media_type' },
      },
      {
        it: 'gives 415 for multipart/form-data',
        headers: { 'Content-Type': 'multipart/form-data; boundary=x' },
        body: '--x--',
        status: 415,
        result: { code: 'unsupported_media_type' },
      },
      {
        it: 'gives 415 for a type that only starts like JSON',
        headers: { 'Content-Type': 'application/jsonp' },
        body: '{}',
        status: 415,
        result: { code: 'unsupported_media_type' },
      },
      {
        it: 'gives 400 for malformed JSON',
        headers: { 'Content-Type': 'application/json' },
        body: '{"a":',
        status: 400,
        result: { code: 'malformed_json' },
      },
      {
        it: 'gives 400 for a JSON array',
        headers: { 'Content-Type': 'application/json' },
        body: '["a"]',
        status: 400,
        result: { code: 'malformed_json' },
      },
      {
        it: 'gives 400 for a JSON string',
        headers: { 'Content-Type': 'application/json' },
        body: '"a"',
        status: 400,
        result: { code: 'malformed_json' },
      },
      {
        it: 'gives 400 for JSON null',
        headers: { 'Content-Type': 'application/json' },
        body: 'null',
        status: 400,
        result: { code: 'malformed_json' },
      },
      {
        it: 'gives 400 for a body that is not valid UTF-8',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: Buffer.from([0x61, 0x3d, 0xff, 0xfe]),
        status: 400,
        result: { code: 'bad_encoding' },
      },
    ];
    for (const c of cases) {
      it(c.it, async () => assert.deepEqual(await post(c.headers, c.body), { status: c.status, result: c.result }));
    }
  });

  it('keeps a form field named __proto__ as a plain field', async () => {
    const answer = await post({ 'Content-Type': 'application/x-www-form-urlencoded' }, '__proto__=x&a=1');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.result.fields, { ['__proto__']: 'x', a: '1' });
  });

  describe('limits bodies to 16 KiB', () => {
    it('accepts a body of exactly the limit', async () => {
      const body = `a=${'x'.repeat(MAX_BODY_BYTES - 2)}`;
      const answer = await post({ 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': MAX_BODY_BYTES }, body);
      assert.equal(answer.status, 200);
      assert.equal((answer.result.fields?.a as string).length, MAX_BODY_BYTES - 2);
    });

    // A timeout, so a regression that waits for the body fails here instead of stalling the run.
    it('gives 413 from Content-Length alone, before a byte of the body arrives', { timeout: 10_000 }, async () => {
      // The body is never finished: if readBody waited for it, this would hang instead of answering.
      const answer = await new Promise<Answer>((resolve, reject) => {
        const req = http.request(
          {
            port,
            host: '127.0.0.1',
            method: 'POST',
            path: '/',
            headers: { 'Content-Type': 'application/json', 'Content-Length': MAX_BODY_BYTES + 1 },
          },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (part: Buffer) => parts.push(part));
            res.on('end', () => {
              req.destroy();
              resolve(answerOf(res, parts));
            });
          },
        );
        req.on('error', reject);
        req.flushHeaders();
      });
      assert.deepEqual(answer, { status: 413, result: { code: 'body_too_large' } });
    });

    it('accepts a chunked body of exactly the limit', async () => {
      const half = 'x'.repeat(MAX_BODY_BYTES / 2);
      const answer = await post({ 'Content-Type': 'application/x-www-form-urlencoded' }, `a=${half.slice(2)}`, half);
      assert.equal(answer.status, 200);
    });

    it('gives 413 when a chunked body grows past the limit', async () => {
      const half = 'x'.repeat(MAX_BODY_BYTES / 2);
      const answer = await post({ 'Content-Type': 'application/x-www-form-urlencoded' }, `a=${half}`, half);
      assert.deepEqual(answer, { status: 413, result: { code: 'body_too_large' } });
    });
  });
});

// The tests above size their bodies from MAX_BODY_BYTES, so a wrong constant
// would move them along with it. These pin the limit the contract names,
// 16 KiB, as a literal, and catch a limit too high by an answer, not by a
// broken pipe: every body here is small enough to be sent whole.
describe('readBody: the limit is 16 KiB, exactly', () => {
  const LIMIT = 16384;
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

  it('accepts 16 384 bytes, declared by Content-Length or chunked', async () => {
    const body = `a=${'x'.repeat(LIMIT - 2)}`;
    assert.equal((await post({ ...form, 'Content-Length': LIMIT }, body)).status, 200);
    assert.equal((await post(form, body.slice(0, LIMIT / 2), body.slice(LIMIT / 2))).status, 200);
  });

  it('answers 413 to 16 385 bytes, declared by Content-Length or chunked', async () => {
    const body = `a=${'x'.repeat(LIMIT - 1)}`;
    const tooLarge = { status: 413, result: { code: 'body_too_large' } };
    assert.deepEqual(await post({ ...form, 'Content-Length': LIMIT + 1 }, body), tooLarge);
    assert.deepEqual(await post(form, body.slice(0, LIMIT / 2), body.slice(LIMIT / 2)), tooLarge);
  });
});
