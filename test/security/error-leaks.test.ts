import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { describe, it } from 'node:test';
import { nodeFileSystem } from '../../lib/file-system.ts';
import type { FileSystem } from '../../lib/file-system.ts';
import { Logger } from '../../lib/log.ts';
import { PASSWORD, register } from '../support/client.ts';
import type { Client, Reply } from '../support/client.ts';
import { bodyOf } from '../support/json.ts';
import { rawExchange } from '../support/raw-http.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const SECRET_PATH = '/secret/path/of/the/server';
const NESTING_DEPTH = 5000;

/** assertNoLeak fails when a reply shows anything of the server's insides: messages, stacks, paths. */
function assertNoLeak(server: TestServer, context: string, reply: { text: string; headers: Headers }): void {
  const everything = `${reply.text}\n${[...reply.headers].map(([name, value]) => `${name}: ${value}`).join('\n')}`;
  for (const secret of ['boom', SECRET_PATH, 'TypeError', 'Error:', 'node:internal', '.ts:', process.cwd(), server.dirs.root]) {
    assert.ok(!everything.includes(secret), `${context}: the reply shows ${JSON.stringify(secret)}`);
  }
  assert.doesNotMatch(everything, /\bat \S+ \(|\bat .+:\d+:\d+/, `${context}: the reply holds a stack frame`);
}

/** capturingLogger keeps what the server logs, to show that the details went there and nowhere else. */
function capturingLogger(lines: string[]): Logger {
  return new Logger({ mode: 'silent', write: (text) => lines.push(text), writeError: (text) => lines.push(text) });
}

function withUnknownSession(server: TestServer): Client {
  const browser = server.client();
  browser.cookies.set('sid', randomBytes(32).toString('base64url'));
  return browser;
}

async function assertStillServing(server: TestServer): Promise<void> {
  assert.equal((await server.client().get('/login')).status, 200);
  const browser = server.client();
  await register(browser, `after${randomBytes(4).toString('hex')}`, PASSWORD);
  assert.equal((await browser.get('/api/me')).status, 200);
}

describe('error leaks: failures stay on the server, the answer says only that something went wrong', () => {
  it('answers a bug deep in the session store with a bare 500, logs the details, and keeps serving', async (t) => {
    const lines: string[] = [];
    let armed = false;
    // A store that trips over a programming error (not a failing disk): Stats whose method throws.
    const buggyStats = {
      isFile: () => {
        throw new TypeError(`boom at ${SECRET_PATH}/sessions/store.ts:42:7`);
      },
    } as unknown as Stats;
    const fs: FileSystem = {
      ...nodeFileSystem,
      statSync: ((...args: Parameters<typeof nodeFileSystem.statSync>) =>
        armed ? buggyStats : nodeFileSystem.statSync(...args)) as FileSystem['statSync'],
    };
    const server = await startTestServer(t, {}, { fs, logger: capturingLogger(lines) });

    armed = true;
    for (const [context, request] of [
      ['an API request', (b: Client) => b.get('/api/me')],
      ['a page request', (b: Client) => b.get('/dashboard')],
      ['a form post', (b: Client) => b.form('/logout', {})],
    ] as const) {
      const reply = await request(withUnknownSession(server));
      assert.equal(reply.status, 500, context);
      assertNoLeak(server, context, reply);
      assert.ok(reply.text.length > 0, `${context}: the answer still says something went wrong`);
    }
    armed = false;
    assert.ok(
      lines.some((line) => line.includes('boom') && line.includes(SECRET_PATH)),
      'the details went to the log',
    );
    await assertStillServing(server);
  });

  it('answers a file system seam that throws a non-system error with no detail either', async (t) => {
    let armed = false;
    const fs: FileSystem = {
      ...nodeFileSystem,
      statSync: ((...args: Parameters<typeof nodeFileSystem.statSync>) => {
        if (armed) throw new TypeError(`boom at ${SECRET_PATH}`);
        return nodeFileSystem.statSync(...args);
      }) as FileSystem['statSync'],
    };
    const server = await startTestServer(t, {}, { fs });
    armed = true;
    const reply = await withUnknownSession(server).get('/api/me');
    // The store reports any failure of its file system as "storage unavailable" (503, Retry-After).
    assert.ok(reply.status === 500 || reply.status === 503, `answered ${reply.status}`);
    assertNoLeak(server, 'a throwing seam', reply);
    armed = false;
    await assertStillServing(server);
  });

  it('answers 500 from the last-resort handler when the pipeline itself throws, and keeps serving', async (t) => {
    const lines: string[] = [];
    let armed = false;
    const clock = (): number => {
      if (!armed) return Date.now();
      armed = false;
      throw new TypeError(`boom at ${SECRET_PATH}/clock.ts:1:1`);
    };
    const server = await startTestServer(t, {}, { clock, logger: capturingLogger(lines) });
    armed = true;
    const reply = await server.client().get('/login');
    assert.equal(reply.status, 500);
    assert.equal(reply.text, '');
    assertNoLeak(server, 'the last-resort 500', reply);
    assert.ok(
      lines.some((line) => line.includes(SECRET_PATH)),
      'the details went to the log',
    );
    await assertStillServing(server);
  });

  it('answers every malformed or hostile input with a 4xx that names no internals', async (t) => {
    const server = await startTestServer(t);
    const member = server.client();
    await register(member, 'alice', PASSWORD);
    const nested = `${'['.repeat(NESTING_DEPTH)}${']'.repeat(NESTING_DEPTH)}`;
    const json = (b: Client, method: string, url: string, body: string) =>
      b.request(method, url, body, { 'Content-Type': 'application/json', Accept: 'application/json' });
    const cases: Array<[string, (b: Client) => Promise<Reply>]> = [
      ['a login with an object for a username', (b) => json(b, 'POST', '/login', '{"username":{"$gt":""},"password":"x"}')],
      ['a login body that is an array', (b) => json(b, 'POST', '/login', '[]')],
      ['a login body that is a string', (b) => json(b, 'POST', '/login', '"alice"')],
      ['a login body that is null', (b) => json(b, 'POST', '/login', 'null')],
      ['JSON nested 5000 deep', (b) => json(b, 'POST', '/login', nested)],
      ['truncated JSON', (b) => json(b, 'POST', '/api/cart', '{"item": "tea"')],
      // fetch sends a Uint8Array body byte for byte, so the server sees the invalid sequence itself.
      [
        'invalid UTF-8',
        (b) =>
          b.request('POST', '/api/cart', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) as unknown as string, {
            'Content-Type': 'application/json',
          }),
      ],
      ['a cart item that is an object', (b) => json(b, 'POST', '/api/cart', '{"item":{"toString":"x"}}')],
      ['a cart item with a NUL', (b) => json(b, 'POST', '/api/cart', '{"item":"a\\u0000b"}')],
      ['a theme of __proto__', (b) => json(b, 'PUT', '/api/preferences', '{"theme":"__proto__"}')],
      ['a form with __proto__ fields', (b) => b.form('/login', { '__proto__[admin]': '1', username: 'alice', password: 'x' })],
      [
        'a form with a repeated username',
        (b) =>
          b.request('POST', '/login', 'username=alice&username=root&password=x', { 'Content-Type': 'application/x-www-form-urlencoded' }),
      ],
      ['a display name that is an array', () => json(member, 'PATCH', '/api/profile', '{"displayName":["x"]}')],
      [
        'a current password that is a number',
        () => json(member, 'POST', '/api/password', '{"currentPassword":5,"newPassword":"long enough"}'),
      ],
      ['a broken percent escape in the cookie', (b) => b.get('/api/me', { Cookie: 'sid=%E0%A4%A' })],
      ['a hundred session cookies', (b) => b.get('/api/me', { Cookie: Array.from({ length: 100 }, (_, i) => `sid=${i}`).join('; ') })],
      ['a query of 4000 parameters', (b) => b.get(`/login?${'a=1&'.repeat(4000)}`)],
      ['an unknown method', (b) => b.request('PROPFIND', '/api/me')],
    ];
    for (const [context, request] of cases) {
      const reply = await request(server.client());
      assert.ok(reply.status >= 200 && reply.status < 500, `${context}: answered ${reply.status}`);
      assertNoLeak(server, context, reply);
    }
    for (const raw of [
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n',
      'GET /\0 HTTP/1.1\r\n\r\n',
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-Big: y\r\n'.repeat(2000)}\r\n`,
    ]) {
      const reply = await rawExchange(server.url, raw);
      assert.ok(reply.status >= 400 && reply.status < 500, `a raw malformed request answered ${reply.status}`);
      assertNoLeak(server, 'a raw malformed request', { text: reply.body, headers: reply.headers });
    }
    await assertStillServing(server);
  });

  it('treats usernames like __proto__ and constructor as plain names', async (t) => {
    const server = await startTestServer(t);
    for (const username of ['__proto__', 'constructor', 'hasOwnProperty']) {
      const browser = server.client();
      await register(browser, username, PASSWORD);
      assert.equal(bodyOf(await browser.get('/api/me')).username, username);
      assert.equal((await server.client().json('POST', '/login', { username, password: PASSWORD })).status, 200);
    }
    assert.equal((await server.client().json('POST', '/login', { username: 'toString', password: PASSWORD })).status, 401);
  });
});
