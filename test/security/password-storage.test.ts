import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { startApp } from '../../lib/app.ts';
import { DEFAULT_SCRYPT_COST } from '../../lib/auth/passwords.ts';
import type { PasswordHash } from '../../lib/auth/passwords.ts';
import type { UserRecord } from '../../lib/auth/users.ts';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import { Client, PASSWORD, register } from '../support/client.ts';
import { makeDirs, startTestServer, TEST_SCRYPT_COST, testConfig, silentLogger } from '../support/server.ts';
import type { Dirs } from '../support/server.ts';

const OWASP_SCRYPT_N = 2 ** 17;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const SCRYPT_MEMORY_FACTOR = 128;

async function storedPassword(usersFile: string, username: string): Promise<PasswordHash> {
  const users = JSON.parse(await readFile(usersFile, 'utf8')) as { users: UserRecord[] };
  const user = users.users.find((candidate) => candidate.username === username);
  assert.ok(user !== undefined, `${username} is stored`);
  return user.password;
}

async function runServer(dirs: Dirs, scryptCost: number) {
  return startApp(testConfig(dirs, { scryptCost }), { logger: silentLogger() });
}

describe('password storage: a stolen users file yields salted, slow, upgradable hashes only', () => {
  it('hashes with scrypt N=2^17, r=8, p=1 by default, with a 16-byte salt and the parameters beside the hash', async (t) => {
    assert.equal(loadConfig({}).scryptCost, OWASP_SCRYPT_N);
    assert.equal(DEFAULT_SCRYPT_COST, OWASP_SCRYPT_N);
    const server = await startTestServer(t, { scryptCost: loadConfig({}).scryptCost });
    await register(server.client(), 'alice', PASSWORD);

    const text = await readFile(server.dirs.usersFile, 'utf8');
    assert.ok(!text.includes(PASSWORD), 'the password itself is never stored');
    const stored = await storedPassword(server.dirs.usersFile, 'alice');
    assert.equal(stored.algorithm, 'scrypt');
    assert.equal(stored.N, OWASP_SCRYPT_N);
    assert.equal(stored.r, 8);
    assert.equal(stored.p, 1);
    assert.equal(Buffer.from(stored.salt, 'base64').length, SALT_BYTES);
    assert.equal(Buffer.from(stored.hash, 'base64').length, KEY_BYTES);
    // 128 MiB per hash is over Node's default scrypt memory limit: sign-in must raise maxmem, not fail.
    assert.equal((await server.client().json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
  });

  it('stores exactly scrypt(password, salt, N, r, p), with a fresh salt for every user', async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'alice', PASSWORD);
    await register(server.client(), 'bob', PASSWORD);
    const alice = await storedPassword(server.dirs.usersFile, 'alice');
    const bob = await storedPassword(server.dirs.usersFile, 'bob');
    assert.notEqual(alice.salt, bob.salt);
    assert.notEqual(alice.hash, bob.hash, 'equal passwords give unequal hashes');

    const { N, r, p } = alice;
    const expected = scryptSync(PASSWORD, Buffer.from(alice.salt, 'base64'), KEY_BYTES, {
      N,
      r,
      p,
      maxmem: 2 * SCRYPT_MEMORY_FACTOR * N * r * p,
    });
    assert.equal(expected.toString('base64'), alice.hash);
  });

  it('upgrades a hash to the configured cost at the next successful login, and not at a failed one', async (t) => {
    const dirs = await makeDirs(t);
    const first = await runServer(dirs, TEST_SCRYPT_COST);
    await register(new Client(first.url), 'alice', PASSWORD);
    await first.close();
    assert.equal((await storedPassword(dirs.usersFile, 'alice')).N, TEST_SCRYPT_COST);

    const raisedCost = TEST_SCRYPT_COST * 2;
    const second = await runServer(dirs, raisedCost);
    t.after(() => second.close());
    const failed = await new Client(second.url).json('POST', '/login', { username: 'alice', password: 'not the password' });
    assert.equal(failed.status, 401);
    assert.equal((await storedPassword(dirs.usersFile, 'alice')).N, TEST_SCRYPT_COST, 'a wrong password upgrades nothing');

    const before = await storedPassword(dirs.usersFile, 'alice');
    const login = await new Client(second.url).json('POST', '/login', { username: 'alice', password: PASSWORD });
    assert.equal(login.status, 200, 'the old hash still verifies under its own stored parameters');
    const upgraded = await storedPassword(dirs.usersFile, 'alice');
    assert.equal(upgraded.N, raisedCost);
    assert.notEqual(upgraded.salt, before.salt, 'the upgrade draws a new salt');
    assert.equal((await new Client(second.url).json('POST', '/login', { username: 'alice', password: PASSWORD })).status, 200);
  });

  it('refuses an SCRYPT_COST below 1024 or not a power of two', () => {
    for (const value of ['512', '1000', '3000', '0']) {
      assert.throws(() => loadConfig({ SCRYPT_COST: value }), ConfigError, `SCRYPT_COST=${value}`);
    }
  });
});
