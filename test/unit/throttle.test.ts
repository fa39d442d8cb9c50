import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCOUNT_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT, FAILURE_WINDOW_MS, LoginThrottle } from '../../lib/auth/throttle.ts';
import { T0 } from '../support/clock.ts';

const SECOND = 1000;
const IP = '203.0.113.7';

function failTimes(throttle: LoginThrottle, username: string, address: string, count: number, start = T0): void {
  for (let i = 0; i < count; i++) throttle.recordFailure(username, address, start + i * SECOND);
}

describe('LoginThrottle', () => {
  it('has the limits the README promises: 5 per account, 50 per address, in 15 minutes', () => {
    assert.deepEqual([ACCOUNT_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT, FAILURE_WINDOW_MS], [5, 50, 15 * 60 * SECOND]);
  });

  it('lets a first attempt through', () => {
    assert.equal(new LoginThrottle().retryAfterMs('alice', IP, T0), 0);
  });

  it('lets attempts through after 4 failures of one account', () => {
    const throttle = new LoginThrottle();
    failTimes(throttle, 'alice', IP, ACCOUNT_FAILURE_LIMIT - 1);
    assert.equal(throttle.retryAfterMs('alice', IP, T0 + 10 * SECOND), 0);
  });

  it('locks an account after 5 failures, from any address', () => {
    const throttle = new LoginThrottle();
    failTimes(throttle, 'alice', IP, ACCOUNT_FAILURE_LIMIT);
    assert.ok(throttle.retryAfterMs('alice', IP, T0 + 10 * SECOND) > 0);
    assert.ok(throttle.retryAfterMs('alice', '198.51.100.1', T0 + 10 * SECOND) > 0);
    assert.equal(throttle.retryAfterMs('bob', '198.51.100.1', T0 + 10 * SECOND), 0);
  });

  it('counts an account regardless of the case of its name', () => {
    const throttle = new LoginThrottle();
    for (const [i, name] of ['alice', 'Alice', 'ALICE', 'aLiCe', 'alicE'].entries()) throttle.recordFailure(name, `10.0.0.${i}`, T0);
    assert.ok(throttle.retryAfterMs('alice', '10.0.0.99', T0) > 0);
  });

  it('counts unknown usernames exactly like real ones', () => {
    const throttle = new LoginThrottle();
    failTimes(throttle, 'no-such-user', IP, ACCOUNT_FAILURE_LIMIT);
    assert.ok(throttle.retryAfterMs('no-such-user', IP, T0 + 5 * SECOND) > 0);
  });

  it('says how long until the lock lifts: when the oldest counted failure leaves the window', () => {
    const throttle = new LoginThrottle();
    failTimes(throttle, 'alice', IP, ACCOUNT_FAILURE_LIMIT);
    const now = T0 + 4 * SECOND;
    assert.equal(throttle.retryAfterMs('alice', IP, now), FAILURE_WINDOW_MS - 4 * SECOND);
  });

  it('slides: the lock lifts once enough failures have left the window, and returns with new ones', () => {
    const throttle = new LoginThrottle();
    failTimes(throttle, 'alice', IP, ACCOUNT_FAILURE_LIMIT);
    assert.ok(throttle.retryAfterMs('alice', IP, T0 + FAILURE_WINDOW_MS - 1) > 0);
    // At T0 + window the first failure is out: only 4 remain.
    assert.equal(throttle.retryAfterMs('alice', IP, T0 + FAILURE_WINDOW_MS), 0);
    throttle.recordFailure('alice', IP, T0 + FAILURE_WINDOW_MS);
    assert.equal(throttle.retryAfterMs('alice', IP, T0 + FAILURE_WINDOW_MS), SECOND);
  });

  it('locks an address after 50 failures across many accounts, and only that address', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < ADDRESS_FAILURE_LIMIT; i++) throttle.recordFailure(`user${i}`, IP, T0 + i);
    assert.ok(throttle.retryAfterMs('fresh-account', IP, T0 + ADDRESS_FAILURE_LIMIT) > 0);
    assert.equal(throttle.retryAfterMs('fresh-account', '198.51.100.1', T0 + ADDRESS_FAILURE_LIMIT), 0);
  });

  it('does not lock an address after 49 failures', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < ADDRESS_FAILURE_LIMIT - 1; i++) throttle.recordFailure(`user${i}`, IP, T0 + i);
    assert.equal(throttle.retryAfterMs('fresh-account', IP, T0 + ADDRESS_FAILURE_LIMIT), 0);
  });

  it("recordSuccess forgets the account's failures and takes back this attempt's count from the address", () => {
    const throttle = new LoginThrottle({ addressLimit: ACCOUNT_FAILURE_LIMIT });
    failTimes(throttle, 'alice', IP, ACCOUNT_FAILURE_LIMIT - 1);
    // Attempt 5 is counted before hashing, then found correct.
    const now = T0 + 10 * SECOND;
    throttle.recordFailure('alice', IP, now);
    assert.ok(throttle.retryAfterMs('alice', '198.51.100.1', now) > 0);
    assert.ok(throttle.retryAfterMs('bob', IP, now) > 0);
    throttle.recordSuccess('alice', IP, now);
    assert.equal(throttle.retryAfterMs('alice', '198.51.100.1', now), 0);
    assert.equal(throttle.retryAfterMs('bob', IP, now), 0);
  });

  it('recordSuccess leaves the earlier failures of the address counted', () => {
    const throttle = new LoginThrottle({ addressLimit: ACCOUNT_FAILURE_LIMIT - 1 });
    failTimes(throttle, 'alice', IP, ACCOUNT_FAILURE_LIMIT - 1);
    const now = T0 + 10 * SECOND;
    throttle.recordFailure('alice', IP, now);
    throttle.recordSuccess('alice', IP, now);
    // One address may try many accounts: its 4 earlier failures still reach its limit of 4.
    assert.ok(throttle.retryAfterMs('bob', IP, now) > 0);
  });

  it('recordSuccess for an attempt never counted changes nothing at the address', () => {
    const throttle = new LoginThrottle({ addressLimit: 2 });
    failTimes(throttle, 'bob', IP, 2);
    throttle.recordSuccess('alice', IP, T0 + 99 * SECOND);
    assert.ok(throttle.retryAfterMs('carol', IP, T0 + 100 * SECOND) > 0);
  });

  it('tracks a bounded number of keys, forgetting the stalest first', () => {
    const throttle = new LoginThrottle({ accountLimit: 1, maxTrackedKeys: 3 });
    throttle.recordFailure('a', IP, T0);
    throttle.recordFailure('b', IP, T0 + 1);
    throttle.recordFailure('c', IP, T0 + 2);
    // Keys: address, account:a, account:b, account:c — one too many, so account:a went.
    assert.equal(throttle.retryAfterMs('a', '198.51.100.1', T0 + 3), 0);
    assert.ok(throttle.retryAfterMs('b', '198.51.100.1', T0 + 3) > 0);
    assert.ok(throttle.retryAfterMs('c', '198.51.100.1', T0 + 3) > 0);
  });
});
