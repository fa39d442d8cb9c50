import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, register } from '../support/client.ts';
import { fakeClock } from '../support/clock.ts';
import { hookedFs, sessionFileName, snapshotDir } from '../support/files.ts';
import { parseJsonObject } from '../support/json.ts';
import { rawExchange } from '../support/raw-http.ts';
import { startTestServer, suiteScope } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const LONG_VALUE_LENGTH = 5000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A signed-in record for alice, exactly as the server writes one: it would sign in whoever reached it. */
function aliceRecord(at: number): string {
  const iso = new Date(at).toISOString();
  const record = {
    version: 1,
    createdAt: iso,
    lastSeenAt: iso,
    user: 'alice',
    generation: 0,
    data: { cart: ['planted'], theme: null },
    events: [{ at: iso, event: 'planted by the attacker' }],
  };
  return `${JSON.stringify(record, null, 2)}\n`;
}

async function meWith(server: TestServer, cookieValue: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(server.url);
  const request = Buffer.from(
    `GET /api/me HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: sid=${cookieValue}\r\nConnection: close\r\n\r\n`,
    'utf8',
  );
  const reply = await rawExchange(server.url, request);
  return { status: reply.status, body: reply.body };
}

describe('cookie → file traversal: only a well-formed ID ever names a session file', () => {
  const clock = fakeClock();
  let server: TestServer;
  let root: string;
  let aliceFile: string;
  const controlId = randomBytes(32).toString('base64url');

  const scope = suiteScope();
  after(() => scope.close());

  before(async () => {
    server = await startTestServer(scope.context, {}, { clock: clock.clock });
    root = server.dirs.root;
    await register(server.client(), 'alice', PASSWORD);
    aliceFile = (await readdir(server.dirs.sessionsDir))[0]!;
    const record = aliceRecord(clock.clock());
    // Planted outside sessions/, where a cookie that steered a path would land.
    await writeFile(path.join(root, 'planted.json'), record);
    await writeFile(path.join(root, 'planted'), record);
    await writeFile(path.join(root, 'data', 'planted.json'), record);
    // An expired one: a store that followed the path would delete it as expired.
    const old = clock.clock() - 30 * DAY_MS;
    await writeFile(path.join(root, 'expired.json'), aliceRecord(old));
    // The control: the same record under the right name does sign in, so the table below proves something.
    await writeFile(path.join(server.dirs.sessionsDir, sessionFileName(controlId)), record, { mode: 0o600 });
  });

  it('accepts the planted record when a real ID names it (the control: the record itself would sign in)', async () => {
    const reply = await meWith(server, controlId);
    assert.equal(reply.status, 200);
    assert.equal(parseJsonObject(reply.body).username, 'alice');
  });

  it('signs in with none of 27 hostile cookie values, and reads, writes or deletes nothing', async () => {
    const aliceHash = aliceFile.replace(/\.json$/, '');
    const hostile: Array<[string, string]> = [
      ['a parent-directory step', '../planted'],
      ['a parent-directory step with the extension', '../planted.json'],
      ['two steps into data/', '../data/planted'],
      ['percent-encoded slashes', '..%2Fplanted'],
      ['percent-encoded dots and slash', '%2e%2e%2fplanted'],
      ['double-encoded slashes', '..%252Fplanted'],
      ['double-encoded dots', '%252e%252e%252fplanted'],
      ['a backslash', '..\\planted'],
      ['an encoded backslash', '..%5Cplanted'],
      ['an encoded NUL cutting off the extension', '../planted.json%00'],
      ['a raw NUL byte cutting off the extension', '../planted.json\0'],
      ['a NUL in the middle', `../planted%00${'A'.repeat(30)}`],
      ['an absolute path', path.join(root, 'planted')],
      ['an encoded absolute path', encodeURIComponent(path.join(root, 'planted'))],
      ['a system file', '/etc/passwd'],
      ['a doubled dot-dot-slash', '....//planted'],
      ['an overlong UTF-8 dot', '%c0%ae%c0%ae/planted'],
      ['full-width dots and slash', '．．／planted'],
      ['43 characters with dots and slashes', `../${'A'.repeat(40)}`],
      ["the 64-hex stored name of alice's real session", aliceHash],
      ["alice's stored file name itself", aliceFile],
      ['the stored name of the control ID', sessionFileName(controlId).replace(/\.json$/, '')],
      ['a well-formed ID with one extra character', `${controlId}A`],
      ['a well-formed ID cut by one character', controlId.slice(0, -1)],
      ['a quoted traversal', '"../planted"'],
      ['5000 characters', 'A'.repeat(LONG_VALUE_LENGTH)],
      ['5000 characters of ../', '../'.repeat(Math.ceil(LONG_VALUE_LENGTH / 3))],
    ];
    const sessionsBefore = await snapshotDir(server.dirs.sessionsDir);
    const rootBefore = await snapshotDir(root);
    const dataBefore = await snapshotDir(path.join(root, 'data'));

    for (const [name, value] of hostile) {
      const reply = await meWith(server, value);
      // 401 is "no session"; a raw NUL never gets that far: Node's parser refuses the header with 400.
      assert.ok(reply.status === 401 || (value.includes('\0') && reply.status === 400), `${name}: answered ${reply.status}`);
      assert.ok(!reply.body.includes('alice'), `${name}: signed in as alice`);
    }

    assert.deepEqual(await snapshotDir(server.dirs.sessionsDir), sessionsBefore);
    assert.deepEqual(await snapshotDir(root), rootBefore, 'nothing outside sessions/ was written or deleted');
    assert.deepEqual(await snapshotDir(path.join(root, 'data')), dataBefore);
    assert.match(await readFile(path.join(root, 'expired.json'), 'utf8'), /planted by the attacker/);
  });
});

describe('a malformed cookie value is checked before the store sees it', () => {
  it('makes no file-system call at all for values that are not exactly 43 base64url characters', async (t) => {
    const calls: string[] = [];
    const server = await startTestServer(t, {}, { fs: hookedFs({ before: (operation) => void calls.push(operation) }) });
    // The start-up sweep runs in the background through the same file system; only requests are counted here.
    await server.app.sweeper.runNow();
    const id = randomBytes(32).toString('base64url');
    const malformed = [id.slice(0, 42), `${id}A`, 'short', `${id.slice(0, 42)}.`, `${id.slice(0, 42)}=`, 'A'.repeat(LONG_VALUE_LENGTH)];
    for (const value of malformed) {
      calls.length = 0;
      assert.equal((await meWith(server, value)).status, 401, value.slice(0, 50));
      assert.deepEqual(calls, [], `${value.slice(0, 50)}: the store was asked about it`);
    }
    // The control: a well-formed ID is looked up (and found missing), and so is a note of how it ended (lib/sessions/endings.ts).
    calls.length = 0;
    assert.equal((await meWith(server, id)).status, 401);
    assert.deepEqual(calls, ['statSync', 'lstat']);
  });
});
