import assert from 'node:assert/strict';
import { describe, it as test } from 'node:test';
import type { TestContext } from 'node:test';
import { newRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord, Timeouts } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import type { Lookup, SessionStore } from '../../lib/sessions/store.ts';
import { T0 } from '../support/clock.ts';

/** MakeStore builds a fresh, empty store for one test (on its own temp directory, when it needs one). */
export type MakeStore = (t: TestContext, timeouts: Timeouts) => Promise<SessionStore>;

const MINUTE = 60_000;
export const CONTRACT_TIMEOUTS: Timeouts = { idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE };

/** recordOf is the record a lookup found, or null when it missed, for cases where why does not matter. */
export function recordOf(lookup: Lookup): SessionRecord | null {
  return 'record' in lookup ? lookup.record : null;
}

function guestRecord(cart: string[] = ['apple']): SessionRecord {
  return newRecord(T0, 'created as guest', { cart, theme: 'dark' });
}

/** userRecord is a signed-in session of `user`, begun `startedAfterMs` after T0. */
function userRecord(user: string, startedAfterMs = 0): SessionRecord {
  const at = new Date(T0 + startedAfterMs).toISOString();
  return {
    ...newRecord(T0 + startedAfterMs, 'created at sign-in'),
    user,
    generation: 0,
    createdAt: at,
    lastSeenAt: at,
    device: 'Firefox on Linux',
  };
}

/** listedIds are the file ids listByUser finds for `user` at `now`, in its order. */
async function listedIds(store: SessionStore, user: string, now = T0 + MINUTE): Promise<string[]> {
  return (await store.listByUser(user, now)).map((listed) => listed.fileId);
}

/**
 * Difference is a case of the contract that one store deliberately does not
 * keep, named exactly as the case reads, with the reason it may differ.
 * The case is then skipped for that store, and its report says why.
 */
export interface Difference {
  case: string;
  reason: string;
}

/**
 * storeContract checks what the comments of SessionStore (lib/sessions/store.ts)
 * promise, so that every implementation behaves the same: a miss for "not
 * there", expired records refused and deleted, update never resurrects,
 * destroy of nothing is a no-op. A store may list `differences`; every
 * other case must pass, and a difference that names no case is an error.
 */
export function storeContract(name: string, makeStore: MakeStore, differences: readonly Difference[] = []): void {
  describe(`${name} keeps the SessionStore contract`, () => {
    const make = (t: TestContext): Promise<SessionStore> => makeStore(t, CONTRACT_TIMEOUTS);
    const cases = new Set<string>();
    const it = (title: string, fn: (t: TestContext) => Promise<void>): void => {
      cases.add(title);
      const difference = differences.find((entry) => entry.case === title);
      test(title, difference === undefined ? {} : { skip: `deliberate difference: ${difference.reason}` }, fn);
    };

    describe('get', () => {
      it('misses an ID that was never stored: not-found', async (t) => {
        assert.deepEqual(await (await make(t)).get(newSessionId(), T0), { miss: 'not-found' });
      });

      it('returns the record that create stored', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, guestRecord());
        assert.deepEqual(await store.get(id, T0 + MINUTE), { record: guestRecord() });
      });

      it('keeps records of different IDs apart', async (t) => {
        const store = await make(t);
        const [a, b] = [newSessionId(), newSessionId()];
        await store.create(a, guestRecord(['apple']));
        await store.create(b, guestRecord(['pear']));
        assert.deepEqual(recordOf(await store.get(a, T0))?.data.cart, ['apple']);
        assert.deepEqual(recordOf(await store.get(b, T0))?.data.cart, ['pear']);
      });

      it('tells why it found nothing: no record, or which deadline passed', async (t) => {
        const store = await make(t);
        const [idle, old] = [newSessionId(), newSessionId()];
        await store.create(idle, guestRecord());
        await store.create(old, { ...guestRecord(), lastSeenAt: new Date(T0 + CONTRACT_TIMEOUTS.absoluteMs - MINUTE).toISOString() });
        assert.deepEqual(await store.get(newSessionId(), T0), { miss: 'not-found' });
        assert.deepEqual(await store.get(idle, T0 + CONTRACT_TIMEOUTS.idleMs), { miss: 'expired-idle' });
        assert.deepEqual(await store.get(old, T0 + CONTRACT_TIMEOUTS.absoluteMs), { miss: 'expired-absolute' });
      });

      it('returns a live record just before the idle deadline', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, guestRecord());
        assert.ok('record' in (await store.get(id, T0 + CONTRACT_TIMEOUTS.idleMs - 1)));
      });

      it('misses from the idle deadline on, and deletes the expired record', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, guestRecord());
        assert.deepEqual(await store.get(id, T0 + CONTRACT_TIMEOUTS.idleMs), { miss: 'expired-idle' });
        // Deleted, not only hidden: even at a time when it would be live, it is gone.
        assert.deepEqual(await store.get(id, T0), { miss: 'not-found' });
        assert.equal(await store.update(id, guestRecord()), false);
      });

      it('misses from the absolute deadline on, however recently the record was seen', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        const deadline = T0 + CONTRACT_TIMEOUTS.absoluteMs;
        await store.create(id, { ...guestRecord(), lastSeenAt: new Date(deadline - 1).toISOString() });
        assert.ok('record' in (await store.get(id, deadline - 1)));
        assert.deepEqual(await store.get(id, deadline), { miss: 'expired-absolute' });
        assert.deepEqual(await store.get(id, T0), { miss: 'not-found' });
      });

      it('is not changed by a caller changing the object it gave to create', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        const record = guestRecord();
        await store.create(id, record);
        record.data.cart.push('smuggled');
        assert.deepEqual(recordOf(await store.get(id, T0))?.data.cart, ['apple']);
      });
    });

    describe('update', () => {
      it('replaces a stored record and returns true', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, guestRecord());
        const changed = { ...guestRecord(['apple', 'pear']), lastSeenAt: new Date(T0 + MINUTE).toISOString() };
        assert.equal(await store.update(id, changed), true);
        assert.deepEqual(await store.get(id, T0 + MINUTE), { record: changed });
      });

      it('returns false and writes nothing for an ID that was never stored', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        assert.equal(await store.update(id, guestRecord()), false);
        assert.equal(recordOf(await store.get(id, T0)), null);
      });

      it('never resurrects a destroyed record', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, guestRecord());
        await store.destroy(id);
        assert.equal(await store.update(id, guestRecord(['late write'])), false);
        assert.equal(recordOf(await store.get(id, T0)), null);
      });
    });

    describe('destroy', () => {
      it('deletes the record', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, guestRecord());
        await store.destroy(id);
        assert.equal(recordOf(await store.get(id, T0)), null);
      });

      it('deletes only its own record', async (t) => {
        const store = await make(t);
        const [a, b] = [newSessionId(), newSessionId()];
        await store.create(a, guestRecord());
        await store.create(b, guestRecord());
        await store.destroy(a);
        assert.ok('record' in (await store.get(b, T0)));
      });

      it('is a no-op for an ID that is not stored, twice over', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.destroy(id);
        await store.create(id, guestRecord());
        await store.destroy(id);
        await store.destroy(id);
        assert.equal(recordOf(await store.get(id, T0)), null);
      });
    });

    describe('listByUser', () => {
      it('lists nothing for a user without sessions', async (t) => {
        assert.deepEqual(await (await make(t)).listByUser('alice', T0), []);
      });

      it("lists each of a user's live sessions by file id, oldest first, with its record", async (t) => {
        const store = await make(t);
        const [first, second] = [newSessionId(), newSessionId()];
        await store.create(second, userRecord('alice', 2 * MINUTE));
        await store.create(first, userRecord('alice', MINUTE));
        assert.deepEqual(await store.listByUser('alice', T0 + 3 * MINUTE), [
          { fileId: storageKey(first), record: userRecord('alice', MINUTE) },
          { fileId: storageKey(second), record: userRecord('alice', 2 * MINUTE) },
        ]);
      });

      it("leaves out guests and other users' sessions", async (t) => {
        const store = await make(t);
        const [alice, bob, guest] = [newSessionId(), newSessionId(), newSessionId()];
        await store.create(alice, userRecord('alice'));
        await store.create(bob, userRecord('bob'));
        await store.create(guest, guestRecord());
        assert.deepEqual(await listedIds(store, 'alice'), [storageKey(alice)]);
        assert.deepEqual(await listedIds(store, 'bob'), [storageKey(bob)]);
      });

      it('finds a user by any case of the name', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, userRecord('Alice'));
        assert.deepEqual(await listedIds(store, 'aLICE'), [storageKey(id)]);
      });

      it('leaves out a session from its deadline on', async (t) => {
        const store = await make(t);
        const [live, idle] = [newSessionId(), newSessionId()];
        await store.create(idle, userRecord('alice'));
        await store.create(live, { ...userRecord('alice'), lastSeenAt: new Date(T0 + 10 * MINUTE).toISOString() });
        assert.deepEqual(await listedIds(store, 'alice', T0 + CONTRACT_TIMEOUTS.idleMs), [storageKey(live)]);
      });

      it('follows destroy, and an ID replaced by create and destroy', async (t) => {
        const store = await make(t);
        const [kept, ended, before, after] = [newSessionId(), newSessionId(), newSessionId(), newSessionId()];
        for (const id of [kept, ended, before]) await store.create(id, userRecord('alice'));
        await store.destroy(ended);
        // A rotation, as the session layer does it: the new ID first, then the old one ends.
        await store.create(after, userRecord('alice'));
        await store.destroy(before);
        assert.deepEqual((await listedIds(store, 'alice')).sort(), [storageKey(kept), storageKey(after)].sort());
      });

      it('keeps listing a session through update, with the record as updated', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, userRecord('alice'));
        const changed = { ...userRecord('alice'), lastSeenAt: new Date(T0 + MINUTE).toISOString() };
        assert.equal(await store.update(id, changed), true);
        assert.deepEqual(await store.listByUser('alice', T0 + MINUTE), [{ fileId: storageKey(id), record: changed }]);
      });
    });

    describe('destroyByFileId', () => {
      it('ends the session: get misses, update writes nothing, the list leaves it out', async (t) => {
        const store = await make(t);
        const [ended, other] = [newSessionId(), newSessionId()];
        await store.create(ended, userRecord('alice'));
        await store.create(other, userRecord('alice'));
        await store.destroyByFileId(storageKey(ended));
        assert.deepEqual(await store.get(ended, T0), { miss: 'not-found' });
        assert.equal(await store.update(ended, userRecord('alice')), false);
        assert.deepEqual(await listedIds(store, 'alice'), [storageKey(other)]);
      });

      it('ends a guest session too', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, guestRecord());
        await store.destroyByFileId(storageKey(id));
        assert.deepEqual(await store.get(id, T0), { miss: 'not-found' });
      });

      it('is a no-op for a file id that is not stored, twice over', async (t) => {
        const store = await make(t);
        const id = newSessionId();
        await store.create(id, userRecord('alice'));
        await store.destroyByFileId(storageKey(newSessionId()));
        await store.destroyByFileId(storageKey(id));
        await store.destroyByFileId(storageKey(id));
        assert.deepEqual(await listedIds(store, 'alice'), []);
      });
    });

    test('lists only differences that name a case of the contract', () => {
      const unknown = differences.filter((entry) => !cases.has(entry.case)).map((entry) => entry.case);
      assert.deepEqual(unknown, []);
    });
  });
}
