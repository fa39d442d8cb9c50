import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HasherBusyError, PasswordHasher } from '../../lib/auth/passwords.ts';
import { TEST_SCRYPT_COST } from '../support/server.ts';

const SALT_BYTES = 16;
const KEY_BYTES = 32;

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher({ cost: TEST_SCRYPT_COST });

  it('stores scrypt parameters, a 16-byte salt and a 32-byte hash, never the password', async () => {
    const stored = await hasher.hash('correct horse battery');
    assert.equal(stored.algorithm, 'scrypt');
    assert.deepEqual([stored.N, stored.r, stored.p], [TEST_SCRYPT_COST, 8, 1]);
    assert.equal(Buffer.from(stored.salt, 'base64').length, SALT_BYTES);
    assert.equal(Buffer.from(stored.hash, 'base64').length, KEY_BYTES);
    assert.doesNotMatch(JSON.stringify(stored), /correct horse/);
  });

  it('verifies the right password', async () => {
    assert.equal(await hasher.verify('correct horse battery', await hasher.hash('correct horse battery')), true);
  });

  it('refuses a wrong password', async () => {
    assert.equal(await hasher.verify('correct horse batterY', await hasher.hash('correct horse battery')), false);
  });

  it('salts every hash, so one password never hashes the same twice', async () => {
    const [a, b] = await Promise.all([hasher.hash('same password'), hasher.hash('same password')]);
    assert.notEqual(a.salt, b.salt);
    assert.notEqual(a.hash, b.hash);
  });

  it('normalises to NFC, so a composed and a decomposed é are the same password', async () => {
    const stored = await hasher.hash('caf\u00e9 au lait');
    assert.equal(await hasher.verify('cafe\u0301 au lait', stored), true);
  });

  it('verifies a hash made at another cost with the parameters stored beside it', async () => {
    const older = await new PasswordHasher({ cost: TEST_SCRYPT_COST * 2 }).hash('correct horse battery');
    assert.equal(await hasher.verify('correct horse battery', older), true);
  });

  it('answers false for an unknown user (no stored hash), whatever the password', async () => {
    assert.equal(await hasher.verify('', null), false);
    assert.equal(await hasher.verify('correct horse battery', null), false);
  });

  it('still runs scrypt for an unknown user, so it costs the same as a wrong password', async () => {
    const single = new PasswordHasher({ cost: TEST_SCRYPT_COST, concurrency: 1, maxWaiting: 0 });
    const unknown = single.verify('guess', null);
    // The one hashing slot is taken by the dummy hash: a second hash meanwhile is refused.
    await assert.rejects(single.hash('another'), { status: 503 });
    assert.equal(await unknown, false);
  });

  it('a stored hash needs no rehash at the configured parameters', async () => {
    assert.equal(hasher.needsRehash(await hasher.hash('x'.repeat(8))), false);
  });

  it('a stored hash needs a rehash when N, r or p differ', async () => {
    const stored = await hasher.hash('x'.repeat(8));
    assert.equal(hasher.needsRehash({ ...stored, N: TEST_SCRYPT_COST * 2 }), true);
    assert.equal(hasher.needsRehash({ ...stored, r: 16 }), true);
    assert.equal(hasher.needsRehash({ ...stored, p: 2 }), true);
  });

  describe('with bounded concurrency', () => {
    it('answers 503 with Retry-After when the queue is full', async () => {
      const busy = new PasswordHasher({ cost: TEST_SCRYPT_COST, concurrency: 1, maxWaiting: 0 });
      const first = busy.hash('first password');
      const refused = await busy.hash('second password').then(
        () => assert.fail('the second hash should have been refused'),
        (error: unknown) => error,
      );
      assert.ok(refused instanceof HasherBusyError);
      assert.equal(refused.status, 503);
      assert.equal(refused.code, 'busy');
      assert.match(refused.headers['Retry-After'] ?? '', /^\d+$/);
      await first;
    });

    it('queues up to maxWaiting hashes and runs them all', async () => {
      const queued = new PasswordHasher({ cost: TEST_SCRYPT_COST, concurrency: 1, maxWaiting: 2 });
      const results = await Promise.allSettled([
        queued.hash('a'.repeat(8)),
        queued.hash('b'.repeat(8)),
        queued.hash('c'.repeat(8)),
        queued.hash('d'.repeat(8)),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
      );
    });

    it('accepts work again once the queue drains', async () => {
      const busy = new PasswordHasher({ cost: TEST_SCRYPT_COST, concurrency: 1, maxWaiting: 0 });
      await busy.hash('first password');
      const stored = await busy.hash('second password');
      assert.equal(await busy.verify('second password', stored), true);
    });

    it('frees its slot when scrypt fails', async () => {
      const single = new PasswordHasher({ cost: TEST_SCRYPT_COST, concurrency: 1, maxWaiting: 0 });
      const stored = await single.hash('x'.repeat(8));
      // N that is not a power of two makes scrypt itself throw.
      await assert.rejects(single.verify('x'.repeat(8), { ...stored, N: 1000 }));
      assert.equal(await single.verify('x'.repeat(8), stored), true);
    });
  });
});
