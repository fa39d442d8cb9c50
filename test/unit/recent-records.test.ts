import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { RecentRecords } from '../../lib/sessions/recent-records.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';

const T0 = Date.UTC(2026, 11, 2, 12, 0, 0);
const textOf = (cart: string[]): string => JSON.stringify(newRecord(T0, 'created as guest', { cart, theme: null }));

describe('RecentRecords', () => {
  it('parses an unchanged text once, and hands every request the same frozen record', () => {
    const recent = new RecentRecords();
    const id = newSessionId();
    const first = recent.parse(id, storageKey(id), textOf(['apple']));
    assert.deepEqual(first?.data.cart, ['apple']);
    assert.equal(recent.parse(id, storageKey(id), textOf(['apple'])), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.data.cart));
  });

  it('parses a changed text afresh: a row changed by another process is seen at once', () => {
    const recent = new RecentRecords();
    const id = newSessionId();
    recent.parse(id, storageKey(id), textOf(['apple']));
    assert.deepEqual(recent.parse(id, storageKey(id), textOf(['pear']))?.data.cart, ['pear']);
  });

  it('gives null for a text that is not a record', () => {
    const recent = new RecentRecords();
    const id = newSessionId();
    assert.equal(recent.parse(id, storageKey(id), '{"version":1}'), null);
    assert.equal(recent.parse(id, storageKey(id), 'not json'), null);
  });

  it("remembers the ID's file id, which is its storage key", () => {
    const recent = new RecentRecords();
    const id = newSessionId();
    assert.equal(recent.fileIdOf(id), storageKey(id));
    recent.parse(id, storageKey(id), textOf([]));
    assert.equal(recent.fileIdOf(id), storageKey(id));
  });

  it('parses again after forget, and keeps at most maxEntries sessions, dropping the oldest', () => {
    const recent = new RecentRecords(2);
    const [a, b, c] = [newSessionId(), newSessionId(), newSessionId()];
    const first = recent.parse(a, storageKey(a), textOf([]));
    recent.forget(a);
    const second = recent.parse(a, storageKey(a), textOf([]));
    assert.notEqual(second, first);
    recent.parse(b, storageKey(b), textOf([]));
    recent.parse(c, storageKey(c), textOf([]));
    assert.notEqual(recent.parse(a, storageKey(a), textOf([])), second, 'a was dropped to make room for c');
  });
});
