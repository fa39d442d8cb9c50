import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { startApp } from '../../lib/app.ts';
import { HashPool } from '../../lib/auth/hash-pool.ts';
import { PasswordHasher } from '../../lib/auth/passwords.ts';
import { ERROR_MESSAGES, escapeHtml } from '../../lib/pages.ts';
import { Client, PASSWORD, register } from '../support/client.ts';
import type { Reply } from '../support/client.ts';
import { silentLogger, startTestServer, testConfig, TEST_SCRYPT_COST } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

const LIMIT = 3;

/** GatedPool is the real hash pool, except that while it is closed every hash waits: a flood is caught in the act. */
class GatedPool extends HashPool {
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;

  close(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  open(): void {
    this.#open();
  }

  override async derive(...args: Parameters<HashPool['derive']>): Promise<Buffer> {
    await this.#gate;
    return super.derive(...args);
  }
}

function signUp(client: Client, username: string, headers: Record<string, string> = {}): Promise<Reply> {
  return client.json('POST', '/register', { username, password: PASSWORD }, headers);
}

async function accounts(server: TestServer): Promise<string[]> {
  const text = await readFile(server.dirs.usersFile, 'utf8').catch(() => '{"users":[]}');
  return (JSON.parse(text) as { users: Array<{ username: string }> }).users.map((user) => user.username).sort();
}

describe('a registration flood: one address may make only so many accounts, and sign-ins go first', () => {
  it(`refuses registration ${LIMIT + 1} from one address with 429 and Retry-After, before hashing, JSON and form alike`, async (t) => {
    const server = await startTestServer(t, { registrationsPerAddress: LIMIT });
    for (let i = 0; i < LIMIT; i++) assert.equal((await signUp(server.client(), `user${i}`)).status, 201);
    const refused = await signUp(server.client(), 'onetoomany');
    assert.equal(refused.status, 429);
    assert.equal((refused.json as { error: unknown }).error, 'too_many_registrations');
    assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    const form = await server.client().form('/register', { username: 'formuser', password: PASSWORD });
    assert.equal(form.status, 429);
    assert.match(form.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.ok(form.text.includes(escapeHtml(ERROR_MESSAGES.registrations ?? '')), 'the form gets its page back, saying why');
    assert.deepEqual(await accounts(server), ['user0', 'user1', 'user2']);
  });

  it('counts each address on its own (behind a trusted proxy, the address it appended)', async (t) => {
    const server = await startTestServer(t, { registrationsPerAddress: 1, trustProxy: true });
    assert.equal((await signUp(server.client(), 'first', { 'X-Forwarded-For': '192.0.2.1' })).status, 201);
    assert.equal((await signUp(server.client(), 'second', { 'X-Forwarded-For': '192.0.2.1' })).status, 429);
    assert.equal((await signUp(server.client(), 'third', { 'X-Forwarded-For': '192.0.2.2' })).status, 201);
  });

  it('holds the limit in total across two processes on the same files', async (t) => {
    const first = await startTestServer(t, { registrationsPerAddress: LIMIT });
    const second = await startApp(testConfig(first.dirs, { registrationsPerAddress: LIMIT }), { logger: silentLogger() });
    t.after(() => second.close());
    assert.equal((await signUp(first.client(), 'first1')).status, 201);
    assert.equal((await signUp(new Client(second.url), 'second1')).status, 201);
    assert.equal((await signUp(first.client(), 'first2')).status, 201);
    assert.equal((await signUp(new Client(second.url), 'second2')).status, 429);
    assert.equal((await signUp(first.client(), 'first3')).status, 429);
  });

  it('still answers sign-ins while registrations from many addresses, each under its limit, fill the hasher', async (t) => {
    const FLOOD = 40;
    const SIGN_INS = 3;
    const pool = new GatedPool();
    const hasher = new PasswordHasher({ cost: TEST_SCRYPT_COST, concurrency: 2, maxWaiting: 4, pool });
    const server = await startTestServer(t, { trustProxy: true }, { hasher });
    await register(server.client(), 'alice');

    pool.close();
    let settled = 0;
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      signUp(server.client(), `flood${i}`, { 'X-Forwarded-For': `198.51.100.${i}` }).finally(() => (settled += 1)),
    );
    // Every registration is either answered (503: no room) or holding a place in the hasher.
    while (settled + hasher.running + hasher.waiting < FLOOD) await nextTurn();
    const held = FLOOD - settled;
    let signInsSettled = 0;
    const signIns = Array.from({ length: SIGN_INS }, () =>
      server
        .client()
        .json('POST', '/login', { username: 'alice', password: PASSWORD }, { 'X-Forwarded-For': '203.0.113.9' })
        .finally(() => (signInsSettled += 1)),
    );
    // Likewise every sign-in, before the hashes may go on: none can slip in after the flood has drained.
    while (signInsSettled + hasher.running + hasher.waiting - held < SIGN_INS) await nextTurn();
    pool.open();

    const registered = (await Promise.all(flood)).map((reply) => reply.status);
    assert.deepEqual(
      (await Promise.all(signIns)).map((reply) => reply.status),
      Array<number>(SIGN_INS).fill(200),
      'every sign-in was answered, none refused as busy',
    );
    assert.ok(registered.includes(503), 'the flood did overflow the hasher');
    assert.ok(registered.every((status) => status === 201 || status === 503));
  });
});
